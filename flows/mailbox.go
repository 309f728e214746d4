package flows

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
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

// Create makes every folder for these partners, and checks that they are
// all on one filesystem: a claim is an atomic rename, which cannot cross
// filesystems.
func (m Mailboxes) Create(partners []string) error {
	dirs := []string{m.Work(), m.Archive(), filepath.Join(m.Root, "portal")}
	for _, id := range partners {
		dirs = append(dirs, m.In(id), m.Out(id), m.Inbox(id), m.Returns(id), m.Uploads(id))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create mailboxes: %w", err)
		}
	}
	return SameFilesystem(dirs...)
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
