// Command flowgate is the invoice hub: `flowgate run` is the daemon,
// `flowgate validate` checks invoice flows offline as the hub would on
// deposit, `flowgate demo` shows the whole journey on bundled samples.
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

const usage = `flowgate: the e-invoicing hub

Usage:
  flowgate validate [-directory DIR] [-format text|json] FILE...
      Read invoice flows (UBL 2.1 XML, .zip or .tar.gz of XML) and check every
      invoice as the hub does on deposit. Exit 0 when every invoice is
      accepted, 1 when any is rejected, 2 on usage or I/O errors.

  flowgate run -config FILE
      Run the hub: watch the partners' drop folders, check and route every
      invoice exactly once, write status files. SIGINT or SIGTERM stops intake
      and finishes the flows in progress; a second signal aborts.

  flowgate demo [-keep]
      Run the hub on a temporary root with the bundled sample directory and
      flows, print what happened to each invoice and the mailbox tree.
`

func main() {
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
	case err == nil:
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
	switch args[0] {
	case "validate":
		return runValidate(ctx, args[1:], stdout, stderr)
	case "run":
		return runDaemon(ctx, args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "flowgate: unknown command %q\n\n%s", args[0], usage)
	return exitError{2}
}
