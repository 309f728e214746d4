package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// lockName is the file in the root that one daemon holds locked for its
// whole life.
const lockName = "flowgate.lock"

// lockRoot takes an exclusive flock on <root>/flowgate.lock and writes the
// daemon's PID into it. Two daemons on one root would claim and route the
// same flows: the second is refused at once with the PID of the first.
// The lock goes with the process (the kernel drops it on exit, even on
// SIGKILL); release closes it earlier.
func lockRoot(root string) (release func(), err error) {
	// A root made here gets the mode the mailboxes want (0711: traversed by
	// local partners' accounts, listed by none), whatever the umask; one
	// that exists is the mailboxes' set-up to check.
	if _, err := os.Stat(root); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(root, 0o711); err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		if err := os.Chmod(root, 0o711); err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
	}
	path := filepath.Join(root, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		data, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder := strings.TrimSpace(string(data))
			if _, perr := strconv.Atoi(holder); perr != nil {
				holder = "unknown"
			}
			return nil, fmt.Errorf("another flowgate (PID %s) is running on %s: %s is locked", holder, root, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}

// logSIGHUP logs each SIGHUP instead of dying of it, as a daemon must (a
// closed terminal, or an operator's habit of asking for a reload). It
// returns the function that stops listening.
func logSIGHUP(log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				log.Info("SIGHUP received: ignored, the daemon goes on (the directory is read at start)")
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(hup); close(done) }
}
