// Package fsx holds the few file system operations the hub's durable
// writes are built from: flushing a folder or a whole filesystem, moving a
// file into place without ever replacing another, and running a batch of
// such operations a few at a time. It decides nothing about what to write.
package fsx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
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
