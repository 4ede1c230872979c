package beacon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zkvlabs/zkv/devnet/beacon/consensus"
	"github.com/zkvlabs/zkv/devnet/beacon/execution"
)

// Node is the devnet beacon node. Create it with New, serve it with Run (or mount Handler).
// Its methods are safe for concurrent use.
//
// Errors its API returns: 400 with the check that failed for anything it refuses (a bad
// signature, a wrong domain or fork, a committee it is not in, a slashable message, a block from
// the wrong proposer, a malformed or oversized body), 404 for what it does not have, 405/415/406
// for methods and content types it does not serve, 503 before genesis for block production.
type Node struct {
	cfg     Config
	log     *slog.Logger
	preset  consensus.Preset
	gen     *Genesis
	exec    *execution.Chain
	builder *builderClient
	events  *eventHub
	metrics *metrics
	done    chan struct{}
	doneMu  sync.Once

	keyDir, passwordFile string
	byPubkey             map[phase0.BLSPubKey]phase0.ValidatorIndex // built once, under mu

	mu sync.Mutex
	st state
}

// state is everything the node learns after genesis, guarded by Node.mu.
type state struct {
	blocks         map[phase0.Root]*blockRec
	head, genesis  *blockRec
	finalMix       map[phase0.Epoch][32]byte
	processedEpoch phase0.Epoch
	ffg            consensus.FFG
	ffgAt          map[phase0.Epoch]consensus.FFG // the checkpoints at the start of each epoch
	votes          votes
	seen           map[phase0.ValidatorIndex][]attRecord
	aggregates     map[aggKey]*aggregate
	epochs         map[phase0.Epoch]*epochInfo
	syncCommittees map[uint64][]phase0.ValidatorIndex
	syncMsgs       map[syncKey]*syncAgg
	liveness       map[phase0.Epoch]map[phase0.ValidatorIndex]bool
	exits          map[phase0.ValidatorIndex]phase0.Epoch
	exitPool       map[phase0.ValidatorIndex]*phase0.SignedVoluntaryExit
	feeRecipients  map[phase0.ValidatorIndex]bellatrix.ExecutionAddress
	registrations  map[phase0.BLSPubKey]*apiv1.SignedValidatorRegistration
	proposals      map[phase0.Slot]*proposal
	attrsSent      map[phase0.Slot]phase0.Root // head each slot's attributes were announced on
}

// New derives the genesis (and writes the keystores when Config.KeystoreDir is set). It starts
// nothing: Run serves. A node given a BuilderURL holds its builder client until Run returns or
// Close is called.
func New(ctx context.Context, cfg Config) (n *Node, _ error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	gen := cfg.genesis
	if gen == nil {
		if gen, err = DeriveGenesis(ctx, cfg.Mnemonic, cfg.Validators); err != nil {
			return nil, err
		}
	}
	n = &Node{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "devnet-beacon"),
		preset:  devnetPreset(cfg.Preset),
		gen:     gen,
		events:  newEventHub(),
		metrics: newMetrics(),
		done:    make(chan struct{}),
	}
	if cfg.BuilderURL != "" {
		bc, err := newBuilderClient(cfg.BuilderURL, cfg.BuilderTimeout)
		if err != nil {
			return nil, err
		}
		n.builder = bc
		// A node New fails to make has no Run or Close to end the client.
		defer func() {
			if n == nil {
				bc.close()
			}
		}()
	}
	if cfg.KeystoreDir != "" {
		if n.keyDir, n.passwordFile, err = WriteKeystores(ctx, cfg.KeystoreDir, cfg.Mnemonic, gen); err != nil {
			return nil, err
		}
	}
	// Genesis time is set last, so key derivation and keystores (seconds for thousands of keys)
	// do not eat the delay clients were promised.
	if n.cfg.GenesisTime.IsZero() {
		n.cfg.GenesisTime = n.cfg.Now().Add(n.cfg.GenesisDelay).Truncate(time.Second).Add(time.Second)
	}
	n.cfg.GenesisTime = n.cfg.GenesisTime.Truncate(time.Second)
	if n.exec, err = execution.NewChain(execution.Config{GenesisTime: uint64(n.cfg.GenesisTime.Unix()), ChainID: DevnetChainID}); err != nil {
		return nil, fmt.Errorf("execution chain: %w", err)
	}
	if err := n.initState(); err != nil {
		return nil, err
	}
	return n, nil
}

// DevnetChainID is the execution chain id of the devnet (the deposit contract's chain).
const DevnetChainID = 3133722

func (n *Node) initState() error {
	n.st = state{
		blocks:         map[phase0.Root]*blockRec{},
		finalMix:       map[phase0.Epoch][32]byte{},
		ffgAt:          map[phase0.Epoch]consensus.FFG{},
		votes:          votes{},
		seen:           map[phase0.ValidatorIndex][]attRecord{},
		aggregates:     map[aggKey]*aggregate{},
		epochs:         map[phase0.Epoch]*epochInfo{},
		syncCommittees: map[uint64][]phase0.ValidatorIndex{},
		syncMsgs:       map[syncKey]*syncAgg{},
		liveness:       map[phase0.Epoch]map[phase0.ValidatorIndex]bool{},
		exits:          map[phase0.ValidatorIndex]phase0.Epoch{},
		exitPool:       map[phase0.ValidatorIndex]*phase0.SignedVoluntaryExit{},
		feeRecipients:  map[phase0.ValidatorIndex]bellatrix.ExecutionAddress{},
		registrations:  map[phase0.BLSPubKey]*apiv1.SignedValidatorRegistration{},
		proposals:      map[phase0.Slot]*proposal{},
		attrsSent:      map[phase0.Slot]phase0.Root{},
	}
	g, err := n.genesisBlock()
	if err != nil {
		return err
	}
	n.st.blocks[g.root] = g
	n.st.head, n.st.genesis = g, g
	gc := consensus.Checkpoint{Epoch: 0, Root: g.root}
	n.st.ffg = consensus.FFG{PreviousJustified: gc, CurrentJustified: gc, Finalized: gc}
	n.st.ffgAt[0] = n.st.ffg
	return nil
}

// GenesisValidatorsRoot of the devnet.
func (n *Node) GenesisValidatorsRoot() phase0.Root { return n.gen.GenesisValidatorsRoot }

// GenesisTime of the devnet.
func (n *Node) GenesisTime() time.Time { return n.cfg.GenesisTime }

// Genesis is the devnet's validator set and keys (test helpers sign with them).
func (n *Node) Genesis() *Genesis { return n.gen }

// Preset is the preset the node runs.
func (n *Node) Preset() consensus.Preset { return n.preset }

// SlotTime is SECONDS_PER_SLOT.
func (n *Node) SlotTime() time.Duration { return n.cfg.SlotTime }

// Keystores returns where the keystores and their password file were written ("" when not).
func (n *Node) Keystores() (dir, passwordFile string) { return n.keyDir, n.passwordFile }

// currentSlot is the wall-clock slot (0 before genesis).
func (n *Node) currentSlot() phase0.Slot {
	d := n.cfg.Now().Sub(n.cfg.GenesisTime)
	if d < 0 {
		return 0
	}
	return phase0.Slot(d / n.cfg.SlotTime)
}

// CurrentSlot is the wall-clock slot (0 before genesis).
func (n *Node) CurrentSlot() phase0.Slot { return n.currentSlot() }

// slotStart is the wall-clock start of slot.
func (n *Node) slotStart(s phase0.Slot) time.Time {
	return n.cfg.GenesisTime.Add(time.Duration(s) * n.cfg.SlotTime)
}

// forkAt names the fork of epoch e: Electra from genesis, Fulu from its epoch.
func (n *Node) forkAt(e phase0.Epoch) spec.DataVersion {
	if n.cfg.FuluEpoch != nil && e >= *n.cfg.FuluEpoch {
		return spec.DataVersionFulu
	}
	return spec.DataVersionElectra
}

func (n *Node) forkVersionAt(e phase0.Epoch) phase0.Version {
	if n.forkAt(e) == spec.DataVersionFulu {
		return FuluForkVersion
	}
	return ElectraForkVersion
}

// Run serves the Beacon API on listener until ctx ends, and drives the slot clock (epoch
// processing, payload_attributes events). It returns nil on a clean stop.
func (n *Node) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: n.Handler(), ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); n.tick(ctx) }()
	n.log.Info("devnet beacon node serving", "url", "http://"+ln.Addr().String(), "validators", len(n.gen.Validators),
		"genesis_time", n.cfg.GenesisTime.Unix(), "slot_time", n.cfg.SlotTime, "slots_per_epoch", n.preset.SlotsPerEpoch)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	n.doneMu.Do(func() { close(n.done) })
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	wg.Wait()
	n.Close() // after Shutdown: requests it waited for may still have used the builder
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("beacon API server: %w", err)
	}
	return nil
}

// Close releases what the node holds beyond Run (its builder client) and ends its event
// streams. Run closes the node when it returns; a node served only through Handler is closed by
// its owner. It may be called more than once.
func (n *Node) Close() {
	n.doneMu.Do(func() { close(n.done) })
	if n.builder != nil {
		n.builder.close()
	}
}

// tick wakes at every slot start: it runs epoch processing on time (so finality events do not
// wait for a request) and announces the next slot's payload attributes for relays and builders.
func (n *Node) tick(ctx context.Context) {
	for {
		next := n.slotStart(n.currentSlot() + 1)
		if n.cfg.Now().Before(n.cfg.GenesisTime) {
			next = n.cfg.GenesisTime
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-n.done:
			t.Stop()
			return
		case <-t.C:
		}
		n.mu.Lock()
		n.advance()
		slot := n.currentSlot()
		n.metrics.slot.Set(float64(slot))
		n.metrics.finalized.Set(float64(n.st.ffg.Finalized.Epoch))
		n.metrics.justified.Set(float64(n.st.ffg.CurrentJustified.Epoch))
		n.announceAttributes(slot + 1)
		n.mu.Unlock()
	}
}

// metrics are the node's Prometheus collectors, on a registry of its own (Registry).
type metrics struct {
	reg                        *prometheus.Registry
	slot, finalized, justified prometheus.Gauge
	attestations               prometheus.Counter
	blocks                     *prometheus.CounterVec
	refused                    *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg:          prometheus.NewRegistry(),
		slot:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "beacon_head_slot", Help: "Current wall-clock slot of the devnet."}),
		finalized:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "beacon_finalized_epoch", Help: "Last finalized epoch."}),
		justified:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "beacon_current_justified_epoch", Help: "Current justified epoch."}),
		attestations: prometheus.NewCounter(prometheus.CounterOpts{Name: "zkv_devnet_attestations_accepted_total", Help: "Single attestations accepted."}),
		blocks:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_devnet_blocks_total", Help: "Blocks accepted, by payload path."}, []string{"path"}),
		refused:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_devnet_requests_refused_total", Help: "API requests refused, by endpoint."}, []string{"endpoint"}),
	}
	m.reg.MustRegister(m.slot, m.finalized, m.justified, m.attestations, m.blocks, m.refused)
	return m
}

// Registry is the node's metrics registry.
func (n *Node) Registry() *prometheus.Registry { return n.metrics.reg }
