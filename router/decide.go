package router

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"flowgate"
	"flowgate/flows"
	"flowgate/internal/fsx"
	"flowgate/lifecycle"
	"flowgate/outbox"
	"flowgate/parser"
	"flowgate/store"
	"flowgate/validator"
)

// decided is a flow of a round once decided, with the entry bytes kept for
// carrying it out without reading it again.
type decided struct {
	plan    *plan
	entries [][]byte
	flow    store.Flow
	invs    []store.Invoice
	sts     []store.Status

	sender *Partner            // who deposited it; nil for a quarantined flow of an unknown partner
	rep    flowgate.FlowReport // its report, for the status files
	names  []partyNames        // of each invoice of the report
	dupOf  *plan               // the original, for a duplicate flow
	report []byte              // the report as its JSON CR says it, for the store
	traces []trace             // each invoice and where it went, logged once the plan is saved
	status *statusDecision     // a status flow's report and changes; nil for an invoice flow
}

// trace is one invoice of a decided flow and where it goes, relative to
// the root; portal is the recipient SIRET when it goes to portal/.
type trace struct {
	line   *flowgate.InvoiceReport
	where  string
	portal string
}

// Process decides, records and carries out claimed flows, in as many
// rounds as the budgets require (see processRound). It returns the flows
// it could not decide (left in work/, to process again) and how many
// decided flows it could not carry out yet (their plans stay in the store,
// for resume): a full disk or a permission error on a mailbox, or the
// store being unavailable.
func (r *Router) Process(ctx context.Context, todo []flows.Claimed) (failed []flows.Claimed, notDone int) {
	for len(todo) > 0 {
		f, n, rest := r.processRound(ctx, todo)
		failed = append(failed, f...)
		notDone += n
		todo = rest
	}
	return failed, notDone
}

// storeTimeout bounds a store call that must not be cancelled by shutdown:
// saving a round's plans once decided, marking its flows done, counting
// attempts back.
const storeTimeout = 15 * time.Second

// processRound decides, records and carries out one round taken from the
// head of todo, and returns the flows it did not take (rest), in order.
//
// The round is todo cut by the entry budgets (see prepareRound); but when
// todo holds flows tried before whose try did not end (a crash), the one
// with the fewest attempts is taken alone. Each flow's try is counted in
// the store before it starts. A flow whose try fails by its own fault (a
// panic, flow_timeout, a file that cannot be read) fails alone, and is
// quarantined once it has failed MaxAttempts times; a flow already at
// MaxAttempts is quarantined without being tried. A failure that is not a
// flow's (the store, shutdown) fails the round and takes back its attempts.
func (r *Router) processRound(ctx context.Context, todo []flows.Claimed) (failed []flows.Claimed, notDone int, rest []flows.Claimed) {
	round, rest, prior, err := r.isolate(ctx, todo)
	if err != nil {
		r.cfg.Log.Error("flow attempts unavailable, flows left in work/", "flows", len(todo), "err", err)
		return todo, 0, nil
	}
	var batch []*decided
	var tried []flows.Claimed
	for _, c := range round {
		if a := prior[c.FlowID]; a.Attempts >= r.cfg.MaxAttempts {
			batch = append(batch, r.decideQuarantine(c, a.Attempts, cmp.Or(a.LastError, "the daemon stopped during the try (crash)")))
		} else {
			tried = append(tried, c)
		}
	}
	var counts map[string]int
	if len(tried) > 0 {
		keys := make([]store.Attempt, len(tried))
		for i, c := range tried {
			keys[i] = store.Attempt{FlowID: c.FlowID, Partner: c.Partner, FileName: c.Name}
		}
		if counts, err = r.cfg.Store.BeginAttempts(ctx, keys, r.now()); err != nil {
			r.cfg.Log.Error("flow attempts not counted, flows left in work/", "flows", len(round), "err", err)
			return without(round, rest), 0, rest
		}
	}
	preps, n := r.prepareRound(tried)
	if n < len(tried) {
		r.forget(ids(tried[n:]))
		rest = append(slices.Clone(tried[n:]), rest...)
		tried = tried[:n]
	}

	// Deciding a flow, once started, is not cancelled (flow_timeout bounds
	// it); a shutdown past its drain leaves the flows not yet started for
	// the next start, and saves those decided.
	dctx := context.WithoutCancel(ctx)
	seen := &roundSeen{bySHA: map[string]*decided{}, reprocess: map[string]bool{},
		delivered: map[string][]store.Invoice{}, partnerOf: map[string]string{}, status: map[string]string{}}
	hist := &history{ctx: dctx, store: r.cfg.Store, mem: validator.MemoryHistory{},
		reopen: map[validator.DuplicateKey]store.Invoice{}, orig: map[validator.DuplicateKey]store.Invoice{}, status: seen.status}
	var notMine []string // tried, failed for a reason not their own
	// fault records a flow's own failure: the flow failed, or it is
	// quarantined (returned) at its last attempt.
	fault := func(c flows.Claimed, err error) *decided {
		at := counts[c.FlowID]
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		defer cancel()
		if ferr := r.cfg.Store.FailAttempt(sctx, c.FlowID, err.Error(), r.now()); ferr != nil {
			r.cfg.Log.Warn("flow attempt failure not recorded", "flow", c.FlowID, "err", ferr)
		}
		if at >= r.cfg.MaxAttempts || errors.Is(err, errChanged) {
			return r.decideQuarantine(c, at, err.Error())
		}
		r.cfg.Log.Error("flow not decided, left in work/", "flow", c.FlowID, "partner", c.Partner, "file", c.Name,
			"attempt", at, "err", err)
		failed = append(failed, c)
		return nil
	}
	for i, c := range tried {
		if i > 0 && ctx.Err() != nil {
			left := tried[i:]
			r.cfg.Log.Warn("shutdown: flows of the round not decided, left in work/", "flows", len(left))
			r.forget(ids(left))
			rest = append(slices.Clone(left), rest...)
			tried = tried[:i]
			break
		}
		d, err := r.decide(dctx, c, preps[i], hist, seen)
		preps[i] = prepared{} // its entries now live in d, or nowhere
		var te *transientError
		switch {
		case err == nil:
			batch = append(batch, d)
			seen.remember(d)
			if key := d.plan.Partner + " " + d.plan.SHA256; d.plan.DuplicateOf == "" && d.plan.ReprocessOf == "" && d.plan.SHA256 != "" && seen.bySHA[key] == nil {
				seen.bySHA[key] = d
			}
		case errors.As(err, &te):
			r.cfg.Log.Error("flow not decided, left in work/", "flow", c.FlowID, "partner", c.Partner, "file", c.Name, "err", err)
			failed = append(failed, c)
			notMine = append(notMine, c.FlowID)
		default:
			if q := fault(c, err); q != nil {
				batch = append(batch, q)
			}
		}
	}
	if hist.err != nil {
		r.cfg.Log.Error("history unavailable, round left in work/", "err", hist.err)
		r.forget(ids(tried))
		return without(round, rest), 0, rest
	}
	r.forget(notMine)

	// Originals render in parallel; duplicates after, since they name an
	// original, which may be of this round and must be rendered first.
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
	var kept []*decided
	for i, d := range batch {
		if renderErrs[i] == nil {
			kept = append(kept, d)
			continue
		}
		c := flows.Claimed{FlowID: d.plan.FlowID, Partner: d.plan.Partner, Name: d.plan.Name,
			Path: filepath.Join(r.mb.Work(), d.plan.WorkName), ReceivedAt: d.plan.ReceivedAt}
		if d.plan.Quarantine {
			r.cfg.Log.Error("quarantined flow's status files not rendered, left in work/", "flow", c.FlowID, "err", renderErrs[i])
			failed = append(failed, c)
			continue
		}
		// A report the hub cannot render is the flow's fault too.
		if q := fault(c, fmt.Errorf("render: %w", renderErrs[i])); q != nil {
			if err := r.render(q); err != nil {
				r.cfg.Log.Error("quarantined flow's status files not rendered, left in work/", "flow", c.FlowID, "err", err)
				failed = append(failed, c)
				continue
			}
			kept = append(kept, q)
		}
	}
	batch = kept
	if len(batch) == 0 {
		return failed, 0, rest
	}
	notDone, err = r.commit(ctx, batch)
	if err != nil {
		r.cfg.Log.Error("plans not saved, round left in work/", "flows", len(batch), "err", err)
		r.forget(ids(tried))
		return without(round, rest), 0, rest
	}
	for _, d := range batch {
		r.logFlow(d)
	}
	return failed, notDone, rest
}

// commit saves the plans of decided and rendered flows in one transaction,
// then carries them out, and returns how many could not be carried out
// yet. Once decided, a round is saved whatever becomes of ctx (a shutdown
// does not throw it away), within storeTimeout.
func (r *Router) commit(ctx context.Context, batch []*decided) (int, error) {
	var pb store.PlanBatch
	for _, d := range batch {
		pb.Flows = append(pb.Flows, d.flow)
		pb.Invoices = append(pb.Invoices, d.invs...)
		pb.Statuses = append(pb.Statuses, d.sts...)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := r.cfg.Store.SavePlans(sctx, pb); err != nil {
		return 0, err
	}
	plans := make([]*plan, len(batch))
	cache := map[string][][]byte{}
	for i, d := range batch {
		plans[i] = d.plan
		if d.entries != nil {
			cache[d.plan.FlowID] = d.entries
		}
	}
	return len(r.execute(sctx, plans, cache)), nil
}

// isolate takes the round from the head of todo: the whole of it or, when
// it holds flows tried before whose try did not end (a crash; flows at
// MaxAttempts are not tried again), the one of them with the fewest
// attempts, alone. It also returns the attempts recorded for todo.
func (r *Router) isolate(ctx context.Context, todo []flows.Claimed) (round, rest []flows.Claimed, prior map[string]store.Attempt, err error) {
	prior, err = r.cfg.Store.Attempts(ctx, ids(todo))
	if err != nil {
		return nil, nil, nil, err
	}
	best := -1
	for i, c := range todo {
		a := prior[c.FlowID]
		if a.Attempts == 0 || a.Attempts >= r.cfg.MaxAttempts {
			continue
		}
		if best < 0 || a.Attempts < prior[todo[best].FlowID].Attempts {
			best = i
		}
	}
	if best < 0 || len(todo) == 1 {
		return todo, nil, prior, nil
	}
	rest = append(slices.Clone(todo[:best]), todo[best+1:]...)
	return todo[best : best+1], rest, prior, nil
}

// forget takes back the attempt just counted for flows whose try failed
// for a reason that was not theirs.
func (r *Router) forget(flowIDs []string) {
	if len(flowIDs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := r.cfg.Store.ForgetAttempts(ctx, flowIDs); err != nil {
		r.cfg.Log.Warn("flow attempts not taken back", "flows", len(flowIDs), "err", err)
	}
}

// without returns the flows of cs that are not in drop.
func without(cs, drop []flows.Claimed) []flows.Claimed {
	out := make([]flows.Claimed, 0, len(cs))
	for _, c := range cs {
		if !slices.ContainsFunc(drop, func(d flows.Claimed) bool { return d.FlowID == c.FlowID }) {
			out = append(out, c)
		}
	}
	return out
}

func ids(cs []flows.Claimed) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.FlowID
	}
	return out
}

// transientError is a failure to decide a flow that is not the flow's
// fault (the store): it does not count as an attempt.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// errChanged: a flow's file is not the one checked. It is quarantined at
// once: what was checked is what is delivered, or nothing.
var errChanged = errors.New("the file changed after it was checked")

// errTooMuch stops the caching of a flow past its memory budget.
var errTooMuch = errors.New("over the memory budget")

// panicError is a panic while checking a flow, recovered.
type panicError struct{ value any }

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// panicked logs a recovered panic with its stack, once, and returns it as
// the flow's error.
func (r *Router) panicked(c flows.Claimed, v any) error {
	r.cfg.Log.Error("panic while checking a flow", "flow", c.FlowID, "partner", c.Partner, "file", c.Name,
		"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	return &panicError{v}
}

// timeoutError: the check of a flow ran past flow_timeout.
type timeoutError struct{ limit time.Duration }

func (e *timeoutError) Error() string {
	return fmt.Sprintf("check ran past flow_timeout (%s)", e.limit)
}

// history is the state one round shares across its flows: the duplicate
// check (invoices accepted in the store, plus those accepted earlier in
// the round; a store error is kept and fails the round, never read as "not
// seen").
type history struct {
	ctx   context.Context
	store Store
	mem   validator.MemoryHistory
	err   error
	// reopen: numbers whose newest accepted deposit waits at 04 or 06 for
	// its supplier (see reopen); orig: the newest accepted deposit of
	// numbers seen as duplicates, to compare them with.
	reopen map[validator.DuplicateKey]store.Invoice
	orig   map[validator.DuplicateKey]store.Invoice
	// status: the statuses status flows of the round set, by invoiceKey
	// (roundSeen.status): an invoice suspended earlier in the round is
	// waiting.
	status map[string]string
}

// Seen reports whether an invoice with this key was accepted before, in
// the round or in the store; but not when its newest deposit waits at 04
// (à recycler) or 06 (suspendue): deposited again, it reopens it.
func (h *history) Seen(k validator.DuplicateKey) bool {
	if h.mem.Seen(k) {
		return true
	}
	seen, err := h.store.Accepted(h.ctx, k.SupplierSIRET, k.Number, k.Year)
	if err == nil && seen {
		var invs []store.Invoice
		if invs, err = h.store.Delivered(h.ctx, k.SupplierSIRET, k.Number, ""); err == nil {
			for _, inv := range invs {
				if inv.IssueYear != k.Year {
					continue
				}
				if inv.Status = currentStatus(inv, h.status); waiting(inv.Status) {
					h.reopen[k] = inv
					return false
				}
				h.orig[k] = inv
				break
			}
		}
	}
	if err != nil && h.err == nil {
		h.err = err
	}
	return seen
}

func (h *history) Add(k validator.DuplicateKey) { h.mem.Add(k) }

// prepared is a claimed flow read and parsed ahead of its decision: the
// part of deciding that depends on nothing else, done for a round's flows
// in parallel.
type prepared struct {
	sum     string         // SHA-256 of the file; empty for a file too big to read
	size    int64          // from fstat
	tooBig  bool           // over the sender's max_file_size: refused unread
	entries []parser.Entry // nil when not held: read again, streaming, when decided
	held    int64          // bytes of the entries' Data held
	spent   time.Duration  // time the check took so far
	err     error          // reading or checking the file failed
}

// streamed reports whether the flow is to be read again when decided.
func (p prepared) streamed() bool { return p.err == nil && !p.tooBig && p.entries == nil }

// openFlow opens a flow's file without following a link and returns it
// with its size, from fstat.
func (r *Router) openFlow(path string) (*os.File, int64, error) {
	if h := r.cfg.Hooks.Open; h != nil {
		if err := h(path); err != nil {
			return nil, 0, fmt.Errorf("open %s: %w", filepath.Base(path), err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: not a regular file", filepath.Base(path))
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// maxFileSize is the partner's bound on a flow's size, 0 for none.
func (r *Router) maxFileSize(partner string) int64 {
	if p := r.partners[partner]; p != nil {
		return p.MaxFileSize
	}
	return 0
}

// hashFile returns the SHA-256 of f's content, read from its start.
func hashFile(f *os.File) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return "", fmt.Errorf("read %s: %w", filepath.Base(f.Name()), err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readAll reads a file of size bytes whole; a file that is not that size
// any more is an error.
func readAll(f *os.File, size int64) ([]byte, error) {
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(f.Name()), err)
	}
	return data, nil
}

// prepare reads a claimed flow and, unless it is over its sender's
// max_file_size (then it is not read at all), hashes it and, when it fits
// the budgets, parses it into entries. held counts the entry bytes the
// round holds, as they are inflated; a flow that would pass FlowCached or
// RoundCached is not held (it is read again, streaming, when decided).
// A panic is recovered and returned as the flow's error.
func (r *Router) prepare(c flows.Claimed, held *atomic.Int64) (p prepared) {
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			held.Add(-p.held)
			p = prepared{err: r.panicked(c, v)}
		}
		p.spent = time.Since(start)
	}()
	f, size, err := r.openFlow(c.Path)
	if err != nil {
		return prepared{err: err}
	}
	defer f.Close()
	p.size = size
	if limit := r.maxFileSize(c.Partner); limit > 0 && size > limit {
		p.tooBig = true
		return p
	}
	if h := r.cfg.Hooks.Check; h != nil {
		h(c)
	}
	if size > r.budgets.FlowCached {
		if p.sum, err = hashFile(f); err != nil {
			return prepared{err: err}
		}
		return p
	}
	data, err := readAll(f, size)
	if err != nil {
		return prepared{err: err}
	}
	sum := sha256.Sum256(data)
	p.sum, p.entries = hex.EncodeToString(sum[:]), []parser.Entry{}
	deadline := start.Add(r.cfg.FlowTimeout)
	err = parser.ReadFlow(bytes.NewReader(data), size, func(e parser.Entry) error {
		if time.Now().After(deadline) {
			return &timeoutError{r.cfg.FlowTimeout}
		}
		n := int64(len(e.Data))
		if p.held+n > r.budgets.FlowCached || held.Load()+n > r.budgets.RoundCached {
			return errTooMuch
		}
		held.Add(n)
		p.held += n
		p.entries = append(p.entries, e)
		return nil
	})
	if err != nil {
		held.Add(-p.held)
		p.held, p.entries = 0, nil
		if !errors.Is(err, errTooMuch) {
			p.err = err
		}
	}
	return p
}

// prepareRound prepares flows of a round in parallel (Budgets.Workers at
// once) and returns how many of them, from the start, make the round: the
// first always; then as many as fit RoundEntries, up to and including a
// flow that could not be held in memory (its entries are not counted: it
// ends the round). Flows prepared past the cut are dropped; they start
// the next round.
func (r *Router) prepareRound(round []flows.Claimed) ([]prepared, int) {
	preps := make([]prepared, len(round))
	ready := make([]bool, len(round))
	var held atomic.Int64
	var mu sync.Mutex
	next, cut, entries, stop := 0, 0, 0, false
	var wg sync.WaitGroup
	for range min(len(round), r.budgets.Workers) {
		wg.Go(func() {
			for {
				mu.Lock()
				if stop || next >= len(round) {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				p := r.prepare(round[i], &held)
				mu.Lock()
				preps[i], ready[i] = p, true
				for !stop && cut < len(round) && ready[cut] {
					n := len(preps[cut].entries)
					if cut > 0 && entries+n > r.budgets.RoundEntries {
						stop = true
						break
					}
					entries += n
					cut++
					stop = preps[cut-1].streamed()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for i := cut; i < len(round); i++ {
		preps[i] = prepared{}
	}
	return preps[:cut], cut
}

// decide checks one flow of the round against the directory, its sender and
// the history, in claim order (the history makes the order matter), and
// builds its plan but for the status files (see render). A panic is
// recovered and returned as the flow's error.
func (r *Router) decide(ctx context.Context, c flows.Claimed, prep prepared, hist *history, seen *roundSeen) (d *decided, err error) {
	defer func() {
		if v := recover(); v != nil {
			d, err = nil, r.panicked(c, v)
		}
	}()
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
	if prep.tooBig {
		return r.decideTooBig(p, sender, prep.size), nil
	}
	if dup, err := r.duplicate(ctx, c.Partner, prep.sum, seen.bySHA); err != nil {
		return nil, &transientError{err}
	} else if dup != nil {
		// Same bytes again: refused, unless an operator asked for this
		// file to be run again (flowgate flow reprocess).
		of, err := r.reprocessRequested(ctx, c, prep.sum, seen)
		if err != nil {
			return nil, &transientError{err}
		}
		if of != "" {
			p.ReprocessOf = of
		} else if waits, err := r.waitingIn(ctx, dup, seen); err != nil {
			return nil, &transientError{err}
		} else if !waits {
			return r.decideDuplicate(p, dup, sender), nil
		} else {
			// The same file again for an invoice the recipient sent back
			// (04) or suspended (06): the supplier's answer, processed
			// (see reopen); typically an invoice received too early.
			r.cfg.Log.Info("same bytes as an earlier flow whose invoice waits at 04 or 06: processed", "flow", c.FlowID,
				"partner", c.Partner, "file", c.Name, "earlier", dup.FlowID)
		}
	}

	if data, ok := statusEntry(prep); ok {
		return r.decideStatus(ctx, p, sender, data, seen, time.Now().Add(r.cfg.FlowTimeout-prep.spent))
	}

	deadline := time.Now().Add(r.cfg.FlowTimeout - prep.spent)
	in := validator.Input{Directory: r.cfg.Directory, History: hist,
		Sender: &validator.Sender{ID: sender.ID, SIRETs: sender.SIRETs}}
	d = &decided{plan: p, sender: sender}
	b := &planBuilder{r: r, d: d, now: now, returns: r.rel(r.mb.Returns(sender.ID)), name: c.Name, hist: hist}
	var rep flowgate.FlowReport
	if prep.entries != nil {
		check := validator.NewFlowCheck(c.Name, in)
		for _, e := range prep.entries {
			if time.Now().After(deadline) {
				return nil, &timeoutError{r.cfg.FlowTimeout}
			}
			b.add(e, check.Entry(e))
		}
		rep = check.Report()
		d.entries = make([][]byte, len(prep.entries))
		for i, e := range prep.entries {
			d.entries[i] = e.Data // nil for an entry that could not be read: indexes stay aligned
		}
	} else {
		// Too big to hold: read again, streaming, then hashed again, so
		// that what was checked is the file whose hash is recorded.
		f, size, err := r.openFlow(c.Path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if size != prep.size {
			return nil, errChanged
		}
		rep, err = validator.CheckFlow(c.Name, f, size, in, func(e parser.Entry, line *flowgate.InvoiceReport) error {
			if time.Now().After(deadline) {
				return &timeoutError{r.cfg.FlowTimeout}
			}
			b.add(e, line)
			return nil
		})
		if err != nil {
			return nil, err // reading work/ failed, or the check ran out of time
		}
		if sum, err := hashFile(f); err != nil {
			return nil, err
		} else if sum != prep.sum {
			return nil, errChanged
		}
	}
	accepted := slices.ContainsFunc(rep.Invoices, func(l flowgate.InvoiceReport) bool { return l.Verdict == flowgate.Accepted })
	if !accepted && !b.returned {
		// Nothing delivered and nothing returned entry by entry: the whole
		// file goes back to its sender, as deposited; one too big to hold
		// in memory, as a notice (it stays in the archive).
		if prep.size <= r.budgets.FlowCached {
			p.Writes = append(p.Writes, write{Dir: b.returns, Name: returnName(p.FlowID, -1, c.Name), Entry: wholeFile})
		} else {
			w := r.notice(p, b.returns, prep.size,
				"rejeté, voir le compte rendu du flux ; trop gros pour être renvoyé, il est conservé par le hub",
				"rejected, see the flow's report; too big to be sent back, the hub keeps it")
			p.Writes = append(p.Writes, w)
			for i := range d.traces {
				if d.traces[i].where == filepath.Join(b.returns, returnName(p.FlowID, -1, c.Name)) {
					d.traces[i].where = filepath.Join(w.Dir, w.Name)
				}
			}
		}
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
	hist     *history // the round's, for re-deposits (see reopen); nil: none
}

func (b *planBuilder) add(e parser.Entry, line *flowgate.InvoiceReport) {
	seq, p, d := b.seq, b.d.plan, b.d
	b.seq++
	orig, reopened := b.reopen(e, line)
	if e.Invoice != nil {
		t, v := e.Invoice.Totals, flowgate.Trimmed // the hub's reading
		b.names = append(b.names, partyNames{supplier: v(e.Invoice.Seller.Name), recipient: v(e.Invoice.Buyer.Name),
			country: v(e.Invoice.Seller.CountryCode), taxExclusive: v(t.TaxExclusive.Raw), taxInclusive: v(t.TaxInclusive.Raw),
			payable: v(t.Payable.Raw), currency: v(e.Invoice.Currency), completed: reopened && orig.Status == lifecycle.Suspended})
	}
	switch {
	case line != nil && line.Verdict == flowgate.Accepted:
		dir, name := b.r.delivery(p, line, e.Name, seq)
		p.Writes = append(p.Writes, write{Dir: dir, Name: name, Entry: seq, SHA256: sum(e.Data)})
		p.Held += int64(len(e.Data))
		row := b.r.invoiceRow(p, line, seq, dir, name)
		if e.Invoice != nil {
			row.Currency, row.Amounts = flowgate.Trimmed(e.Invoice.Currency), amountsOf(e.Invoice)
			row.SupplierName, row.SupplierCountry = clipName(flowgate.Trimmed(e.Invoice.Seller.Name), maxStoredName), clipName(flowgate.Trimmed(e.Invoice.Seller.CountryCode), 8)
			row.RecipientName = clipName(flowgate.Trimmed(e.Invoice.Buyer.Name), maxStoredName)
			b.linkCredit(e.Invoice, line, &row)
		}
		d.invs = append(d.invs, row)
		t := trace{line: line, where: filepath.Join(dir, name)}
		if b.r.recipient[line.RecipientSIRET] == nil {
			t.portal = line.RecipientSIRET
		}
		d.traces = append(d.traces, t)
		if reopened && orig.Status == lifecycle.Suspended {
			// Completed: 12, delivered again to the same recipient.
			d.sts = append(d.sts, store.Status{FlowID: p.FlowID, Seq: seq, Code: lifecycle.Completed, At: b.now})
		} else {
			// New, or recycled (04 → 01 → 03, routed afresh).
			d.sts = append(d.sts, store.Status{FlowID: p.FlowID, Seq: seq, Code: "01", At: b.now},
				store.Status{FlowID: p.FlowID, Seq: seq, Code: "03", At: b.now})
		}
	case e.Data != nil && e.Name != "":
		// A rejected or unreadable archive member goes back as its own file.
		name := returnName(p.FlowID, seq, e.Name)
		p.Writes = append(p.Writes, write{Dir: b.returns, Name: name, Entry: seq, SHA256: sum(e.Data)})
		p.Held += int64(len(e.Data))
		b.returned = true
		if line != nil {
			d.invs = append(d.invs, b.r.invoiceRow(p, line, seq, b.returns, name))
			d.traces = append(d.traces, trace{line: line, where: filepath.Join(b.returns, name)})
		}
	case line != nil:
		// A rejected plain file: the file is the invoice.
		d.invs = append(d.invs, b.r.invoiceRow(p, line, seq, b.returns, returnName(p.FlowID, -1, b.name)))
		d.traces = append(d.traces, trace{line: line, where: filepath.Join(b.returns, returnName(p.FlowID, -1, b.name))})
	}
}

// render adds the status files to a decided flow's plan and seals the plan
// for the store. Flows are rendered in parallel: nothing here depends on
// another flow.
func (r *Router) render(d *decided) (err error) {
	defer func() {
		// Rendering runs on its own goroutines: a bug there must cost the
		// flow (counted, then quarantined), not the daemon.
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
			r.cfg.Log.Error("panic while rendering a flow's status files", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	if d.status != nil {
		return r.renderStatus(d)
	}
	if d.sender != nil {
		if err := r.statusFiles(d.plan, d.sender, d.rep, d.names, ""); err != nil {
			return err
		}
	} // else: a quarantined flow of a partner no longer configured: no one to tell.
	if d.report, err = reportJSON(d.plan, d.rep); err != nil {
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

// waitingIn reports whether an invoice accepted in the flow orig is the
// newest deposit of its number (supplier SIRET, number, issue year) and
// is currently at 04 (à recycler) or 06 (suspendue), as set in the store
// or earlier in the round: then the same bytes deposited again are the
// supplier's answer, not a duplicate flow. An original of this round has
// just been delivered: it waits for nothing.
func (r *Router) waitingIn(ctx context.Context, orig *plan, seen *roundSeen) (bool, error) {
	if d, ok := seen.bySHA[orig.Partner+" "+orig.SHA256]; ok && d.plan == orig {
		return false, nil
	}
	invs, err := r.cfg.Store.Invoices(ctx, orig.FlowID)
	if err != nil {
		return false, err
	}
	for _, inv := range invs {
		if inv.Verdict != string(flowgate.Accepted) || !waiting(currentStatus(inv, seen.status)) {
			continue
		}
		newest, err := r.cfg.Store.Delivered(ctx, inv.SupplierSIRET, inv.Number, "")
		if err != nil {
			return false, err
		}
		for _, n := range newest {
			if n.IssueYear != inv.IssueYear {
				continue
			}
			if n.FlowID == inv.FlowID && n.Seq == inv.Seq && len(seen.delivered[inv.SupplierSIRET+"\x00"+inv.Number]) == 0 {
				return true, nil
			}
			break
		}
	}
	return false, nil
}

// waiting: an invoice at this status waits for its supplier to deposit
// it again (04 to recycle it, 06 to complete it).
func waiting(status string) bool { return status == lifecycle.Recycle || status == lifecycle.Suspended }

// currentStatus is an invoice's status as the round knows it: set by a
// status flow earlier in the round (set, by invoiceKey), or as stored.
func currentStatus(inv store.Invoice, set map[string]string) string {
	if s, ok := set[invoiceKey(inv.FlowID, inv.Seq)]; ok {
		return s
	}
	return inv.Status
}

// decideDuplicate: a file whose bytes the same partner already deposited
// is not processed again. It is its own flow, refused (IN_REJETE) with the
// flow error FLX-DOUBLON naming the original (its id, when and under which
// name it was deposited, its outcome); its own status files name its own
// file and flow id. The original is never touched; the file is archived.
func (r *Router) decideDuplicate(p *plan, orig *plan, sender *Partner) *decided {
	p.DuplicateOf = orig.FlowID
	p.Status = flowgate.FlowRejected
	at := orig.ReceivedAt.UTC().Format("2006-01-02 15:04:05 UTC")
	name := clipName(orig.Name, 200)
	rep := flowgate.FlowReport{File: p.Name, Status: flowgate.FlowRejected, Invoices: []flowgate.InvoiceReport{},
		Errors: []flowgate.FlowError{{Code: flowgate.CodeDuplicateFlow,
			MessageFR: fmt.Sprintf("flux identique au flux %s déposé le %s sous le nom « %s », résultat %s", orig.FlowID, at, name, orig.Status),
			Message:   fmt.Sprintf("same bytes as flow %s deposited on %s as '%s', outcome %s", orig.FlowID, at, name, orig.Status)}}}
	return &decided{plan: p, sender: sender, dupOf: orig, rep: rep}
}

// clipName bounds a file name quoted in a message to n bytes, on a rune
// boundary.
func clipName(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// roundSeen is what a round remembers across its flows: the first flow of
// each partner's bytes (for the same-bytes rule) and the reprocess
// requests its flows used.
type roundSeen struct {
	bySHA     map[string]*decided // partner + " " + SHA-256
	reprocess map[string]bool     // partner + " " + name
	// For status flows: the invoices accepted in the round (by supplier
	// SIRET + "\x00" + number, in order), the partner of each of its
	// flows, and the statuses set in the round (by invoiceKey).
	delivered map[string][]store.Invoice
	partnerOf map[string]string
	status    map[string]string
}

// reprocessRequested returns the flow an operator asked to run again as
// c (same partner, name and bytes), "" when none or when another flow of
// the round already took the request.
func (r *Router) reprocessRequested(ctx context.Context, c flows.Claimed, sum string, seen *roundSeen) (string, error) {
	key := c.Partner + " " + c.Name
	if seen.reprocess[key] {
		return "", nil
	}
	of, err := r.cfg.Store.ReprocessRequested(ctx, c.Partner, c.Name, sum)
	if err != nil || of == "" {
		return "", err
	}
	seen.reprocess[key] = true
	r.cfg.Log.Info("flow reprocessed at an operator's request", "flow", c.FlowID, "partner", c.Partner, "file", c.Name, "reprocess_of", of)
	return of, nil
}

func (r *Router) finish(d *decided) *decided {
	p := d.plan
	planJSON, _ := json.Marshal(p)
	d.flow = store.Flow{ID: p.FlowID, Partner: p.Partner, FileName: p.Name, SHA256: p.SHA256, Status: string(p.Status),
		DuplicateOf: p.DuplicateOf, ReprocessOf: p.ReprocessOf, ReceivedAt: p.ReceivedAt, Plan: planJSON, Report: d.report}
	return d
}

func (r *Router) invoiceRow(p *plan, line *flowgate.InvoiceReport, seq int, dir, name string) store.Invoice {
	year := line.IssueDate
	if len(year) >= 4 {
		year = year[:4]
	}
	return store.Invoice{FlowID: p.FlowID, Seq: seq, Entry: line.Entry, Number: line.Number,
		SupplierSIRET: line.SupplierSIRET, RecipientSIRET: line.RecipientSIRET, IssueYear: year,
		Verdict: string(line.Verdict), Location: filepath.Join(dir, name),
		IssueDate: line.IssueDate, TypeCode: line.TypeCode, ServiceCode: line.ServiceCode, Engagement: line.Engagement}
}

// maxStoredName bounds, in bytes, a party's name as the store keeps it
// for later status files (which cut it to what their schema allows).
const maxStoredName = 500

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

// crJSON is the JSON status file: the validate report plus the flow's
// facts. It is also what the store keeps as the flow's report.
type crJSON struct {
	flowgate.FlowReport
	FlowID      string    `json:"flow_id"`
	Partner     string    `json:"partner"`
	SHA256      string    `json:"sha256"`
	ReceivedAt  time.Time `json:"received_at"`
	FinishedAt  time.Time `json:"finished_at"`
	DuplicateOf string    `json:"duplicate_of,omitempty"` // the flow whose bytes this one repeats (FLX-DOUBLON)
	ReprocessOf string    `json:"reprocess_of,omitempty"` // the flow an operator asked to run again as this one
}

// reportJSON is a flow's JSON CR, one line ended by a newline.
func reportJSON(p *plan, rep flowgate.FlowReport) ([]byte, error) {
	data, err := json.Marshal(crJSON{FlowReport: rep, FlowID: p.FlowID, Partner: p.Partner, SHA256: p.SHA256,
		ReceivedAt: p.ReceivedAt, FinishedAt: p.DecidedAt, DuplicateOf: p.DuplicateOf, ReprocessOf: p.ReprocessOf})
	if err != nil {
		return nil, fmt.Errorf("report of %s: %w", p.FlowID, err)
	}
	return append(data, '\n'), nil
}

// partyNames are what the status files say of an invoice beyond its
// report line, as written: the seller's and buyer's names (BT-27, BT-44),
// the seller's country (BT-40), the totals without and with VAT and the
// amount due (BT-109, BT-112, BT-115) and the currency (BT-5).
type partyNames struct {
	supplier, recipient, country        string
	taxExclusive, taxInclusive, payable string
	currency                            string
	completed                           bool // a suspended invoice deposited again: 12, not 01 and 03
}

// reportName names a status file of a flow for its sender: kind ("CR",
// "FACT"), the flow id, tag (e.g. "_INCIDENT", or ""), then the deposited
// file's base name made safe and bounded, then ext: CR_<flow>_<name>.xml.
// The partner matches it to its upload by the name; the flow id keeps it
// unique. A name that would give the hub's own FACT_<flow>_RECU or
// _STATUTS files ("RECU", "STATUTS", in any case) gets a "_": a partner
// that collects the invoices it deposits has both in the same out/.
func reportName(kind, flowID, tag, name, ext string) string {
	base := safeName(filepath.Base(strings.ReplaceAll(name, "\\", "/")), 80)
	if strings.EqualFold(base, "RECU") || strings.EqualFold(base, "STATUTS") {
		base += "_"
	}
	return kind + "_" + flowID + tag + "_" + base + ext
}

// statusFiles adds the flow's status files to its plan: the flow-level CR
// for its sender, and the invoice-level statuses (01 and 03 to the
// supplier's partner, 03 to the recipient's partner), each in the formats
// its partner takes (CPPStatut XML, JSON). The sender's files are named
// after the flow and the deposited file (reportName, tag before the name);
// the recipient's FACT_<flow>_RECU are not: the supplier's file name is not
// the recipient's to see.
func (r *Router) statusFiles(p *plan, sender *Partner, rep flowgate.FlowReport, names []partyNames, tag string) error {
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
		p.Writes = append(p.Writes, write{Dir: out, Name: reportName("CR", p.FlowID, tag, p.Name, ".xml"), Entry: generated, Data: data})
	}
	if sender.JSON {
		data, err := reportJSON(p, rep)
		if err != nil {
			return err
		}
		p.Writes = append(p.Writes, write{Dir: out, Name: reportName("CR", p.FlowID, tag, p.Name, ".json"), Entry: generated, Data: data})
	}

	var toSupplier []outbox.InvoiceStatus
	toRecipient := map[string][]outbox.InvoiceStatus{}
	var completedCDAR []outbox.CDARStatus
	recipientCDAR := map[string][]outbox.CDARStatus{}
	for i, line := range rep.Invoices {
		if line.Verdict != flowgate.Accepted {
			continue
		}
		date := line.IssueDate
		if len(date) > 10 {
			date = date[:10] // DateFacture is a date without time zone
		}
		st := outbox.InvoiceStatus{SupplierSIRET: line.SupplierSIRET, RecipientSIRET: line.RecipientSIRET,
			ServiceCode: line.ServiceCode, InvoiceNumber: line.Number, InvoiceDate: date, At: p.DecidedAt,
			Currency: line.Currency, Payable: line.TotalPayable}
		if i < len(names) {
			n := names[i]
			st.SupplierName, st.RecipientName = n.supplier, n.recipient
			if c := n.country; len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' {
				st.SupplierCountry = c
			}
			st.TaxExclusive, st.TaxInclusive, st.Payable, st.Currency = n.taxExclusive, n.taxInclusive, n.payable, n.currency
		}
		// The directory's names for the recipient and its service are the
		// reference.
		if s, ok := r.cfg.Directory.Structure(line.RecipientSIRET); ok {
			st.RecipientName = s.Name
		}
		if line.ServiceCode != "" {
			if s, ok := r.cfg.Directory.Service(line.RecipientSIRET, line.ServiceCode); ok {
				st.ServiceName = s.Name
			}
		}
		deposited, available := st, st
		deposited.Code, available.Code = "01", "03"
		if i < len(names) && names[i].completed {
			// Completed (12): supplier and recipient alike hear of it.
			available.Code = lifecycle.Completed
			toSupplier = append(toSupplier, available)
			if c, err := outbox.CDARFromInvoiceStatus(available, line.TypeCode); err == nil {
				completedCDAR = append(completedCDAR, c)
			}
		} else {
			toSupplier = append(toSupplier, deposited, available)
		}
		if rp := r.recipient[line.RecipientSIRET]; rp != nil && (rp.CPPStatut || rp.JSON) {
			toRecipient[rp.ID] = append(toRecipient[rp.ID], available)
		}
		if rp := r.recipient[line.RecipientSIRET]; rp != nil && rp.CDAR {
			if c, err := outbox.CDARFromInvoiceStatus(available, line.TypeCode); err == nil {
				recipientCDAR[rp.ID] = append(recipientCDAR[rp.ID], c)
			}
		}
	}
	if len(toSupplier) > 0 {
		p.Writes = append(p.Writes, r.invoiceStatusFiles(p, sender, env(sender), out, reportName("FACT", p.FlowID, tag, p.Name, ""), toSupplier)...)
	}
	p.Writes = append(p.Writes, r.cdarFiles(p, sender, env(sender), out, reportName("CDAR", p.FlowID, tag, p.Name, ""),
		integrationCDAR(rep, names, completedCDAR, p.DecidedAt))...)
	ids := make([]string, 0, len(toRecipient))
	for id := range toRecipient {
		ids = append(ids, id)
	}
	for id := range recipientCDAR {
		if _, ok := toRecipient[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		rp := r.partners[id]
		if len(toRecipient[id]) > 0 {
			p.Writes = append(p.Writes, r.invoiceStatusFiles(p, rp, env(rp), r.rel(r.mb.Out(id)), "FACT_"+p.FlowID+"_RECU", toRecipient[id])...)
		}
		p.Writes = append(p.Writes, r.cdarFiles(p, rp, env(rp), r.rel(r.mb.Out(id)), "CDAR_"+p.FlowID+"_RECU", recipientCDAR[id])...)
	}
	return nil
}

// invoiceStatusFiles renders invoice-level statuses for one partner in
// the formats it takes, as base + ".xml" (CPPStatut) and base + ".json".
// A status the CPPStatut schema cannot hold (a malformed issue date, say)
// costs that file, logged, never the flow: the CR carries the outcome.
func (r *Router) invoiceStatusFiles(p *plan, to *Partner, env outbox.Envelope, dir, base string, statuses []outbox.InvoiceStatus) []write {
	var ws []write
	if to.CPPStatut {
		if data, err := outbox.InvoiceStatusXML(env, statuses); err != nil {
			r.cfg.Log.Error("invoice status file not written", "flow", p.FlowID, "partner", to.ID, "err", err)
		} else {
			ws = append(ws, write{Dir: dir, Name: base + ".xml", Entry: generated, Data: data})
		}
	}
	if to.JSON {
		if data, err := outbox.InvoiceStatusJSON(env, statuses); err != nil {
			r.cfg.Log.Error("invoice status file not written", "flow", p.FlowID, "partner", to.ID, "err", err)
		} else {
			ws = append(ws, write{Dir: dir, Name: base + ".json", Entry: generated, Data: data})
		}
	}
	return ws
}
