package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/qbridge/qbridge/infra/local/runner"
)

// defaultSpecs are what qbridge run loads without --spec.
var defaultSpecs = []string{"testdata/specs/businesscentral.yaml", "testdata/specs/generic.yaml"}

type specList []string

func (s *specList) String() string     { return fmt.Sprint(*s) }
func (s *specList) Set(v string) error { *s = append(*s, v); return nil }

func runStack(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen `address` (loopback only)")
	dir := fs.String("dir", ".qbridge", "state `folder` (the SQLite file, secrets.json)")
	var specs specList
	fs.Var(&specs, "spec", "a spec `file` (repeat for more; default the example BC and generic specs)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(specs) == 0 {
		specs = defaultSpecs
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logFile, err := os.OpenFile(*dir+".log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		fmt.Fprintf(stderr, "qbridge: %v\n", err)
		return 1
	}
	defer logFile.Close()
	r, err := runner.Start(ctx, runner.Options{Addr: *addr, Dir: *dir, Specs: specs, Log: logFile})
	if err != nil {
		fmt.Fprintf(stderr, "qbridge: %v\n", err)
		return 1
	}
	banner(stdout, r, *dir)
	<-ctx.Done()
	stop() // a second Ctrl-C now ends the process at once
	fmt.Fprintln(stdout, "\nstopping: finishing the batch in hand…")
	closeCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := r.Close(closeCtx); err != nil {
		fmt.Fprintf(stderr, "qbridge: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "stopped; the queue and state are in "+*dir)
	return 0
}

func banner(w io.Writer, r *runner.Runner, dir string) {
	fmt.Fprintf(w, "qbridge is running: state in %s/qbridge.db, log in %s.log\n\n", dir, dir)
	conns := make([]string, 0, len(r.Specs))
	for _, s := range r.Specs {
		conns = append(conns, s.Connection)
	}
	sort.Strings(conns)
	for _, c := range conns {
		sb := r.Sandboxes[c]
		if sb == nil {
			fmt.Fprintf(w, "  connection %-10s real ERP and AlisQI (credentials found)\n", c)
			continue
		}
		fmt.Fprintf(w, "  connection %-10s SANDBOX — no credentials in QBRIDGE_SECRET_* or %s/secrets.json\n", c, dir)
		if sb.BC != nil {
			fmt.Fprintf(w, "      Business Central sandbox %s\n", sb.BCURL)
		}
		fmt.Fprintf(w, "      AlisQI sandbox           %s (30 calls/minute, like AlisQI)\n", sb.AlisQIURL)
	}
	fmt.Fprintf(w, "\n  webhooks  POST %s/erp/{connection}/events\n", r.URL)
	fmt.Fprintf(w, "  console   %s/ops/console#token=%s\n", r.URL, r.OpsToken)
	fmt.Fprintf(w, "  ops API   curl -H 'Authorization: Bearer %s' %s/ops/health\n", r.OpsToken, r.URL)
	if len(r.Waiting) > 0 {
		fmt.Fprintf(w, "\n  %d scheduled jobs wait for the sync flow, which is not built yet (e.g. %s)\n", len(r.Waiting), r.Waiting[0])
	}
	if sb := r.Sandboxes["acme-bc"]; sb != nil && sb.BC != nil {
		fmt.Fprintf(w, "\nTry it: create an item in the Business Central sandbox; BC notifies qbridge as it would in production:\n\n")
		fmt.Fprintf(w, "  curl -s -X POST %s/sandbox/acme-bc/bc/items -d '{\"number\":\"1896-S\",\"displayName\":\"ATHENS Desk\",\"type\":\"Inventory\",\"baseUnitOfMeasureCode\":\"PCS\"}'\n\n", r.URL)
		fmt.Fprintf(w, "then find it in the AlisQI sandbox (item set 101) and on the console:\n\n")
		fmt.Fprintf(w, "  curl -s %s/sandbox/acme-bc/alisqi/101\n", r.URL)
	}
	fmt.Fprintf(w, "\nCtrl-C stops qbridge; nothing queued or in flight is lost.\n")
}
