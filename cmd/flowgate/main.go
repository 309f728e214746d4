// Command flowgate is the invoice hub: `flowgate run` is the daemon,
// `flowgate validate` checks invoice flows offline as the hub would on
// deposit, `flowgate flow` lists, shows and reprocesses the hub's flows
// from its store, `flowgate demo` shows the whole journey on bundled
// samples.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// exitError carries a process exit code through run.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Usage of each command, and of flowgate as a whole.
const (
	usageValidate = `  flowgate validate [-directory DIR] [-format text|json] FILE...
      Read invoice flows (UBL 2.1 XML, .zip, .tar or .tar.gz of XML) and check every
      invoice as the hub does on deposit. Exit 0 when every invoice is
      accepted, 1 when any is rejected, 2 on usage or I/O errors.
`
	usageRun = `  flowgate run -config FILE
      Run the hub: watch the partners' drop folders, check and route every
      invoice exactly once, write status files. One daemon per root (a lock
      on <root>/flowgate.lock). SIGINT or SIGTERM stops intake and finishes
      the flows in progress; a second signal aborts. SIGHUP is logged.
`
	usageConfigCheck = `  flowgate config check -config FILE
      Check a configuration and the directory it names, without starting
      anything: every problem is listed. Exit 0 when usable, 2 otherwise.
`
	usageDemo = `  flowgate demo [-keep] [-v]
      Run the hub on a temporary root with the bundled sample directory and
      flows, print what happened to each invoice and the mailbox tree.
`
	usageVersion = `  flowgate version
      Print the version and the revision flowgate was built from.
`
	usage = "flowgate: the e-invoicing hub\n\nUsage:\n" + usageValidate + "\n" + usageRun + "\n" +
		usageConfigCheck + "\n" + usageFlow + "\n" + usageInvoice + "\n" + usageDemo + "\n" + usageVersion + `
Flags may come before or after the other arguments; -h or --help after a
command shows its usage.
`
)

func main() {
	// SIGHUP, sent when a terminal closes or by operators out of habit,
	// must not kill the daemon: it is logged by run (see serve).
	signal.Ignore(syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, the default handling returns: a second
		// one aborts.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var ee exitError
	switch {
	case err == nil, errors.Is(err, errHelp):
	case errors.As(err, &ee):
		os.Exit(ee.code)
	default:
		fmt.Fprintln(os.Stderr, "flowgate:", err)
		os.Exit(2)
	}
}

// run dispatches a command line; it never exits, so tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError{2}
	}
	var err error
	switch args[0] {
	case "validate":
		err = runValidate(ctx, args[1:], stdout, stderr)
	case "run":
		err = runDaemon(ctx, args[1:], stdout, stderr)
	case "config":
		err = runConfig(ctx, args[1:], stdout, stderr)
	case "flow":
		err = runFlow(ctx, args[1:], stdout, stderr)
	case "invoice":
		err = runInvoice(ctx, args[1:], stdout, stderr)
	case "demo":
		err = runDemo(ctx, args[1:], stdout, stderr)
	case "version", "-version", "--version":
		if len(args) > 1 && (args[1] == "-h" || args[1] == "--help" || args[1] == "-help") {
			fmt.Fprint(stdout, usageVersion)
			return nil
		}
		fmt.Fprintln(stdout, version())
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "flowgate: unknown command %q\n\n%s", args[0], usage)
		return exitError{2}
	}
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}
