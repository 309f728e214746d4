package router

import (
	"context"
	"time"

	"flowgate/flows"
)

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
