package mev

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/pbs"
)

// BlockHasher computes an execution block's hash from its payload, the parent beacon block root
// and the execution requests (EIP-4788, EIP-7685: neither is in the payload). With one, the relay
// checks that a submission's block hash commits to the slot's parent beacon block root; without,
// that check is left to simulation.
type BlockHasher func(p *deneb.ExecutionPayload, parentBeaconBlockRoot phase0.Root, requests *electra.ExecutionRequests) (phase0.Hash32, error)

// Config configures a Relay.
type Config struct {
	// SecretKey signs the relay's bids. Required.
	SecretKey *bls.SecretKey
	// Beacon is the relay's view of the chain. Required.
	Beacon Beacon
	// Store keeps bids, payloads, deliveries and registrations. Required.
	Store Store
	// BlockHasher, optional: see BlockHasher.
	BlockHasher BlockHasher
	// Logger; nil discards.
	Logger *slog.Logger
	// Registerer, when set, receives the relay's Prometheus collectors.
	Registerer prometheus.Registerer
	// Now is the clock; default time.Now.
	Now func() time.Time
	// MaxBodyBytes caps a submission; default MaxSubmissionBytes (15 MiB).
	MaxBodyBytes int64
	// GenesisForkVersion, when set, is the network the relay is for: a beacon node of another
	// network is refused at New.
	GenesisForkVersion *phase0.Version
	// MaxRegistrationSkew is how far in the future a registration's timestamp may be; default
	// 10 s.
	MaxRegistrationSkew time.Duration
	// Simulator, optional, executes each submission's block before its bid is accepted (or,
	// for an optimistic builder whose collateral covers the bid, after: see BuilderStatus).
	Simulator Simulator
	// MaxConcurrentSubmissions bounds the submissions checked at once; more wait, high-priority
	// builders' first. Default 4 × GOMAXPROCS.
	MaxConcurrentSubmissions int
}

// Relay is an MEV-boost-compatible relay. Errors its methods return: *SubmissionError (a refused
// submission, with the step), ErrNoBid, ErrEquivocation, ErrBadRequest, ErrUnavailable,
// pbs.ErrNotAcceptable and pbs.ErrUnsupportedMediaType, each wrapped with detail.
type Relay struct {
	cfg    Config
	spec   *ChainSpec
	domain phase0.Domain
	pubkey phase0.BLSPubKey
	log    *slog.Logger
	ver    *groupVerifier
	m      *metrics

	mu         sync.Mutex
	seq        uint64
	duties     map[phase0.Slot]*apiv1.ProposerDuty
	dutyEpochs map[phase0.Epoch]bool
	attrs      map[phase0.Slot]map[phase0.Hash32]*Attributes
	regs       map[phase0.BLSPubKey]*builderapiv1.SignedValidatorRegistration
	auctions   map[auctionKey]*auction
	delivered  map[phase0.Slot]*Delivery
	headSlot   phase0.Slot

	deliverMu sync.Mutex // serialises payload releases

	writes    chan *bid // accepted bids for writeBids, at most pendingBids
	pendingMu sync.Mutex
	pending   map[*bid]struct{} // accepted bids the Store may not hold yet

	top *topBidPublisher // set by QUICServer; guarded by mu

	builders map[phase0.BLSPubKey]*BuilderStatus // guarded by mu
	statusMu sync.Mutex                          // serialises status changes (store, then memory)
	gate     *priorityGate
	late     sync.WaitGroup // optimistic bids' simulations, waited for by Run

	ready     chan struct{}
	readyOnce sync.Once
}

// New checks cfg, reads the chain's spec from the beacon node and the registrations and recent
// deliveries from the store. It starts nothing: Run follows the chain and serves HTTP.
func New(ctx context.Context, cfg Config) (*Relay, error) {
	switch {
	case cfg.SecretKey == nil:
		return nil, errors.New("mev: no secret key specified")
	case cfg.Beacon == nil:
		return nil, errors.New("mev: no beacon node specified")
	case cfg.Store == nil:
		return nil, errors.New("mev: no store specified")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = MaxSubmissionBytes
	}
	if cfg.MaxConcurrentSubmissions <= 0 {
		cfg.MaxConcurrentSubmissions = 4 * runtime.GOMAXPROCS(0)
	}
	if cfg.MaxRegistrationSkew <= 0 {
		cfg.MaxRegistrationSkew = 10 * time.Second
	}
	sp, err := cfg.Beacon.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("mev: read the chain spec: %w", err)
	}
	if v := cfg.GenesisForkVersion; v != nil && *v != sp.GenesisForkVersion {
		return nil, fmt.Errorf("mev: the beacon node's genesis fork version is %#x, the relay's network has %#x", sp.GenesisForkVersion[:], v[:])
	}
	r := &Relay{
		cfg: cfg, spec: sp, domain: pbs.BuilderDomain(sp.GenesisForkVersion),
		pubkey: phase0.BLSPubKey(cfg.SecretKey.PublicKey().Bytes()),
		log:    cfg.Logger.With("component", "relay"), ver: newGroupVerifier(64),
		duties: map[phase0.Slot]*apiv1.ProposerDuty{}, dutyEpochs: map[phase0.Epoch]bool{},
		attrs: map[phase0.Slot]map[phase0.Hash32]*Attributes{}, regs: map[phase0.BLSPubKey]*builderapiv1.SignedValidatorRegistration{},
		auctions: map[auctionKey]*auction{}, delivered: map[phase0.Slot]*Delivery{},
		ready:  make(chan struct{}),
		writes: make(chan *bid, pendingBids), pending: map[*bid]struct{}{},
		builders: map[phase0.BLSPubKey]*BuilderStatus{}, gate: newPriorityGate(cfg.MaxConcurrentSubmissions),
	}
	if r.m, err = newMetrics(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("mev: metrics: %w", err)
	}
	if err := r.registerQueues(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("mev: metrics: %w", err)
	}
	if err := cfg.Store.Registrations(ctx, func(reg *builderapiv1.SignedValidatorRegistration) bool {
		r.regs[reg.Message.Pubkey] = reg
		return true
	}); err != nil {
		return nil, fmt.Errorf("mev: load registrations: %w", err)
	}
	if err := cfg.Store.BuilderStatuses(ctx, func(st *BuilderStatus) bool {
		r.builders[st.Pubkey] = st
		return true
	}); err != nil {
		return nil, fmt.Errorf("mev: load builder statuses: %w", err)
	}
	// Deliveries of recent slots are kept in memory for the submission pipeline's check; the
	// store remains the authority when a payload is released.
	oldest := sp.SlotAt(cfg.Now())
	oldest -= min(oldest, phase0.Slot(2*sp.SlotsPerEpoch))
	if err := cfg.Store.Deliveries(ctx, func(d *Delivery) bool {
		if d.Slot >= oldest {
			r.delivered[d.Slot] = d
		}
		return true
	}); err != nil {
		return nil, fmt.Errorf("mev: load deliveries: %w", err)
	}
	return r, nil
}

// Pubkey is the relay's BLS public key (what proposers pin in the relay URL).
func (r *Relay) Pubkey() phase0.BLSPubKey { return r.pubkey }

// Ready is closed once the relay follows its beacon node's events (payload attributes sent
// before then are not seen, so submissions for their slots are refused).
func (r *Relay) Ready() <-chan struct{} { return r.ready }

// Spec is the chain spec the relay read from its beacon node.
func (r *Relay) Spec() *ChainSpec { return r.spec }

// Run follows the beacon node (head, payload attributes, duties), prunes old slots, and, when
// ln is not nil, serves the relay's HTTP API on it until ctx ends. It returns nil on a clean stop,
// after the simulations of optimistic bids still running have finished.
func (r *Relay) Run(ctx context.Context, ln net.Listener) error {
	defer r.late.Wait()
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		r.writeBids(ctx)
		return nil
	})
	g.Go(func() error {
		connected := func(string) { r.readyOnce.Do(func() { close(r.ready) }) }
		return r.cfg.Beacon.Follow(ctx, Events{Connected: connected, Head: r.onHead, PayloadAttributes: r.onAttributes})
	})
	g.Go(func() error {
		// Duties of the current and next epoch, then every slot: pruning and the next duties.
		for {
			now := r.spec.SlotAt(r.cfg.Now())
			e := r.spec.Epoch(now)
			for _, ep := range []phase0.Epoch{e, e + 1} {
				if err := r.loadDuties(ctx, ep); err != nil && ctx.Err() == nil {
					r.log.Warn("proposer duties", "epoch", ep, "error", err)
				}
			}
			r.prune(now)
			t := time.NewTimer(max(time.Until(r.spec.SlotStart(now+1)), 100*time.Millisecond))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
	})
	if ln != nil {
		srv := &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 5 * time.Second,
			BaseContext: func(net.Listener) context.Context { return ctx }}
		g.Go(func() error {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
		g.Go(func() error {
			r.log.Info("relay serving", "url", "http://"+ln.Addr().String(), "pubkey", fmt.Sprintf("%#x", r.pubkey[:]))
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("relay HTTP server: %w", err)
			}
			return nil
		})
	}
	return g.Wait()
}

func (r *Relay) onHead(slot phase0.Slot, _ phase0.Root) {
	r.mu.Lock()
	if slot > r.headSlot {
		r.headSlot = slot
		r.m.headSlot.Set(float64(slot))
	}
	r.mu.Unlock()
}

// Attributes returns the payload attributes the relay has seen for slot on parent (the
// execution block hash), which submissions for that slot are checked against.
func (r *Relay) Attributes(slot phase0.Slot, parent phase0.Hash32) (*Attributes, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.attrs[slot][parent]
	return a, ok
}

func (r *Relay) onAttributes(a *Attributes) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.attrs[a.Slot]
	if m == nil {
		m = map[phase0.Hash32]*Attributes{}
		r.attrs[a.Slot] = m
	}
	m[a.ParentBlockHash] = a
}

// loadDuties reads an epoch's proposer duties unless already known.
func (r *Relay) loadDuties(ctx context.Context, e phase0.Epoch) error {
	r.mu.Lock()
	known := r.dutyEpochs[e]
	r.mu.Unlock()
	if known {
		return nil
	}
	ds, err := r.cfg.Beacon.ProposerDuties(ctx, e)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range ds {
		if d != nil {
			r.duties[d.Slot] = d
		}
	}
	r.dutyEpochs[e] = true
	return nil
}

// duty returns the proposer duty of slot, reading its epoch's duties when needed.
func (r *Relay) duty(ctx context.Context, slot phase0.Slot) (*apiv1.ProposerDuty, error) {
	if err := r.loadDuties(ctx, r.spec.Epoch(slot)); err != nil {
		return nil, fmt.Errorf("%w: proposer duties of epoch %d: %v", ErrUnavailable, r.spec.Epoch(slot), err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.duties[slot]
	if d == nil {
		return nil, fmt.Errorf("no proposer duty for slot %d", slot)
	}
	return d, nil
}

// prune drops what no request can need any more: slots two epochs back.
func (r *Relay) prune(now phase0.Slot) {
	keep := phase0.Slot(2 * r.spec.SlotsPerEpoch)
	if now < keep {
		return
	}
	oldest := now - keep
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.attrs {
		if s < oldest {
			delete(r.attrs, s)
		}
	}
	for s := range r.duties {
		if s < oldest {
			delete(r.duties, s)
		}
	}
	for e := range r.dutyEpochs {
		if r.spec.Epoch(oldest) > e {
			delete(r.dutyEpochs, e)
		}
	}
	for k := range r.auctions {
		if k.slot < oldest {
			delete(r.auctions, k)
		}
	}
	for s := range r.delivered {
		if s < oldest {
			delete(r.delivered, s)
		}
	}
}
