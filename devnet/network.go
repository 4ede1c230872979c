package devnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/beacon/consensus"
	"github.com/zkvlabs/zkv/devnet/beacon/execution"
	"github.com/zkvlabs/zkv/devnet/builder"
	"github.com/zkvlabs/zkv/mev"
	"github.com/zkvlabs/zkv/pbs"
	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/keys"
)

// Defaults of Config.
const (
	DefaultValidators = 64
	DefaultEpochs     = 4
	DefaultSlotTime   = 2 * time.Second
	// DefaultNoBidShare is each builder's share of slots without a bid: with two builders about
	// one slot in eleven has no bid at all and is proposed locally.
	DefaultNoBidShare = 0.3
)

// Config sets up a Network. The zero value runs the defaults: 64 validators, 4 epochs of 2 s
// slots, one relay, two builders.
type Config struct {
	// Validators is the size of the genesis set (default DefaultValidators), split between two
	// validator clients (one when there is a single validator).
	Validators int
	// Slots is how long the network runs: until the start of this slot, whose block and epoch
	// processing are shown too. Zero: Epochs.
	Slots int
	// Epochs is the run length in epochs when Slots is zero (default DefaultEpochs).
	Epochs int
	// SlotTime is SECONDS_PER_SLOT, whole seconds (default DefaultSlotTime).
	SlotTime time.Duration
	// Relays is the number of zkv relays, 1 or 2 (default 1).
	Relays int
	// Builders is the number of simulated builders, 1 or 2 (default 2); each submits to every
	// relay.
	Builders int
	// NoBidShare is each builder's share of slots without a bid (default DefaultNoBidShare; a
	// negative value means 0: a bid for every slot).
	NoBidShare float64
	// Equivocate, when at least 0, asks validator Equivocate to make two different attestations
	// in one epoch. It needs the private attestations (Private): the pool must name the
	// validator from its evidence alone. Without Private it is recorded in the summary and has
	// no other effect. Set it to -1 (or leave it nil) for none.
	Equivocate *int
	// Dir holds the keystores, the relays' and the validator clients' databases. Empty: a
	// temporary directory removed when Run returns.
	Dir string
	// GenesisDelay leaves the parts time to start before genesis (default 4 s, 8 s with Private:
	// every validator's registration, with its identity proof, must reach the pool before it
	// seals epoch 0's root at genesis, or the validator's epoch-0 attestations cannot be proved).
	GenesisDelay time.Duration
	// Out receives the live view: one line per slot and the closing summary. Nil discards.
	Out io.Writer
	// Terminal redraws a status line under the slot lines (set it when Out is a terminal).
	Terminal bool
	// Logger receives the parts' logs; nil discards.
	Logger *slog.Logger
	// Private is the seam for private attestations (packages pool and validator/private): nil
	// runs the network without them.
	Private Private
}

// Private is what the network needs of the private-attestation parts: a pool it runs next to
// the others, the validator-client options that make each client prove its attestations and
// send the proofs to the pool, and the pool's counts for the live view and the summary.
type Private interface {
	// Run runs the pool until ctx ends; e names the network's endpoints.
	Run(ctx context.Context, e Endpoints) error
	// ValidatorOptions returns extra options for validator client i (0 or 1), holding the
	// validators in indices; equivocate is Config.Equivocate (-1: none).
	ValidatorOptions(i int, indices []phase0.ValidatorIndex, equivocate int) []client.Option
	// Counts are the pool's figures so far.
	Counts() PrivateCounts
}

// PrivateCounts are the pool's figures so far.
type PrivateCounts struct {
	ProofsVerified int `json:"proofs_verified"` // proofs the pool verified and recorded
	ProofsRefused  int `json:"proofs_refused"`  // proofs the pool refused (bad proof, unknown root, ...)
	Duplicates     int `json:"duplicates"`      // proofs sent again and recognised (counted once)
	Equivocations  int `json:"equivocations"`   // valid second proofs of a validator in one epoch
	// The validators' side (validator/private): attestations handed to the provers, proofs
	// made (the planted equivocation's second proof included), attestations left without a
	// proof (no membership path in time, a proving error, a full queue), attestations still to
	// be proved, proofs not yet acknowledged by the pool, and proofs given up unacknowledged.
	Attestations int `json:"attestations"`
	ProofsMade   int `json:"proofs_made"`
	ProofsFailed int `json:"proofs_failed"`
	ProofsToMake int `json:"proofs_to_make"`
	// Revoked counts attestations of keys the pool revoked on evidence (the equivocator's, from
	// the seal after its evidence on): by design they prove nothing any more.
	Revoked       int        `json:"attestations_revoked"`
	ProofsPending int        `json:"proofs_pending"`
	ProofsDropped int        `json:"proofs_dropped"`
	Evidence      []Evidence `json:"evidence"`
	// PoolRestarts counts the pool's restarts during the run (PrivateConfig.RestartPoolAt).
	PoolRestarts int `json:"pool_restarts,omitempty"`
}

// Evidence is an equivocation the pool found, as it names it.
type Evidence struct {
	Epoch          uint64 `json:"epoch"`
	ValidatorIndex uint64 `json:"validator_index"`
	Pubkey         string `json:"pubkey,omitempty"`
}

// Endpoints are the network's addresses, for the private-attestation seam and for clients run
// in other processes.
type Endpoints struct {
	Beacon string   // the beacon node's Beacon API
	Boost  string   // the boost sidecar's builder API (the beacon node's builder)
	Relays []string // the relays, http://0xPUBKEY@host:port
	Dir    string   // the data directory
	// Genesis is the devnet's validator set with its (public, devnet-only) secret keys.
	Genesis *beacon.Genesis
}

func (c Config) withDefaults() (Config, error) {
	if c.Validators == 0 {
		c.Validators = DefaultValidators
	}
	if c.Epochs == 0 {
		c.Epochs = DefaultEpochs
	}
	if c.SlotTime == 0 {
		c.SlotTime = DefaultSlotTime
	}
	if c.Relays == 0 {
		c.Relays = 1
	}
	if c.Builders == 0 {
		c.Builders = 2
	}
	if c.NoBidShare == 0 {
		c.NoBidShare = DefaultNoBidShare
	}
	if c.NoBidShare < 0 {
		c.NoBidShare = 0
	}
	if c.GenesisDelay == 0 {
		c.GenesisDelay = 4 * time.Second
		if c.Private != nil {
			c.GenesisDelay = 8 * time.Second
		}
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Validators < 1:
		return c, fmt.Errorf("devnet: %d validators, at least 1 is needed", c.Validators)
	case c.Slots < 0 || c.Epochs < 0:
		return c, fmt.Errorf("devnet: run length %d slots, %d epochs is negative", c.Slots, c.Epochs)
	case c.SlotTime < time.Second || c.SlotTime%time.Second != 0:
		return c, fmt.Errorf("devnet: slot time %v must be a whole number of seconds, at least 1", c.SlotTime)
	case c.Relays != 1 && c.Relays != 2:
		return c, fmt.Errorf("devnet: %d relays, 1 or 2 are supported", c.Relays)
	case c.Builders != 1 && c.Builders != 2:
		return c, fmt.Errorf("devnet: %d builders, 1 or 2 are supported", c.Builders)
	case c.NoBidShare > 1:
		return c, fmt.Errorf("devnet: no-bid share %v is above 1", c.NoBidShare)
	case c.Equivocate != nil && *c.Equivocate >= c.Validators:
		return c, fmt.Errorf("devnet: validator %d cannot equivocate: there are %d validators", *c.Equivocate, c.Validators)
	case c.GenesisDelay < 0:
		return c, fmt.Errorf("devnet: genesis delay %v is negative", c.GenesisDelay)
	}
	return c, nil
}

// Network is the whole devnet in one process, every part talking to the others over real
// protocols on 127.0.0.1: the devnet beacon node (devnet/beacon), simulated builders
// (devnet/builder) that bid for every slot at one or two zkv relays (mev, each on a badger
// database of its own), the boost sidecar (pbs) in front of the relays as the beacon node's
// builder, and two validator clients (validator/client, each with its own slashing-protection
// database) that split the validator keys and reach the beacon node through the standard Beacon
// API only.
//
// Create it with New and run it with Run, once. Run returns an error when a part fails to start
// or stops with an error; a chain that does not finalize is no error: Summary says so.
type Network struct {
	cfg   Config
	slots int

	mu      sync.Mutex
	summary *Summary
	started bool
}

// New checks cfg. It starts nothing: Run does.
func New(cfg Config) (*Network, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	slots := cfg.Slots
	if slots == 0 {
		slots = cfg.Epochs * int(consensus.Minimal.SlotsPerEpoch)
	}
	return &Network{cfg: cfg, slots: slots}, nil
}

// Slots is the slot at whose start the network stops.
func (n *Network) Slots() int { return n.slots }

// Summary is the closing summary of the last Run (nil before Run returned).
func (n *Network) Summary() *Summary {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.summary
}

// part is a running component: its Run's result once finished is closed.
type part struct {
	name     string
	err      error
	finished chan struct{}
}

// Run starts every part, shows the live view until the network reaches Config.Slots (or ctx
// ends: Ctrl-C), stops the validator clients, writes the closing summary from what the beacon
// node, the relays and the clients report, and stops the rest.
func (n *Network) Run(ctx context.Context) (err error) {
	n.mu.Lock()
	if n.started {
		n.mu.Unlock()
		return errors.New("devnet: Run called twice")
	}
	n.started = true
	n.mu.Unlock()
	cfg := n.cfg
	log := cfg.Logger
	dir := cfg.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "zkv-devnet-"); err != nil {
			return fmt.Errorf("devnet: data directory: %w", err)
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("devnet: data directory: %w", err)
	}

	// The infrastructure runs on a context of its own, so that after Ctrl-C the summary can still
	// be read from the beacon node and the relays; it ends when Run returns.
	infra, stopInfra := context.WithCancel(context.WithoutCancel(ctx))
	var parts []*part
	var wg sync.WaitGroup
	start := func(name string, run func(context.Context) error, c context.Context) *part {
		p := &part{name: name, finished: make(chan struct{})}
		wg.Go(func() { p.err = run(c); close(p.finished) })
		parts = append(parts, p)
		return p
	}
	var closers []func() error
	defer func() {
		stopInfra()
		wg.Wait()
		for _, p := range parts {
			if p.err != nil && err == nil {
				err = fmt.Errorf("devnet: %s: %w", p.name, p.err)
			}
		}
		for i := len(closers) - 1; i >= 0; i-- {
			if cerr := closers[i](); cerr != nil && err == nil {
				err = fmt.Errorf("devnet: %w", cerr)
			}
		}
	}()
	listen := func() (net.Listener, string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, "", fmt.Errorf("devnet: listen: %w", err)
		}
		return ln, "http://" + ln.Addr().String(), nil
	}

	// The boost listens first: its URL is the beacon node's builder.
	boostLn, boostURL, err := listen()
	if err != nil {
		return err
	}
	closers = append(closers, func() error { boostLn.Close(); return nil })
	nodeLn, nodeURL, err := listen()
	if err != nil {
		return err
	}
	node, err := beacon.New(infra, beacon.Config{Validators: cfg.Validators, SlotTime: cfg.SlotTime, GenesisDelay: cfg.GenesisDelay,
		KeystoreDir: filepath.Join(dir, "keystores"), BuilderURL: boostURL, Logger: log.With("part", "beacon")})
	if err != nil {
		nodeLn.Close()
		return fmt.Errorf("devnet: beacon node: %w", err)
	}
	start("beacon node", func(c context.Context) error { return node.Run(c, nodeLn) }, infra)

	// Relays, each with its own key and badger database.
	var relays []*mev.Relay
	var relayURLs, relayPlain []string
	for i := range cfg.Relays {
		sk, err := bls.GenerateSecretKey()
		if err != nil {
			return err
		}
		d, err := db.Open(db.Config{Dir: filepath.Join(dir, fmt.Sprintf("relay-%d", i+1)), Logger: log.With("part", "relay-db")})
		if err != nil {
			return fmt.Errorf("devnet: relay %d database: %w", i+1, err)
		}
		closers = append(closers, d.Close)
		bc, err := mev.NewBeaconClient(infra, []string{nodeURL}, log.With("part", "relay"))
		if err != nil {
			return fmt.Errorf("devnet: relay %d: %w", i+1, err)
		}
		r, err := mev.New(infra, mev.Config{SecretKey: sk, Beacon: bc, Store: mev.NewBadgerStore(d), BlockHasher: execution.BlockHash,
			GenesisForkVersion: &beacon.GenesisForkVersion, Logger: log.With("part", fmt.Sprintf("relay-%d", i+1)), Registerer: prometheus.NewRegistry()})
		if err != nil {
			return fmt.Errorf("devnet: relay %d: %w", i+1, err)
		}
		ln, plain, err := listen()
		if err != nil {
			return err
		}
		pk := r.Pubkey()
		relays = append(relays, r)
		relayPlain = append(relayPlain, plain)
		relayURLs = append(relayURLs, fmt.Sprintf("http://%#x@%s", pk[:], ln.Addr()))
		p := start(fmt.Sprintf("relay %d", i+1), func(c context.Context) error { return r.Run(c, ln) }, infra)
		select {
		case <-r.Ready():
		case <-p.finished:
			return fmt.Errorf("devnet: relay %d stopped: %v", i+1, p.err)
		case <-time.After(30 * time.Second):
			return fmt.Errorf("devnet: relay %d did not connect to the beacon node's events", i+1)
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	// The boost sidecar in front of the relays, served where the beacon node expects it.
	var entries []pbs.RelayEntry
	for _, u := range relayURLs {
		e, err := pbs.ParseRelayURL(u)
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	boost, err := pbs.NewBoost(infra, pbs.BoostConfig{Relays: entries, GenesisForkVersion: beacon.GenesisForkVersion, Logger: log.With("part", "boost")})
	if err != nil {
		return fmt.Errorf("devnet: boost: %w", err)
	}
	start("boost", func(c context.Context) error { return serve(c, boostLn, boost.Handler()) }, infra)

	// Builders bid at every relay.
	var builders []*builder.Builder
	for i := range cfg.Builders {
		b, err := builder.New(builder.Config{Name: fmt.Sprintf("builder-%d", i+1), Beacon: nodeURL, Relays: relayPlain,
			NoBidShare: cfg.NoBidShare, Seed: uint64(i + 1), Logger: log.With("part", fmt.Sprintf("builder-%d", i+1))})
		if err != nil {
			return fmt.Errorf("devnet: %w", err)
		}
		builders = append(builders, b)
		start(b.Name(), b.Run, infra)
	}

	ends := Endpoints{Beacon: nodeURL, Boost: boostURL, Relays: relayURLs, Dir: dir, Genesis: node.Genesis()}
	if cfg.Private != nil {
		start("private attestations", func(c context.Context) error { return cfg.Private.Run(c, ends) }, infra)
	}

	// Two validator clients split the keys, each with its own slashing-protection database;
	// they stop first (on ctx or at the end), with a grace for the duties in flight.
	vctx, stopValidators := context.WithCancel(ctx)
	defer stopValidators()
	keyDir, _ := node.Keystores()
	groups := splitKeys(cfg.Validators)
	col := newCollector()
	var vparts []*part
	equivocate := -1
	if cfg.Equivocate != nil {
		equivocate = *cfg.Equivocate
	}
	for i, g := range groups {
		kd := filepath.Join(dir, fmt.Sprintf("validator-%d", i+1), "keystores")
		if err := copyKeystores(keyDir, kd, g); err != nil {
			return fmt.Errorf("devnet: validator client %d: %w", i+1, err)
		}
		opts := []client.Option{client.WithBeaconNode(nodeURL), client.WithKeystores(kd, beacon.DefaultKeystorePassword),
			client.WithKDFLimits(keys.InsecureKDFLimits), client.WithDatabase(filepath.Join(dir, fmt.Sprintf("validator-%d", i+1), "db")),
			client.WithReports(col.add), client.WithDoppelganger(0), client.WithFeeRecipient(bellatrix.ExecutionAddress{0xfe, byte(i + 1)}),
			client.WithShutdownGrace(cfg.SlotTime), client.WithLogger(log.With("part", fmt.Sprintf("validator-%d", i+1)))}
		if cfg.Private != nil {
			opts = append(opts, cfg.Private.ValidatorOptions(i, g, equivocate)...)
		}
		svc, err := client.New(vctx, opts...)
		if err != nil {
			return fmt.Errorf("devnet: validator client %d: %w", i+1, err)
		}
		vparts = append(vparts, start(fmt.Sprintf("validator client %d", i+1), svc.Run, vctx))
	}

	stopAll := func() {
		stopValidators()
		for _, p := range vparts {
			<-p.finished
		}
	}
	v := &view{stopValidators: stopAll, cfg: cfg, node: node, nodeURL: nodeURL, relays: relayPlain, builders: builders, col: col, end: phase0.Slot(n.slots),
		out: cfg.Out, started: time.Now(), private: cfg.Private, equivocate: cfg.Equivocate}
	if err := v.init(infra); err != nil {
		return err
	}
	fmt.Fprintf(cfg.Out, "zkv devnet: %d validators in 2 validator clients, %d relay(s), %d builder(s), %v slots, until slot %d (epoch %d)\n",
		cfg.Validators, cfg.Relays, cfg.Builders, cfg.SlotTime, n.slots, uint64(n.slots)/uint64(node.Preset().SlotsPerEpoch))
	fmt.Fprintf(cfg.Out, "  beacon %s  boost %s  genesis %s  data %s\n", nodeURL, boostURL, node.GenesisTime().Format(time.TimeOnly), dir)
	for i, u := range relayURLs {
		fmt.Fprintf(cfg.Out, "  relay-%d %s\n", i+1, u)
	}
	stopped := v.follow(ctx, parts)
	stopAll()
	// The proofs of the last slots finish after the validators stopped: give them a few slots
	// to reach the pool before counting (not after an interrupt).
	if s, ok := cfg.Private.(interface{ Settle(context.Context) }); ok && ctx.Err() == nil {
		sctx, cancel := context.WithTimeout(infra, 90*time.Second)
		s.Settle(sctx)
		cancel()
	}
	sum := v.summarize(infra, stopped)
	n.mu.Lock()
	n.summary = sum
	n.mu.Unlock()
	v.writeSummary(sum)
	if stopped != "" && ctx.Err() == nil {
		return fmt.Errorf("devnet: %s", stopped)
	}
	return nil
}

// serve serves h on ln until ctx ends.
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// splitKeys gives the first half of the validators to client 1 and the rest to client 2.
func splitKeys(n int) [][]phase0.ValidatorIndex {
	if n == 1 {
		return [][]phase0.ValidatorIndex{{0}}
	}
	var a, b []phase0.ValidatorIndex
	for i := range n {
		if i < n/2 {
			a = append(a, phase0.ValidatorIndex(i))
		} else {
			b = append(b, phase0.ValidatorIndex(i))
		}
	}
	return [][]phase0.ValidatorIndex{a, b}
}

// keystoreName matches the devnet keystores' file names (EIP-2334 path m/12381/3600/i/0/0).
var keystoreName = regexp.MustCompile(`^keystore-m_12381_3600_(\d+)_0_0-.*\.json$`)

// copyKeystores copies the keystores of indices from src into dst.
func copyKeystores(src, dst string, indices []phase0.ValidatorIndex) error {
	want := map[uint64]bool{}
	for _, i := range indices {
		want[uint64(i)] = true
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	found := 0
	for _, e := range ents {
		m := keystoreName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		i, err := strconv.ParseUint(m[1], 10, 64)
		if err != nil || !want[i] {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			return err
		}
		found++
	}
	if found != len(indices) {
		return fmt.Errorf("found %d of %d keystores in %s", found, len(indices), src)
	}
	return nil
}
