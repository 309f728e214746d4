package router

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"flowgate"
	"flowgate/directory"
	"flowgate/flows"
	"flowgate/store"
)

// Store is what the router needs of the hub's memory. Each method's error
// is transient: nothing was decided, the call may be retried.
type Store interface {
	SavePlans(ctx context.Context, b store.PlanBatch) error
	MarkDone(ctx context.Context, ids []string, at time.Time) error
	Pending(ctx context.Context) ([]store.Flow, error)
	Flow(ctx context.Context, id string) (store.Flow, bool, error)
	FlowBySHA256(ctx context.Context, partner, sum string) (store.Flow, bool, error)
	Accepted(ctx context.Context, supplier, number, year string) (bool, error)

	// Poison flows (see Router): attempts are counted before each try.
	BeginAttempts(ctx context.Context, flows []store.Attempt, at time.Time) (map[string]int, error)
	ForgetAttempts(ctx context.Context, ids []string) error
	FailAttempt(ctx context.Context, id, reason string, at time.Time) error
	Attempts(ctx context.Context, ids []string) (map[string]store.Attempt, error)
	MarkQuarantined(ctx context.Context, ids []string, at time.Time) error
	ReplacePlan(ctx context.Context, id, status string, plan, report []byte) (bool, error)

	// ReprocessRequested: an operator asked for a file of the partner,
	// deposited under name with these bytes, to be run again as a new
	// flow (the flow returned), not refused as a repeat.
	ReprocessRequested(ctx context.Context, partner, name, sum string) (string, error)

	// Delivered: the accepted invoices of a supplier with a number (and
	// issue date, when not empty), newest first, for status flows.
	Delivered(ctx context.Context, supplier, number, date string) ([]store.Invoice, error)
	// Invoices: a flow's invoices in order, for the same-bytes rule.
	Invoices(ctx context.Context, flowID string) ([]store.Invoice, error)
}

var _ Store = (*store.SQLite)(nil)

// Partner is a partner as the router sees it.
type Partner struct {
	ID        string
	Name      string
	SIRETs    []string // supplier SIRETs it may deposit for
	Receives  []string // recipient SIRETs whose invoices it collects
	CPPStatut bool     // wants CPPStatut XML status files
	JSON      bool     // wants JSON status files
	CDAR      bool     // wants CDAR D22B status files (outbox.CDAR)
	// MaxFileSize bounds, in bytes, a flow the partner deposits: a larger
	// one is refused (FLX-TAILLE) from its size alone, never read. 0: no
	// bound.
	MaxFileSize int64
	// Operator: the hub's own mailbox (partners/<hub id>/), where
	// `flowgate invoice status` deposits status flows that set statuses on
	// behalf of any recipient.
	Operator bool
}

// Config is what a Router is built from.
type Config struct {
	Root      string
	HubID     string // the hub's id in status files (Emetteur)
	Partners  []Partner
	Directory *directory.Snapshot
	Store     Store
	Log       *slog.Logger
	Now       func() time.Time // time.Now when nil
	// MaxBatch bounds how many flows one round decides and writes
	// together; fsyncs and the store commit are shared across a round.
	MaxBatch int
	// MemoryLimit is the daemon's memory budget in bytes (default 1 GiB);
	// how many flows are read at once and what a round may hold derive
	// from it (see budgets).
	MemoryLimit int64
	// FlowTimeout bounds the check of one flow (default 1 min): past it,
	// the try fails and counts as an attempt.
	FlowTimeout time.Duration
	// MaxAttempts is the number of tries at deciding a flow before it is
	// quarantined (default 3).
	MaxAttempts int
	// Budgets overrides, field by field, the budgets derived from
	// MemoryLimit (tests use small ones).
	Budgets Budgets
	// Hooks are for tests only; nil in production.
	Hooks Hooks
}

// Hooks let tests inject the faults the router must survive. Each is
// called when set; production leaves them nil.
type Hooks struct {
	// Open is called before a flow's file in work/ is opened, with its
	// path; an error stands for a file the hub cannot read (as root, a
	// test cannot make a file unreadable with chmod).
	Open func(path string) error
	// Check is called as the check of a flow starts, on any goroutine; a
	// panic there stands for a parser or validator bug.
	Check func(c flows.Claimed)
}

// Budgets bound what the router holds and does at once. They derive from
// the memory limit M (see budgets); a zero field takes its derived value.
type Budgets struct {
	// Workers is how many flows are read and parsed at once:
	// M/2 / 160 MiB (one 20 MiB document, its parse and its findings are
	// reckoned at 160 MiB), between 1 and GOMAXPROCS.
	Workers int
	// RoundBytes bounds the file bytes of a round's flows (the first flow
	// is taken whatever its size): min(64 MiB, M/16).
	RoundBytes int64
	// RoundEntries bounds the documents (invoices) of a round: 2,000; a
	// round is cut before the flow that would pass it.
	RoundEntries int
	// RoundCached bounds the entry bytes a round keeps in memory between
	// reading and writing, counted as they are inflated: M/8. A flow past
	// it is read again, streaming, and ends its round.
	RoundCached int64
	// FlowCached bounds the entry bytes kept of one flow:
	// min(64 MiB, RoundCached/2).
	FlowCached int64
}

// budgets fills b's zero fields from the memory limit m.
func budgets(b Budgets, m int64) Budgets {
	const perWorker = 160 << 20
	if b.Workers <= 0 {
		b.Workers = int(min(max(m/2/perWorker, 1), int64(runtime.GOMAXPROCS(0))))
	}
	if b.RoundBytes <= 0 {
		b.RoundBytes = min(64<<20, m/16)
	}
	if b.RoundEntries <= 0 {
		b.RoundEntries = 2000
	}
	if b.RoundCached <= 0 {
		b.RoundCached = m / 8
	}
	if b.FlowCached <= 0 {
		b.FlowCached = min(64<<20, b.RoundCached/2)
	}
	return b
}

// Router decides each claimed flow, records the decision, then carries it
// out: invoices delivered or returned, status files written, exactly once.
//
// The order makes it crash-safe. A round first decides its flows and saves
// their plans (every file to write, with its exact bytes or the archive
// entry they come from) in one store transaction; only then does it write
// files, each atomically and never over a different file; then it marks
// the flows done and moves their originals from work/ to archive/. After a
// crash, a planned flow is carried out again from its plan (files already
// in place are recognised by their content), and a flow still in work/
// with no plan is decided afresh: nothing is lost, nothing written twice.
//
// Poison flows never block the hub. Each try at deciding a flow is counted
// in the store before it starts, so a crash counts too; a flow whose try
// panics, runs past FlowTimeout or cannot be read fails alone (the others
// of its round go on), and after MaxAttempts tries it is quarantined: its
// file moved to quarantine/, its sender told (CR IN_REJETE, FLX-INCIDENT),
// the operators alerted (an error in the log, the store state
// quarantined). After a crash, the flows of the interrupted round are
// tried one by one, fewest attempts first, so an innocent flow is never
// quarantined for sharing a round with a poison one.
//
// What was checked is what is delivered: every later read of a flow's file
// (a retry, a resume after a crash) is verified against the SHA-256
// recorded when it was decided; a file changed since is quarantined and
// nothing of it delivered.
type Router struct {
	cfg       Config
	budgets   Budgets
	mb        flows.Mailboxes
	partners  map[string]*Partner
	recipient map[string]*Partner // recipient SIRET → the partner that collects it
	now       func() time.Time
	portal    atomic.Int64 // invoices delivered to portal/ (decided and saved)
}

// Stats are the router's counters since it started.
type Stats struct {
	// PortalDeliveries counts accepted invoices whose recipient no
	// partner collects: they go to portal/<SIRET>/ and someone must fetch
	// them there.
	PortalDeliveries int64
}

// Stats returns the router's counters; safe from any goroutine.
func (r *Router) Stats() Stats {
	return Stats{PortalDeliveries: r.portal.Load()}
}

// logFlow logs a flow once its plan is saved: one line for the flow, then
// one per invoice (flow, entry, number, supplier and recipient SIRET,
// verdict, codes and where it went), and one more for each delivery to
// portal/, with the structure, which is counted (Stats).
func (r *Router) logFlow(d *decided) {
	p := d.plan
	r.cfg.Log.Info("flow", "flow", p.FlowID, "partner", p.Partner, "file", p.Name,
		"status", string(p.Status), "invoices", len(d.invs), "duplicate_of", p.DuplicateOf, "reprocess_of", p.ReprocessOf,
		"quarantined", p.Quarantine)
	if d.status != nil {
		for _, u := range d.status.rep.Updates {
			codes := make([]string, 0, len(u.Findings))
			for _, f := range u.Findings {
				codes = append(codes, f.Code)
			}
			r.cfg.Log.Info("status update", "flow", p.FlowID, "partner", p.Partner, "invoice", u.Number, "supplier", u.SupplierSIRET,
				"status", u.Status, "verdict", u.Verdict, "codes", strings.Join(codes, ","))
		}
	}
	for _, t := range d.traces {
		codes := make([]string, 0, len(t.line.Findings))
		for _, f := range t.line.Findings {
			if !slices.Contains(codes, f.Code) {
				codes = append(codes, f.Code)
			}
		}
		// Entry names and numbers are the sender's text: clipped.
		r.cfg.Log.Info("invoice", "flow", p.FlowID, "partner", p.Partner, "entry", clipName(t.line.Entry, 200), "invoice", clipName(t.line.Number, 100),
			"supplier", clipName(t.line.SupplierSIRET, 40), "recipient", clipName(t.line.RecipientSIRET, 40), "verdict", string(t.line.Verdict),
			"codes", strings.Join(codes, ","), "to", t.where)
		if t.portal != "" {
			name := "(not in the directory)"
			if s, ok := r.cfg.Directory.Structure(t.portal); ok {
				name = s.Name
			}
			r.portal.Add(1)
			r.cfg.Log.Info("invoice for the portal: no partner collects its recipient", "flow", p.FlowID,
				"invoice", clipName(t.line.Number, 100), "recipient", t.portal, "structure", name, "to", t.where)
		}
	}
}

// New checks cfg and returns a Router.
func New(cfg Config) (*Router, error) {
	if cfg.Root == "" || cfg.Store == nil || cfg.Log == nil || cfg.HubID == "" {
		return nil, errors.New("router: root, hub id, store and log are required")
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	if cfg.MemoryLimit <= 0 {
		cfg.MemoryLimit = 1 << 30
	}
	if cfg.FlowTimeout <= 0 {
		cfg.FlowTimeout = time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	r := &Router{cfg: cfg, budgets: budgets(cfg.Budgets, cfg.MemoryLimit), mb: flows.Mailboxes{Root: cfg.Root}, partners: map[string]*Partner{},
		recipient: map[string]*Partner{}, now: cfg.Now}
	if r.now == nil {
		r.now = time.Now
	}
	for i := range cfg.Partners {
		p := &cfg.Partners[i]
		r.partners[p.ID] = p
		for _, s := range p.Receives {
			r.recipient[s] = p
		}
	}
	return r, nil
}

// plan is everything needed to carry a decided flow out without deciding
// it again. It is saved as JSON in the store.
type plan struct {
	FlowID      string    `json:"flow_id"`
	Partner     string    `json:"partner"`
	Name        string    `json:"name"`
	WorkName    string    `json:"work_name"`
	SHA256      string    `json:"sha256"`
	ReceivedAt  time.Time `json:"received_at"`
	DecidedAt   time.Time `json:"decided_at"`
	DuplicateOf string    `json:"duplicate_of,omitempty"`
	ReprocessOf string    `json:"reprocess_of,omitempty"` // the flow an operator asked to run again as this one
	// Quarantine: the flow is not delivered; its original goes to
	// quarantine/ and the flow's state becomes quarantined.
	Quarantine bool                `json:"quarantine,omitempty"`
	Status     flowgate.FlowStatus `json:"status"`
	// Held is the bytes of the flow's entries its writes take, to bound
	// what carrying it out again reads into memory.
	Held   int64   `json:"held,omitempty"`
	Writes []write `json:"writes"`
}

// write is one file to put in place: its folder relative to the root, its
// name, and its bytes, given or taken from the flow itself.
type write struct {
	Dir   string `json:"dir"`
	Name  string `json:"name"`
	Entry int    `json:"entry"`          // an entry index of the flow, or wholeFile, or generated
	Data  []byte `json:"data,omitempty"` // when Entry is generated
	// SHA256 of the entry's bytes as checked, for an entry of the flow:
	// verified when they are read again.
	SHA256 string `json:"sha256,omitempty"`
}

const (
	wholeFile = -1
	generated = -2
)
