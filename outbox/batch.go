package outbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"flowgate/internal/fsx"
)

// ErrConflict is wrapped by Commit when a file of the batch already exists
// with other content. The file in place is left untouched.
var ErrConflict = errors.New("a different file already exists")

// DefaultWorkers is the number of files Commit writes at once when asked for
// workers <= 0. Parallel fsyncs let the filesystem journal commit them
// together, so a batch costs a few journal commits instead of one per file.
const DefaultWorkers = 8

// fileMode is the mode of the files written, before the umask: readable by
// the owner and its group (e.g. the account of the SFTP server partners
// collect from), not by every local user, since status files carry invoice
// numbers and SIRETs.
const fileMode = 0o640

// Batch collects files to write; Commit writes them all.
//
// A Batch is not safe for concurrent Add; Commit may be called again (after
// a failure, or by a process re-running the same batch after a crash) and
// writes only what is missing. Add keeps data without copying it: do not
// modify it until the last Commit returns.
type Batch struct {
	files []pending

	// SyncFS trades the per-file fsyncs for two syncfs(2) calls on the
	// filesystem of the first file: one after every temp is written (their
	// bytes are durable before any is linked), one after every link (the
	// names are durable). A batch of many small files then costs two
	// flushes instead of one per file. All files of the batch must be on
	// one filesystem.
	SyncFS bool

	// link and syncDir are fsx.RenameNoReplace and fsx.SyncDir; tests replace them to inject
	// failures and count directory syncs.
	link    func(oldname, newname string) error
	syncDir func(dir string) error
}

type pending struct {
	dir, name string
	data      []byte
}

// Add queues data to be written as dir/name. The name is checked by Commit.
func (b *Batch) Add(dir, name string, data []byte) {
	b.files = append(b.files, pending{dir: dir, name: name, data: data})
}

// Len returns the number of files added.
func (b *Batch) Len() int { return len(b.files) }

// Commit writes every file of the batch and returns errors.Join of the
// failures, each wrapped with the file's path.
//
// For each file it writes a temp file in the same directory, named
// "." + name + ".tmp-" + random so that the daemon's intake (which ignores
// dot files) never picks it up, fsyncs and closes it, then moves it to the
// final name with renameat2(RENAME_NOREPLACE), which like link(2) fails
// rather than replace an existing file, so a reader sees either no file or
// the whole file, and nothing already in place is ever replaced or removed. A final file that
// already exists with the same bytes counts as written (the batch is being
// re-run after a crash); with other bytes it is an error wrapping
// ErrConflict, and the other files are still written.
//
// Files are written by workers goroutines (DefaultWorkers when workers <= 0).
// Once every file is placed, each distinct directory holding a placed file is
// fsynced once, so that the new names survive a power loss; a file found
// already in place counts, since the crash that interrupted the previous run
// may have come before its directory was synced.
func (b *Batch) Commit(workers int) error {
	n := len(b.files)
	if n == 0 {
		return nil
	}
	if workers <= 0 {
		workers = DefaultWorkers
	}
	workers = min(workers, n)
	link := b.link
	if link == nil {
		link = fsx.RenameNoReplace
	}
	syncDir := b.syncDir
	if syncDir == nil {
		syncDir = fsx.SyncDir
	}

	errs := make([]error, n)
	if b.SyncFS {
		return b.commitSyncFS(workers, link, errs)
	}
	fsx.Parallel(n, workers, func(i int) {
		f := b.files[i]
		errs[i] = place(f.dir, f.name, f.data, link)
	})

	synced := make(map[string]bool)
	for i, f := range b.files {
		if errs[i] != nil {
			continue
		}
		dir := filepath.Clean(f.dir)
		if synced[dir] {
			continue
		}
		synced[dir] = true
		if err := syncDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// commitSyncFS is Commit with two filesystem flushes in place of the
// per-file and per-directory fsyncs: temps are written, the filesystem is
// flushed, temps are linked to their final names, the filesystem is
// flushed again. A crash before the second flush leaves, at worst, temp
// files (removed by RemoveTemps at start) and names that a re-run finds
// in place with the right bytes.
func (b *Batch) commitSyncFS(workers int, link func(oldname, newname string) error, errs []error) error {
	n := len(b.files)
	temps := make([]string, n)
	fsx.Parallel(n, workers, func(i int) {
		f := b.files[i]
		final := filepath.Join(f.dir, f.name)
		if err := checkName(f.dir, f.name); err != nil {
			errs[i] = fmt.Errorf("write %s: %w", final, err)
			return
		}
		if done, err := existing(final, f.data); err != nil || done {
			errs[i] = err
			return
		}
		tmp, err := writeTempNoSync(f.dir, f.name, f.data)
		if err != nil {
			errs[i] = fmt.Errorf("write %s: %w", final, err)
			return
		}
		temps[i] = tmp
	})
	if err := fsx.SyncFS(b.files[0].dir); err != nil {
		for _, tmp := range temps {
			if tmp != "" {
				os.Remove(tmp)
			}
		}
		return err
	}
	for i, tmp := range temps {
		if tmp == "" {
			continue
		}
		final := filepath.Join(b.files[i].dir, b.files[i].name)
		err := link(tmp, final)
		if errors.Is(err, fs.ErrExist) {
			if done, cerr := existing(final, b.files[i].data); cerr != nil || done {
				err = cerr
			}
		}
		if err != nil {
			errs[i] = fmt.Errorf("write %s: %w", final, err)
		}
		os.Remove(tmp)
	}
	if err := fsx.SyncFS(b.files[0].dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// WriteFile writes one file as Commit does: atomically, without replacing a
// different file, and accepting an identical one.
func WriteFile(dir, name string, data []byte) error {
	var b Batch
	b.Add(dir, name, data)
	return b.Commit(1)
}

// checkName refuses names that would leave dir or hide from the intake.
func checkName(dir, name string) error {
	switch {
	case dir == "":
		return errors.New("empty directory")
	case name == "":
		return errors.New("empty file name")
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("file name %q starts with a dot", name)
	case strings.ContainsAny(name, `/\`+string(os.PathSeparator)):
		return fmt.Errorf("file name %q contains a path separator", name)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("file name %q contains a NUL byte", name)
	}
	return nil
}

// place puts one file in place and reports why not, wrapped with its path.
func place(dir, name string, data []byte, link func(oldname, newname string) error) error {
	final := filepath.Join(dir, name)
	if err := checkName(dir, name); err != nil {
		return fmt.Errorf("write %s: %w", final, err)
	}
	// A re-run after a crash finds most files in place: compare without
	// writing a temp.
	if done, err := existing(final, data); err != nil || done {
		return err
	}
	tmp, err := writeTemp(dir, name, data)
	if err != nil {
		return fmt.Errorf("write %s: %w", final, err)
	}
	// The temp goes whatever happens: linked, it is a second name of the
	// final file; not linked, it is garbage.
	defer os.Remove(tmp)
	if err := link(tmp, final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another writer got there between the check and the link.
			done, cerr := existing(final, data)
			if cerr != nil || done {
				return cerr
			}
		}
		return fmt.Errorf("write %s: %w", final, err)
	}
	return nil
}

// existing reports whether final is already in place with data: (true, nil)
// when it holds the same bytes, an error wrapping ErrConflict when it holds
// others or is not a regular file, (false, nil) when it does not exist.
func existing(final string, data []byte) (bool, error) {
	fi, err := os.Lstat(final)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("write %s: %w", final, err)
	case !fi.Mode().IsRegular() || fi.Size() != int64(len(data)):
		return false, fmt.Errorf("write %s: %w", final, ErrConflict)
	}
	same, err := sameContent(final, data)
	if err != nil {
		return false, fmt.Errorf("write %s: %w", final, err)
	}
	if !same {
		return false, fmt.Errorf("write %s: %w", final, ErrConflict)
	}
	return true, nil
}

func sameContent(path string, data []byte) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, 32<<10)
	for {
		k, err := io.ReadFull(f, buf)
		if k > len(data) || !bytes.Equal(buf[:k], data[:k]) {
			return false, nil
		}
		data = data[k:]
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return len(data) == 0, nil
		case err != nil:
			return false, err
		}
	}
}

// writeTemp writes data to a new dot-named temp file in dir, fsyncs and
// closes it, and returns its path. On failure nothing is left behind.
func writeTemp(dir, name string, data []byte) (string, error) {
	return writeTempSync(dir, name, data, true)
}

// writeTempNoSync is writeTemp without the fsync, for commitSyncFS.
func writeTempNoSync(dir, name string, data []byte) (string, error) {
	return writeTempSync(dir, name, data, false)
}

func writeTempSync(dir, name string, data []byte, sync bool) (string, error) {
	var (
		f   *os.File
		tmp string
		err error
	)
	for range 100 {
		tmp = filepath.Join(dir, "."+name+".tmp-"+strconv.FormatUint(rand.Uint64(), 36))
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// IsTemp reports whether name is one of the temp files Commit writes: a
// crash can leave them behind, and only the writer may remove them.
func IsTemp(name string) bool {
	if !strings.HasPrefix(name, ".") {
		return false
	}
	i := strings.LastIndex(name, ".tmp-")
	if i <= 1 || i+5 == len(name) {
		return false
	}
	for _, c := range name[i+5:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// RemoveTemps removes the temp files a crash left in dir and returns how
// many it removed. Run it at start, before anything writes into dir.
func RemoveTemps(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, e := range entries {
		if e.Type().IsRegular() && IsTemp(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}
