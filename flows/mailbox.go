package flows

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"flowgate/internal/fsx"
)

// Mailboxes names the folders under the hub's root (the daemon creates
// them at start):
//
//	partners/<id>/in/       drops, watched
//	partners/<id>/out/      status files for the partner
//	partners/<id>/inbox/    invoices delivered to the partner as recipient
//	partners/<id>/returns/  original bytes of its rejected invoices
//	partners/<id>/.uploads/ SFTP uploads and downloads in progress
//	portal/<SIRET>/         invoices for structures no partner collects
//	work/                   flows claimed and not yet finished
//	archive/                every deposited file once finished, as received
type Mailboxes struct{ Root string }

func (m Mailboxes) partner(id, sub string) string { return filepath.Join(m.Root, "partners", id, sub) }

// In is the partner's drop folder.
func (m Mailboxes) In(id string) string { return m.partner(id, "in") }

// Out holds the partner's status files.
func (m Mailboxes) Out(id string) string { return m.partner(id, "out") }

// Inbox holds invoices delivered to the partner.
func (m Mailboxes) Inbox(id string) string { return m.partner(id, "inbox") }

// Returns holds the partner's rejected invoices.
func (m Mailboxes) Returns(id string) string { return m.partner(id, "returns") }

// Uploads holds the files a partner is still uploading or a poller is still
// downloading: beside in/, on its filesystem, not watched.
func (m Mailboxes) Uploads(id string) string { return m.partner(id, ".uploads") }

// Portal is where invoices go for a structure no partner collects.
func (m Mailboxes) Portal(siret string) string { return filepath.Join(m.Root, "portal", siret) }

// Work holds claimed flows.
func (m Mailboxes) Work() string { return filepath.Join(m.Root, "work") }

// Archive keeps every finished flow's original file.
func (m Mailboxes) Archive() string { return filepath.Join(m.Root, "archive") }

// Folder modes. The hub's own folders are closed to everyone else; a
// partner's folders are open to its group, which the operator sets to the
// partner's account group for a local partner (chgrp, and g+s on in/ if
// its deposits should carry that group), and to no one else:
//
//	root, partners/        0711  traversed by local partners, listed by none
//	partners/<id>/         0750  the partner reads, cannot rename in/ or out/
//	partners/<id>/in/      0770  the partner writes its deposits
//	partners/<id>/out/, inbox/, returns/
//	                       0750  the partner reads; the operator may add g+w
//	                             for a local partner that removes what it took
//	partners/<id>/.uploads 0700  the hub's SFTP temp files
//	work/                  0700  claimed flows: the hub alone
//	archive/, portal/      0750  the hub's group may read (audit, portal)
//
// A folder the hub creates gets its mode exactly (whatever the umask);
// one that exists with more rights than the widest allowed (max) loses
// the extra rights at start (chmod, logged), its set-group-id and sticky
// bits kept, or, when the hub does not own it, is logged as an error; one
// with fewer rights keeps them.
type folder struct {
	rel       string // below the root, slash-separated
	perm, max fs.FileMode
	partner   string // "" for the hub's own folders
}

func (m Mailboxes) folders(partners []string) []folder {
	dirs := []folder{
		{rel: "work", perm: 0o700, max: 0o700},
		{rel: "archive", perm: 0o750, max: 0o750},
		{rel: "portal", perm: 0o750, max: 0o750},
		{rel: "partners", perm: 0o711, max: 0o711},
	}
	for _, id := range partners {
		p := "partners/" + id
		dirs = append(dirs,
			folder{rel: p, perm: 0o750, max: 0o750, partner: id},
			folder{rel: p + "/in", perm: 0o770, max: 0o770, partner: id},
			folder{rel: p + "/out", perm: 0o750, max: 0o770, partner: id},
			folder{rel: p + "/inbox", perm: 0o750, max: 0o770, partner: id},
			folder{rel: p + "/returns", perm: 0o750, max: 0o770, partner: id},
			folder{rel: p + "/.uploads", perm: 0o700, max: 0o700, partner: id})
	}
	return dirs
}

// Create is Setup without a log.
func (m Mailboxes) Create(partners []string) error { return m.Setup(partners, nil) }

// Setup makes every folder for these partners with the modes above,
// tightens those that exist with wider ones, and checks that they are all
// on one filesystem: a claim is an atomic rename, which cannot cross
// filesystems. Every folder below the root is created and opened without
// following a link. One of the hub's own folders that is not a folder (a
// link, say) is an error; a partner's folder that is not one is logged
// (when log is not nil) and left alone: the Intake then refuses to take
// that partner's flows, and the others go on.
func (m Mailboxes) Setup(partners []string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(m.Root, 0o711); err != nil {
		return fmt.Errorf("create mailboxes: %w", err)
	}
	root, err := os.OpenFile(m.Root, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("create mailboxes: %w", err)
	}
	defer root.Close()
	if err := tighten(root, 0o711, log); err != nil {
		return fmt.Errorf("create mailboxes: %w", err)
	}
	skip := map[string]bool{} // partners with a folder that is not one
	var made []string
	for _, d := range m.folders(partners) {
		if skip[d.partner] {
			continue
		}
		f, err := makeDir(root, d)
		if err == nil {
			err = tighten(f, d.max, log)
			f.Close()
		}
		if err != nil {
			if d.partner == "" || !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.ENOTDIR) {
				return fmt.Errorf("create mailboxes: %w", err)
			}
			log.Error("partner folder is not a folder: this partner's flows are not taken", "partner", d.partner,
				"dir", filepath.Join(m.Root, d.rel), "err", err)
			skip[d.partner] = true
			continue
		}
		made = append(made, filepath.Join(m.Root, d.rel))
	}
	if err := privateWork(root, log); err != nil {
		return fmt.Errorf("create mailboxes: %w", err)
	}
	return SameFilesystem(made...)
}

// privateWork makes every flow in work/ one the hub alone holds, as a claim
// does (see Intake): a crash between a claim's rename and its private copy
// leaves the flow shared. It also removes the private copies such a crash
// interrupted.
func privateWork(root *os.File, log *slog.Logger) error {
	work, err := fsx.OpenDirBeneath(root, "work")
	if err != nil {
		return err
	}
	defer work.Close()
	entries, err := fsx.ReadDirAt(work)
	if err != nil {
		return err
	}
	euid := os.Geteuid()
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), claimTemp) {
			unix.Unlinkat(int(work.Fd()), e.Name(), 0)
			continue
		}
		flowID, _, _, ok := ParseWorkName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		fd, err := unix.Openat(int(work.Fd()), e.Name(), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // the router reports what it cannot read
		}
		f := os.NewFile(uintptr(fd), filepath.Join(work.Name(), e.Name()))
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			_, did, err := makePrivate(work, f, st, e.Name(), claimTemp+flowID+".tmp", euid, -1)
			if err != nil {
				log.Error("flow in work/ not made private", "flow", flowID, "err", err)
			} else if did == copied {
				log.Warn("flow in work/ shared with another link or account (claim interrupted): private copy taken",
					"flow", flowID, "links", st.Nlink, "uid", st.Uid)
			}
		}
		f.Close()
	}
	return nil
}

// makeDir opens the folder d below root, creating it with its exact mode
// when missing; no link is followed.
func makeDir(root *os.File, d folder) (*os.File, error) {
	f, err := fsx.OpenDirBeneath(root, d.rel)
	if !errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	parent, base := ".", d.rel
	if i := strings.LastIndexByte(d.rel, '/'); i >= 0 {
		parent, base = d.rel[:i], d.rel[i+1:]
	}
	pf := root
	if parent != "." {
		if pf, err = fsx.OpenDirBeneath(root, parent); err != nil {
			return nil, err
		}
		defer pf.Close()
	}
	if err := unix.Mkdirat(int(pf.Fd()), base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, &os.PathError{Op: "mkdirat", Path: filepath.Join(pf.Name(), base), Err: err}
	}
	if f, err = fsx.OpenDirBeneath(root, d.rel); err != nil {
		return nil, err
	}
	if err := f.Chmod(d.perm); err != nil {
		f.Close()
		return nil, err
	}
	if err := fsx.SyncDir(pf.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// tighten takes from the open folder f every permission beyond max; one
// the hub may not change (not its own) is logged as an error and left.
func tighten(f *os.File, max fs.FileMode, log *slog.Logger) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	mode := fi.Mode()
	if mode.Perm()&^max == 0 {
		return nil
	}
	next := mode.Perm()&max | mode&(fs.ModeSetgid|fs.ModeSticky)
	if err := f.Chmod(next); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			// Not the hub's folder: the operator's to fix; no reason to
			// keep every partner waiting.
			log.Error("folder mode wider than it should be, and not the hub's to change", "dir", f.Name(),
				"mode", mode.Perm().String(), "max", max.String(), "err", err)
			return nil
		}
		return fmt.Errorf("%s has mode %v, wider than %v: %w", f.Name(), mode.Perm(), max, err)
	}
	log.Warn("folder mode tightened", "dir", f.Name(), "was", mode.Perm().String(), "now", next.String())
	return nil
}

// SameFilesystem returns an error naming the first folder that is not on
// the same filesystem as the first one.
func SameFilesystem(dirs ...string) error {
	var dev uint64
	for i, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil // not a Unix filesystem: nothing to compare
		}
		if i == 0 {
			dev = uint64(st.Dev)
			continue
		}
		if uint64(st.Dev) != dev {
			return fmt.Errorf("mailboxes span filesystems: %s is not on the filesystem of %s; "+
				"flows are claimed by atomic rename, which needs one filesystem", d, dirs[0])
		}
	}
	return nil
}

// WorkName is a claimed flow's name in work/: the flow id, the partner and
// the name it was deposited under, so that a flow claimed just before a
// crash is recognised from its name alone.
//
// A file name holds at most 255 bytes: a deposited name too long to fit
// after the prefix is shortened in its middle, its extension kept, so that
// a partner's long name can never stop the claim.
func WorkName(flowID, partner, name string) string {
	prefix := flowID + "_" + partner + "_"
	if room := maxNameBytes - len(prefix); len(name) > room {
		ext := filepath.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		keep := room - len(ext) - len("…")
		for keep > 0 && !utf8.RuneStart(name[keep]) {
			keep--
		}
		name = name[:keep] + "…" + ext
	}
	return prefix + name
}

// maxNameBytes is the longest file name Linux filesystems take.
const maxNameBytes = 255

// ParseWorkName splits a WorkName. Flow ids and partner ids hold no "_".
func ParseWorkName(s string) (flowID, partner, name string, ok bool) {
	flowID, rest, ok1 := strings.Cut(s, "_")
	partner, name, ok2 := strings.Cut(rest, "_")
	return flowID, partner, name, ok1 && ok2 && flowID != "" && partner != "" && name != ""
}

// FlowIDLayout formats flow ids: UTC to the microsecond, fixed width, so
// that ids sort as they were issued.
const FlowIDLayout = "20060102T150405.000000Z"

// IDs issues unique, sortable flow ids. Two claims in the same microsecond,
// or a clock that went back, get the last id plus one microsecond.
type IDs struct {
	mu   sync.Mutex
	last time.Time
}

// NewIDs starts after floor, the greatest id already issued ("" for none).
func NewIDs(floor string) (*IDs, error) {
	g := &IDs{}
	if floor != "" {
		t, err := time.Parse(FlowIDLayout, floor)
		if err != nil {
			return nil, fmt.Errorf("flow id floor %q: %w", floor, err)
		}
		g.last = t
	}
	return g, nil
}

// Next returns a new id, greater than every id issued before.
func (g *IDs) Next(now time.Time) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := now.UTC().Truncate(time.Microsecond)
	if !t.After(g.last) {
		t = g.last.Add(time.Microsecond)
	}
	g.last = t
	return t.Format(FlowIDLayout)
}
