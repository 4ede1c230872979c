package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	eth2client "github.com/attestantio/go-eth2-client"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/validator/keys"
	"github.com/zkvlabs/zkv/validator/propconfig"
	"github.com/zkvlabs/zkv/validator/signer"
)

// BeaconNode is what the Service asks of a beacon node: go-eth2-client's providers for the
// standard Beacon API endpoints a validator client uses. go-eth2-client's HTTP client
// implements it.
type BeaconNode interface {
	eth2client.Service
	eth2client.SpecProvider
	eth2client.GenesisProvider
	eth2client.ForkScheduleProvider
	eth2client.ValidatorsProvider
	eth2client.EventsProvider
	eth2client.ProposerDutiesProvider
	eth2client.AttesterDutiesProvider
	eth2client.SyncCommitteeDutiesProvider
	eth2client.AttestationDataProvider
	eth2client.AttestationsSubmitter
	eth2client.AggregateAttestationProvider
	eth2client.AggregateAttestationsSubmitter
	eth2client.BeaconCommitteeSubscriptionsSubmitter
	eth2client.SyncCommitteeSubscriptionsSubmitter
	eth2client.ProposalProvider
	eth2client.ProposalSubmitter
	eth2client.BlindedProposalSubmitter
	eth2client.SyncCommitteeMessagesSubmitter
	eth2client.SyncCommitteeContributionProvider
	eth2client.SyncCommitteeContributionsSubmitter
	eth2client.BeaconBlockRootProvider
	eth2client.ProposalPreparationsSubmitter
	eth2client.ValidatorRegistrationsSubmitter
	eth2client.ValidatorLivenessProvider
	eth2client.VoluntaryExitSubmitter
}

// Defaults of the Service's options.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultShutdownGrace = 5 * time.Second
	DefaultGasLimit      = 36_000_000
)

// Report is one duty's outcome, given to the function set with WithReports (tests and metrics
// use it). Kind is "proposal", "attestation", "aggregate", "sync_message" or "contribution".
type Report struct {
	Slot   phase0.Slot
	Kind   string
	Done   int    // messages signed and accepted by the beacon node
	Failed int    // duties that produced no accepted message
	Path   string // proposals: "builder" or "local"
	Late   bool   // published after the duty's deadline in the slot (see the epoch summary)
	Err    error
}

// Option configures New.
type Option func(*options)

type options struct {
	beaconURLs    []string
	beaconNode    BeaconNode
	keystoreDir   string
	password      string
	passwordSet   bool
	kdfLimits     keys.KDFLimits
	dbDir         string
	graffiti      [32]byte
	boost         *uint64
	feeRecipient  bellatrix.ExecutionAddress
	gasLimit      uint64
	registrations bool
	log           *slog.Logger
	timeout       time.Duration
	grace         time.Duration
	progress      io.Writer
	reports       func(Report)
	now           func() time.Time
	doppelganger  int

	proposerConfig *propconfig.Config

	hook       AttestationHook // WithAttestationHook
	db         *db.DB          // WithDB
	metricsReg prometheus.Registerer
	breaker    BreakerConfig
}

// WithBeaconNode is the beacon node's Beacon API URL (http://host:port).
func WithBeaconNode(url string) Option { return WithBeaconNodes(url) }

// WithBeaconNodes is several beacon nodes' Beacon API URLs, the primary first. Reads go to the
// first healthy node and fail over to the next; attestations, aggregates, sync committee
// messages and blocks go to every healthy node; a node that failed is checked every quarter
// slot and used again, primary first, once it answers.
func WithBeaconNodes(urls ...string) Option {
	return func(o *options) { o.beaconURLs = append([]string(nil), urls...) }
}

// WithBeaconClient uses an already connected go-eth2-client service instead of dialling
// WithBeaconNode's URL.
func WithBeaconClient(bn BeaconNode) Option { return func(o *options) { o.beaconNode = bn } }

// WithKeystores loads every EIP-2335 keystore in dir, all opened with password.
func WithKeystores(dir, password string) Option {
	return func(o *options) { o.keystoreDir, o.password, o.passwordSet = dir, password, true }
}

// WithKDFLimits bounds the keystores' KDF parameters (default keys.DefaultKDFLimits; devnet
// keystores need keys.InsecureKDFLimits).
func WithKDFLimits(l keys.KDFLimits) Option { return func(o *options) { o.kdfLimits = l } }

// WithDatabase is the directory of the slashing-protection database (one process at a time).
func WithDatabase(dir string) Option { return func(o *options) { o.dbDir = dir } }

// WithGraffiti sets the graffiti of proposed blocks (at most 32 bytes).
func WithGraffiti(g [32]byte) Option { return func(o *options) { o.graffiti = g } }

// WithBuilderBoostFactor passes builder_boost_factor to produceBlockV3: 0 asks for a local
// block, 100 compares builder and local payloads at face value, nil leaves the beacon node's
// default.
func WithBuilderBoostFactor(f *uint64) Option { return func(o *options) { o.boost = f } }

// WithFeeRecipient is the execution address that receives the fees of proposed blocks.
func WithFeeRecipient(a bellatrix.ExecutionAddress) Option {
	return func(o *options) { o.feeRecipient = a }
}

// WithGasLimit is the gas limit registered with builders (default DefaultGasLimit).
func WithGasLimit(g uint64) Option { return func(o *options) { o.gasLimit = g } }

// WithBuilderRegistrations turns the once-an-epoch builder registrations on (default) or off.
func WithBuilderRegistrations(on bool) Option { return func(o *options) { o.registrations = on } }

// WithLogger sets the logger; default discards.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithTimeout bounds block production, block submission and the validators query (default
// DefaultTimeout); every other Beacon API request (duties, attestation data, submissions) is
// bounded by the smaller of it and a third of a slot, so that a slow node leaves time to ask
// the next.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithShutdownGrace is how long Run lets duties in flight finish once its context ends (default
// DefaultShutdownGrace); 0 abandons them at once, as a crash would.
func WithShutdownGrace(d time.Duration) Option { return func(o *options) { o.grace = d } }

// WithProgress shows a progress bar while keystores load, when w is a terminal.
func WithProgress(w io.Writer) Option { return func(o *options) { o.progress = w } }

// WithReports calls f with the outcome of every duty, from the duty's goroutine (f must be safe
// for concurrent use and quick).
func WithReports(f func(Report)) Option { return func(o *options) { o.reports = f } }

// WithDoppelganger sets how many whole epochs after the start the client only watches the
// beacon node's liveness endpoint for its validators before it signs anything (default
// DefaultDoppelgangerEpochs); 0 turns the protection off.
func WithDoppelganger(epochs int) Option { return func(o *options) { o.doppelganger = epochs } }

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Service runs validator duties. Create it with New and run it with Run, once.
type Service struct {
	o   options
	log *slog.Logger

	// Set by Run before any duty starts.
	bn      BeaconNode
	nodes   *fallback // nil with WithBeaconClient
	net     *signer.Network
	sig     *signer.Signer
	spec    chainSpec
	genesis time.Time
	vals    map[phase0.ValidatorIndex]phase0.BLSPubKey
	indices []phase0.ValidatorIndex

	mu      sync.Mutex
	duties  map[phase0.Epoch]*epochDuties
	heads   map[phase0.Slot]*headSignal
	blinded map[phase0.Slot]bool
	stats   map[phase0.Epoch]*epochStats
	refetch chan struct{}
	stop    <-chan struct{} // Run's ctx.Done(): no new duty phase starts once it is closed

	prop      *propconfig.Config // SetProposerConfig swaps it
	held      []phase0.BLSPubKey // the loaded keys, once Run has them
	regs      []*registration    // signed builder registrations, sent every epoch
	regsStale bool               // the config changed: sign the registrations again

	m   *metrics
	brk *breaker

	km keyState // keys added and removed while running, proposer overrides (keymanager.go)
}

// New checks the options. It starts nothing and loads nothing: Run does.
func New(_ context.Context, opts ...Option) (*Service, error) {
	return newService(true, opts)
}

// newService checks the options; needDB is false for Exit, which signs nothing slashable.
func newService(needDB bool, opts []Option) (*Service, error) {
	o := options{breaker: DefaultBreakerConfig, registrations: true, timeout: DefaultTimeout, grace: DefaultShutdownGrace, gasLimit: DefaultGasLimit,
		doppelganger: DefaultDoppelgangerEpochs}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case len(o.beaconURLs) == 0 && o.beaconNode == nil:
		return nil, errors.New("client: no beacon node specified")
	case slices.Contains(o.beaconURLs, ""):
		return nil, errors.New("client: empty beacon node URL")
	case o.keystoreDir == "":
		return nil, errors.New("client: no keystore directory specified")
	case !o.passwordSet || o.password == "":
		return nil, errors.New("client: no keystore password specified")
	case needDB && o.dbDir == "" && o.db == nil:
		return nil, errors.New("client: no slashing protection database specified")
	case o.timeout <= 0:
		return nil, fmt.Errorf("client: request timeout %v is not positive", o.timeout)
	case o.grace < 0:
		return nil, fmt.Errorf("client: shutdown grace %v is negative", o.grace)
	case o.gasLimit == 0:
		return nil, errors.New("client: gas limit is zero")
	case o.doppelganger < 0:
		return nil, fmt.Errorf("client: %d doppelganger epochs", o.doppelganger)
	case o.breaker.Consecutive < 0 || o.breaker.PerEpoch < 0:
		return nil, fmt.Errorf("client: builder circuit breaker thresholds %d and %d: want 0 (off) or more", o.breaker.Consecutive, o.breaker.PerEpoch)
	}
	m, err := newMetrics(o.metricsReg)
	if err != nil {
		return nil, fmt.Errorf("client: register metrics: %w", err)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.reports == nil {
		o.reports = func(Report) {}
	}
	return &Service{o: o, log: o.log.With("component", "validator"),
		duties: map[phase0.Epoch]*epochDuties{}, heads: map[phase0.Slot]*headSignal{},
		blinded: map[phase0.Slot]bool{}, stats: map[phase0.Epoch]*epochStats{}, refetch: make(chan struct{}, 1),
		stop: make(chan struct{}), prop: o.proposerConfig, m: m, brk: newBreaker(o.breaker)}, nil
}
