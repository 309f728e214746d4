package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStoreFileModes: the database and its -wal and -shm files are the
// hub's alone (0600), when created and when found wider at open.
func TestStoreFileModes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flowgate.db")
	check := func(when string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Errorf("%s: %v", when, err)
				continue
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s has mode %v, want 0600", when, filepath.Base(p), fi.Mode().Perm())
			}
		}
	}
	s := open(t, path)
	if err := s.RecordPush(ctx, "P1", "h:22", "CR_1.xml", time.Now()); err != nil {
		t.Fatal(err)
	}
	check("created")
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Chmod(p, 0o644)
	}
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	check("reopened")
}
