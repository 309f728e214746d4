package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"flowgate/internal/fsx"
	"flowgate/outbox"
	"flowgate/parser"
)

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
