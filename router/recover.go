package router

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"flowgate/flows"
	"flowgate/outbox"
	"flowgate/store"
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
	var finished []*plan
	var quarantined []string
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
			// Done, not yet archived.
			var p plan
			if err := json.Unmarshal(f.Plan, &p); err != nil {
				return nil, "", fmt.Errorf("flow %s: bad plan in store: %w", f.ID, err)
			}
			finished = append(finished, &p)
		case known && f.State == store.StateQuarantined:
			quarantined = append(quarantined, e.Name()) // not yet moved
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
	if err := r.archiveChecked(finished); err != nil {
		return nil, "", err
	}
	if err := r.quarantine(quarantined); err != nil {
		return nil, "", err
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].FlowID < todo[j].FlowID })
	// A flow whose tries all ended in a crash is quarantined now, before
	// anything else runs: a restart never re-runs it first for ever.
	if todo, err = r.quarantineSpent(ctx, todo); err != nil {
		return nil, "", err
	}
	if len(todo) > 0 {
		r.cfg.Log.Info("resuming claimed flows", "count", len(todo))
	}
	return todo, maxID, nil
}

// quarantineSpent quarantines the flows of todo already tried MaxAttempts
// times, and returns the others.
func (r *Router) quarantineSpent(ctx context.Context, todo []flows.Claimed) ([]flows.Claimed, error) {
	prior, err := r.cfg.Store.Attempts(ctx, ids(todo))
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	var batch []*decided
	rest := todo[:0:0]
	for _, c := range todo {
		if a := prior[c.FlowID]; a.Attempts >= r.cfg.MaxAttempts {
			batch = append(batch, r.decideQuarantine(c, a.Attempts, cmp.Or(a.LastError, "the daemon stopped during each try (crash)")))
		} else {
			rest = append(rest, c)
		}
	}
	for _, d := range batch {
		if err := r.render(d); err != nil {
			return nil, fmt.Errorf("recover: quarantine %s: %w", d.plan.FlowID, err)
		}
	}
	if len(batch) > 0 {
		if stalled, err := r.commit(ctx, batch); err != nil {
			return nil, fmt.Errorf("recover: quarantine: %w", err)
		} else if stalled > 0 {
			r.cfg.Log.Warn("quarantined flows could not all be carried out yet; retrying while running", "count", stalled)
		}
	}
	return rest, nil
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
	// Carried out a slice at a time, so that what is read again stays
	// within the round budgets however many plans wait (a mailbox broken
	// for hours).
	stalled := 0
	for len(plans) > 0 {
		n := r.resumeSlice(plans)
		stalled += len(r.execute(ctx, plans[:n], nil))
		plans = plans[n:]
	}
	return stalled, nil
}

// resumeSlice returns how many plans from the head of plans to carry out
// together: at most MaxBatch, and RoundCached of entry bytes to read again
// (the first whatever its size; a plan saved before plans recorded it
// counts its file's size).
func (r *Router) resumeSlice(plans []*plan) int {
	var total int64
	n := 0
	for ; n < len(plans) && n < r.cfg.MaxBatch; n++ {
		held := plans[n].Held
		if held == 0 && needsEntries(plans[n]) {
			if fi, err := os.Stat(r.original(plans[n])); err == nil {
				held = fi.Size()
			}
		}
		if n > 0 && total+held > r.budgets.RoundCached {
			break
		}
		total += held
	}
	return n
}
