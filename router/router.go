package router

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"flowgate"
	"flowgate/directory"
	"flowgate/flows"
	"flowgate/internal/fsx"
	"flowgate/outbox"
	"flowgate/parser"
	"flowgate/store"
	"flowgate/validator"
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

// Recover carries out the plans a crash interrupted and returns the flows
// left in work/ without a plan, in the order they were claimed, for the
// caller to process first. It also returns the greatest flow id found in
// work/, so that new ids sort after it.
func (r *Router) Recover(ctx context.Context) ([]flows.Claimed, string, error) {
	r.removeTemps()
	if stalled, err := r.resume(ctx); err != nil {
		return nil, "", err
	} else if stalled > 0 {
		r.cfg.Log.Warn("interrupted flows could not all be carried out yet; retrying while running", "count", stalled)
	}

	entries, err := os.ReadDir(r.mb.Work())
	if err != nil {
		return nil, "", fmt.Errorf("recover: %w", err)
	}
	var todo []flows.Claimed
	var finished []string
	maxID := ""
	for _, e := range entries {
		id, partner, name, ok := flows.ParseWorkName(e.Name())
		if !ok || !e.Type().IsRegular() {
			if !flows.Ignored(e.Name()) {
				r.cfg.Log.Warn("unexpected file in work/, left alone", "file", e.Name())
			}
			continue
		}
		maxID = max(maxID, id)
		f, known, err := r.cfg.Store.Flow(ctx, id)
		if err != nil {
			return nil, "", err
		}
		switch {
		case known && f.State == store.StateDone:
			finished = append(finished, e.Name()) // done, not yet archived
		case known:
			// planned and still pending: executed above
		case r.partners[partner] == nil:
			// Claimed for a partner no longer configured: kept, not
			// retried in a loop; it is resumed once the partner is back.
			r.cfg.Log.Error("flow of an unknown partner left in work/", "flow", id, "partner", partner, "file", name)
		default:
			info, _ := e.Info()
			received := time.Now()
			if info != nil {
				received = info.ModTime()
			}
			todo = append(todo, flows.Claimed{FlowID: id, Partner: partner, Name: name,
				Path: filepath.Join(r.mb.Work(), e.Name()), ReceivedAt: received})
		}
	}
	if err := r.archive(finished); err != nil {
		return nil, "", err
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].FlowID < todo[j].FlowID })
	if len(todo) > 0 {
		r.cfg.Log.Info("resuming claimed flows", "count", len(todo))
	}
	return todo, maxID, nil
}

// removeTemps removes the temp files a crash left in the folders the router
// writes into. Only the router writes there, and it is not running yet.
func (r *Router) removeTemps() {
	dirs, _ := filepath.Glob(filepath.Join(r.cfg.Root, "portal", "*"))
	for id := range r.partners {
		dirs = append(dirs, r.mb.Out(id), r.mb.Inbox(id), r.mb.Returns(id))
	}
	for _, d := range dirs {
		n, err := outbox.RemoveTemps(d)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			r.cfg.Log.Warn("temp files left", "dir", d, "err", err)
		}
		if n > 0 {
			r.cfg.Log.Info("removed temp files of an interrupted write", "dir", d, "count", n)
		}
	}
}

// resume carries out the plans saved and not yet done, and returns how
// many are still not done.
func (r *Router) resume(ctx context.Context) (int, error) {
	pending, err := r.cfg.Store.Pending(ctx)
	if err != nil || len(pending) == 0 {
		return 0, err
	}
	r.cfg.Log.Info("carrying out saved plans", "count", len(pending))
	var plans []*plan
	for _, f := range pending {
		var p plan
		if err := json.Unmarshal(f.Plan, &p); err != nil {
			return 0, fmt.Errorf("flow %s: bad plan in store: %w", f.ID, err)
		}
		plans = append(plans, &p)
	}
	return len(r.execute(ctx, plans, nil)), nil
}

// Run processes claimed flows from in until ctx is done, in rounds of what
// has arrived. A round in progress when ctx ends is finished, within
// drain; what is still queued stays in work/ for the next start.
func (r *Router) Run(ctx context.Context, in <-chan flows.Claimed, first []flows.Claimed, drain time.Duration) error {
	queue := first
	var retry []flows.Claimed // flows that could not be decided, to process again
	pending := false          // saved plans not yet carried out
	backoff := time.Second
	var retryAt time.Time
	later := func() {
		retryAt = time.Now().Add(backoff)
		r.cfg.Log.Warn("flows not finished, retrying", "undecided", len(retry), "plans_pending", pending, "in", backoff.String())
		backoff = min(backoff*2, time.Minute)
	}
	for {
		// Retries are due even while new flows keep arriving.
		if (len(retry) > 0 || pending) && !time.Now().Before(retryAt) {
			n, err := r.resume(ctx)
			if err != nil {
				r.cfg.Log.Error("resume", "err", err)
			}
			pending = err != nil || n > 0
			queue, retry = append(retry, queue...), nil
			if pending {
				later()
			}
		}
		if len(queue) == 0 {
			var timer <-chan time.Time
			if len(retry) > 0 || pending {
				timer = time.After(time.Until(retryAt))
			}
			select {
			case <-ctx.Done():
				return nil
			case c := <-in:
				queue = append(queue, c)
			case <-timer:
				continue
			}
		}
		for len(queue) < r.cfg.MaxBatch {
			select {
			case c := <-in:
				queue = append(queue, c)
				continue
			default:
			}
			break
		}
		n := min(len(queue), r.cfg.MaxBatch)
		round := queue[:n]
		// The round finishes even if ctx ends meanwhile, within drain.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
		failed, notDone := r.Process(rctx, round)
		cancel()
		queue = queue[n:]
		if len(failed) > 0 || notDone > 0 {
			retry = append(retry, failed...)
			pending = pending || notDone > 0
			later()
		} else if len(retry) == 0 && !pending {
			backoff = time.Second
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// decided is a flow of a round once decided, with the entry bytes kept for
// carrying it out without reading it again.
type decided struct {
	plan    *plan
	entries [][]byte
	flow    store.Flow
	invs    []store.Invoice
	sts     []store.Status

	sender *Partner            // who deposited it
	rep    flowgate.FlowReport // its report, for the status files
	names  []partyNames        // of each invoice of the report
	dupOf  *plan               // the original, for a duplicate flow
}

// Process decides, records and carries out one round of claimed flows. It
// returns the flows it could not decide (left in work/, to process again)
// and how many decided flows it could not carry out yet (their plans stay
// in the store, for resume): a full disk or a permission error on a
// mailbox, or the store being unavailable.
func (r *Router) Process(ctx context.Context, round []flows.Claimed) (failed []flows.Claimed, notDone int) {
	var batch []*decided
	bySHA := map[string]*decided{}
	hist := &history{ctx: ctx, store: r.cfg.Store, mem: validator.MemoryHistory{}}
	preps := prepareRound(round)
	for i, c := range round {
		d, err := r.decide(ctx, c, preps[i], hist, bySHA)
		preps[i] = prepared{} // its entries now live in d, or nowhere
		if err != nil {
			r.cfg.Log.Error("flow not decided, left in work/", "flow", c.FlowID, "partner", c.Partner, "file", c.Name, "err", err)
			failed = append(failed, c)
			continue
		}
		batch = append(batch, d)
		if d.plan.DuplicateOf == "" {
			bySHA[d.plan.Partner+" "+d.plan.SHA256] = d
		}
	}
	if hist.err != nil {
		r.cfg.Log.Error("history unavailable, round left in work/", "err", hist.err)
		return round, 0
	}
	// Originals render in parallel; duplicates after, since they copy an
	// original's reports, which may be of this round.
	renderErrs := make([]error, len(batch))
	fsx.Parallel(len(batch), runtime.GOMAXPROCS(0), func(i int) {
		if batch[i].dupOf == nil {
			renderErrs[i] = r.render(batch[i])
		}
	})
	unrendered := map[*plan]bool{}
	for i, d := range batch {
		if renderErrs[i] != nil {
			unrendered[d.plan] = true
		}
	}
	for i, d := range batch {
		switch {
		case d.dupOf == nil:
		case unrendered[d.dupOf]:
			renderErrs[i] = fmt.Errorf("its original %s could not be decided", d.dupOf.FlowID)
		default:
			renderErrs[i] = r.render(d)
		}
	}
	kept := batch[:0]
	for i, d := range batch {
		if renderErrs[i] != nil {
			r.cfg.Log.Error("flow not decided, left in work/", "flow", d.plan.FlowID, "partner", d.plan.Partner, "err", renderErrs[i])
			failed = append(failed, flows.Claimed{FlowID: d.plan.FlowID, Partner: d.plan.Partner, Name: d.plan.Name,
				Path: filepath.Join(r.mb.Work(), d.plan.WorkName), ReceivedAt: d.plan.ReceivedAt})
			continue
		}
		kept = append(kept, d)
	}
	batch = kept
	if len(batch) == 0 {
		return failed, 0
	}
	var pb store.PlanBatch
	for _, d := range batch {
		pb.Flows = append(pb.Flows, d.flow)
		pb.Invoices = append(pb.Invoices, d.invs...)
		pb.Statuses = append(pb.Statuses, d.sts...)
	}
	if err := r.cfg.Store.SavePlans(ctx, pb); err != nil {
		r.cfg.Log.Error("plans not saved, round left in work/", "flows", len(batch), "err", err)
		return round, 0
	}
	plans := make([]*plan, len(batch))
	cache := map[string][][]byte{}
	for i, d := range batch {
		plans[i] = d.plan
		if d.entries != nil {
			cache[d.plan.FlowID] = d.entries
		}
	}
	notDone = len(r.execute(ctx, plans, cache))
	for _, d := range batch {
		r.cfg.Log.Info("flow", "flow", d.plan.FlowID, "partner", d.plan.Partner, "file", d.plan.Name,
			"status", string(d.plan.Status), "invoices", len(d.invs), "duplicate_of", d.plan.DuplicateOf)
	}
	return failed, notDone
}

// history is the state one round shares across its flows: the duplicate
// check (invoices accepted in the store, plus those accepted earlier in
// the round; a store error is kept and fails the round, never read as "not
// seen"), and the entry bytes the round keeps in memory.
type history struct {
	ctx    context.Context
	store  Store
	mem    validator.MemoryHistory
	err    error
	cached int64 // entry bytes the round keeps in memory so far
}

func (h *history) Seen(k validator.DuplicateKey) bool {
	if h.mem.Seen(k) {
		return true
	}
	seen, err := h.store.Accepted(h.ctx, k.SupplierSIRET, k.Number, k.Year)
	if err != nil && h.err == nil {
		h.err = err
	}
	return seen
}

func (h *history) Add(k validator.DuplicateKey) { h.mem.Add(k) }

// maxCached bounds the entry bytes a round keeps in memory, for one flow
// and for the whole round; what does not fit is read again from work/ when
// carried out.
const (
	maxCached      = 64 << 20
	maxRoundCached = 256 << 20
)

// prepared is a claimed flow read and parsed ahead of its decision: the
// part of deciding that depends on nothing else, done for a round's flows
// in parallel.
type prepared struct {
	sum     string         // SHA-256 of the file
	entries []parser.Entry // nil when the flow is too big to hold: it is read again, streaming
	err     error          // reading the file failed
}

// openFlow opens a flow's file and returns it with its size.
func openFlow(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// prepare reads a claimed flow, hashes it and, when it fits the budget,
// parses it into entries.
func prepare(path string, keep bool) prepared {
	f, size, err := openFlow(path)
	if err != nil {
		return prepared{err: err}
	}
	defer f.Close()
	if !keep || size > maxCached {
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return prepared{err: fmt.Errorf("read %s: %w", path, err)}
		}
		return prepared{sum: hex.EncodeToString(h.Sum(nil))}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return prepared{err: fmt.Errorf("read %s: %w", path, err)}
	}
	sum := sha256.Sum256(data)
	p := prepared{sum: hex.EncodeToString(sum[:]), entries: []parser.Entry{}}
	parser.ReadFlow(bytes.NewReader(data), int64(len(data)), func(e parser.Entry) error {
		p.entries = append(p.entries, e)
		return nil
	})
	return p
}

// prepareRound prepares a round's flows on every core, within the round's
// memory budget (flows past it are read again, streaming, when decided).
func prepareRound(round []flows.Claimed) []prepared {
	keep := make([]bool, len(round))
	var budget int64
	for i, c := range round {
		if fi, err := os.Stat(c.Path); err == nil && fi.Size() <= maxCached && budget+fi.Size() <= maxRoundCached {
			keep[i] = true
			budget += fi.Size()
		}
	}
	out := make([]prepared, len(round))
	fsx.Parallel(len(round), runtime.GOMAXPROCS(0), func(i int) { out[i] = prepare(round[i].Path, keep[i]) })
	return out
}

// decide checks one flow of the round against the directory, its sender and
// the history, in claim order (the history makes the order matter), and
// builds its plan but for the status files (see render).
func (r *Router) decide(ctx context.Context, c flows.Claimed, prep prepared, hist *history, bySHA map[string]*decided) (*decided, error) {
	if prep.err != nil {
		return nil, prep.err
	}
	now := r.now().UTC()
	p := &plan{FlowID: c.FlowID, Partner: c.Partner, Name: c.Name, WorkName: filepath.Base(c.Path), SHA256: prep.sum,
		ReceivedAt: c.ReceivedAt.UTC(), DecidedAt: now}
	sender := r.partners[c.Partner]
	if sender == nil {
		return nil, fmt.Errorf("unknown partner %q", c.Partner)
	}
	if dup, err := r.duplicate(ctx, c.Partner, prep.sum, bySHA); err != nil {
		return nil, err
	} else if dup != nil {
		return r.decideDuplicate(p, dup, sender), nil
	}

	in := validator.Input{Directory: r.cfg.Directory, History: hist,
		Sender: &validator.Sender{ID: sender.ID, SIRETs: sender.SIRETs}}
	d := &decided{plan: p, sender: sender}
	b := &planBuilder{r: r, d: d, now: now, returns: r.rel(r.mb.Returns(sender.ID)), name: c.Name}
	var rep flowgate.FlowReport
	if prep.entries != nil {
		check := validator.NewFlowCheck(c.Name, in)
		for _, e := range prep.entries {
			b.add(e, check.Entry(e))
		}
		rep = check.Report()
		d.entries = make([][]byte, len(prep.entries))
		for i, e := range prep.entries {
			d.entries[i] = e.Data // nil for an entry that could not be read: indexes stay aligned
		}
	} else {
		f, size, err := openFlow(c.Path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		rep, err = validator.CheckFlow(c.Name, f, size, in, func(e parser.Entry, line *flowgate.InvoiceReport) error {
			b.add(e, line)
			return nil
		})
		if err != nil {
			return nil, err // only an I/O error reading work/: transient
		}
	}
	accepted := slices.ContainsFunc(rep.Invoices, func(l flowgate.InvoiceReport) bool { return l.Verdict == flowgate.Accepted })
	if !accepted && !b.returned {
		// Nothing delivered and nothing returned entry by entry: the whole
		// file goes back to its sender, as deposited.
		p.Writes = append(p.Writes, write{Dir: b.returns, Name: returnName(p.FlowID, -1, c.Name), Entry: wholeFile})
	}
	p.Status = rep.Status
	d.rep, d.names = rep, b.names
	return d, nil
}

// planBuilder turns a flow's entries, as they are checked, into the files
// of its plan and the rows of the store.
type planBuilder struct {
	r        *Router
	d        *decided
	now      time.Time
	returns  string // the sender's returns folder, relative to the root
	name     string // the deposited file's name
	seq      int    // index of the next entry
	returned bool   // an entry went back on its own
	names    []partyNames
}

func (b *planBuilder) add(e parser.Entry, line *flowgate.InvoiceReport) {
	seq, p, d := b.seq, b.d.plan, b.d
	b.seq++
	if e.Invoice != nil {
		b.names = append(b.names, partyNames{supplier: e.Invoice.Seller.Name, recipient: e.Invoice.Buyer.Name,
			country: e.Invoice.Seller.CountryCode})
	}
	switch {
	case line != nil && line.Verdict == flowgate.Accepted:
		dir, name := b.r.delivery(p, line, e.Name, seq)
		p.Writes = append(p.Writes, write{Dir: dir, Name: name, Entry: seq})
		d.invs = append(d.invs, b.r.invoiceRow(p, line, seq, dir, name))
		d.sts = append(d.sts, store.Status{FlowID: p.FlowID, Seq: seq, Code: "01", At: b.now},
			store.Status{FlowID: p.FlowID, Seq: seq, Code: "03", At: b.now})
	case e.Data != nil && e.Name != "":
		// A rejected or unreadable archive member goes back as its own file.
		name := returnName(p.FlowID, seq, e.Name)
		p.Writes = append(p.Writes, write{Dir: b.returns, Name: name, Entry: seq})
		b.returned = true
		if line != nil {
			d.invs = append(d.invs, b.r.invoiceRow(p, line, seq, b.returns, name))
		}
	case line != nil:
		// A rejected plain file: the file is the invoice.
		d.invs = append(d.invs, b.r.invoiceRow(p, line, seq, b.returns, returnName(p.FlowID, -1, b.name)))
	}
}

// render adds the status files to a decided flow's plan and seals the plan
// for the store. Flows are rendered in parallel: nothing here depends on
// another flow.
func (r *Router) render(d *decided) error {
	if d.dupOf != nil {
		r.copyReports(d)
	} else if err := r.statusFiles(d.plan, d.sender, d.rep, d.names); err != nil {
		return err
	}
	r.finish(d)
	return nil
}

// duplicate finds the flow of the same partner, in this round or in the
// store, that already had these exact bytes. Another partner's identical
// file is processed on its own: its report is not this partner's to see.
func (r *Router) duplicate(ctx context.Context, partner, sum string, bySHA map[string]*decided) (*plan, error) {
	if d, ok := bySHA[partner+" "+sum]; ok {
		return d.plan, nil
	}
	f, ok, err := r.cfg.Store.FlowBySHA256(ctx, partner, sum)
	if err != nil || !ok {
		return nil, err
	}
	var orig plan
	if err := json.Unmarshal(f.Plan, &orig); err != nil {
		return nil, fmt.Errorf("flow %s: bad plan in store: %w", f.ID, err)
	}
	return &orig, nil
}

// decideDuplicate: a file whose bytes were already processed is not
// processed again; its sender gets the original flow's reports once more,
// as the original wrote them, under the new flow's names.
//
// The reports are copied when the flow is rendered, once the original's
// own are: the original may be in the same round.
func (r *Router) decideDuplicate(p *plan, orig *plan, sender *Partner) *decided {
	p.DuplicateOf = orig.FlowID
	p.Status = orig.Status
	return &decided{plan: p, sender: sender, dupOf: orig}
}

// copyReports gives a duplicate flow the original's CR files under its own
// names.
func (r *Router) copyReports(d *decided) {
	orig, p := d.dupOf, d.plan
	for _, w := range orig.Writes {
		if w.Entry != generated || !strings.HasPrefix(w.Name, "CR_"+orig.FlowID+".") {
			continue
		}
		ext := strings.TrimPrefix(w.Name, "CR_"+orig.FlowID)
		p.Writes = append(p.Writes, write{Dir: r.rel(r.mb.Out(d.sender.ID)), Name: "CR_" + p.FlowID + ext, Entry: generated, Data: w.Data})
	}
}

func (r *Router) finish(d *decided) *decided {
	p := d.plan
	planJSON, _ := json.Marshal(p)
	d.flow = store.Flow{ID: p.FlowID, Partner: p.Partner, FileName: p.Name, SHA256: p.SHA256, Status: string(p.Status),
		DuplicateOf: p.DuplicateOf, ReceivedAt: p.ReceivedAt, Plan: planJSON}
	return d
}

func (r *Router) invoiceRow(p *plan, line *flowgate.InvoiceReport, seq int, dir, name string) store.Invoice {
	year := line.IssueDate
	if len(year) >= 4 {
		year = year[:4]
	}
	return store.Invoice{FlowID: p.FlowID, Seq: seq, Entry: line.Entry, Number: line.Number,
		SupplierSIRET: line.SupplierSIRET, RecipientSIRET: line.RecipientSIRET, IssueYear: year,
		Verdict: string(line.Verdict), Location: filepath.Join(dir, name)}
}

// rel is a folder of the root, relative to it.
func (r *Router) rel(dir string) string {
	rel, err := filepath.Rel(r.cfg.Root, dir)
	if err != nil {
		return dir
	}
	return rel
}

// delivery returns the folder and name of an accepted invoice: the inbox of
// the partner that collects its recipient, or the recipient's portal
// folder; named from the recipient SIRET, the supplier SIRET, the invoice
// number and the flow id (and the entry's position in an archive).
func (r *Router) delivery(p *plan, line *flowgate.InvoiceReport, entry string, seq int) (string, string) {
	dir := r.mb.Portal(safeName(line.RecipientSIRET, 14))
	if partner := r.recipient[line.RecipientSIRET]; partner != nil {
		dir = r.mb.Inbox(partner.ID)
	}
	id := p.FlowID
	if entry != "" {
		id = fmt.Sprintf("%s-%03d", p.FlowID, seq)
	}
	name := safeName(line.RecipientSIRET, 14) + "_" + safeName(line.SupplierSIRET, 14) + "_" +
		safeName(line.Number, 40) + "_" + id + ".xml"
	return r.rel(dir), name
}

// returnName names a returned file after its flow and its own base name;
// seq < 0 for the whole deposited file.
func returnName(flowID string, seq int, name string) string {
	base := safeName(filepath.Base(strings.ReplaceAll(name, "\\", "/")), 80)
	if seq < 0 {
		return flowID + "_" + base
	}
	return fmt.Sprintf("%s-%03d_%s", flowID, seq, base)
}

// safeName keeps letters, digits and "+-_." and replaces anything else,
// so that no invoice number or archive member can name a path.
func safeName(s string, max int) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '+', c == '-', c == '_', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= max {
			break
		}
	}
	out := strings.TrimLeft(b.String(), ".")
	if out == "" {
		return "sans-nom"
	}
	return out
}

// crJSON is the JSON status file: the validate report plus the flow's facts.
type crJSON struct {
	flowgate.FlowReport
	FlowID     string    `json:"flow_id"`
	Partner    string    `json:"partner"`
	SHA256     string    `json:"sha256"`
	ReceivedAt time.Time `json:"received_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// partyNames are an invoice's seller and buyer names (BT-27, BT-44) and the
// seller's country (BT-40), as written.
type partyNames struct{ supplier, recipient, country string }

// statusFiles adds the flow's status files to its plan: the flow-level CR
// for its sender, and the invoice-level statuses (01 and 03 to the
// supplier's partner, 03 to the recipient's partner).
func (r *Router) statusFiles(p *plan, sender *Partner, rep flowgate.FlowReport, names []partyNames) error {
	out := r.rel(r.mb.Out(sender.ID))
	hub := outbox.Partner{ID: r.cfg.HubID, Label: "flowgate"}
	env := func(to *Partner) outbox.Envelope {
		return outbox.Envelope{FlowID: p.FlowID, Produced: p.DecidedAt, Sender: hub, Receiver: outbox.Partner{ID: to.ID, Label: to.Name}}
	}
	if sender.CPPStatut {
		data, err := outbox.FlowStatusXML(env(sender), rep.Status, rep)
		if err != nil {
			return fmt.Errorf("flow status: %w", err)
		}
		p.Writes = append(p.Writes, write{Dir: out, Name: "CR_" + p.FlowID + ".xml", Entry: generated, Data: data})
	}
	if sender.JSON {
		data, err := json.Marshal(crJSON{FlowReport: rep, FlowID: p.FlowID, Partner: sender.ID, SHA256: p.SHA256,
			ReceivedAt: p.ReceivedAt, FinishedAt: p.DecidedAt})
		if err != nil {
			return err
		}
		p.Writes = append(p.Writes, write{Dir: out, Name: "CR_" + p.FlowID + ".json", Entry: generated, Data: append(data, '\n')})
	}

	var toSupplier []outbox.InvoiceStatus
	toRecipient := map[string][]outbox.InvoiceStatus{}
	for i, line := range rep.Invoices {
		if line.Verdict != flowgate.Accepted {
			continue
		}
		date := line.IssueDate
		if len(date) > 10 {
			date = date[:10] // DateFacture is a date without time zone
		}
		st := outbox.InvoiceStatus{SupplierSIRET: line.SupplierSIRET, RecipientSIRET: line.RecipientSIRET,
			ServiceCode: line.ServiceCode, InvoiceNumber: line.Number, InvoiceDate: date, At: p.DecidedAt}
		if i < len(names) {
			st.SupplierName, st.RecipientName = names[i].supplier, names[i].recipient
			if c := names[i].country; len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' {
				st.SupplierCountry = c
			}
		}
		// The directory's name for the recipient is the reference.
		if s, ok := r.cfg.Directory.Structure(line.RecipientSIRET); ok {
			st.RecipientName = s.Name
		}
		deposited, available := st, st
		deposited.Code, available.Code = "01", "03"
		toSupplier = append(toSupplier, deposited, available)
		if rp := r.recipient[line.RecipientSIRET]; rp != nil && rp.CPPStatut {
			toRecipient[rp.ID] = append(toRecipient[rp.ID], available)
		}
	}
	// An invoice status the CPPStatut schema cannot hold (a malformed issue
	// date, say) costs that file, logged, never the flow: the CR carries
	// the outcome.
	if sender.CPPStatut && len(toSupplier) > 0 {
		if data, err := outbox.InvoiceStatusXML(env(sender), toSupplier); err != nil {
			r.cfg.Log.Error("invoice status file not written", "flow", p.FlowID, "partner", sender.ID, "err", err)
		} else {
			p.Writes = append(p.Writes, write{Dir: out, Name: "FACT_" + p.FlowID + ".xml", Entry: generated, Data: data})
		}
	}
	ids := make([]string, 0, len(toRecipient))
	for id := range toRecipient {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		rp := r.partners[id]
		data, err := outbox.InvoiceStatusXML(env(rp), toRecipient[id])
		if err != nil {
			r.cfg.Log.Error("invoice status file not written", "flow", p.FlowID, "partner", id, "err", err)
			continue
		}
		p.Writes = append(p.Writes, write{Dir: r.rel(r.mb.Out(id)), Name: "FACT_" + p.FlowID + "_RECU.xml", Entry: generated, Data: data})
	}
	return nil
}

// execute puts every file of the plans in place, marks the flows whose
// files are all in place done and archives their originals. It returns the
// plans to try again.
func (r *Router) execute(ctx context.Context, plans []*plan, cache map[string][][]byte) []*plan {
	type job struct {
		p     *plan
		batch outbox.Batch
		err   error
	}
	jobs := make([]*job, 0, len(plans))
	// The round shares two filesystem flushes: every file is under the root,
	// on one filesystem (checked when the mailboxes are created).
	all := outbox.Batch{SyncFS: true}
	for _, p := range plans {
		j := &job{p: p}
		jobs = append(jobs, j)
		entries := cache[p.FlowID]
		if entries == nil && needsEntries(p) {
			entries, j.err = r.readEntries(p)
		}
		if j.err != nil {
			continue
		}
		for _, w := range p.Writes {
			data := w.Data
			switch {
			case w.Entry >= 0 && w.Entry < len(entries):
				data = entries[w.Entry]
			case w.Entry >= 0:
				j.err = fmt.Errorf("entry %d of %s not found", w.Entry, p.WorkName)
			case w.Entry == wholeFile:
				data, j.err = r.readOriginal(p)
			}
			if j.err != nil {
				break
			}
			j.batch.Add(filepath.Join(r.cfg.Root, w.Dir), w.Name, data)
			all.Add(filepath.Join(r.cfg.Root, w.Dir), w.Name, data)
		}
	}
	if err := r.makeDirs(plans); err != nil {
		r.cfg.Log.Error("mailbox folders", "err", err)
	}
	// One batch for the round shares its fsyncs; if anything fails, each
	// flow is tried alone (files already in place are recognised), so one
	// broken mailbox does not hold back the others.
	if err := all.Commit(0); err != nil {
		for _, j := range jobs {
			if j.err == nil {
				j.err = j.batch.Commit(0)
			}
		}
	}
	var done []string
	var names []string
	var failed []*plan
	for _, j := range jobs {
		if j.err != nil {
			r.cfg.Log.Error("flow not carried out yet, will retry", "flow", j.p.FlowID, "partner", j.p.Partner, "err", j.err)
			failed = append(failed, j.p)
			continue
		}
		done = append(done, j.p.FlowID)
		names = append(names, j.p.WorkName)
	}
	if len(done) == 0 {
		return failed
	}
	if err := r.cfg.Store.MarkDone(ctx, done, r.now()); err != nil {
		// The files are in place; the plans stay pending and are carried
		// out again (as no-ops) on the next try.
		r.cfg.Log.Error("flows not marked done, will retry", "count", len(done), "err", err)
		return plans
	}
	if err := r.archive(names); err != nil {
		r.cfg.Log.Error("archive", "err", err)
	}
	return failed
}

// makeDirs creates the folders the plans write into that do not exist yet
// (a structure's portal folder on its first invoice), durably.
func (r *Router) makeDirs(plans []*plan) error {
	seen := map[string]bool{}
	var errs []error
	for _, p := range plans {
		for _, w := range p.Writes {
			if seen[w.Dir] {
				continue
			}
			seen[w.Dir] = true
			dir := filepath.Join(r.cfg.Root, w.Dir)
			if _, err := os.Stat(dir); err == nil {
				continue
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, fsx.SyncDir(filepath.Dir(dir)))
		}
	}
	return errors.Join(errs...)
}

func needsEntries(p *plan) bool {
	return slices.ContainsFunc(p.Writes, func(w write) bool { return w.Entry >= 0 })
}

// original returns the path of a plan's deposited file: in work/ until it
// is archived.
func (r *Router) original(p *plan) string {
	path := filepath.Join(r.mb.Work(), p.WorkName)
	if _, err := os.Stat(path); err != nil {
		if alt := filepath.Join(r.mb.Archive(), p.WorkName); fileExists(alt) {
			return alt
		}
	}
	return path
}

func fileExists(path string) bool { _, err := os.Stat(path); return err == nil }

func (r *Router) readOriginal(p *plan) ([]byte, error) { return os.ReadFile(r.original(p)) }

// readEntries reads a flow's entries again, in the order the plan numbered them.
func (r *Router) readEntries(p *plan) ([][]byte, error) {
	f, size, err := openFlow(r.original(p))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	err = parser.ReadFlow(f, size, func(e parser.Entry) error {
		out = append(out, bytes.Clone(e.Data))
		return nil
	})
	return out, err
}

// archive moves finished flows' originals from work/ to archive/.
func (r *Router) archive(names []string) error {
	if len(names) == 0 {
		return nil
	}
	var errs []error
	for _, n := range names {
		err := os.Rename(filepath.Join(r.mb.Work(), n), filepath.Join(r.mb.Archive(), n))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, fsx.SyncDir(r.mb.Archive()), fsx.SyncDir(r.mb.Work()))
	return errors.Join(errs...)
}
