package router

import (
	"context"
	"errors"
	"log/slog"
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
type Router struct {
	cfg       Config
	mb        flows.Mailboxes
	partners  map[string]*Partner
	recipient map[string]*Partner // recipient SIRET → the partner that collects it
	now       func() time.Time
}

// New checks cfg and returns a Router.
func New(cfg Config) (*Router, error) {
	if cfg.Root == "" || cfg.Store == nil || cfg.Log == nil || cfg.HubID == "" {
		return nil, errors.New("router: root, hub id, store and log are required")
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	r := &Router{cfg: cfg, mb: flows.Mailboxes{Root: cfg.Root}, partners: map[string]*Partner{},
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
	FlowID      string              `json:"flow_id"`
	Partner     string              `json:"partner"`
	Name        string              `json:"name"`
	WorkName    string              `json:"work_name"`
	SHA256      string              `json:"sha256"`
	ReceivedAt  time.Time           `json:"received_at"`
	DecidedAt   time.Time           `json:"decided_at"`
	DuplicateOf string              `json:"duplicate_of,omitempty"`
	Status      flowgate.FlowStatus `json:"status"`
	Writes      []write             `json:"writes"`
}

// write is one file to put in place: its folder relative to the root, its
// name, and its bytes, given or taken from the flow itself.
type write struct {
	Dir   string `json:"dir"`
	Name  string `json:"name"`
	Entry int    `json:"entry"`          // an entry index of the flow, or wholeFile, or generated
	Data  []byte `json:"data,omitempty"` // when Entry is generated
}

const (
	wholeFile = -1
	generated = -2
)
