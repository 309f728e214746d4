// Package fsx holds the few file system operations the hub's durable
// writes are built from: flushing a folder or a whole filesystem, moving a
// file into place without ever replacing another, and running a batch of
// such operations a few at a time; and those its mailboxes are read
// through: folders opened once and used by handle, never by a path a
// depositor could change (OpenDirBeneath, ReadDirAt, StatAt, RenameAt,
// ReplaceWithCopy). It decides nothing about what to write.
package fsx

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// SyncDir fsyncs a folder, making the names created or removed in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// SyncFS flushes the whole filesystem holding dir (syncfs(2)): one call
// makes every file written on it durable, names included.
func SyncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}

// RenameNoReplace moves oldname to newname unless newname exists
// (renameat2 RENAME_NOREPLACE): one metadata operation, atomic for
// readers, never replacing a file. Where the filesystem does not support
// it, it falls back to link(2), which fails the same way on an existing
// name, then removes oldname. An existing newname gives an error wrapping
// fs.ErrExist.
func RenameNoReplace(oldname, newname string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldname, unix.AT_FDCWD, newname, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.ENOTSUP):
		if err := os.Link(oldname, newname); err != nil {
			return err
		}
		os.Remove(oldname) // newname is in place; a leftover old name is only a second link
		return nil
	case errors.Is(err, unix.EEXIST):
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrExist}
	}
	return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
}

// Parallel runs fn(0), …, fn(n-1) on up to workers goroutines and returns
// when all have returned.
func Parallel(n, workers int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, max(workers, 1)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// openat2Missing is set once openat2(2) answered ENOSYS (Linux before 5.6,
// or a seccomp filter): OpenDirBeneath then walks one name at a time.
var openat2Missing atomic.Bool

// OpenDirBeneath opens the folder rel (a relative, slash-separated path
// such as "partners/FOURN01/in") below the open folder dir, following no
// symbolic link on the way and never leaving dir: openat2(2) with
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or, where openat2 is missing, one
// openat(2) per name with O_NOFOLLOW from dir down. A link anywhere on the
// way gives an error wrapping unix.ELOOP, something other than a folder
// unix.ENOTDIR, a missing name fs.ErrNotExist. The caller closes the file.
func OpenDirBeneath(dir *os.File, rel string) (*os.File, error) {
	if !openat2Missing.Load() {
		fd, err := unix.Openat2(int(dir.Fd()), rel, &unix.OpenHow{
			Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err == nil {
			return os.NewFile(uintptr(fd), filepath.Join(dir.Name(), rel)), nil
		}
		if !errors.Is(err, unix.ENOSYS) {
			return nil, &os.PathError{Op: "openat2", Path: filepath.Join(dir.Name(), rel), Err: err}
		}
		openat2Missing.Store(true)
	}
	return openDirWalk(dir, rel)
}

// openDirWalk is OpenDirBeneath without openat2.
func openDirWalk(dir *os.File, rel string) (*os.File, error) {
	path := filepath.Join(dir.Name(), rel)
	if rel == "" || strings.HasPrefix(rel, "/") {
		return nil, &os.PathError{Op: "openat", Path: path, Err: unix.EXDEV}
	}
	fd, err := unix.Openat(int(dir.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "openat", Path: dir.Name(), Err: err}
	}
	for name := range strings.SplitSeq(rel, "/") {
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			unix.Close(fd)
			return nil, &os.PathError{Op: "openat", Path: path, Err: unix.EXDEV}
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOTDIR) {
			// O_DIRECTORY answers ENOTDIR for a link: say it is one.
			var st unix.Stat_t
			if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = unix.ELOOP
			}
		}
		unix.Close(fd)
		if err != nil {
			return nil, &os.PathError{Op: "openat", Path: path, Err: err}
		}
		fd = next
	}
	return os.NewFile(uintptr(fd), path), nil
}

// ReadDirAt lists the open folder dir from its start (by a fresh handle on
// it, so dir's own read offset is untouched), in directory order. Each
// entry's Type is the one the listing gave; Info is not to be used (it
// would look the name up by path).
func ReadDirAt(dir *os.File) ([]fs.DirEntry, error) {
	fd, err := unix.Openat(int(dir.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "openat", Path: dir.Name(), Err: err}
	}
	f := os.NewFile(uintptr(fd), dir.Name())
	defer f.Close()
	return f.ReadDir(-1)
}

// StatAt returns what name in the open folder dir is, without following a
// link (fstatat(2) with AT_SYMLINK_NOFOLLOW).
func StatAt(dir *os.File, name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return st, &os.PathError{Op: "fstatat", Path: filepath.Join(dir.Name(), name), Err: err}
	}
	return st, nil
}

// RenameAt moves oldName in the open folder oldDir to newName in newDir,
// unless newName exists (renameat2 RENAME_NOREPLACE, falling back to
// linkat then unlinkat as RenameNoReplace does). Whatever oldName is, a
// link included, it is moved as it is, never followed. An existing newName
// gives an error wrapping fs.ErrExist, a missing oldName fs.ErrNotExist.
func RenameAt(oldDir *os.File, oldName string, newDir *os.File, newName string) error {
	ofd, nfd := int(oldDir.Fd()), int(newDir.Fd())
	le := func(err error) error {
		return &os.LinkError{Op: "renameat", Old: filepath.Join(oldDir.Name(), oldName),
			New: filepath.Join(newDir.Name(), newName), Err: err}
	}
	err := unix.Renameat2(ofd, oldName, nfd, newName, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.ENOTSUP):
		if err := unix.Linkat(ofd, oldName, nfd, newName, 0); err != nil {
			if errors.Is(err, unix.EEXIST) {
				return le(fs.ErrExist)
			}
			return le(err)
		}
		unix.Unlinkat(ofd, oldName, 0) // newName is in place; a leftover is only a second link
		return nil
	case errors.Is(err, unix.EEXIST):
		return le(fs.ErrExist)
	}
	return le(err)
}

// ReplaceWithCopy replaces name in the open folder dir by a new file of
// mode perm holding every byte read from src, written by this process: it
// is written under tmpName (which must not exist), flushed, renamed over
// name, and dir is flushed. Whatever other links the old file had, the new
// one has a single link, in dir. It returns the number of bytes copied; on
// error name is untouched and tmpName removed.
func ReplaceWithCopy(dir *os.File, name, tmpName string, src io.Reader, perm fs.FileMode) (int64, error) {
	dfd := int(dir.Fd())
	fd, err := unix.Openat(dfd, tmpName, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return 0, &os.PathError{Op: "openat", Path: filepath.Join(dir.Name(), tmpName), Err: err}
	}
	tmp := os.NewFile(uintptr(fd), filepath.Join(dir.Name(), tmpName))
	n, err := io.Copy(tmp, src)
	if err == nil {
		err = tmp.Chmod(perm.Perm()) // exact, whatever the umask
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if rerr := unix.Renameat(dfd, tmpName, dfd, name); rerr != nil {
			err = &os.LinkError{Op: "renameat", Old: tmp.Name(), New: filepath.Join(dir.Name(), name), Err: rerr}
		}
	}
	if err != nil {
		unix.Unlinkat(dfd, tmpName, 0)
		return 0, fmt.Errorf("copy %s: %w", filepath.Join(dir.Name(), name), err)
	}
	if err := unix.Fsync(dfd); err != nil {
		return n, fmt.Errorf("sync dir %s: %w", dir.Name(), err)
	}
	return n, nil
}
