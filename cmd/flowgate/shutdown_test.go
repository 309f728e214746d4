package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"flowgate/config"
	"flowgate/flows"
	"flowgate/router"
)

// TestShutdownWithinTimeout: a stop request ends the daemon within
// shutdown_timeout even while a flow's check never ends (here a hook that
// blocks; in the field a parser bug or a stuck disk), and the flow stays in
// work/ for the next start.
func TestShutdownWithinTimeout(t *testing.T) {
	root := t.TempDir()
	path := writeConfig(t, root)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte(strings.Replace(string(data), "settle = ", "shutdown_timeout = \"500ms\"\nsettle = ", 1)), 0o644)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	checking := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { close(release) })
	hooks := router.Hooks{Check: func(flows.Claimed) {
		once.Do(func() { close(checking) })
		<-release
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- serveWith(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready, hooks) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	in := flows.Mailboxes{Root: cfg.Root}.In("FOURN01")
	doc, err := os.ReadFile("../../samples/flows/facture-acceptee.xml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(in, ".f.tmp"), doc, 0o644)
	os.Rename(filepath.Join(in, ".f.tmp"), filepath.Join(in, "f.xml"))
	select {
	case <-checking:
	case <-time.After(30 * time.Second):
		t.Fatal("the flow was never checked")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon did not stop within 10 s of a stop request, with shutdown_timeout 500ms")
	}
	left, _ := os.ReadDir(flows.Mailboxes{Root: cfg.Root}.Work())
	if len(left) != 1 {
		t.Errorf("work/ holds %d files, want the interrupted flow", len(left))
	}
}
