package devnet

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	eth2client "github.com/attestantio/go-eth2-client"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/pool"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
	"github.com/zkvlabs/zkv/transport"
	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/private"
)

// DefaultPrivateDepth is the registry depth of the devnet's private attestations: 256 leaves,
// room for the default 64 validators and growth, and a circuit whose keys set up in seconds.
const DefaultPrivateDepth = 8

// PrivateConfig configures the devnet's private attestations: a pool next to the other parts,
// and a private-attestation service in each validator client.
type PrivateConfig struct {
	// Depth is the registry depth (even; default DefaultPrivateDepth, raised to fit Validators).
	Depth int
	// Validators is the devnet's validator count (to size the registry).
	Validators int
	// KeyDir caches the prover's single-party (devnet-only) keys between runs; empty keeps
	// them in memory, so each run sets them up again.
	KeyDir string
	// RestartPoolAt, when above 0, stops the pool at the start of that slot and starts it
	// again on the same database and addresses after RestartDowntime (RestartPool).
	RestartPoolAt   uint64
	RestartDowntime time.Duration
	// Logger receives the pool's and the services' logs; nil discards.
	Logger *slog.Logger
}

// PrivateAttestations is the devnet's private-attestation seam filled with the real parts: a
// pool (package pool) on a QUIC port of 127.0.0.1 that owns the registry and seals a root per
// epoch by the beacon node's clock, and, in each validator client, a validator/private Service
// that proves every signed attestation and sends the proofs to the pool over QUIC. One
// prover serves both clients, as one process proves on every core.
type PrivateAttestations struct {
	cfg      PrivateConfig
	keys     *prover.Keys
	idKeys   *prover.IdentityKeys
	prv      *prover.Prover
	poolID   *transport.Identity
	clientID [2]*transport.Identity
	log      *slog.Logger

	ready   chan struct{} // closed once the pool serves (or failed to start)
	readyOK bool          // written before ready is closed, read after: the close orders them

	// poolMu guards the pool's current run and the figures kept across restarts; restartMu
	// serialises restarts.
	poolMu    sync.RWMutex
	run       *poolRun
	cached    PrivateCounts // the pool's figures as it stopped for a restart
	carried   PrivateCounts // refusals and duplicates of the runs before the current one
	restarts  int
	restartMu sync.Mutex

	mu        sync.Mutex
	beacon    *pool.Beacon
	dir       string
	addr      string
	httpURL   string
	bn        eth2client.ValidatorsProvider
	network   prover.Network
	genesis   map[phase0.BLSPubKey]uint64 // pubkey -> validator index
	secretOf  map[phase0.ValidatorIndex]*bls.SecretKey
	services  []*private.Service
	runCtx    context.Context
	group     *errgroup.Group
	poolStart time.Time
}

// NewPrivate sets up (or loads) the prover's and the identity proof's keys, so that the
// network starts with them ready.
func NewPrivate(cfg PrivateConfig) (*PrivateAttestations, error) {
	if cfg.Depth == 0 {
		cfg.Depth = DefaultPrivateDepth
		for cfg.Validators > 1<<cfg.Depth {
			cfg.Depth += 2
		}
	}
	if err := prover.CheckDepth(cfg.Depth); err != nil {
		return nil, fmt.Errorf("devnet: private attestations: %w", err)
	}
	if cfg.Validators > 1<<cfg.Depth {
		return nil, fmt.Errorf("devnet: private attestations: %d validators do not fit a registry of depth %d", cfg.Validators, cfg.Depth)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.KeyDir != "" {
		if err := os.MkdirAll(cfg.KeyDir, 0o700); err != nil {
			return nil, fmt.Errorf("devnet: prover key cache: %w", err)
		}
	}
	keys, _, err := prover.LoadKeys(prover.KeyConfig{Depth: cfg.Depth, CacheDir: cfg.KeyDir})
	if err != nil {
		return nil, fmt.Errorf("devnet: prover keys: %w", err)
	}
	idKeys, err := prover.LoadIdentityKeys(cfg.KeyDir, false)
	if err != nil {
		return nil, fmt.Errorf("devnet: identity proof keys: %w", err)
	}
	prv, err := prover.NewProver(keys, prover.ProverConfig{})
	if err != nil {
		return nil, fmt.Errorf("devnet: prover: %w", err)
	}
	p := &PrivateAttestations{cfg: cfg, keys: keys, idKeys: idKeys, prv: prv, log: log, ready: make(chan struct{})}
	if p.poolID, err = transport.GenerateIdentity(); err != nil {
		return nil, err
	}
	for i := range p.clientID {
		if p.clientID[i], err = transport.GenerateIdentity(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Depth is the registry depth in use.
func (p *PrivateAttestations) Depth() int { return p.cfg.Depth }

// PoolAddr is the pool's QUIC address and key (ADDR@PEERID), empty until the pool serves.
func (p *PrivateAttestations) PoolAddr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.addr == "" {
		return ""
	}
	return p.addr + "@" + p.poolID.ID().String()
}

// PoolHTTP is the URL of the pool's HTTP API, empty until the pool serves.
func (p *PrivateAttestations) PoolHTTP() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.httpURL
}

// Run runs the pool and the validators' private-attestation services until ctx ends.
func (p *PrivateAttestations) Run(ctx context.Context, e Endpoints) error {
	g, gctx := errgroup.WithContext(ctx)
	err := p.startPool(gctx, g, e)
	p.readyOK = err == nil
	close(p.ready)
	if err != nil {
		return err
	}
	werr := g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return werr
}

func (p *PrivateAttestations) startPool(ctx context.Context, g *errgroup.Group, e Endpoints) error {
	bn, err := pool.NewBeacon(ctx, e.Beacon, p.log.With("part", "pool"))
	if err != nil {
		return fmt.Errorf("devnet: pool: %w", err)
	}
	svc, err := eth2http.New(ctx, eth2http.WithAddress(e.Beacon), eth2http.WithLogLevel(zerolog.Disabled), eth2http.WithTimeout(10*time.Second))
	if err != nil {
		return fmt.Errorf("devnet: private attestations: beacon client: %w", err)
	}
	ec, ok := svc.(eth2client.ValidatorsProvider)
	if !ok {
		return errors.New("devnet: private attestations: beacon client cannot read validators")
	}
	genesis := map[phase0.BLSPubKey]uint64{}
	secretOf := map[phase0.ValidatorIndex]*bls.SecretKey{}
	if e.Genesis != nil {
		for i, v := range e.Genesis.Validators {
			genesis[v.Pubkey] = uint64(v.Index)
			if i < len(e.Genesis.Secrets) {
				secretOf[v.Index] = e.Genesis.Secrets[i]
			}
		}
	}
	p.mu.Lock()
	p.beacon, p.dir, p.bn, p.network, p.genesis, p.secretOf = bn, filepath.Join(e.Dir, "pool"), ec, bn.Network(), genesis, secretOf
	p.runCtx, p.group, p.poolStart = ctx, g, time.Now()
	p.mu.Unlock()
	run, err := p.openPool(ctx, "127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		return err
	}
	p.poolMu.Lock()
	p.run = run
	p.poolMu.Unlock()
	p.mu.Lock()
	p.addr, p.httpURL = run.quicAddr, "http://"+run.httpAddr
	p.mu.Unlock()
	if at := p.cfg.RestartPoolAt; at > 0 {
		clock := bn.Clock()
		g.Go(func() error {
			t := time.NewTimer(time.Until(clock.Genesis.Add(time.Duration(at) * clock.SlotDuration)))
			defer t.Stop()
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
			if err := p.RestartPool(ctx, p.cfg.RestartDowntime); err != nil && ctx.Err() == nil {
				return err
			}
			return nil
		})
	}
	return nil
}

// poolRun is one run of the pool: its server, database and listeners, stopped together.
type poolRun struct {
	srv      *pool.Server
	quicAddr string
	httpAddr string
	cancel   context.CancelFunc
	done     chan struct{} // closed once every part stopped and the database is closed
	stopping atomic.Bool   // set by RestartPool: the parts' end is no failure
}

// openPool opens the pool on its database (p.dir) and serves it on quicAddr and httpAddr
// (host:port, port 0 for any), until ctx ends or the run is stopped. A part that fails ends
// the devnet's private attestations (p.group), unless the run was being stopped.
func (p *PrivateAttestations) openPool(ctx context.Context, quicAddr, httpAddr string) (*poolRun, error) {
	p.mu.Lock()
	bn, dir, g := p.beacon, p.dir, p.group
	p.mu.Unlock()
	d, err := db.Open(db.Config{Dir: dir, Logger: p.log.With("part", "pool-db")})
	if err != nil {
		return nil, fmt.Errorf("devnet: pool db: %w", err)
	}
	reg, err := registry.Open(d.KV(db.Registrations), registry.Config{Depth: p.cfg.Depth, Network: bn.Network(),
		IdentityKey: p.idKeys.VerifyingKey(), Admit: registry.AdmitValidators(bn)})
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("devnet: pool registry: %w", err)
	}
	clock := bn.Clock()
	srv, err := pool.New(pool.Config{Key: p.keys.VerifyingKey(), Registry: reg, DB: d, Clock: &clock, Logger: p.log.With("part", "pool")})
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("devnet: pool: %w", err)
	}
	q, err := srv.QUICServer(p.poolID, transport.ServerConfig{Config: transport.Config{Logger: p.log.With("part", "pool-quic")},
		Peers: []transport.PeerID{p.clientID[0].ID(), p.clientID[1].ID()}})
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("devnet: pool quic: %w", err)
	}
	addr, err := q.Listen(quicAddr)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("devnet: pool quic: %w", err)
	}
	ln, err := net.Listen("tcp", httpAddr)
	if err != nil {
		q.Close()
		d.Close()
		return nil, fmt.Errorf("devnet: pool http: %w", err)
	}
	pctx, cancel := context.WithCancel(ctx)
	run := &poolRun{srv: srv, quicAddr: addr.String(), httpAddr: ln.Addr().String(), cancel: cancel, done: make(chan struct{})}
	pg, pctx := errgroup.WithContext(pctx)
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	pg.Go(func() error { return srv.Run(pctx) })
	pg.Go(func() error { return q.Run(pctx) })
	pg.Go(func() error { return d.Run(pctx) })
	pg.Go(func() error {
		<-pctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return hs.Shutdown(sctx)
	})
	pg.Go(func() error {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		// The database closes after every part that uses it has stopped.
		err := pg.Wait()
		cancel()
		d.Close()
		close(run.done)
		if run.stopping.Load() || ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("devnet: the pool stopped")
		}
		return err
	})
	return run, nil
}

// RestartPool stops the pool, keeps it down for down, and starts it again on the same
// database, QUIC address and key and HTTP address, while the validators keep attesting: their
// services keep the proofs the pool did not acknowledge and send them again once it is back
// (validator/private's outbox), and the pool answers a proof it recorded before the restart
// as a duplicate, so every proof is verified once. It returns once the pool serves again.
func (p *PrivateAttestations) RestartPool(ctx context.Context, down time.Duration) error {
	p.restartMu.Lock()
	defer p.restartMu.Unlock()
	p.poolMu.Lock()
	cur := p.run
	if cur == nil {
		p.poolMu.Unlock()
		return errors.New("devnet: no pool to restart")
	}
	// From here on Counts reads the figures kept below instead of the stopping pool.
	p.cached = p.poolCounts(cur.srv)
	cur.stopping.Store(true)
	p.poolMu.Unlock()
	p.log.Warn("pool: stopping for a restart", "down", down)
	cur.cancel()
	select {
	case <-cur.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-time.After(down):
	case <-ctx.Done():
		return ctx.Err()
	}
	p.mu.Lock()
	runCtx := p.runCtx
	p.mu.Unlock()
	run, err := p.openPool(runCtx, cur.quicAddr, cur.httpAddr)
	if err != nil {
		return fmt.Errorf("devnet: pool restart: %w", err)
	}
	p.poolMu.Lock()
	// Verified proofs and evidence are in the database, which the new pool counts from; the
	// refusals and duplicates of the old one are in its memory only.
	p.carried.ProofsRefused += p.cached.ProofsRefused
	p.carried.Duplicates += p.cached.Duplicates
	p.run = run
	p.restarts++
	p.poolMu.Unlock()
	p.log.Warn("pool: restarted", "quic", run.quicAddr)
	return nil
}

// ValidatorOptions gives validator client i a private-attestation service for the keys of
// indices, connected to the pool; it waits for the pool to serve.
func (p *PrivateAttestations) ValidatorOptions(i int, indices []phase0.ValidatorIndex, equivocate int) []client.Option {
	select {
	case <-p.ready:
	case <-time.After(2 * time.Minute):
		p.log.Error("private attestations: the pool did not start in time; client runs without them", "client", i)
		return nil
	}
	ok := p.readyOK
	if !ok || i < 0 || i >= len(p.clientID) {
		return nil
	}
	svc, err := p.newService(i, indices, equivocate)
	if err != nil {
		p.log.Error("private attestations: service not started", "client", i, "err", err)
		return nil
	}
	return []client.Option{client.WithAttestationHook(svc)}
}

func (p *PrivateAttestations) newService(i int, indices []phase0.ValidatorIndex, equivocate int) (*private.Service, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	secrets, err := p.secrets(indices)
	if err != nil {
		return nil, err
	}
	pc, err := pool.NewClient(p.clientID[i], pool.ClientConfig{Addr: p.addr, Server: p.poolID.ID(),
		// A pool that restarts is back within seconds: the default backoff of up to 30 s
		// would keep the proofs waiting for several slots of a devnet's short ones.
		Config: transport.Config{MaxBackoff: time.Second}})
	if err != nil {
		return nil, err
	}
	var eq []phase0.BLSPubKey
	for j, idx := range indices {
		if int(idx) == equivocate {
			eq = append(eq, phase0.BLSPubKey(secrets[j].PublicKey().Bytes()))
		}
	}
	svc, err := private.New(private.Config{Keys: secrets, Prover: p.prv, IdentityKeys: p.idKeys, Network: p.network,
		Pools: []private.NamedPool{{Name: "pool", Pool: pc}}, Balances: private.BeaconBalances(p.bn), Equivocate: eq,
		RetryInterval: 250 * time.Millisecond, Logger: p.log.With("part", fmt.Sprintf("private-%d", i+1))})
	if err != nil {
		pc.Close()
		return nil, err
	}
	ctx := p.runCtx
	p.group.Go(func() error {
		err := pc.Run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		return err
	})
	p.group.Go(func() error {
		err := svc.Run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		return err
	})
	p.services = append(p.services, svc)
	return svc, nil
}

// secrets finds the devnet keys of indices (the beacon node's genesis, p.mu held).
func (p *PrivateAttestations) secrets(indices []phase0.ValidatorIndex) ([]*bls.SecretKey, error) {
	out := make([]*bls.SecretKey, len(indices))
	for j, idx := range indices {
		sk, ok := p.secretOf[idx]
		if !ok {
			return nil, fmt.Errorf("no devnet key for validator %d", idx)
		}
		out[j] = sk
	}
	return out, nil
}

// Counts are the pool's figures so far, with the evidence named by validator index. While the
// pool restarts they are its figures from just before it stopped.
func (p *PrivateAttestations) Counts() PrivateCounts {
	p.mu.Lock()
	services := append([]*private.Service(nil), p.services...)
	p.mu.Unlock()
	p.poolMu.RLock()
	var c PrivateCounts
	switch {
	case p.run == nil:
		p.poolMu.RUnlock()
		return c
	case p.run.stopping.Load():
		c = p.cached
		c.Evidence = append([]Evidence(nil), c.Evidence...)
	default:
		c = p.poolCounts(p.run.srv)
		c.ProofsRefused += p.carried.ProofsRefused
		c.Duplicates += p.carried.Duplicates
	}
	c.PoolRestarts = p.restarts
	p.poolMu.RUnlock()
	for _, s := range services {
		st := s.Stats()
		c.Attestations += int(st.Attestations)
		c.ProofsMade += int(st.Proved)
		c.ProofsFailed += int(st.Failed)
		c.Revoked += int(st.Revoked)
		c.ProofsToMake += int(st.Attestations) - (int(st.Proved) - int(st.Planted)) - int(st.Failed) - int(st.Revoked)
		c.ProofsPending += int(st.Proved) - int(st.Sent) - int(st.Rejected) - int(st.DroppedOld) - int(st.DroppedFull)
		c.ProofsDropped += int(st.DroppedOld) + int(st.DroppedFull)
	}
	return c
}

// poolCounts reads srv's figures and evidence (poolMu held, the pool not stopping: its
// database is open).
func (p *PrivateAttestations) poolCounts(srv *pool.Server) PrivateCounts {
	var c PrivateCounts
	for _, e := range srv.Counts() {
		c.ProofsVerified += int(e.Verified)
		c.ProofsRefused += int(e.Refused)
		c.Duplicates += int(e.Duplicates)
		c.Equivocations += int(e.Equivocations)
	}
	evs, err := srv.Evidence()
	if err != nil {
		p.log.Warn("pool evidence", "err", err)
	}
	p.mu.Lock()
	genesis := p.genesis
	p.mu.Unlock()
	for _, e := range evs {
		// A key outside the genesis set cannot register (the registry admits validators only);
		// should one appear it is named by key, with an index no validator has.
		ev := Evidence{Epoch: e.Epoch, Pubkey: e.Pubkey, ValidatorIndex: math.MaxUint64}
		var pk phase0.BLSPubKey
		if b, err := hex.DecodeString(strings.TrimPrefix(e.Pubkey, "0x")); err == nil && len(b) == len(pk) {
			copy(pk[:], b)
			if idx, ok := genesis[pk]; ok {
				ev.ValidatorIndex = idx
			}
		}
		c.Evidence = append(c.Evidence, ev)
	}
	return c
}

// Settle waits, up to ctx, until every proof made has been answered by the pool (or given up)
// and no new proof has been made for a second: the proofs of the last slots, which finish after
// the validators stopped, are then in the counts.
func (p *PrivateAttestations) Settle(ctx context.Context) {
	last, since := -1, time.Now()
	for {
		c := p.Counts()
		if c.ProofsMade != last {
			last, since = c.ProofsMade, time.Now()
		}
		if c.ProofsToMake <= 0 && c.ProofsPending <= 0 && time.Since(since) >= time.Second {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
