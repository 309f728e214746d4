package fsx

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenDirBeneath: a folder below the root opens; a link at any step,
// a file, "..", an absolute path and a missing name do not, with openat2
// and with the walk used where openat2 is missing.
func TestOpenDirBeneath(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "a", "b", "c"), 0o755)
	os.WriteFile(filepath.Join(root, "a", "file"), nil, 0o644)
	outside := t.TempDir()
	os.Symlink(outside, filepath.Join(root, "a", "out"))
	os.Symlink(filepath.Join(root, "a", "b"), filepath.Join(root, "a", "inside"))
	r, err := os.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, open := range []struct {
		name string
		fn   func(*os.File, string) (*os.File, error)
	}{{"openat2", OpenDirBeneath}, {"walk", openDirWalk}} {
		f, err := open.fn(r, "a/b/c")
		if err != nil {
			t.Fatalf("%s: %v", open.name, err)
		}
		var st, want syscall.Stat_t
		syscall.Fstat(int(f.Fd()), &st)
		syscall.Stat(filepath.Join(root, "a", "b", "c"), &want)
		f.Close()
		if st.Ino != want.Ino {
			t.Errorf("%s: opened another folder", open.name)
		}
		for rel, want := range map[string]error{
			"a/out": unix.ELOOP, "a/out/x": unix.ELOOP, "a/inside": unix.ELOOP, "a/inside/c": unix.ELOOP,
			"a/file": unix.ENOTDIR, "a/missing": fs.ErrNotExist, "a/../..": unix.EXDEV, "..": unix.EXDEV,
			root: unix.EXDEV,
		} {
			f, err := open.fn(r, rel)
			if err == nil {
				f.Close()
				t.Errorf("%s %s: opened", open.name, rel)
			} else if !errors.Is(err, want) {
				t.Errorf("%s %s: %v, want %v", open.name, rel, err, want)
			}
		}
	}
}

// TestRenameAt: a link is moved as a link, never followed; an existing
// target is never replaced.
func TestRenameAt(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("s"), 0o600)
	os.Symlink(secret, filepath.Join(a, "l"))
	os.WriteFile(filepath.Join(b, "taken"), []byte("t"), 0o600)
	da, _ := os.Open(a)
	defer da.Close()
	db, _ := os.Open(b)
	defer db.Close()
	if err := RenameAt(da, "l", db, "taken"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("onto an existing name: %v", err)
	}
	if err := RenameAt(da, "l", db, "moved"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(b, "moved")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("moved: %v %v", fi, err)
	}
	if err := RenameAt(da, "l", db, "again"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing source: %v", err)
	}
	if st, _ := StatAt(db, "moved"); st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("StatAt followed the link: mode %o", st.Mode)
	}
}

// TestReplaceWithCopy: the name gets a file of its own with the bytes, the
// mode asked and one link; the other link keeps the old file.
func TestReplaceWithCopy(t *testing.T) {
	dir := t.TempDir()
	kept := filepath.Join(t.TempDir(), "kept")
	os.WriteFile(kept, []byte("original"), 0o666)
	os.Link(kept, filepath.Join(dir, "f"))
	d, _ := os.Open(dir)
	defer d.Close()
	src, _ := os.Open(filepath.Join(dir, "f"))
	defer src.Close()
	n, err := ReplaceWithCopy(d, "f", ".f.tmp", src, 0o640)
	if err != nil || n != int64(len("original")) {
		t.Fatalf("%d %v", n, err)
	}
	os.WriteFile(kept, []byte("rewritten"), 0o666)
	if data, _ := os.ReadFile(filepath.Join(dir, "f")); string(data) != "original" {
		t.Errorf("copy holds %q", data)
	}
	fi, _ := os.Stat(filepath.Join(dir, "f"))
	if fi.Mode().Perm() != 0o640 || fi.Sys().(*syscall.Stat_t).Nlink != 1 {
		t.Errorf("mode %v links %d", fi.Mode(), fi.Sys().(*syscall.Stat_t).Nlink)
	}
	// A temp name in use fails without touching the file.
	os.WriteFile(filepath.Join(dir, ".busy"), nil, 0o600)
	if _, err := ReplaceWithCopy(d, "f", ".busy", strings.NewReader("other"), 0o640); err == nil {
		t.Error("temp name in use accepted")
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "f")); string(data) != "original" {
		t.Errorf("file changed by a failed copy: %q", data)
	}
}
