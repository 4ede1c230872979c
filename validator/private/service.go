package private

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	eth2client "github.com/attestantio/go-eth2-client"
	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/pool"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
	"github.com/zkvlabs/zkv/validator/client"
)

// Pool is a private-attestation pool as the validator uses it. Package pool's Client
// implements it over QUIC; devnets and tests may plug an in-process pool.
type Pool interface {
	// Register sends a validator's signed registration; the pool's registry takes it at its
	// next seal.
	Register(ctx context.Context, reg registry.Registration) error
	// Member returns the validator's leaf path that leads to the registry root of epoch. The
	// pool seals each epoch's root when the epoch starts; before that, Member fails (retry).
	Member(ctx context.Context, pubkey [48]byte, epoch uint64) (registry.Member, error)
	// SubmitProofs sends proofs with the signing roots they are over. The per-item errors are
	// nil for a proof accepted or already known; the second return is a connection failure,
	// after which every proof is to be sent again.
	SubmitProofs(ctx context.Context, claims []prover.Claim, signingRoots [][32]byte) ([]error, error)
}

// NamedPool is a Pool with the name logs and Stats use for it (its address, say).
type NamedPool struct {
	Name string
	Pool Pool
}

// Balances gives validators' effective balances in gwei, the weight they register with.
type Balances interface {
	EffectiveBalances(ctx context.Context, pubkeys []phase0.BLSPubKey) (map[phase0.BLSPubKey]uint64, error)
}

// Store is where the prover's cache entries survive a restart: db.KV of the db's ProverCache
// bucket implements it.
type Store interface {
	Set(key, value []byte) error
	Iterate(prefix []byte, fn func(key, value []byte) error) error
}

// Defaults of Config.
const (
	DefaultQueueSize     = 64
	DefaultMaxPending    = 1 << 16
	DefaultRetryInterval = time.Second
	DefaultMemberWait    = 2 * time.Minute
	DefaultSubmitBatch   = 512
)

// Config configures a Service. Keys, Prover, IdentityKeys, Pools and Balances are required;
// the rest has defaults.
type Config struct {
	// Keys are the validators' BLS secret keys; attestations of other keys are ignored.
	Keys []*bls.SecretKey
	// Prover is the process's one prover (its keys decide the registry depth).
	Prover *prover.Prover
	// IdentityKeys prove the registrations' identities (prover.LoadIdentityKeys).
	IdentityKeys *prover.IdentityKeys
	// Network is the chain: genesis fork version and genesis validators root (NetworkOf).
	Network prover.Network
	// Pools receive every registration and every proof.
	Pools []NamedPool
	// Balances gives the registered weights (BeaconBalances over the beacon node).
	Balances Balances
	// MinWeight is the minimum weight each proof shows (public input); 0 shows nothing.
	MinWeight uint64
	// Store keeps the prover's cache across restarts; nil keeps it in memory only.
	Store Store
	// QueueSize bounds the slots waiting to be proved (default DefaultQueueSize).
	QueueSize int
	// MaxPending bounds each pool's unacknowledged proofs (default DefaultMaxPending).
	MaxPending int
	// RetryInterval spaces the retries of a pool that is down or has no root yet (default
	// DefaultRetryInterval).
	RetryInterval time.Duration
	// MemberWait is how long a slot waits for a pool to seal its epoch's root before its
	// proofs are given up (default DefaultMemberWait).
	MemberWait time.Duration
	// Equivocate lists keys that prove a second, different attestation in the first epoch
	// they attest: devnets and tests only (see the package doc).
	Equivocate []phase0.BLSPubKey
	// Logger; nil discards.
	Logger *slog.Logger
}

// Stats counts what the Service did; all counts since New.
type Stats struct {
	Attestations uint64 // attestations of the Service's keys handed to Attested
	Planted      uint64 // second proofs made for Config.Equivocate (each also in Proved)
	Queued       uint64 // slots handed to the prover
	QueueFull    uint64 // slots dropped because the queue was full (their attestations in Failed)
	Proved       uint64 // proofs made
	// Failed counts attestations without a proof: no membership path, a proving error, a full
	// queue. Attestations - (Proved - Planted) - Failed - Revoked are still to be proved.
	Failed uint64
	// Revoked counts attestations of keys a pool reports revoked (equivocation evidence zeroed
	// their leaves): they can prove nothing any more, by design, and are not asked again.
	Revoked     uint64
	Sent        uint64 // proofs a pool acknowledged (summed over pools)
	Rejected    uint64 // proofs a pool refused (per-item errors)
	DroppedOld  uint64 // unacknowledged proofs dropped because their epoch passed
	DroppedFull uint64 // unacknowledged proofs dropped because an outbox was full
	Registered  uint64 // registrations a pool acknowledged (summed over pools)
	CacheLoaded uint64 // cache entries imported at start
	CacheBad    uint64 // cache entries the prover refused at start
	CacheSaved  uint64 // cache entries written
}

type counters struct {
	attestations, planted, revoked, queued, queueFull, proved, failed, sent, rejected, droppedOld, droppedFull, registered,
	cacheLoaded, cacheBad, cacheSaved atomic.Uint64
}

// key is one validator the Service proves for.
type key struct {
	sk       *bls.SecretKey
	pub      phase0.BLSPubKey
	secret   fr.Element // prover.SecretFromBLS(sk)
	identity fr.Element // prover.IdentityCommitment(secret)
}

// Service proves the validator client's attestations and sends the proofs to pools. Create it
// with New, hand it to the client with client.WithAttestationHook, run it with Run.
type Service struct {
	cfg     Config
	log     *slog.Logger
	keys    map[phase0.BLSPubKey]*key
	order   []phase0.BLSPubKey
	equiv   map[phase0.BLSPubKey]bool
	queue   chan []client.SignedAttestation
	outs    []*outbox
	netID   fr.Element
	domain  [32]byte
	workers int
	c       counters

	// Owned by Run's goroutines.
	mu        sync.Mutex
	weights   map[phase0.BLSPubKey]uint64
	regTimes  map[phase0.BLSPubKey]uint64
	equivDone map[phase0.BLSPubKey]bool
	// members caches each key's path of the latest epoch it proved for: an epoch's root never
	// changes, but the pool answers only paths to the current tree, so a slot proved after the
	// next epoch's seal (a revocation or a registration changed the tree) uses the path
	// fetched while its epoch was current.
	members map[phase0.BLSPubKey]registry.Member
	// revokedKeys are keys a pool reported revoked: their later attestations are not proved.
	revokedKeys map[phase0.BLSPubKey]bool
	saved       map[fr.Element][32]byte                    // digest of the last stored cache entry per identity
	stored      map[phase0.BLSPubKey]registry.Registration // registrations of the last run (Store)
	epoch       uint64                                     // the latest epoch seen
	started     bool
}

// New checks the configuration and derives the keys' identities. It starts nothing.
func New(cfg Config) (*Service, error) {
	switch {
	case len(cfg.Keys) == 0:
		return nil, errors.New("private: no validator keys")
	case cfg.Prover == nil:
		return nil, errors.New("private: no prover")
	case cfg.IdentityKeys == nil:
		return nil, errors.New("private: no identity keys")
	case len(cfg.Pools) == 0:
		return nil, errors.New("private: no pool")
	case cfg.Balances == nil:
		return nil, errors.New("private: no source of effective balances")
	case cfg.QueueSize < 0 || cfg.MaxPending < 0 || cfg.RetryInterval < 0 || cfg.MemberWait < 0:
		return nil, errors.New("private: negative queue size, pending limit, retry interval or member wait")
	}
	for i, p := range cfg.Pools {
		if p.Pool == nil {
			return nil, fmt.Errorf("private: pool %d (%q) is nil", i, p.Name)
		}
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	if cfg.MemberWait == 0 {
		cfg.MemberWait = DefaultMemberWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, log: cfg.Logger.With("component", "private"), keys: map[phase0.BLSPubKey]*key{},
		equiv: map[phase0.BLSPubKey]bool{}, queue: make(chan []client.SignedAttestation, cfg.QueueSize),
		netID: cfg.Network.ID(), domain: registry.ComputeDomain(cfg.Network), workers: runtime.GOMAXPROCS(0),
		weights: map[phase0.BLSPubKey]uint64{}, regTimes: map[phase0.BLSPubKey]uint64{},
		equivDone: map[phase0.BLSPubKey]bool{}, members: map[phase0.BLSPubKey]registry.Member{}, revokedKeys: map[phase0.BLSPubKey]bool{}, saved: map[fr.Element][32]byte{},
		stored: map[phase0.BLSPubKey]registry.Registration{}}
	for i, sk := range cfg.Keys {
		if sk == nil {
			return nil, fmt.Errorf("private: key %d is nil", i)
		}
		k := &key{sk: sk, pub: phase0.BLSPubKey(sk.PublicKey().Bytes())}
		if _, dup := s.keys[k.pub]; dup {
			return nil, fmt.Errorf("private: key %#x given twice", k.pub[:8])
		}
		k.secret = prover.SecretFromBLS(sk)
		k.identity = prover.IdentityCommitment(k.secret)
		s.keys[k.pub] = k
		s.order = append(s.order, k.pub)
	}
	for _, pk := range cfg.Equivocate {
		if _, ok := s.keys[pk]; !ok {
			return nil, fmt.Errorf("private: equivocating key %#x is not one of the keys", pk[:8])
		}
		s.equiv[pk] = true
	}
	for _, p := range cfg.Pools {
		s.outs = append(s.outs, newOutbox(s, p))
	}
	return s, nil
}

// Stats returns the counts so far.
func (s *Service) Stats() Stats {
	c := &s.c
	return Stats{Attestations: c.attestations.Load(), Planted: c.planted.Load(), Revoked: c.revoked.Load(), Queued: c.queued.Load(), QueueFull: c.queueFull.Load(), Proved: c.proved.Load(),
		Failed: c.failed.Load(), Sent: c.sent.Load(), Rejected: c.rejected.Load(),
		DroppedOld: c.droppedOld.Load(), DroppedFull: c.droppedFull.Load(), Registered: c.registered.Load(),
		CacheLoaded: c.cacheLoaded.Load(), CacheBad: c.cacheBad.Load(), CacheSaved: c.cacheSaved.Load()}
}

// Attested implements client.AttestationHook: it queues the slot's attestations and returns at
// once. When the queue is full the slot is dropped (Stats.QueueFull): the prover has fallen a
// whole queue behind, and the BLS attestations must not wait for it.
func (s *Service) Attested(atts []client.SignedAttestation) {
	mine := make([]client.SignedAttestation, 0, len(atts))
	for _, a := range atts {
		if _, ok := s.keys[a.Pubkey]; ok && a.Data != nil && a.Data.Target != nil {
			mine = append(mine, a)
		}
	}
	if len(mine) == 0 {
		return
	}
	s.c.attestations.Add(uint64(len(mine)))
	select {
	case s.queue <- mine:
		s.c.queued.Add(1)
	default:
		s.c.queueFull.Add(1)
		s.c.failed.Add(uint64(len(mine)))
		s.log.Warn("private attestation queue full: slot not proved", "slot", mine[0].Data.Slot, "attestations", len(mine))
	}
}

// Run loads the prover cache, registers the keys with every pool and proves what Attested
// queues until ctx ends. It returns nil on a clean stop; a second call is an error.
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("private: Run called twice")
	}
	s.started = true
	s.mu.Unlock()
	s.loadCache()
	s.loadRegistrations()
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, o := range s.outs {
		wg.Go(func() { o.run(ctx) })
	}
	saves := make(chan savedEntry, s.cfg.QueueSize)
	wg.Go(func() { s.persist(ctx, saves) })
	// Registrations: the first at once, then whenever an epoch brings a new weight.
	refresh := make(chan struct{}, 1)
	refresh <- struct{}{}
	wg.Go(func() { s.registrations(ctx, refresh) })
	for {
		select {
		case <-ctx.Done():
			return nil
		case atts := <-s.queue:
			e := uint64(atts[0].Data.Target.Epoch)
			if s.advance(e) {
				select {
				case refresh <- struct{}{}:
				default:
				}
			}
			s.proveSlot(ctx, atts, saves)
		}
	}
}

// advance records the epoch of a slot being proved and reports whether it is a new one; the
// outboxes drop what is older than the previous epoch.
func (s *Service) advance(epoch uint64) bool {
	s.mu.Lock()
	newer := epoch > s.epoch
	if newer {
		s.epoch = epoch
	}
	s.mu.Unlock()
	if newer {
		for _, o := range s.outs {
			o.dropBefore(epoch)
		}
	}
	return newer
}

// registrations signs and sends a registration for every key whose weight is new, each time
// refresh fires (at start and at each new epoch).
func (s *Service) registrations(ctx context.Context, refresh <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-refresh:
		}
		for !s.register(ctx) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.cfg.RetryInterval):
			}
		}
	}
}

// register asks for the effective balances and registers every key whose weight changed. It
// reports false when the balances could not be read.
func (s *Service) register(ctx context.Context) bool {
	bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	bal, err := s.cfg.Balances.EffectiveBalances(bctx, s.order)
	cancel()
	if err != nil {
		s.log.Warn("effective balances", "error", err)
		return false
	}
	changed := 0
	for _, pk := range s.order {
		w, ok := bal[pk]
		if !ok || w == 0 {
			continue // not (yet) a validator: nothing to register
		}
		s.mu.Lock()
		old, known := s.weights[pk]
		ts := uint64(time.Now().Unix())
		if last := s.regTimes[pk]; ts <= last {
			ts = last + 1 // the registry takes only newer registrations of a key
		}
		s.mu.Unlock()
		if known && old == w {
			continue
		}
		s.mu.Lock()
		stored, ok := s.stored[pk]
		delete(s.stored, pk)
		s.mu.Unlock()
		if !known && ok && stored.Weight == w {
			// The registration of the last run still holds: send it again rather than sign a
			// new one (an identity proof per key is what a restart would otherwise cost).
			// A pool that has it answers ErrStaleRegistration, which counts as delivered.
			s.mu.Lock()
			s.weights[pk], s.regTimes[pk] = w, stored.Timestamp
			s.mu.Unlock()
			for _, o := range s.outs {
				o.addRegistration(stored)
			}
			continue
		}
		if ok && ts <= stored.Timestamp {
			ts = stored.Timestamp + 1
		}
		reg, err := registry.SignAt(s.cfg.IdentityKeys, s.keys[pk].sk, w, ts, s.domain)
		if err != nil {
			s.log.Error("sign registration", "pubkey", fmt.Sprintf("%#x", pk[:]), "error", err)
			continue
		}
		s.mu.Lock()
		s.weights[pk], s.regTimes[pk] = w, ts
		s.mu.Unlock()
		s.storeRegistration(reg)
		for _, o := range s.outs {
			o.addRegistration(reg)
		}
		changed++
	}
	if changed > 0 {
		s.log.Info("registrations signed", "keys", changed)
	}
	return true
}

// job is one request of a slot and where its proof goes.
type job struct {
	req     prover.Request
	key     *key
	epoch   uint64
	planted bool // the second proof of Config.Equivocate, not an attestation of its own
}

// proveSlot proves the slot's attestations a core-sized chunk at a time and hands each chunk's
// proofs to every outbox as soon as it is done.
func (s *Service) proveSlot(ctx context.Context, atts []client.SignedAttestation, saves chan<- savedEntry) {
	epoch := uint64(atts[0].Data.Target.Epoch)
	// One wait for the epoch's root per slot, not per attestation, so that a pool without it
	// holds the queue up for MemberWait at most.
	deadline := time.Now().Add(s.cfg.MemberWait)
	var jobs []job
	for _, a := range atts {
		k := s.keys[a.Pubkey]
		s.mu.Lock()
		_, signed := s.weights[a.Pubkey]
		s.mu.Unlock()
		if !signed {
			// No registration yet (the beacon node does not know the key, or has not answered):
			// no pool can have a path for it.
			s.c.failed.Add(1)
			continue
		}
		s.mu.Lock()
		revoked := s.revokedKeys[a.Pubkey]
		s.mu.Unlock()
		if revoked {
			s.c.revoked.Add(1)
			continue
		}
		m, err := s.member(ctx, a.Pubkey, epoch, deadline)
		if errors.Is(err, pool.ErrRevokedMember) {
			s.mu.Lock()
			s.revokedKeys[a.Pubkey] = true
			s.mu.Unlock()
			s.c.revoked.Add(1)
			s.log.Warn("key revoked by the pool (equivocation evidence): its attestations are no longer proved", "pubkey", fmt.Sprintf("%#x", a.Pubkey[:8]), "epoch", epoch)
			continue
		}
		if err != nil {
			s.c.failed.Add(1)
			if ctx.Err() == nil {
				s.log.Warn("no membership path: attestation not proved", "pubkey", fmt.Sprintf("%#x", a.Pubkey[:8]), "epoch", epoch, "error", err)
			}
			continue
		}
		req := prover.Request{Secret: k.secret, Weight: m.Weight, Path: m.Path, Root: m.Root, Epoch: epoch,
			SigningRoot: a.SigningRoot, MinWeight: s.cfg.MinWeight, Network: s.netID}
		jobs = append(jobs, job{req: req, key: k, epoch: epoch})
		if s.equiv[a.Pubkey] && s.claimEquivocation(a.Pubkey) {
			second, err := equivocate(a)
			if err != nil {
				s.log.Warn("equivocation", "error", err)
				continue
			}
			req.SigningRoot = second
			jobs = append(jobs, job{req: req, key: k, epoch: epoch, planted: true})
			s.log.Warn("planting an equivocation: a second proof for another attestation", "pubkey", fmt.Sprintf("%#x", a.Pubkey[:8]), "epoch", epoch)
		}
	}
	for lo := 0; lo < len(jobs); lo += s.workers {
		chunk := jobs[lo:min(lo+s.workers, len(jobs))]
		reqs := make([]prover.Request, len(chunk))
		for i := range chunk {
			reqs[i] = chunk[i].req
		}
		res, err := s.cfg.Prover.ProveMany(ctx, reqs)
		var items []item
		for i, r := range res {
			if r.Err != nil {
				if !chunk[i].planted {
					s.c.failed.Add(1)
				}
				if ctx.Err() == nil {
					s.log.Warn("prove attestation", "epoch", epoch, "error", r.Err)
				}
				continue
			}
			s.c.proved.Add(1)
			if chunk[i].planted {
				s.c.planted.Add(1)
			}
			items = append(items, item{epoch: epoch, claim: prover.Claim{Proof: *r.Proof, Statement: r.Statement}, root: chunk[i].req.SigningRoot})
			s.saveCache(chunk[i].key, saves)
		}
		for _, o := range s.outs {
			o.add(items)
		}
		if err != nil {
			return
		}
	}
}

// claimEquivocation reports whether pk's planted equivocation is still to be made.
func (s *Service) claimEquivocation(pk phase0.BLSPubKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.equivDone[pk] {
		return false
	}
	s.equivDone[pk] = true
	return true
}

// member asks the pools, in order, for pk's path to the root of epoch, until one answers or
// the deadline passes: a pool seals an epoch's root only once the epoch has started.
func (s *Service) member(ctx context.Context, pk phase0.BLSPubKey, epoch uint64, deadline time.Time) (registry.Member, error) {
	s.mu.Lock()
	m, ok := s.members[pk]
	s.mu.Unlock()
	if ok && m.Epoch == epoch {
		return m, nil
	}
	var last error
	for {
		for _, p := range s.cfg.Pools {
			mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			m, err := p.Pool.Member(mctx, pk, epoch)
			cancel()
			if permanent(err) {
				return registry.Member{}, fmt.Errorf("pool %s: %w", p.Name, err)
			}
			if err == nil {
				// Cache it under the asked epoch: the path leads to that epoch's root (the
				// member's own Epoch is that of the seal, which may be older).
				m.Epoch = epoch
				s.mu.Lock()
				s.members[pk] = m
				s.mu.Unlock()
				return m, nil
			}
			last = fmt.Errorf("pool %s: %w", p.Name, err)
		}
		if time.Now().After(deadline) {
			return registry.Member{}, last
		}
		select {
		case <-ctx.Done():
			return registry.Member{}, ctx.Err()
		case <-time.After(s.cfg.RetryInterval / 4):
		}
	}
}

// permanent reports a member refusal that asking again cannot change: the key is revoked, or
// the epoch's root is no longer the pool's current one (the path of that epoch is gone). Other
// failures (no root sealed yet, a pool that is down) are retried until the slot's deadline.
func permanent(err error) bool {
	return errors.Is(err, pool.ErrRevokedMember) || errors.Is(err, pool.ErrPathNotToRoot)
}

// NetworkOf reads the chain's genesis fork version and genesis validators root from a beacon
// node (Beacon API /eth/v1/beacon/genesis).
func NetworkOf(ctx context.Context, bn eth2client.GenesisProvider) (prover.Network, error) {
	resp, err := bn.Genesis(ctx, &api.GenesisOpts{})
	if err != nil {
		return prover.Network{}, fmt.Errorf("genesis: %w", err)
	}
	if resp.Data == nil {
		return prover.Network{}, errors.New("genesis: empty response")
	}
	return prover.Network{GenesisForkVersion: resp.Data.GenesisForkVersion, GenesisValidatorsRoot: resp.Data.GenesisValidatorsRoot}, nil
}

// BeaconBalances reads effective balances from a beacon node (Beacon API
// /eth/v1/beacon/states/head/validators).
func BeaconBalances(bn eth2client.ValidatorsProvider) Balances { return beaconBalances{bn} }

type beaconBalances struct{ bn eth2client.ValidatorsProvider }

// EffectiveBalances implements Balances.
func (b beaconBalances) EffectiveBalances(ctx context.Context, pks []phase0.BLSPubKey) (map[phase0.BLSPubKey]uint64, error) {
	resp, err := b.bn.Validators(ctx, &api.ValidatorsOpts{State: "head", PubKeys: pks})
	if err != nil {
		return nil, fmt.Errorf("validators: %w", err)
	}
	out := make(map[phase0.BLSPubKey]uint64, len(resp.Data))
	for _, v := range resp.Data {
		if v.Validator != nil {
			out[v.Validator.PublicKey] = uint64(v.Validator.EffectiveBalance)
		}
	}
	return out, nil
}
