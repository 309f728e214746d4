package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"

	"flowgate/config"
)

// TestServeWiresLimits: the daemon gives memory_limit to the Go runtime
// and each partner's max_file_size to the router (a deposit over it is
// refused FLX-TAILLE, with a notice in returns/).
func TestServeWiresLimits(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	root := t.TempDir()
	dir, _ := filepath.Abs("../../samples/directory")
	cfg := config.DefaultConfig()
	cfg.Root, cfg.Directory = filepath.Join(root, "hub"), dir
	cfg.Settle = config.Duration{Duration: 100 * time.Millisecond}
	cfg.MemoryLimit = 300 << 20
	cfg.Partners = []config.Partner{{ID: "FOURN01", Name: "Fournitures Durand", SIRETs: []string{crashSupplier}, MaxFileSize: 1000}}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	var logs bytes.Buffer
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)), ready) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon: %v", err)
	}
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("runtime memory limit %d, want %d", got, 300<<20)
	}
	in := filepath.Join(cfg.Root, "partners/FOURN01/in")
	os.WriteFile(filepath.Join(in, ".big.xml.tmp"), bytes.Repeat([]byte("x"), 2000), 0o644)
	os.Rename(filepath.Join(in, ".big.xml.tmp"), filepath.Join(in, "big.xml"))
	var notice []string
	for deadline := time.Now().Add(20 * time.Second); len(notice) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		notice, _ = filepath.Glob(filepath.Join(cfg.Root, "partners/FOURN01/returns/*_big.xml.refus.txt"))
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("daemon: %v", err)
	}
	if len(notice) != 1 {
		t.Fatalf("no notice in returns/; log:\n%s", logs.String())
	}
	crs, _ := filepath.Glob(filepath.Join(cfg.Root, "partners/FOURN01/out/CR_*.json"))
	if len(crs) != 1 {
		t.Fatalf("CRs %v", crs)
	}
	if cr, _ := os.ReadFile(crs[0]); !bytes.Contains(cr, []byte(`"FLX-TAILLE"`)) {
		t.Errorf("CR:\n%s", cr)
	}
}
