// Command qbridge is qbridge's local tool: spec checks and documents, the
// mapping dry run, the local runner and single-event invocation.
//
//	qbridge spec check FILE...   validate specs (exit 1 with file:line:column problems)
//	qbridge spec render FILE     write the workshop's field-mapping document (Markdown)
//	qbridge spec test FILE...    run the specs' examples
//	qbridge map --spec FILE --entity NAME < record.json
//	qbridge run [--addr A] [--dir D] [--spec FILE]...  the local stack
//	qbridge invoke FUNCTION EVENT.json                 one handler, one event
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage:
  qbridge spec check FILE...                        validate integration specs
  qbridge spec render FILE                          print the field-mapping document (Markdown)
  qbridge spec test FILE...                         run the specs' examples
  qbridge map --spec FILE --entity NAME < rec.json  map one ERP record to an AlisQI result
  qbridge run [--addr A] [--dir D] [--spec FILE]... the local stack (sandboxes without credentials)
  qbridge invoke FUNCTION EVENT.json                run one handler on one event against the local state
`

// run is the whole CLI; exit codes: 0 ok, 1 the check/test/mapping failed,
// 2 the command was used wrongly or could not run.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "spec":
		if len(args) < 3 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		switch args[1] {
		case "check":
			return specCheck(args[2:], stdout, stderr)
		case "render":
			return specRender(args[2:], stdout, stderr)
		case "test":
			return specTest(args[2:], stdout, stderr)
		}
	case "map":
		return mapRecord(args[1:], stdin, stdout, stderr)
	case "run":
		return runStack(args[1:], stdout, stderr)
	case "invoke":
		return invoke(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "qbridge: unknown command %q\n%s", args[0], usage)
	return 2
}
