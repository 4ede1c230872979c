package mev

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Bids are written behind the submission. A builder's submission is acknowledged once it is
// verified and in its auction; its record and payload reach the Store from a writer goroutine
// (Relay.Run), because a synced 350 KB write is most of a submission's cost (issue 14: decode,
// verify and store in 5 ms) and a bid lost in a crash costs nothing while the relay has not
// served it: the builder submits again. What must survive is the payload of every header the
// relay signed, so GetHeader writes the bid (or waits for its write) before the header leaves,
// and getPayload reads the Store only after that. The delivery record stays a synced write
// before the payload leaves (Store.Deliver).
//
// pendingBids bounds the bids accepted but not yet written (about 22 MB of 350 KB payloads).
// When the queue is full, or no writer runs, SubmitBlock writes the bid itself: the builder
// waits for the disk, which is the back-pressure a relay falling behind should apply.
const pendingBids = 64

// store writes b's record and payload to s durably, once: later calls return at once, a call
// concurrent with the write waits for it, and a failed write is tried again by the next call.
func (b *bid) store(ctx context.Context, s Store, m *metrics) error {
	b.storeMu.Lock()
	defer b.storeMu.Unlock()
	if b.payload == nil {
		return nil
	}
	start := time.Now()
	if err := s.PutBid(ctx, b.rec, b.payload); err != nil {
		m.bidWrites.WithLabelValues("failed").Inc()
		return err
	}
	m.bidWriteSecs.Observe(time.Since(start).Seconds())
	b.payload = nil // the Store holds it now
	return nil
}

// queueBid hands b to the writer, or writes it here when the writer's queue is full.
func (r *Relay) queueBid(ctx context.Context, b *bid) error {
	r.pendingMu.Lock()
	r.pending[b] = struct{}{}
	r.pendingMu.Unlock()
	select {
	case r.writes <- b:
		return nil
	default:
		r.m.bidWrites.WithLabelValues("inline").Inc()
		return r.storeBid(ctx, b)
	}
}

// storeBid writes b now (if it is not written yet) and forgets it as pending.
func (r *Relay) storeBid(ctx context.Context, b *bid) error {
	if err := b.store(ctx, r.cfg.Store, r.m); err != nil {
		return fmt.Errorf("%w: store bid: %v", ErrUnavailable, err)
	}
	r.pendingMu.Lock()
	delete(r.pending, b)
	r.pendingMu.Unlock()
	return nil
}

// storePending writes every bid still pending: the data API and a payload request that finds
// no bid in the Store call it, so that what the relay acknowledged is what they see.
func (r *Relay) storePending(ctx context.Context) error {
	r.pendingMu.Lock()
	bids := make([]*bid, 0, len(r.pending))
	for b := range r.pending {
		bids = append(bids, b)
	}
	r.pendingMu.Unlock()
	for _, b := range bids {
		if err := r.storeBid(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// writeBids writes queued bids until ctx ends, then writes what is left in the queue (a clean
// shutdown loses no acknowledged bid) and returns. Bids that queued up while a write was on the
// disk are written together, concurrently: badger merges concurrent commits into one log write
// and one sync, so a writer that falls behind catches up instead of paying a sync per bid. A
// failed write is logged; the bid stays pending, and GetHeader tries again before serving it.
func (r *Relay) writeBids(ctx context.Context) {
	wctx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	write := func(first *bid) {
		batch := []*bid{first}
	more:
		for len(batch) < writeBatch {
			select {
			case b := <-r.writes:
				batch = append(batch, b)
			default:
				break more
			}
		}
		for _, b := range batch {
			wg.Go(func() {
				r.m.bidWrites.WithLabelValues("writer").Inc()
				if err := r.storeBid(wctx, b); err != nil {
					r.log.Warn("store bid", "slot", b.rec.Trace.Slot, "block_hash", fmt.Sprintf("%#x", b.rec.Trace.BlockHash[:]), "error", err)
				}
			})
		}
		wg.Wait()
	}
	for {
		select {
		case b := <-r.writes:
			write(b)
		case <-ctx.Done():
			for {
				select {
				case b := <-r.writes:
					write(b)
				default:
					return
				}
			}
		}
	}
}

// writeBatch bounds the bids writeBids writes at once (about 6 MB of payloads).
const writeBatch = 16
