package client

import (
	"sync"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// BreakerConfig sets the builder circuit breaker: while the chain misses blocks, proposals ask
// the beacon node for a local block (builder_boost_factor 0) instead of a builder's.
//
// Why: when the builder network fails (a relay serves headers it cannot unblind, a builder sends
// invalid blocks), every proposer that uses it misses its slot; the chain shows it as a run of
// slots without blocks. Beacon nodes guard against it in the same way: Lighthouse falls back to
// the local payload after --builder-fallback-skips (default 3) skipped slots in a row or
// --builder-fallback-skips-per-epoch (default 8) in the last SLOTS_PER_EPOCH slots; Prysm after
// more than --max-builder-consecutive-missed-slots (3: the current slot minus the highest
// received block's) or more than --max-builder-epoch-missed-slots (5) in the last epoch; Teku
// after more than 5 faults in a 32-slot window or more than 3 in a row. zkv's validator client
// applies the same rule itself, so it also protects proposals made through a beacon node that
// has no breaker: the defaults are 3 missed slots in a row (all three agree) and 6 missed slots
// in the last epoch (Prysm's and Teku's "more than 5"; Lighthouse's 8 is laxer).
type BreakerConfig struct {
	// Consecutive opens the breaker when at least this many slots in a row, right before the
	// proposal's slot, have no block; 0 turns this rule off.
	Consecutive int
	// PerEpoch opens the breaker when at least this many of the SLOTS_PER_EPOCH slots before the
	// proposal's slot have no block; 0 turns this rule off.
	PerEpoch int
}

// DefaultBreakerConfig is the breaker's default: see BreakerConfig.
var DefaultBreakerConfig = BreakerConfig{Consecutive: 3, PerEpoch: 6}

// WithBuilderCircuitBreaker sets the builder circuit breaker's thresholds (default
// DefaultBreakerConfig; BreakerConfig{} turns the breaker off).
func WithBuilderCircuitBreaker(c BreakerConfig) Option { return func(o *options) { o.breaker = c } }

// breaker tracks which slots have blocks, from the beacon node's head events, and opens when too
// many are missing. A slot counts as missed only once the client has watched it: the slots before
// the client subscribed to head events are unknown and count as present, so that a restart never
// trips it. A block of a slot that a reorg later drops still counts as present.
type breaker struct {
	cfg BreakerConfig

	mu       sync.Mutex
	from     phase0.Slot // the first slot watched; 0 until watchFrom
	watching bool
	seen     map[phase0.Slot]bool // slots that had a head event
	open     bool
}

func newBreaker(cfg BreakerConfig) *breaker {
	return &breaker{cfg: cfg, seen: map[phase0.Slot]bool{}}
}

// watchFrom starts counting missed slots from slot on.
func (b *breaker) watchFrom(slot phase0.Slot) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.from, b.watching = slot, true
}

// observe records a block of slot (a head event).
func (b *breaker) observe(slot phase0.Slot) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen[slot] = true
}

func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}

// update counts the missed slots before slot (at most window of them) and opens or closes the
// breaker; changed says whether it did either.
func (b *breaker) update(slot phase0.Slot, window uint64) (open, changed bool, consecutive, missed int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cfg.Consecutive == 0 && b.cfg.PerEpoch == 0 {
		return false, false, 0, 0
	}
	lo := phase0.Slot(0)
	if uint64(slot) > window {
		lo = slot - phase0.Slot(window)
	}
	for s := range b.seen {
		if s < lo {
			delete(b.seen, s)
		}
	}
	if b.watching {
		lo = max(lo, b.from)
	} else {
		lo = slot
	}
	run := true
	for s := slot; s > lo; {
		s--
		if s == 0 || b.seen[s] { // slot 0 is genesis, which always has its block
			run = false
			continue
		}
		missed++
		if run {
			consecutive++
		}
	}
	open = (b.cfg.Consecutive > 0 && consecutive >= b.cfg.Consecutive) || (b.cfg.PerEpoch > 0 && missed >= b.cfg.PerEpoch)
	changed = open != b.open
	b.open = open
	return open, changed, consecutive, missed
}

// checkBreaker updates the builder circuit breaker at the start of slot, and logs and counts
// when it opens or closes.
func (s *Service) checkBreaker(slot phase0.Slot) {
	open, changed, consecutive, missed := s.brk.update(slot, s.spec.slotsPerEpoch)
	s.m.missedSlots.WithLabelValues("consecutive").Set(float64(consecutive))
	s.m.missedSlots.WithLabelValues("epoch").Set(float64(missed))
	if !changed {
		return
	}
	s.m.breakerOpen.Set(b2f(open))
	if open {
		s.m.breakerTrips.WithLabelValues("open").Inc()
		s.log.Warn("builder circuit breaker open: proposing local blocks until the chain is healthy", "slot", slot,
			"missed_in_a_row", consecutive, "missed_in_epoch", missed,
			"limit_in_a_row", s.o.breaker.Consecutive, "limit_in_epoch", s.o.breaker.PerEpoch)
		return
	}
	s.m.breakerTrips.WithLabelValues("closed").Inc()
	s.log.Info("builder circuit breaker closed: builder proposals resume", "slot", slot,
		"missed_in_a_row", consecutive, "missed_in_epoch", missed)
}
