package flows

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Claimed is a flow taken from a partner's drop folder: it now sits in
// work/ under WorkName(FlowID, Partner, Name).
type Claimed struct {
	FlowID     string
	Partner    string
	Name       string // the name it was deposited under
	Path       string // its path in work/
	ReceivedAt time.Time
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

// Intake watches every partner's in/ folder and claims complete files into
// work/, sending each claim on Out in the order taken.
//
// A file is complete when it arrived by rename (it appeared with content
// and no write followed), or when its size and modification time stayed
// unchanged for Settle. fsnotify tells about changes; a full scan at start,
// every Rescan and after a watcher overflow catches anything missed.
type Intake struct {
	Mailboxes Mailboxes
	Partners  []string
	Settle    time.Duration
	Rescan    time.Duration
	IDs       *IDs
	Log       *slog.Logger
	Out       chan<- Claimed
	Now       func() time.Time // for tests; time.Now when nil

	pending map[string]*candidate
	renamed int             // pending candidates that arrived by rename
	refused map[string]bool // links and special files already reported
	owner   map[string]string
}

type candidate struct {
	partner    string
	size       int64
	mtime      time.Time
	changed    time.Time // when we last saw size or mtime change
	createdAt  time.Time
	viaCreate  bool // seen by a create event, with content, and no write since
	wroteSince bool
}

func (in *Intake) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

// Run watches until ctx is done. It returns nil on cancellation.
func (in *Intake) Run(ctx context.Context) error {
	in.pending = map[string]*candidate{}
	in.refused = map[string]bool{}
	in.owner = map[string]string{}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	defer w.Close()
	for _, id := range in.Partners {
		dir := in.Mailboxes.In(id)
		in.owner[dir] = id
		if err := w.Add(dir); err != nil {
			return fmt.Errorf("intake: watch %s: %w", dir, err)
		}
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
	name := filepath.Base(ev.Name)
	partner, ok := in.owner[filepath.Dir(ev.Name)]
	if !ok || Ignored(name) {
		return
	}
	switch {
	case ev.Has(fsnotify.Create):
		fi, err := os.Lstat(ev.Name)
		if err != nil {
			return
		}
		if !in.acceptable(ev.Name, partner, fi) {
			return
		}
		now := in.now()
		in.forget(ev.Name)
		c := &candidate{partner: partner, size: fi.Size(), mtime: fi.ModTime(), changed: now,
			createdAt: now, viaCreate: fi.Size() > 0}
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
			in.observe(ev.Name, partner)
		}
	case ev.Has(fsnotify.Remove), ev.Has(fsnotify.Rename):
		in.forget(ev.Name)
		delete(in.refused, ev.Name)
	}
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
func (in *Intake) acceptable(path, partner string, fi fs.FileInfo) bool {
	if fi.Mode().IsRegular() {
		return true
	}
	if !in.refused[path] {
		in.refused[path] = true
		in.Log.Warn("not a regular file: refused, left in place", "partner", partner, "file", path, "mode", fi.Mode().String())
	}
	return false
}

// observe records a file found by a scan or a write event.
func (in *Intake) observe(path, partner string) {
	fi, err := os.Lstat(path)
	if err != nil || !in.acceptable(path, partner, fi) {
		return
	}
	if _, ok := in.pending[path]; ok {
		return
	}
	in.pending[path] = &candidate{partner: partner, size: fi.Size(), mtime: fi.ModTime(), changed: in.now()}
}

func (in *Intake) scan() {
	for _, id := range in.Partners {
		dir := in.Mailboxes.In(id)
		entries, err := os.ReadDir(dir)
		if err != nil {
			in.Log.Error("scan", "partner", id, "dir", dir, "err", err)
			continue
		}
		for _, e := range entries {
			if !Ignored(e.Name()) {
				in.observe(filepath.Join(dir, e.Name()), id)
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
	for path, c := range in.pending {
		if c.viaCreate && !c.wroteSince {
			if now.Sub(c.createdAt) < renameGrace {
				continue
			}
		} else {
			if !full {
				continue
			}
			fi, err := os.Lstat(path)
			if err != nil {
				in.forget(path)
				continue
			}
			if fi.Size() != c.size || !fi.ModTime().Equal(c.mtime) {
				c.size, c.mtime, c.changed = fi.Size(), fi.ModTime(), now
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
		if err := in.claim(ctx, path, c.partner); err != nil {
			return err
		}
	}
	return nil
}

// claim moves a complete file into work/ by atomic rename and hands it over.
func (in *Intake) claim(ctx context.Context, path, partner string) error {
	fi, err := os.Lstat(path)
	if err != nil || !in.acceptable(path, partner, fi) {
		return nil
	}
	now := in.now()
	id := in.IDs.Next(now)
	name := filepath.Base(path)
	dst := filepath.Join(in.Mailboxes.Work(), WorkName(id, partner, name))
	if err := os.Rename(path, dst); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			in.Log.Error("claim", "partner", partner, "file", path, "err", err)
		}
		return nil
	}
	in.Log.Debug("claimed", "flow", id, "partner", partner, "file", name, "size", fi.Size())
	select {
	case in.Out <- Claimed{FlowID: id, Partner: partner, Name: name, Path: dst, ReceivedAt: now}:
		return nil
	case <-ctx.Done():
		// The flow is in work/: the next start resumes it.
		return ctx.Err()
	}
}
