package router

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
// files are all in place done (quarantined, for a quarantine plan) and
// moves their originals to archive/ (quarantine/). It returns the plans to
// try again.
//
// Entry bytes come from cache (the bytes that were checked) or are read
// again from the flow's file, verified against the SHA-256 of the file and
// of each entry recorded in the plan: a flow whose file changed since it
// was checked gets a quarantine plan instead (see quarantinePlanned) and
// nothing more of it is delivered. A flow too big to hold is written
// apart, streaming, a slice of FlowCached bytes at a time.
func (r *Router) execute(ctx context.Context, plans []*plan, cache map[string][][]byte) []*plan {
	type file struct {
		dir, name string
		data      []byte
	}
	type job struct {
		p        *plan
		files    []file
		streamed bool // written apart, streaming
		err      error
	}
	jobs := make([]*job, 0, len(plans))
	for _, p := range plans {
		j := &job{p: p}
		jobs = append(jobs, j)
		entries, cached := cache[p.FlowID]
		if !cached && needsEntries(p) {
			entries, j.streamed, j.err = r.readEntries(p)
		}
		if j.err == nil && !j.streamed {
			for _, w := range p.Writes {
				data := w.Data
				switch {
				case w.Entry >= 0 && w.Entry < len(entries):
					data = entries[w.Entry]
					if !cached && w.SHA256 != "" && sum(data) != w.SHA256 {
						j.err = errChanged
					}
				case w.Entry >= 0:
					j.err = fmt.Errorf("entry %d of %s not found", w.Entry, p.WorkName)
				case w.Entry == wholeFile:
					data, j.err = r.readOriginal(p)
				}
				if j.err != nil {
					break
				}
				j.files = append(j.files, file{filepath.Join(r.cfg.Root, w.Dir), w.Name, data})
			}
		}
		if errors.Is(j.err, errChanged) {
			// Nothing of it is written but its incident report.
			j.files, j.streamed = nil, false
			if j.p, j.err = r.quarantinePlanned(ctx, p); j.err == nil {
				for _, w := range j.p.Writes {
					j.files = append(j.files, file{filepath.Join(r.cfg.Root, w.Dir), w.Name, w.Data})
				}
			}
		}
	}
	current := make([]*plan, len(jobs))
	for i, j := range jobs {
		current[i] = j.p
	}
	if err := r.makeDirs(current); err != nil {
		r.cfg.Log.Error("mailbox folders", "err", err)
	}
	// The round shares two filesystem flushes: every file is under the root,
	// on one filesystem (checked when the mailboxes are created). If
	// anything fails, each flow is tried alone (files already in place are
	// recognised), so one broken mailbox does not hold back the others.
	all := outbox.Batch{SyncFS: true}
	for _, j := range jobs {
		if j.err == nil && !j.streamed {
			for _, f := range j.files {
				all.Add(f.dir, f.name, f.data)
			}
		}
	}
	if err := all.Commit(0); err != nil {
		for _, j := range jobs {
			if j.err == nil && !j.streamed {
				var b outbox.Batch
				for _, f := range j.files {
					b.Add(f.dir, f.name, f.data)
				}
				j.err = b.Commit(0)
			}
		}
	}
	for _, j := range jobs {
		if j.err != nil || !j.streamed {
			continue
		}
		if j.err = r.writeStreamed(j.p); errors.Is(j.err, errChanged) {
			if j.p, j.err = r.quarantinePlanned(ctx, j.p); j.err == nil {
				var b outbox.Batch
				for _, w := range j.p.Writes {
					b.Add(filepath.Join(r.cfg.Root, w.Dir), w.Name, w.Data)
				}
				j.err = b.Commit(0)
			}
		}
	}
	var done, quarantined, quarantinedNames []string
	var finished []*plan
	var failed []*plan
	for _, j := range jobs {
		switch {
		case j.err != nil:
			r.cfg.Log.Error("flow not carried out yet, will retry", "flow", j.p.FlowID, "partner", j.p.Partner, "err", j.err)
			failed = append(failed, j.p)
		case j.p.Quarantine:
			quarantined = append(quarantined, j.p.FlowID)
			quarantinedNames = append(quarantinedNames, j.p.WorkName)
		default:
			done = append(done, j.p.FlowID)
			finished = append(finished, j.p)
		}
	}
	if len(done) > 0 {
		if err := r.cfg.Store.MarkDone(ctx, done, r.now()); err != nil {
			// The files are in place; the plans stay pending and are carried
			// out again (as no-ops) on the next try.
			r.cfg.Log.Error("flows not marked done, will retry", "count", len(done), "err", err)
			return current
		}
		if err := r.archiveChecked(finished); err != nil {
			r.cfg.Log.Error("archive", "err", err)
		}
	}
	if len(quarantined) > 0 {
		if err := r.cfg.Store.MarkQuarantined(ctx, quarantined, r.now()); err != nil {
			r.cfg.Log.Error("flows not marked quarantined, will retry", "count", len(quarantined), "err", err)
			return current
		}
		if err := r.quarantine(quarantinedNames); err != nil {
			r.cfg.Log.Error("quarantine", "err", err)
		}
	}
	return failed
}

// sum is the hex SHA-256 of data.
func sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
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

// readOriginal reads a plan's deposited file whole (decide plans this only
// for a file of at most FlowCached bytes) and verifies it is the file that
// was checked (errChanged otherwise).
func (r *Router) readOriginal(p *plan) ([]byte, error) {
	f, size, err := r.openFlow(r.original(p))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readAll(f, size)
	if err != nil {
		return nil, err
	}
	if p.SHA256 != "" && sum(data) != p.SHA256 {
		return nil, errChanged
	}
	return data, nil
}

// readEntries reads a flow's entries again, in the order the plan numbered
// them, from a file verified to be the one that was checked (errChanged
// otherwise). A file over FlowCached, or whose entries inflate past it, is
// not held: streamed is true, and the flow is written by writeStreamed.
func (r *Router) readEntries(p *plan) (entries [][]byte, streamed bool, err error) {
	f, size, err := r.openFlow(r.original(p))
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	if size > r.budgets.FlowCached {
		return nil, true, nil
	}
	data, err := readAll(f, size)
	if err != nil {
		return nil, false, err
	}
	if sum(data) != p.SHA256 {
		return nil, false, errChanged
	}
	var held int64
	err = parser.ReadFlow(bytes.NewReader(data), size, func(e parser.Entry) error {
		if held += int64(len(e.Data)); held > r.budgets.FlowCached {
			return errTooMuch
		}
		entries = append(entries, e.Data)
		return nil
	})
	if errors.Is(err, errTooMuch) {
		return nil, true, nil // inflates past the budget: streamed
	}
	return entries, false, err
}

// writeStreamed puts a big flow's files in place reading it entry by
// entry, committing a slice of files each time FlowCached bytes are
// queued, so that memory holds at most about one slice. The file is
// verified before (its SHA-256) and each entry as it comes (its own,
// recorded when checked): a file changed since it was checked stops the
// writing at the first changed entry (errChanged); what was written before
// it was the checked bytes. Files already in place count as written, so
// writeStreamed may be run again after a failure or a crash.
func (r *Router) writeStreamed(p *plan) error {
	f, size, err := r.openFlow(r.original(p))
	if err != nil {
		return err
	}
	defer f.Close()
	if got, err := hashFile(f); err != nil {
		return err
	} else if got != p.SHA256 {
		return errChanged
	}
	byEntry := map[int][]write{}
	var b outbox.Batch
	for _, w := range p.Writes {
		if w.Entry >= 0 {
			byEntry[w.Entry] = append(byEntry[w.Entry], w)
		}
	}
	var queued int64
	seq := 0
	err = parser.ReadFlow(f, size, func(e parser.Entry) error {
		for _, w := range byEntry[seq] {
			if w.SHA256 != "" && sum(e.Data) != w.SHA256 {
				return errChanged
			}
			b.Add(filepath.Join(r.cfg.Root, w.Dir), w.Name, e.Data)
			queued += int64(len(e.Data))
		}
		delete(byEntry, seq)
		seq++
		if queued < r.budgets.FlowCached {
			return nil
		}
		err := b.Commit(0)
		b, queued = outbox.Batch{}, 0
		return err
	})
	if err != nil {
		return err
	}
	for e := range byEntry {
		return fmt.Errorf("entry %d of %s not found", e, p.WorkName)
	}
	for _, w := range p.Writes {
		if w.Entry == generated {
			b.Add(filepath.Join(r.cfg.Root, w.Dir), w.Name, w.Data)
		}
	}
	return b.Commit(0)
}

// archiveChecked moves finished flows' originals from work/ to archive/,
// each verified first against the SHA-256 it was checked with: one that
// changed since (its deliveries were made from the checked bytes) goes to
// quarantine/ instead, with an error for the operators, so that the
// archive never holds what was not checked.
func (r *Router) archiveChecked(plans []*plan) error {
	var names, changed []string
	for _, p := range plans {
		if r.changed(p) {
			r.cfg.Log.Error("flow's file changed after it was checked; delivered as checked, its file kept in quarantine/ instead of archive/",
				"flow", p.FlowID, "partner", p.Partner, "file", p.Name, "sha256", p.SHA256)
			changed = append(changed, p.WorkName)
			continue
		}
		names = append(names, p.WorkName)
	}
	return errors.Join(r.archive(names), r.quarantine(changed))
}

// changed reports whether a plan's file in work/ is there and no longer
// has the SHA-256 it was checked with (a file never hashed, too big to be
// read, is not checked).
func (r *Router) changed(p *plan) bool {
	if p.SHA256 == "" {
		return false
	}
	f, _, err := r.openFlow(filepath.Join(r.mb.Work(), p.WorkName))
	if err != nil {
		return false // gone already: archived by a previous run
	}
	defer f.Close()
	got, err := hashFile(f)
	return err == nil && got != p.SHA256
}

// archive moves finished flows' originals from work/ to archive/.
func (r *Router) archive(names []string) error {
	return r.moveOriginals(names, r.mb.Archive())
}

// quarantine moves quarantined flows' originals from work/ to quarantine/,
// created when first needed, readable by the hub's account alone.
func (r *Router) quarantine(names []string) error {
	if len(names) == 0 {
		return nil
	}
	dir := r.quarantineDir()
	if _, err := os.Stat(dir); err != nil {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := fsx.SyncDir(r.cfg.Root); err != nil {
			return err
		}
	}
	return r.moveOriginals(names, dir)
}

func (r *Router) quarantineDir() string { return filepath.Join(r.cfg.Root, "quarantine") }

// moveOriginals moves originals from work/ to dir, durably. An original
// already moved is skipped.
func (r *Router) moveOriginals(names []string, dir string) error {
	if len(names) == 0 {
		return nil
	}
	var errs []error
	for _, n := range names {
		err := os.Rename(filepath.Join(r.mb.Work(), n), filepath.Join(dir, n))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, fsx.SyncDir(dir), fsx.SyncDir(r.mb.Work()))
	return errors.Join(errs...)
}
