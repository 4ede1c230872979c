package mev

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
)

// BuilderStatus is a builder's standing with the relay, as mev-boost-relay keeps it in its
// block_builder table (database/types.go BlockBuilderEntry: is_high_prio, is_blacklisted,
// is_optimistic, collateral, builder_id). A builder the relay has no status for is low priority,
// not blacklisted and not optimistic.
type BuilderStatus struct {
	Pubkey phase0.BLSPubKey
	// Blacklisted builders' submissions are refused (400, StepBuilder).
	Blacklisted bool
	// HighPriority submissions are admitted first when the relay is busy (the submission gate)
	// and are sent to the simulator with X-High-Priority, as mev-boost-relay does.
	HighPriority bool
	// Optimistic builders' bids of at most Collateral wei enter the auction before simulation
	// finishes; a failed late simulation or a failed delivery demotes the builder (Optimistic
	// becomes false, durably, with a Demotion record).
	Optimistic bool
	// Collateral in wei (nil: none).
	Collateral *uint256.Int
	// BuilderID groups keys of one builder that share a collateral (mev-boost-relay's
	// builder_id); informational here.
	BuilderID string
}

// covers reports whether an optimistic builder's collateral covers a bid of value.
func (s *BuilderStatus) covers(value *uint256.Int) bool {
	return s.Optimistic && s.Collateral != nil && !value.Gt(s.Collateral)
}

// builderStatusJSON is BuilderStatus on the wire and in the store, with mev-boost-relay's
// field names.
type builderStatusJSON struct {
	Pubkey       string       `json:"builder_pubkey"`
	HighPriority bool         `json:"is_high_prio"`
	Blacklisted  bool         `json:"is_blacklisted"`
	Optimistic   bool         `json:"is_optimistic"`
	Collateral   *uint256.Int `json:"collateral"`
	BuilderID    string       `json:"builder_id"`
}

// MarshalJSON encodes s with mev-boost-relay's field names (collateral a decimal string).
func (s BuilderStatus) MarshalJSON() ([]byte, error) {
	c := s.Collateral
	if c == nil {
		c = new(uint256.Int)
	}
	return json.Marshal(builderStatusJSON{Pubkey: fmt.Sprintf("%#x", s.Pubkey[:]), HighPriority: s.HighPriority,
		Blacklisted: s.Blacklisted, Optimistic: s.Optimistic, Collateral: c, BuilderID: s.BuilderID})
}

// UnmarshalJSON decodes what MarshalJSON writes.
func (s *BuilderStatus) UnmarshalJSON(b []byte) error {
	var j builderStatusJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if err := hexInto(s.Pubkey[:], j.Pubkey); err != nil {
		return fmt.Errorf("builder_pubkey: %w", err)
	}
	s.HighPriority, s.Blacklisted, s.Optimistic, s.Collateral, s.BuilderID = j.HighPriority, j.Blacklisted, j.Optimistic, j.Collateral, j.BuilderID
	return nil
}

// Demotion records why an optimistic builder lost its optimistic status (mev-boost-relay's
// builder_demotions table): the bid that failed and the failure.
type Demotion struct {
	Builder   phase0.BLSPubKey `json:"builder_pubkey"`
	Slot      phase0.Slot      `json:"slot"`
	BlockHash phase0.Hash32    `json:"block_hash"`
	Reason    string           `json:"reason"`
	At        time.Time        `json:"at"`
}

// BuilderStatus returns the relay's status for a builder (the default, low-priority and
// neither blacklisted nor optimistic, when none was set).
func (r *Relay) BuilderStatus(pk phase0.BLSPubKey) BuilderStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.builderStatusLocked(pk)
}

func (r *Relay) builderStatusLocked(pk phase0.BLSPubKey) BuilderStatus {
	if s := r.builders[pk]; s != nil {
		return *s
	}
	return BuilderStatus{Pubkey: pk, Collateral: new(uint256.Int)}
}

// SetBuilderStatus keeps st (durably) and applies it to the builder's next submissions.
func (r *Relay) SetBuilderStatus(ctx context.Context, st BuilderStatus) error {
	if st.Collateral == nil {
		st.Collateral = new(uint256.Int)
	}
	r.statusMu.Lock()
	defer r.statusMu.Unlock()
	if err := r.cfg.Store.PutBuilderStatus(ctx, &st); err != nil {
		return fmt.Errorf("%w: store builder status: %v", ErrUnavailable, err)
	}
	r.mu.Lock()
	r.builders[st.Pubkey] = &st
	r.mu.Unlock()
	r.log.Info("builder status", "builder", fmt.Sprintf("%#x", st.Pubkey[:]), "blacklisted", st.Blacklisted,
		"high_priority", st.HighPriority, "optimistic", st.Optimistic, "collateral", st.Collateral.Dec())
	return nil
}

// demote ends a builder's optimistic status after its bid (slot, hash) failed: the store
// records the demotion and the new status in one transaction, then the relay's memory follows.
// A store failure is logged as an error of the relay itself, and the builder is demoted in
// memory regardless: no further optimistic bid is accepted from it by this process.
func (r *Relay) demote(ctx context.Context, builder phase0.BLSPubKey, slot phase0.Slot, hash phase0.Hash32, reason string) {
	r.statusMu.Lock()
	defer r.statusMu.Unlock()
	d := &Demotion{Builder: builder, Slot: slot, BlockHash: hash, Reason: reason, At: r.cfg.Now()}
	r.mu.Lock()
	st := r.builderStatusLocked(builder)
	st.Optimistic = false
	r.builders[builder] = &st
	r.mu.Unlock()
	r.m.demotions.Inc()
	log := r.log.With("builder", fmt.Sprintf("%#x", builder[:]), "slot", slot, "block_hash", fmt.Sprintf("%#x", hash[:]), "reason", reason)
	if err := r.cfg.Store.Demote(ctx, d, &st); err != nil {
		log.Error("builder demoted in memory, but the demotion was not stored", "error", err)
		return
	}
	log.Warn("builder demoted: no more optimistic bids")
}

// Demotions lists the recorded demotions, oldest slot first.
func (r *Relay) Demotions(ctx context.Context) ([]*Demotion, error) {
	out := []*Demotion{}
	err := r.cfg.Store.Demotions(ctx, func(d *Demotion) bool { out = append(out, d); return true })
	return out, err
}

// AdminHandler is the relay's operator API, mev-boost-relay's internal API (services/api
// pathInternalBuilderStatus and pathInternalBuilderCollateral), meant for a separate listen
// address (zkv relay --admin) that only operators reach:
//
//	GET  /internal/v1/builder/{pubkey}                       the builder's status
//	POST /internal/v1/builder/{pubkey}?high_prio=&blacklisted=&optimistic=   set the flags given ("true" or "false")
//	POST /internal/v1/builder/collateral/{pubkey}?collateral=ID&value=WEI   set the builder id and collateral
//	GET  /internal/v1/builder/demotions                      every recorded demotion
//
// PUT and PATCH are accepted as POST. Every change is stored before it is answered.
func (r *Relay) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /internal/v1/builder/demotions", func(w http.ResponseWriter, req *http.Request) {
		ds, err := r.Demotions(req.Context())
		writeJSON(w, ds, err)
	})
	mux.HandleFunc("GET /internal/v1/builder/{pubkey}", func(w http.ResponseWriter, req *http.Request) {
		pk, err := pubkeyParam(req.PathValue("pubkey"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, r.BuilderStatus(pk), nil)
	})
	setFlags := func(w http.ResponseWriter, req *http.Request) {
		pk, err := pubkeyParam(req.PathValue("pubkey"))
		if err != nil {
			writeError(w, err)
			return
		}
		q := req.URL.Query()
		st := r.BuilderStatus(pk)
		for _, f := range []struct {
			name string
			v    *bool
		}{{"high_prio", &st.HighPriority}, {"blacklisted", &st.Blacklisted}, {"optimistic", &st.Optimistic}} {
			switch strings.ToLower(q.Get(f.name)) {
			case "":
			case "true", "1":
				*f.v = true
			case "false", "0":
				*f.v = false
			default:
				writeError(w, badRequest("%s=%q: want true or false", f.name, q.Get(f.name)))
				return
			}
		}
		writeJSON(w, st, r.SetBuilderStatus(req.Context(), st))
	}
	setCollateral := func(w http.ResponseWriter, req *http.Request) {
		pk, err := pubkeyParam(req.PathValue("pubkey"))
		if err != nil {
			writeError(w, err)
			return
		}
		q := req.URL.Query()
		v, err := uint256.FromDecimal(q.Get("value"))
		if err != nil {
			writeError(w, badRequest("value=%q: want the collateral in wei, a decimal integer", q.Get("value")))
			return
		}
		st := r.BuilderStatus(pk)
		st.Collateral = v
		st.BuilderID = q.Get("collateral")
		writeJSON(w, st, r.SetBuilderStatus(req.Context(), st))
	}
	for _, m := range []string{"POST", "PUT", "PATCH"} {
		mux.HandleFunc(m+" /internal/v1/builder/{pubkey}", setFlags)
		mux.HandleFunc(m+" /internal/v1/builder/collateral/{pubkey}", setCollateral)
	}
	return mux
}

func pubkeyParam(s string) (phase0.BLSPubKey, error) {
	var pk phase0.BLSPubKey
	if err := hexInto(pk[:], s); err != nil {
		return pk, badRequest("invalid builder pubkey: %v", err)
	}
	return pk, nil
}

// priorityGate bounds the submissions checked at once and, when they queue, admits
// high-priority builders' first (mev-boost-relay sends them to the simulator's high-priority
// queue; here the whole check waits in line). Waiters of one class are served in arrival order.
type priorityGate struct {
	mu        sync.Mutex
	free      int
	high, low []chan struct{}
}

func newPriorityGate(n int) *priorityGate { return &priorityGate{free: n} }

// acquire waits for a slot; it returns ctx's error if ctx ends first (holding nothing).
func (g *priorityGate) acquire(ctx context.Context, high bool) error {
	g.mu.Lock()
	if g.free > 0 {
		g.free--
		g.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	if high {
		g.high = append(g.high, ch)
	} else {
		g.low = append(g.low, ch)
	}
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		select {
		case <-ch: // handed a slot meanwhile: give it on
			g.releaseLocked()
		default:
			g.high = removeWaiter(g.high, ch)
			g.low = removeWaiter(g.low, ch)
		}
		return ctx.Err()
	}
}

func (g *priorityGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked()
}

func (g *priorityGate) releaseLocked() {
	switch {
	case len(g.high) > 0:
		close(g.high[0])
		g.high = g.high[1:]
	case len(g.low) > 0:
		close(g.low[0])
		g.low = g.low[1:]
	default:
		g.free++
	}
}

// waiting is the number of submissions waiting for a slot.
func (g *priorityGate) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.high) + len(g.low)
}

func removeWaiter(ws []chan struct{}, ch chan struct{}) []chan struct{} {
	for i, w := range ws {
		if w == ch {
			return append(ws[:i], ws[i+1:]...)
		}
	}
	return ws
}
