// Command cdk is qbridge's CDK app: one installation deployed from the
// specs in a folder (QBRIDGE_SPECS, default testdata/specs) with the
// functions zipped by make build (dist/). make synth writes the template
// offline; make deploy deploys it.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/qbridge/qbridge/shared/spec"
)

func main() {
	defer jsii.Close()
	start := time.Now()
	root := envOr("QBRIDGE_ROOT", ".")
	specs, err := loadSpecs(envOr("QBRIDGE_SPECS", filepath.Join(root, "testdata/specs")))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cdk:", err)
		os.Exit(1)
	}
	app := awscdk.NewApp(nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	_, err = NewStack(app, envOr("QBRIDGE_STACK", "Qbridge"), Props{Root: root, Specs: specs, StackProps: awscdk.StackProps{
		Description: jsii.String("qbridge: ERP ↔ AlisQI integration"),
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cdk:", err)
		os.Exit(1)
	}
	assembly := app.Synth(nil)
	took := time.Since(start).Round(time.Millisecond)
	for _, st := range *assembly.Stacks() {
		path := filepath.Join(*assembly.Directory(), *st.TemplateFile())
		raw, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var tpl struct{ Resources map[string]json.RawMessage }
		_ = json.Unmarshal(raw, &tpl)
		fmt.Fprintf(os.Stderr, "%s: %d resources, template %d bytes (%s), synthesized in %v\n",
			*st.StackName(), len(tpl.Resources), len(raw), path, took)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// loadSpecs loads and checks every spec of the installation.
func loadSpecs(dir string) ([]*spec.Spec, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no specs (*.yaml) in %s", dir)
	}
	sort.Strings(files)
	var out []*spec.Spec
	for _, f := range files {
		s, err := spec.Load(f)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
