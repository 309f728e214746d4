package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"flowgate/config"
	"flowgate/directory"
	"flowgate/flows"
)

// runConfig dispatches `flowgate config SUBCOMMAND`.
func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return subcommand(ctx, "config", usageConfigCheck, args, stdout, stderr, map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"check": runConfigCheck})
}

// runConfigCheck is `flowgate config check`.
func runConfigCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (TOML)")
	rest, err := parseFlags(fs, usageConfigCheck, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noArgs("config check", rest, usageConfigCheck, stderr); err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprint(stderr, "flowgate config check: -config FILE is required\n\n"+usageConfigCheck)
		return exitError{2}
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError{2}
	}
	// Every problem at once: the directory and the keys are read even when
	// the other fails.
	failed := false
	snap, rowErrs, err := directory.Load(cfg.Directory)
	if err != nil {
		fmt.Fprintf(stderr, "directory: %v\n", err)
		failed = true
	}
	for _, re := range rowErrs {
		fmt.Fprintf(stdout, "warning: directory row skipped: %v\n", re)
	}
	if snap != nil {
		for _, w := range uncollected(cfg, snap) {
			fmt.Fprintf(stdout, "warning: %s\n", w)
		}
	}
	if cfg.SFTP.Listen != "" {
		keys, err := partnerKeys(cfg)
		if err != nil {
			fmt.Fprintln(stderr, err)
			failed = true
		}
		for _, w := range expiredKeys(keys, time.Now()) {
			fmt.Fprintf(stdout, "warning: %s\n", w)
		}
	}
	for _, w := range keyFileWarnings(cfg) {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	if failed {
		return exitError{2}
	}
	structures, services := snap.Len()
	fmt.Fprintf(stdout, "%s: ok (%d partners, directory: %d structures, %d services)\n",
		*path, len(cfg.Partners), structures, services)
	return nil
}

// uncollected warns of each SIRET a partner `receives` that the directory
// does not list, or lists as inactive: invoices for it would all be
// rejected (CPP-DEST-INCONNU, CPP-DEST-INACTIF) and the partner would wait
// for nothing.
func uncollected(cfg config.Config, snap *directory.Snapshot) []string {
	var out []string
	for _, p := range cfg.Partners {
		for _, siret := range p.Receives {
			s, ok := snap.Structure(siret)
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("partner %s receives %s, which the directory does not list: no invoice can reach it", p.ID, siret))
			case !s.Active:
				out = append(out, fmt.Sprintf("partner %s receives %s (%s), which the directory lists as inactive: no invoice can reach it", p.ID, siret, s.Name))
			}
		}
	}
	return out
}

// logUncollected logs uncollected's warnings, at start and on every
// directory load.
func logUncollected(log *slog.Logger, cfg config.Config, snap *directory.Snapshot) {
	for _, w := range uncollected(cfg, snap) {
		log.Warn(w)
	}
}

// keyFileWarnings warns, as OpenSSH would complain, of each private key
// readable by group or others (the SFTP host key, the pollers' keys) and of
// each known_hosts that lists no host.
func keyFileWarnings(cfg config.Config) []string {
	var out []string
	if cfg.SFTP.Listen != "" {
		out = append(out, flows.KeyFileWarning(cfg.SFTP.HostKey))
	}
	for _, p := range cfg.Partners {
		for _, r := range p.Remotes {
			out = append(out, flows.KeyFileWarning(r.PrivateKey), flows.KnownHostsWarning(r.KnownHosts))
		}
	}
	return slices.DeleteFunc(out, func(w string) bool { return w == "" })
}
