package private

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
)

// item is one proof waiting for a pool's acknowledgement.
type item struct {
	seq   uint64
	epoch uint64
	claim prover.Claim
	root  [32]byte
}

// outbox holds what one pool has not acknowledged yet, and its goroutine sends it: the
// registrations (the latest per key) and the proofs, oldest first, in batches. A connection
// failure keeps everything for the next try; nothing here waits on another pool.
type outbox struct {
	s    *Service
	name string
	pool Pool
	log  *slog.Logger
	wake chan struct{}

	mu      sync.Mutex
	regs    map[phase0.BLSPubKey]registry.Registration
	pending []item // in seq order
	seq     uint64
	down    bool
}

func newOutbox(s *Service, p NamedPool) *outbox {
	return &outbox{s: s, name: p.Name, pool: p.Pool, log: s.log.With("pool", p.Name), wake: make(chan struct{}, 1),
		regs: map[phase0.BLSPubKey]registry.Registration{}}
}

func (o *outbox) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) addRegistration(reg registry.Registration) {
	o.mu.Lock()
	o.regs[reg.Pubkey] = reg
	o.mu.Unlock()
	o.poke()
}

// add queues proofs. Over MaxPending the oldest are dropped (Stats.DroppedFull).
func (o *outbox) add(items []item) {
	if len(items) == 0 {
		return
	}
	o.mu.Lock()
	for _, it := range items {
		o.seq++
		it.seq = o.seq
		o.pending = append(o.pending, it)
	}
	if over := len(o.pending) - o.s.cfg.MaxPending; over > 0 {
		o.pending = append(o.pending[:0:0], o.pending[over:]...)
		o.s.c.droppedFull.Add(uint64(over))
		o.log.Warn("pool outbox full: oldest proofs dropped", "dropped", over)
	}
	o.mu.Unlock()
	o.poke()
}

// dropBefore drops the proofs of epochs before epoch-1: the current epoch's are kept, and the
// previous one's, whose last slot is proved after the epoch ended.
func (o *outbox) dropBefore(epoch uint64) {
	if epoch < 2 {
		return
	}
	o.mu.Lock()
	kept := o.pending[:0]
	for _, it := range o.pending {
		if it.epoch+1 >= epoch {
			kept = append(kept, it)
		}
	}
	dropped := len(o.pending) - len(kept)
	clear(o.pending[len(kept):])
	o.pending = kept
	o.mu.Unlock()
	if dropped > 0 {
		o.s.c.droppedOld.Add(uint64(dropped))
		o.log.Warn("unacknowledged proofs of past epochs dropped", "dropped", dropped, "epoch", epoch)
	}
}

// run sends until ctx ends: at once when something is added, and every RetryInterval while
// anything is left.
func (o *outbox) run(ctx context.Context) {
	t := time.NewTicker(o.s.cfg.RetryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-t.C:
		}
		for o.flush(ctx) {
		}
	}
}

// flush sends the registrations, then one batch of proofs. It reports whether it should be
// called again at once (more proofs are waiting and the pool answered).
func (o *outbox) flush(ctx context.Context) bool {
	o.mu.Lock()
	regs := make([]registry.Registration, 0, len(o.regs))
	for _, r := range o.regs {
		regs = append(regs, r)
	}
	o.mu.Unlock()
	for _, r := range regs {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := o.pool.Register(rctx, r)
		cancel()
		if err != nil && !errors.Is(err, registry.ErrStaleRegistration) {
			if ctx.Err() == nil {
				o.log.Warn("registration not delivered", "pubkey", fmt.Sprintf("%#x", r.Pubkey[:8]), "error", err)
			}
			break // most likely the pool is down: the rest waits for the next try
		}
		o.mu.Lock()
		if cur, ok := o.regs[r.Pubkey]; ok && cur.Timestamp == r.Timestamp {
			delete(o.regs, r.Pubkey)
		}
		o.mu.Unlock()
		if err == nil {
			o.s.c.registered.Add(1)
		}
	}

	o.mu.Lock()
	n := min(len(o.pending), DefaultSubmitBatch)
	batch := append([]item(nil), o.pending[:n]...)
	o.mu.Unlock()
	if n == 0 {
		return false
	}
	claims := make([]prover.Claim, n)
	roots := make([][32]byte, n)
	for i := range batch {
		claims[i], roots[i] = batch[i].claim, batch[i].root
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	errs, err := o.pool.SubmitProofs(sctx, claims, roots)
	cancel()
	if err == nil && len(errs) != n {
		err = fmt.Errorf("pool answered %d results for %d proofs", len(errs), n)
	}
	o.mu.Lock()
	wasDown, pending := o.down, len(o.pending)
	o.down = err != nil
	o.mu.Unlock()
	if err != nil {
		if !wasDown && ctx.Err() == nil {
			o.log.Warn("pool unreachable: proofs kept for later", "pending", pending, "error", err)
		}
		return false
	}
	if wasDown {
		o.log.Info("pool back: resending kept proofs")
	}
	for i, e := range errs {
		if e != nil {
			o.s.c.rejected.Add(1)
			o.log.Warn("pool refused a proof", "epoch", batch[i].epoch, "error", e)
		} else {
			o.s.c.sent.Add(1)
		}
	}
	// Remove what was answered; dropBefore and add may have changed the list meanwhile, so
	// remove by sequence number.
	lo, hi := batch[0].seq, batch[n-1].seq
	o.mu.Lock()
	kept := o.pending[:0]
	for _, it := range o.pending {
		if it.seq < lo || it.seq > hi {
			kept = append(kept, it)
		}
	}
	clear(o.pending[len(kept):])
	o.pending = kept
	more := len(o.pending) > 0
	o.mu.Unlock()
	return more
}
