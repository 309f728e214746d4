package flows

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"

	"flowgate/internal/fsx"
)

// Claimed is a flow taken from a partner's drop folder: it now sits in
// work/ under WorkName(FlowID, Partner, Name), a regular file with a
// single link that only the hub holds.
type Claimed struct {
	FlowID     string
	Partner    string
	Name       string // the name it was deposited under
	Path       string // its path in work/
	ReceivedAt time.Time
	// Size is the file's size in bytes as fstat'ed in work/ once claimed
	// (after any private copy); 0 for a flow resumed from work/ at start,
	// whose size the reader stats itself.
	Size int64
}

// Ignored reports names the intake never takes: hidden files and the usual
// temporary names of uploads in progress.
func Ignored(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp") ||
		strings.HasSuffix(name, ".part") || strings.HasSuffix(name, ".filepart")
}

// renameGrace is how long a file that appeared with content and no write
// must stay without a write event to count as having arrived by rename.
const renameGrace = 20 * time.Millisecond

// claimTemp starts the names of the private copies made at claim in work/
// (see Intake); one left by a crash is removed at the next start, by
// Mailboxes.Setup.
const claimTemp = ".claim-"

// Intake watches every partner's in/ folder and claims complete files into
// work/, sending each claim on Out in the order taken.
//
// A file is complete when it arrived by rename (it appeared with content
// and no write followed), or when its size and modification time stayed
// unchanged for Settle. fsnotify tells about changes; a full scan at start,
// every Rescan and after a watcher overflow catches anything missed.
//
// Every operation on the mailboxes goes through folder handles opened when
// Run starts (root, work/ and each partners/<id>/in/, opened below the
// root without following any link), never through a path a depositor could
// change: fsnotify only says when to look. A claim is a rename from in/ to
// work/ first, then a look at what was moved, in work/ where no depositor
// can change it any more:
//   - not a regular file (a link, a folder, a fifo, a socket, a device
//     swapped in between the listing and the rename): removed from work/,
//     never opened nor followed, logged; its target's bytes are never read;
//   - a regular file with more than one link (the depositor kept a hard
//     link and could rewrite it after validation) or owned by another
//     account (a local depositor that could still write through a
//     descriptor it kept open): replaced in work/ by a private copy made
//     by the hub (mode 0640, one link), logged, unless it is larger than
//     MaxSize for its partner (never copied: the reader refuses it by size);
//   - otherwise its mode is narrowed to 0640 at most.
//
// A partner's in/ that is no longer the folder opened at start (replaced by
// a link or another folder, removed) stops that partner's intake with an
// error logged once; the other partners go on. Until restart, nothing more
// is taken from it.
type Intake struct {
	Mailboxes Mailboxes
	Partners  []string
	Settle    time.Duration
	Rescan    time.Duration
	IDs       *IDs
	Log       *slog.Logger
	Out       chan<- Claimed
	Now       func() time.Time // for tests; time.Now when nil
	// MaxSize is, per partner, the largest file in bytes that a claim may
	// copy (see above); no limit for a partner not in it.
	MaxSize map[string]int64

	root, work *os.File
	euid       int
	boxes      map[string]*box // by watched path of in/
	pending    map[string]*candidate
	seen       uint64          // candidates noticed so far: each one's seq
	renamed    int             // pending candidates that arrived by rename
	refused    map[string]bool // links and special files already reported
}

// box is one partner's in/ folder as opened at start.
type box struct {
	partner  string
	path     string // its path, as watched
	rel      string // below the root
	dir      *os.File
	dev, ino uint64
	stopped  bool
}

type candidate struct {
	box        *box
	name       string
	size       int64
	mtime      time.Time
	changed    time.Time // when we last saw size or mtime change
	createdAt  time.Time
	viaCreate  bool // seen by a create event, with content, and no write since
	wroteSince bool
	seq        uint64 // order in which the intake noticed it
}

func (in *Intake) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

// open opens the root, work/ and every partner's in/. A partner whose in/ cannot be opened
// as a folder below the root is stopped (logged); the others are kept.
func (in *Intake) open() error {
	in.pending = map[string]*candidate{}
	in.refused = map[string]bool{}
	in.boxes = map[string]*box{}
	in.euid = os.Geteuid()
	root, err := os.OpenFile(in.Mailboxes.Root, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	in.root = root
	if in.work, err = fsx.OpenDirBeneath(root, "work"); err != nil {
		root.Close()
		return fmt.Errorf("intake: %w", err)
	}
	for _, id := range in.Partners {
		b := &box{partner: id, path: in.Mailboxes.In(id), rel: "partners/" + id + "/in"}
		in.boxes[b.path] = b
		f, err := fsx.OpenDirBeneath(root, b.rel)
		if err != nil {
			in.stop(b, err.Error())
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			f.Close()
			in.stop(b, err.Error())
			continue
		}
		b.dir, b.dev, b.ino = f, st.Dev, st.Ino
	}
	return nil
}

// close closes every folder handle.
func (in *Intake) close() {
	for _, b := range in.boxes {
		if b.dir != nil {
			b.dir.Close()
		}
	}
	in.work.Close()
	in.root.Close()
}

// stop ends a partner's intake, with an error logged once.
func (in *Intake) stop(b *box, reason string) {
	if b.stopped {
		return
	}
	b.stopped = true
	in.Log.Error("mailbox folder is not the one opened at start, or not a folder: this partner's intake stops until restart",
		"partner", b.partner, "dir", b.path, "reason", reason)
	for path, c := range in.pending {
		if c.box == b {
			in.forget(path)
		}
	}
}

// verify checks that the partner's in/, looked up again from the root
// without following links, is still the folder opened at start, and stops
// the partner's intake when it is not. It reports whether it may go on.
func (in *Intake) verify(b *box) bool {
	if b.stopped {
		return false
	}
	f, err := fsx.OpenDirBeneath(in.root, b.rel)
	if err != nil {
		in.stop(b, err.Error())
		return false
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		in.stop(b, err.Error())
		return false
	}
	if st.Dev != b.dev || st.Ino != b.ino {
		in.stop(b, "replaced by another folder")
		return false
	}
	return true
}

// Run watches until ctx is done. It returns nil on cancellation, an error
// when the root or work/ cannot be opened or the watcher fails.
func (in *Intake) Run(ctx context.Context) error {
	if err := in.open(); err != nil {
		return err
	}
	defer in.close()
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	defer w.Close()
	for _, b := range in.boxes {
		if b.stopped {
			continue
		}
		if err := w.Add(b.path); err != nil {
			return fmt.Errorf("intake: watch %s: %w", b.path, err)
		}
		in.verify(b) // the path watched is the folder opened
	}
	// Watch first, then scan: a file arriving between the two is seen by
	// one or the other, never by neither.
	in.scan()
	tick := min(max(in.Settle/4, 10*time.Millisecond), 250*time.Millisecond)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	rescan := time.NewTicker(in.Rescan)
	defer rescan.Stop()
	full := true
	for {
		if err := in.claimReady(ctx, full); err != nil {
			return nil // ctx done while handing a claim over
		}
		full = false
		// A file that arrived by rename is taken renameGrace after its
		// event, not at the next settle tick.
		var grace <-chan time.Time
		if in.renamed > 0 {
			grace = time.After(renameGrace)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-grace:
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("intake: watcher closed")
			}
			in.event(ev)
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("intake: watcher closed")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				in.Log.Warn("watcher overflow: full scan", "err", err)
				in.scan()
				continue
			}
			in.Log.Error("watcher", "err", err)
		case <-ticker.C:
			full = true
		case <-rescan.C:
			in.scan()
			full = true
		}
	}
}

func (in *Intake) event(ev fsnotify.Event) {
	if b, ok := in.boxes[ev.Name]; ok {
		// in/ itself was moved or removed.
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			in.verify(b)
		}
		return
	}
	name := filepath.Base(ev.Name)
	b, ok := in.boxes[filepath.Dir(ev.Name)]
	if !ok || b.stopped || Ignored(name) {
		return
	}
	switch {
	case ev.Has(fsnotify.Create):
		st, err := fsx.StatAt(b.dir, name)
		if err != nil || !in.acceptable(ev.Name, b.partner, st.Mode) {
			return
		}
		now := in.now()
		in.forget(ev.Name)
		in.seen++
		c := &candidate{box: b, name: name, size: st.Size, mtime: mtime(st), changed: now, seq: in.seen,
			createdAt: now, viaCreate: st.Size > 0}
		in.pending[ev.Name] = c
		if c.viaCreate {
			in.renamed++
		}
	case ev.Has(fsnotify.Write):
		if c, ok := in.pending[ev.Name]; ok {
			if c.viaCreate && !c.wroteSince {
				in.renamed--
			}
			c.wroteSince = true
			c.changed = in.now()
		} else {
			in.observe(b, name)
		}
	case ev.Has(fsnotify.Remove), ev.Has(fsnotify.Rename):
		in.forget(ev.Name)
		delete(in.refused, ev.Name)
	}
}

func mtime(st unix.Stat_t) time.Time { return time.Unix(st.Mtim.Unix()) }

// kind names a file type from its stat mode.
func kind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFDIR:
		return "folder"
	case unix.S_IFLNK:
		return "symbolic link"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "socket"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "device"
	}
	return "unknown"
}

// forget drops a candidate.
func (in *Intake) forget(path string) {
	if c, ok := in.pending[path]; ok {
		if c.viaCreate && !c.wroteSince {
			in.renamed--
		}
		delete(in.pending, path)
	}
}

// acceptable refuses, and reports once, what is not a regular file: a link
// is never followed, a folder or device never read.
func (in *Intake) acceptable(path, partner string, mode uint32) bool {
	if mode&unix.S_IFMT == unix.S_IFREG {
		return true
	}
	if !in.refused[path] {
		in.refused[path] = true
		in.Log.Warn("not a regular file: refused, left in place", "partner", partner, "file", path, "mode", kind(mode))
	}
	return false
}

// observe records a file found by a scan or a write event.
func (in *Intake) observe(b *box, name string) {
	path := filepath.Join(b.path, name)
	if _, ok := in.pending[path]; ok {
		return
	}
	st, err := fsx.StatAt(b.dir, name)
	if err != nil || !in.acceptable(path, b.partner, st.Mode) {
		return
	}
	in.seen++
	in.pending[path] = &candidate{box: b, name: name, size: st.Size, mtime: mtime(st), changed: in.now(), seq: in.seen}
}

func (in *Intake) scan() {
	for _, id := range in.Partners {
		b := in.boxes[in.Mailboxes.In(id)]
		if !in.verify(b) {
			continue
		}
		entries, err := fsx.ReadDirAt(b.dir)
		if err != nil {
			in.Log.Error("scan", "partner", id, "dir", b.path, "err", err)
			continue
		}
		for _, e := range entries {
			if !Ignored(e.Name()) {
				in.observe(b, e.Name())
			}
		}
	}
}

// claimReady claims every complete candidate: those that arrived by rename
// once their grace has passed and, when full, those whose size and time
// stayed unchanged for Settle (checked with a stat each, so only on the
// settle tick). It returns an error only when ctx ends while a claim waits
// to be handed over.
func (in *Intake) claimReady(ctx context.Context, full bool) error {
	now := in.now()
	// Complete files are claimed in the order they were deposited (their
	// modification time, then the order the intake noticed them): flow ids
	// follow it, and so does routing, which matters to a recipient that
	// sends "07" and then "08" a moment apart.
	ready := make([]string, 0, len(in.pending))
	for path := range in.pending {
		ready = append(ready, path)
	}
	slices.SortFunc(ready, func(a, b string) int {
		ca, cb := in.pending[a], in.pending[b]
		return cmp.Or(ca.mtime.Compare(cb.mtime), cmp.Compare(ca.seq, cb.seq), strings.Compare(a, b))
	})
	for _, path := range ready {
		c, ok := in.pending[path]
		if !ok {
			continue
		}
		if c.viaCreate && !c.wroteSince {
			if now.Sub(c.createdAt) < renameGrace {
				continue
			}
		} else {
			if !full {
				continue
			}
			st, err := fsx.StatAt(c.box.dir, c.name)
			if err != nil {
				in.forget(path)
				continue
			}
			if mt := mtime(st); st.Size != c.size || !mt.Equal(c.mtime) {
				c.size, c.mtime, c.changed = st.Size, mt, now
				continue
			}
			quiet := now.Sub(c.changed)
			if since := now.Sub(c.mtime); since < quiet {
				quiet = since
			}
			if quiet < in.Settle && now.Sub(c.mtime) < in.Settle {
				continue
			}
		}
		in.forget(path)
		if err := in.claim(ctx, c.box, c.name); err != nil {
			return err
		}
	}
	return nil
}

// claim moves a complete file from the partner's in/ into work/ by atomic
// rename, makes sure what was moved is a regular file only the hub holds
// (see Intake), and hands it over. It returns an error only when ctx ends
// while the claim waits to be handed over.
func (in *Intake) claim(ctx context.Context, b *box, name string) error {
	if !in.verify(b) {
		return nil
	}
	path := filepath.Join(b.path, name)
	st, err := fsx.StatAt(b.dir, name)
	if err != nil || !in.acceptable(path, b.partner, st.Mode) {
		return nil
	}
	now := in.now()
	id := in.IDs.Next(now)
	workName := WorkName(id, b.partner, name)
	if err := fsx.RenameAt(b.dir, name, in.work, workName); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			in.Log.Error("claim", "partner", b.partner, "file", path, "err", err)
		}
		return nil
	}
	size, ok := in.secure(id, b.partner, name, workName)
	if !ok {
		return nil
	}
	in.Log.Debug("claimed", "flow", id, "partner", b.partner, "file", name, "size", size)
	select {
	case in.Out <- Claimed{FlowID: id, Partner: b.partner, Name: name,
		Path: filepath.Join(in.Mailboxes.Work(), workName), ReceivedAt: now, Size: size}:
		return nil
	case <-ctx.Done():
		// The flow is in work/: the next start resumes it.
		return ctx.Err()
	}
}

// secure looks at what a claim moved into work/ under workName, where no
// depositor can replace it any more, and keeps it only as a regular file
// with one link that the hub owns (see Intake). It returns the file's size
// and whether it is to be handed over; what is not kept is removed and
// logged here.
func (in *Intake) secure(flowID, partner, name, workName string) (int64, bool) {
	wfd := int(in.work.Fd())
	st, err := fsx.StatAt(in.work, workName)
	if err != nil {
		in.Log.Error("claim", "flow", flowID, "partner", partner, "file", name, "err", err)
		return 0, false
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		in.discard(flowID, partner, name, workName, kind(st.Mode))
		return 0, false
	}
	fd, err := unix.Openat(wfd, workName, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		in.Log.Error("claim: open in work/", "flow", flowID, "partner", partner, "file", name, "err", err)
		return st.Size, true // a regular file still: the reader reports what it meets
	}
	f := os.NewFile(uintptr(fd), filepath.Join(in.Mailboxes.Work(), workName))
	defer f.Close()
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		in.discard(flowID, partner, name, workName, kind(st.Mode))
		return 0, false
	}
	limit, ok := in.MaxSize[partner]
	if !ok {
		limit = -1
	}
	size, did, err := makePrivate(in.work, f, st, workName, claimTemp+flowID+".tmp", in.euid, limit)
	switch {
	case err != nil:
		// Still handed over: the reader hashes what it reads and every
		// later read checks that hash.
		in.Log.Error("claim: file not made private", "flow", flowID, "partner", partner, "file", name, "err", err)
	case did == tooLarge:
		in.Log.Warn("claimed file shared with another link or account and over the size limit: not copied",
			"flow", flowID, "partner", partner, "file", name, "size", size, "links", st.Nlink, "uid", st.Uid)
	case did == copied:
		in.Log.Info("claimed file shared with another link or account: private copy taken",
			"flow", flowID, "partner", partner, "file", name, "links", st.Nlink, "uid", st.Uid, "size", size)
	}
	return size, true
}

// What makePrivate did.
const (
	untouched = ""
	narrowed  = "narrowed"
	copied    = "copied"
	tooLarge  = "too large"
)

// makePrivate makes the regular file f, open as name in the hub's folder
// work (st its fstat), one that the hub alone holds: one with more than one
// link, or owned by an account other than euid, is replaced by a copy
// (mode 0640, made under tmpName) unless it is larger than limit bytes
// (limit < 0: none); the hub's own file with a single link has its mode
// narrowed to 0640 at most. It returns the file's size in bytes after it
// and what it did; on error the file is left as it was.
func makePrivate(work, f *os.File, st unix.Stat_t, name, tmpName string, euid int, limit int64) (int64, string, error) {
	if st.Nlink == 1 && int(st.Uid) == euid {
		if st.Mode&0o137 == 0 {
			return st.Size, untouched, nil
		}
		if err := unix.Fchmod(int(f.Fd()), st.Mode&0o640); err != nil {
			return st.Size, untouched, &os.PathError{Op: "fchmod", Path: f.Name(), Err: err}
		}
		return st.Size, narrowed, nil
	}
	if limit >= 0 && st.Size > limit {
		return st.Size, tooLarge, nil
	}
	n, err := fsx.ReplaceWithCopy(work, name, tmpName, f, 0o640)
	if err != nil {
		return st.Size, untouched, err
	}
	return n, copied, nil
}

// discard removes from work/ what a claim moved there and is not a regular
// file, without following it.
func (in *Intake) discard(flowID, partner, name, workName, what string) {
	err := unix.Unlinkat(int(in.work.Fd()), workName, 0)
	if errors.Is(err, unix.EISDIR) {
		err = os.RemoveAll(filepath.Join(in.Mailboxes.Work(), workName))
	}
	in.Log.Warn("not a regular file when claimed: removed, never followed",
		"flow", flowID, "partner", partner, "file", name, "mode", what, "err", err)
}
