package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"flowgate/config"
	"flowgate/directory"
	"flowgate/flows"
	"flowgate/router"
	"flowgate/store"
)

func runDaemon(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (TOML)")
	rest, err := parseFlags(fs, usageRun, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noArgs("run", rest, usageRun, stderr); err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprint(stderr, "flowgate run: -config FILE is required\n\n"+usageRun)
		return exitError{2}
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError{2}
	}
	return serve(ctx, cfg, newLogger(cfg, stderr), nil)
}

// sftpSources builds the embedded SFTP server (when [sftp] listen is set)
// and a poller per partner remote. Key files are read now: a missing or
// bad one stops the start with its path.
func sftpSources(cfg config.Config, mb flows.Mailboxes, st *store.SQLite, log *slog.Logger) ([]flows.Source, error) {
	var sources []flows.Source
	if cfg.SFTP.Listen != "" {
		host, err := flows.LoadHostKey(cfg.SFTP.HostKey, log)
		if err != nil {
			return nil, err
		}
		srv := &flows.SFTPServer{Listen: cfg.SFTP.Listen, HostKey: host, Mailboxes: mb, MaxAuthTries: cfg.SFTP.MaxAuthTries,
			HandshakeTimeout: cfg.SFTP.HandshakeTimeout.Duration, MaxPreAuthPerHost: cfg.SFTP.MaxPreAuthPerAddress,
			UploadExpiry: cfg.SFTP.UploadExpiry.Duration, Log: log}
		keys, err := partnerKeys(cfg)
		if err != nil {
			return nil, err
		}
		for _, w := range expiredKeys(keys, time.Now()) {
			log.Warn(w)
		}
		for i, p := range cfg.Partners {
			if p.AuthorizedKeys == "" {
				continue
			}
			srv.Partners = append(srv.Partners, flows.SFTPPartner{ID: p.ID, Keys: keys[i].Keys, MaxFileSize: p.MaxFileSize,
				MaxSessions: p.MaxSessions, MaxPendingBytes: p.MaxPendingBytes})
		}
		if err := srv.Start(); err != nil {
			return nil, err
		}
		sources = append(sources, srv)
	}
	for _, p := range cfg.Partners {
		for i, r := range p.Remotes {
			signer, err := flows.LoadSigner(r.PrivateKey)
			if err != nil {
				return nil, fmt.Errorf("partner %s remote %d: %w", p.ID, i, err)
			}
			hosts, err := flows.LoadKnownHosts(r.KnownHosts)
			if err != nil {
				return nil, fmt.Errorf("partner %s remote %d: %w", p.ID, i, err)
			}
			for _, w := range []string{flows.KeyFileWarning(r.PrivateKey), flows.KnownHostsWarning(r.KnownHosts)} {
				if w != "" {
					log.Warn(w, "partner", p.ID, "remote", r.Addr())
				}
			}
			sources = append(sources, &flows.Poller{Partner: p.ID, Mailboxes: mb, Ledger: st, Log: log, MaxFileSize: p.MaxFileSize,
				Remote: flows.Remote{Addr: r.Addr(), User: r.User, Signer: signer, HostKeys: hosts, InDir: r.InDir,
					OutDir: r.OutDir, Timeout: r.Timeout.Duration, Schedule: r.Schedule}})
		}
	}
	return sources, nil
}

// partnerKeys reads every partner's authorized_keys (by index of
// cfg.Partners; none for a partner without) and reports all their
// problems at once: a file missing or holding a bad line or option, and a
// public key authorized for two partners.
func partnerKeys(cfg config.Config) ([]flows.PartnerKeys, error) {
	keys := make([]flows.PartnerKeys, len(cfg.Partners))
	var errs []error
	for i, p := range cfg.Partners {
		keys[i].Partner = p.ID
		if p.AuthorizedKeys == "" {
			continue
		}
		k, err := flows.LoadAuthorizedKeys(p.AuthorizedKeys)
		if err != nil {
			errs = append(errs, fmt.Errorf("partner %s: %w", p.ID, err))
		}
		keys[i].Keys = k // with an error, still checked for conflicts: every problem at once
	}
	if err := flows.KeyConflicts(keys); err != nil {
		errs = append(errs, err)
	}
	return keys, errors.Join(errs...)
}

// expiredKeys warns of each authorized key past its expiry-time at now:
// it stays in the file but can no longer log in.
func expiredKeys(keys []flows.PartnerKeys, now time.Time) []string {
	var out []string
	for _, p := range keys {
		for _, k := range p.Keys {
			if !k.Expiry.IsZero() && now.After(k.Expiry) {
				out = append(out, fmt.Sprintf("partner %s: authorized key %s expired at %s: it can no longer log in",
					p.Partner, k.Where(), k.Expiry.Format(time.RFC3339)))
			}
		}
	}
	return out
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Level()}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the daemon until ctx is done: it resumes what a crash
// interrupted, then watches the drop folders and routes every flow.
// ready, when not nil, is closed once intake is watching.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, ready chan<- struct{}) error {
	return serveWith(ctx, cfg, log, ready, router.Hooks{})
}

// serveWith is serve with the router's test hooks.
func serveWith(ctx context.Context, cfg config.Config, log *slog.Logger, ready chan<- struct{}, hooks router.Hooks) error {
	unlock, err := lockRoot(cfg.Root)
	if err != nil {
		return err
	}
	defer unlock()
	stopHUP := logSIGHUP(log)
	defer stopHUP()
	snap, rowErrs, err := directory.Load(cfg.Directory)
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	for _, re := range rowErrs {
		log.Warn("directory row skipped", "err", re.Error())
	}
	structures, services := snap.Len()
	log.Info("directory loaded", "structures", structures, "services", services, "skipped", len(rowErrs))
	logUncollected(log, cfg, snap)

	mb := flows.Mailboxes{Root: cfg.Root}
	ids := make([]string, len(cfg.Partners))
	partners := make([]router.Partner, len(cfg.Partners))
	maxSize := map[string]int64{}
	for i, p := range cfg.Partners {
		ids[i] = p.ID
		if p.MaxFileSize > 0 {
			maxSize[p.ID] = p.MaxFileSize
		}
		partners[i] = router.Partner{ID: p.ID, Name: p.Name, SIRETs: p.SIRETs, Receives: p.Receives,
			CPPStatut: slices.Contains(p.StatusFormats, "cppstatut"), JSON: slices.Contains(p.StatusFormats, "json"),
			CDAR:        slices.Contains(p.StatusFormats, "cdar"),
			MaxFileSize: p.MaxFileSize}
	}
	// The hub's own mailbox, partners/<hub id>/, takes the status flows of
	// `flowgate invoice status`: operators set statuses on behalf of any
	// recipient, through the same machinery as partners.
	ids = append(ids, cfg.HubID)
	partners = append(partners, router.Partner{ID: cfg.HubID, Name: "operators", CPPStatut: true, JSON: true, Operator: true})
	if err := mb.Setup(ids, log); err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer st.Close()

	// The runtime keeps the heap under memory_limit (collecting harder as
	// it nears it); the router sizes its work from the same budget.
	if cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	rt, err := router.New(router.Config{Root: cfg.Root, HubID: cfg.HubID, Partners: partners, Directory: snap, Store: st, Log: log,
		MemoryLimit: cfg.MemoryLimit, FlowTimeout: cfg.FlowTimeout.Duration, MaxAttempts: cfg.MaxAttempts, Hooks: hooks})
	if err != nil {
		return err
	}
	todo, maxWork, err := rt.Recover(ctx)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	maxStore, err := st.MaxFlowID(ctx)
	if err != nil {
		return err
	}
	gen, err := flows.NewIDs(max(maxWork, maxStore))
	if err != nil {
		return err
	}

	sources, err := sftpSources(cfg, mb, st, log)
	if err != nil {
		return err
	}

	claims := make(chan flows.Claimed, 4096)
	intake := &flows.Intake{Mailboxes: mb, Partners: ids, Settle: cfg.Settle.Duration, Rescan: cfg.Rescan.Duration,
		IDs: gen, Log: log, Out: claims, MaxSize: maxSize}
	// The first error of either stops both; intake stops as soon as ctx
	// ends, the router finishes its round within the shutdown timeout.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	fail := func(err error) {
		if err != nil {
			mu.Lock()
			first = cmp.Or(first, err)
			mu.Unlock()
			cancel()
		}
	}
	wg.Go(func() { fail(intake.Run(cctx)) })
	for _, src := range sources {
		wg.Go(func() { fail(src.Run(cctx)) })
	}
	// The router drains its round in 9/10 of the shutdown timeout; the
	// daemon itself stops at the timeout whatever is still running (a
	// flow's check that will not end, a store call): what was not done is
	// in work/ or in the store's plans, and resumes at the next start.
	drain := cfg.ShutdownTimeout.Duration * 9 / 10
	wg.Go(func() { fail(rt.Run(cctx, claims, todo, drain)) })
	log.Info("flowgate running", "root", cfg.Root, "partners", len(ids))
	if ready != nil {
		close(ready)
	}
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-cctx.Done():
		log.Info("stopping: intake closed, the round in progress finishes within shutdown_timeout (a second signal aborts)",
			"shutdown_timeout", cfg.ShutdownTimeout.Duration.String())
		select {
		case <-stopped:
		case <-time.After(cfg.ShutdownTimeout.Duration):
			log.Error("shutdown_timeout passed with work in progress: stopping now; it resumes at the next start",
				"shutdown_timeout", cfg.ShutdownTimeout.Duration.String())
			mu.Lock()
			defer mu.Unlock()
			return first
		}
	}
	log.Info("flowgate stopped")
	mu.Lock()
	defer mu.Unlock()
	return first
}
