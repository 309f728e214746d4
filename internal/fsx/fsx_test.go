package fsx

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestSyncDir(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if err := SyncDir(missing); err == nil || !strings.Contains(err.Error(), "sync dir "+missing) {
		t.Errorf("got %v", err)
	}
	if err := SyncFS(t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

func TestRenameNoReplace(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte("a"), 0o644)
	os.WriteFile(b, []byte("b"), 0o644)
	if err := RenameNoReplace(a, b); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("got %v, want fs.ErrExist", err)
	}
	if data, _ := os.ReadFile(b); string(data) != "b" {
		t.Error("existing file replaced")
	}
	c := filepath.Join(dir, "c")
	if err := RenameNoReplace(a, c); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(c); string(data) != "a" {
		t.Error("not moved")
	}
	if _, err := os.Stat(a); err == nil {
		t.Error("source still there")
	}
}

func TestParallel(t *testing.T) {
	var sum atomic.Int64
	seen := make([]int32, 1000)
	Parallel(1000, 7, func(i int) {
		sum.Add(int64(i))
		atomic.AddInt32(&seen[i], 1)
	})
	if sum.Load() != 999*1000/2 {
		t.Errorf("sum %d", sum.Load())
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("%d run %d times", i, n)
		}
	}
	Parallel(0, 4, func(int) { t.Fatal("called for n = 0") })
}
