package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
)

// errHelp is returned by parseFlags after printing a command's help on
// -h or --help: the command then exits 0.
var errHelp = errors.New("help shown")

// parseFlags parses args with fs, taking flags before, between and after
// positional arguments alike (`validate f.xml -directory d` sets the
// directory, as `validate -directory d f.xml` does); "--" ends the flags.
// It returns the positional arguments in order.
//
// -h and --help print the command's usage on stdout and return errHelp;
// an unknown or malformed flag prints the error and the usage on stderr and
// returns exitError{2}.
func parseFlags(fs *flag.FlagSet, usageText string, args []string, stdout, stderr io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var positional []string
	for {
		err := fs.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			fmt.Fprint(stdout, usageText)
			return nil, errHelp
		case err != nil:
			fmt.Fprintf(stderr, "flowgate %s: %v\n\n%s", fs.Name(), err, usageText)
			return nil, exitError{2}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		// flag stops at the first positional argument, or after "--".
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// noArgs refuses positional arguments for commands that take none, naming
// the first one.
func noArgs(cmd string, args []string, usageText string, stderr io.Writer) error {
	if len(args) == 0 {
		return nil
	}
	fmt.Fprintf(stderr, "flowgate %s: unexpected argument %s\n\n%s", cmd, args[0], usageText)
	return exitError{2}
}

// version is the module version and the VCS revision flowgate was built
// from, as the Go toolchain recorded them (debug.ReadBuildInfo).
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "flowgate (unknown build)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = " (modified)"
			}
		}
	}
	parts := []string{"flowgate " + v}
	if rev != "" {
		parts = append(parts, "revision "+rev+dirty)
	} else {
		parts = append(parts, "revision unknown (built without version control information: use make build)")
	}
	if at != "" {
		parts = append(parts, at)
	}
	return strings.Join(parts, ", ") + ", " + info.GoVersion
}

// subcommand runs the subcommand of a command group (`flowgate flow list`,
// `flowgate invoice show`...) named by args[0], with the rest of args.
// No subcommand, or an unknown one, is a usage error naming the expected
// ones; help, -h and --help print the group's usage on stdout.
func subcommand(ctx context.Context, group, usageText string, args []string, stdout, stderr io.Writer,
	subs map[string]func(context.Context, []string, io.Writer, io.Writer) error) error {
	names := slices.Sorted(maps.Keys(subs))
	if len(args) == 0 {
		fmt.Fprintf(stderr, "flowgate %s: expected %s\n\n%s", group, strings.Join(names, " or "), usageText)
		return exitError{2}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usageText)
		return nil
	}
	run, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "flowgate %s: unknown subcommand %q\n\n%s", group, args[0], usageText)
		return exitError{2}
	}
	return run(ctx, args[1:], stdout, stderr)
}
