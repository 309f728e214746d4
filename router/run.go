package router

import (
	"context"
	"os"
	"slices"
	"sync"
	"time"

	"flowgate/flows"
)

// Run processes claimed flows from in until ctx is done, in rounds of what
// has arrived, each bounded by MaxBatch flows, RoundBytes of files and
// RoundEntries documents (see takeRound and processRound). A round in
// progress when ctx ends is finished, within drain; what is still queued
// stays in work/ for the next start.
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
		n := r.takeRound(queue)
		// The round finishes even if ctx ends meanwhile, within drain.
		rctx, cancel := roundContext(ctx, drain)
		failed, notDone, rest := r.processRound(rctx, queue[:n])
		cancel()
		queue = append(slices.Clone(rest), queue[n:]...)
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

// takeRound returns how many flows from the head of queue make the next
// round: at most MaxBatch, and RoundBytes of files by their size (the
// first flow whatever its size; a flow over its sender's max_file_size is
// never read and counts nothing).
func (r *Router) takeRound(queue []flows.Claimed) int {
	var total int64
	n := 0
	for ; n < len(queue) && n < r.cfg.MaxBatch; n++ {
		// The size the intake fstat'ed at claim; a flow resumed from work/
		// at start has none, and is looked at now.
		size := queue[n].Size
		if size == 0 {
			if fi, err := os.Lstat(queue[n].Path); err == nil {
				size = fi.Size()
			}
		}
		if limit := r.maxFileSize(queue[n].Partner); limit > 0 && size > limit {
			size = 0
		}
		if n > 0 && total+size > r.budgets.RoundBytes {
			break
		}
		total += size
	}
	return n
}

// roundContext is the context of a round: not cancelled when ctx is, so
// that a round in progress is finished, but drain after ctx ends. Before
// ctx ends a round has no deadline (each flow's check has flow_timeout).
func roundContext(ctx context.Context, drain time.Duration) (context.Context, context.CancelFunc) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var timer *time.Timer
	var mu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		timer = time.AfterFunc(drain, cancel)
		mu.Unlock()
	})
	return rctx, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}
