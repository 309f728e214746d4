package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"flowgate/config"
)

// waitUntil polls ok every 20 ms until it holds or the deadline passes.
func waitUntil(t *testing.T, logs *syncBuffer, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; log:\n%s", what, tail(logs.String(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer a running daemon writes its log into while
// the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serveTOML runs the daemon in the test process on a fresh root over the
// sample directory, with the partners given as TOML, and returns its
// configuration file, configuration, logs and the function that stops it.
func serveTOML(t *testing.T, partners string) (string, config.Config, *syncBuffer, func()) {
	t.Helper()
	root := t.TempDir()
	dir, err := filepath.Abs("../../samples/directory")
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("root = %q\ndirectory = %q\nsettle = \"100ms\"\nrescan = \"1s\"\nshutdown_timeout = \"10s\"\n\n%s",
		filepath.Join(root, "hub"), dir, partners)
	path := filepath.Join(root, "flowgate.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	logs := &syncBuffer{}
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), ready) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon: %v", err)
	}
	return path, cfg, logs, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	}
}
