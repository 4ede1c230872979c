package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
	"github.com/zkvlabs/zkv/transport"
)

// Defaults of Config.
const (
	DefaultVerifyBatch = 1024
	DefaultQueue       = 64
)

// ErrShuttingDown reports a call made while the server stops or after it has stopped.
var ErrShuttingDown = errors.New("pool: shutting down")

// Clock is the chain's clock: when each epoch starts.
type Clock struct {
	Genesis       time.Time
	SlotDuration  time.Duration
	SlotsPerEpoch uint64
}

// Epoch returns the epoch at t, and false before genesis.
func (c Clock) Epoch(t time.Time) (uint64, bool) {
	if t.Before(c.Genesis) || c.SlotDuration <= 0 || c.SlotsPerEpoch == 0 {
		return 0, false
	}
	return uint64(t.Sub(c.Genesis) / c.SlotDuration / time.Duration(c.SlotsPerEpoch)), true
}

// Config configures a Server. Key, Registry and DB are required.
type Config struct {
	// Key is the circuit's verifying key (prover.Keys.VerifyingKey) at the registry's depth.
	Key *prover.VerifyingKey
	// Registry is the pool's registry: its sealed roots are the only ones proofs may use,
	// registrations go into it, and equivocators are revoked in it.
	Registry *registry.Registry
	// DB keeps nullifiers and evidence (bucket db.Nullifiers).
	DB *db.DB
	// MinWeight is the least minimum weight a proof must show (prover.Verifier.MinWeight).
	MinWeight uint64
	// Clock, when set, makes Run seal the registry's root of each epoch as the epoch starts.
	// Without it the caller seals (Server.Seal).
	Clock *Clock
	// VerifyBatch is the most proofs verified together, across senders. Default 1024.
	VerifyBatch int
	// Queue is how many batch requests may wait for verification; a request that finds the
	// queue full waits (its sender's stream with it) until there is room or it gives up.
	// Default 64.
	Queue int
	// Registerer receives the pool's metrics (zkv_pool_*); nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Logger is the pool's logger; nil discards.
	Logger *slog.Logger
}

// Counts are one epoch's proofs by outcome. Verified and Equivocations survive a restart: New
// derives them from the durable records in db.Nullifiers (one nullifier record per verified
// proof, one evidence record per equivocating validator and epoch), so a proof verified
// before a restart and resent after it is a duplicate, never verified twice. Received,
// Duplicates and Refused count what this process saw (Received starts at Verified plus
// Equivocations), as nothing durable records them.
type Counts struct {
	Epoch         uint64 `json:"epoch"`
	Received      uint64 `json:"received"`
	Verified      uint64 `json:"verified"`
	Duplicates    uint64 `json:"duplicates"`
	Refused       uint64 `json:"refused"`
	Equivocations uint64 `json:"equivocations"`
}

// Server is a private-attestation pool: it verifies batches of proofs from many validators
// together, records one nullifier per validator and epoch, and turns a second attestation of
// one validator in one epoch into evidence, which it stores, publishes and acts on (the key
// is revoked in the registry). Its entry points (Submit, Register, Member) are plain
// functions; QUICServer and Handler put them on the network.
//
// Errors its callers may see: ErrShuttingDown, the context's error, registry errors from
// Register and Member, ErrNoRoot, ErrPathNotToRoot.
type Server struct {
	cfg      Config
	reg      *registry.Registry
	db       *db.DB
	verifier *prover.Verifier
	log      *slog.Logger
	m        *metrics

	jobs    chan *job
	stopped chan struct{}

	mu     sync.Mutex
	counts map[uint64]*Counts
	quic   *transport.Server
}

// ErrNoRoot reports a member request for an epoch the registry has no root for yet.
var ErrNoRoot = errors.New("pool: no registry root for the epoch")

// ErrRevokedMember reports a member request for a key whose leaf a sealed revocation zeroed:
// it proves nothing from that epoch on, so asking again cannot help.
var ErrRevokedMember = errors.New("pool: the key is revoked")

// ErrPathNotToRoot reports a member request for an epoch whose root is not the last sealed
// one: the registry gives paths in the latest tree only.
var ErrPathNotToRoot = errors.New("pool: the member's path does not lead to the epoch's root")

type job struct {
	items   []Item
	answers []Answer // pre-filled for items that did not decode
	done    chan struct{}
}

// New checks cfg and returns a Server. It starts nothing.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Key == nil:
		return nil, errors.New("pool: no verifying key")
	case cfg.Registry == nil:
		return nil, errors.New("pool: no registry")
	case cfg.DB == nil:
		return nil, errors.New("pool: no database")
	}
	if cfg.VerifyBatch <= 0 {
		cfg.VerifyBatch = DefaultVerifyBatch
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	counts, err := storedCounts(cfg.DB)
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg: cfg, reg: cfg.Registry, db: cfg.DB, log: cfg.Logger.With("component", "pool"), m: m,
		verifier: &prover.Verifier{Key: cfg.Key, Network: cfg.Registry.Network().ID(), Roots: cfg.Registry, MinWeight: cfg.MinWeight},
		jobs:     make(chan *job, cfg.Queue),
		stopped:  make(chan struct{}),
		counts:   counts,
	}, nil
}

// storedCounts derives each epoch's verified and equivocation counts from the records a pool
// kept in d: record writes a nullifier record exactly when it accepts a proof (in the same
// transaction that makes the answer durable), and one evidence record per validator and
// epoch it caught equivocating.
func storedCounts(d *db.DB) (map[uint64]*Counts, error) {
	counts := map[uint64]*Counts{}
	at := func(key []byte) (*Counts, error) {
		k, err := parseKey(key)
		if err != nil {
			return nil, err
		}
		c := counts[k.epoch]
		if c == nil {
			c = &Counts{Epoch: k.epoch}
			counts[k.epoch] = c
		}
		return c, nil
	}
	err := d.View(func(tx *db.Txn) error {
		if err := tx.Iterate(db.Nullifiers, []byte{prefixNullifier}, func(key, _ []byte) error {
			c, err := at(key)
			if err != nil {
				return err
			}
			c.Verified++
			c.Received++
			return nil
		}); err != nil {
			return err
		}
		return tx.Iterate(db.Nullifiers, []byte{prefixEvidence}, func(key, _ []byte) error {
			c, err := at(key)
			if err != nil {
				return err
			}
			c.Equivocations++
			c.Received++
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pool: counts from stored nullifiers: %w", err)
	}
	return counts, nil
}

// Verifier returns the verifier the pool checks proofs and evidence with: its verifying key,
// network and registry roots.
func (s *Server) Verifier() *prover.Verifier { return s.verifier }

// Registry returns the pool's registry.
func (s *Server) Registry() *registry.Registry { return s.reg }

// Run verifies queued batches, and seals each epoch's root when Config.Clock is set, until
// ctx ends. Calls waiting for a verdict then fail with ErrShuttingDown.
//
// Verification and recording overlap: while one batch's nullifiers are written (a durable
// commit), the next batch is verified. A proof whose key is being recorded meanwhile is
// verified too and then found a duplicate by record, so no proof is verified twice after
// its record is durable.
func (s *Server) Run(ctx context.Context) error {
	defer close(s.stopped)
	s.replayRevocations()
	var wg sync.WaitGroup
	defer wg.Wait()
	if s.cfg.Clock != nil {
		wg.Go(func() { s.sealLoop(ctx) })
	}
	type verified struct {
		jobs  []*job
		valid []*entry
		start time.Time
	}
	commit := make(chan verified, 1)
	wg.Go(func() {
		for v := range commit {
			s.record(v.valid)
			s.m.process.Observe(time.Since(v.start).Seconds())
			for _, j := range v.jobs {
				close(j.done)
			}
		}
	})
	defer close(commit)
	for {
		var first *job
		select {
		case <-ctx.Done():
			return nil
		case first = <-s.jobs:
		}
		start := time.Now()
		batch := []*job{first}
		n := len(first.items)
	gather:
		for n < s.cfg.VerifyBatch {
			select {
			case j := <-s.jobs:
				batch = append(batch, j)
				n += len(j.items)
			default:
				break gather
			}
		}
		commit <- verified{batch, s.verify(batch), start}
	}
}

func (s *Server) sealLoop(ctx context.Context) {
	tick := min(s.cfg.Clock.SlotDuration, time.Second)
	t := time.NewTicker(max(tick, 10*time.Millisecond))
	defer t.Stop()
	for {
		if e, ok := s.cfg.Clock.Epoch(time.Now()); ok {
			if last, sealed := s.reg.LastSeal(); !sealed || last.Epoch < e {
				if _, err := s.Seal(e); err != nil {
					s.log.Error("seal", "epoch", e, "error", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Seal applies the queued registrations and fixes the registry's root of epoch.
func (s *Server) Seal(epoch uint64) (registry.Seal, error) {
	seal, err := s.reg.Seal(epoch)
	if err != nil {
		return seal, err
	}
	s.m.sealed.Set(float64(epoch))
	s.log.Info("sealed", "epoch", epoch, "root", prover.HexField(&seal.Root), "leaves", seal.Leaves)
	return seal, nil
}

// Submit verifies a batch of items (as DecodeBatch returns them: errs[i] set for an item that
// did not decode) together with those of other senders and returns one answer per item, once
// every accepted item's nullifier is durable. It waits while the queue is full.
func (s *Server) Submit(ctx context.Context, items []Item, errs []error) ([]Answer, error) {
	answers := make([]Answer, len(items))
	var live []int
	for i := range items {
		if errs != nil && errs[i] != nil {
			answers[i] = Answer{Status: StatusMalformed, Reason: errs[i].Error()}
			continue
		}
		live = append(live, i)
	}
	s.count(items, errs)
	if len(live) > 0 {
		j := &job{items: make([]Item, len(live)), answers: make([]Answer, len(live)), done: make(chan struct{})}
		for k, i := range live {
			j.items[k] = items[i]
		}
		s.m.queue.Inc()
		select {
		case s.jobs <- j:
		case <-ctx.Done():
			s.m.queue.Dec()
			return nil, ctx.Err()
		case <-s.stopped:
			s.m.queue.Dec()
			return nil, ErrShuttingDown
		}
		// Run closes stopped only after every job it took is done, so a job that was taken
		// is always answered; one left in the queue is not.
		select {
		case <-j.done:
		case <-s.stopped:
			select {
			case <-j.done:
			default:
				return nil, ErrShuttingDown
			}
		}
		for k, i := range live {
			answers[i] = j.answers[k]
		}
	}
	s.tally(items, errs, answers)
	return answers, nil
}

// count adds received items to their epochs' counts.
func (s *Server) count(items []Item, errs []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range items {
		if errs != nil && errs[i] != nil {
			continue // no epoch to count it in: counted in the metrics only
		}
		s.epochCounts(items[i].Claim.Statement.Epoch).Received++
	}
}

func (s *Server) tally(items []Item, errs []error, as []Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, a := range as {
		s.m.proofs.WithLabelValues(a.Status.String()).Inc()
		if errs != nil && errs[i] != nil {
			continue // no epoch to count it in: counted in the metrics only
		}
		c := s.epochCounts(items[i].Claim.Statement.Epoch)
		switch a.Status {
		case StatusAccepted:
			c.Verified++
		case StatusDuplicate:
			c.Duplicates++
		case StatusEquivocation:
			c.Equivocations++
		default:
			c.Refused++
		}
	}
}

func (s *Server) epochCounts(e uint64) *Counts {
	c := s.counts[e]
	if c == nil {
		c = &Counts{Epoch: e}
		s.counts[e] = c
	}
	return c
}

// Counts returns the counts of every epoch the pool has recorded or seen proofs of, in epoch
// order: those its database holds from before a restart included (see Counts).
func (s *Server) Counts() []Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Counts, 0, len(s.counts))
	for _, c := range s.counts {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Epoch < out[j].Epoch })
	return out
}

// entry is one item of a verification batch.
type entry struct {
	it     *Item
	answer *Answer
	key    nullifierKey
	prior  *Item // the item recorded before under the same key, if any
}

// verify checks one batch of jobs: it answers every item that is refused or a duplicate of
// a recorded proof, and returns the entries whose proofs verified, for record.
func (s *Server) verify(batch []*job) []*entry {
	var entries []*entry
	for _, j := range batch {
		s.m.queue.Dec()
		for i := range j.items {
			entries = append(entries, &entry{it: &j.items[i], answer: &j.answers[i], key: keyOf(&j.items[i].Claim.Statement)})
		}
	}
	// Roots first: a proof against an epoch without a root, or another root than the sealed
	// one, is refused with that reason.
	var live []*entry
	for _, e := range entries {
		st := &e.it.Claim.Statement
		root, err := s.reg.Root(st.Epoch)
		switch {
		case errors.Is(err, registry.ErrNoRoot):
			*e.answer = Answer{StatusUnknownRoot, fmt.Sprintf("no registry root for epoch %d", st.Epoch)}
		case err != nil:
			*e.answer = Answer{StatusInternal, err.Error()}
		case !st.Root.Equal(&root):
			*e.answer = Answer{StatusUnknownRoot, fmt.Sprintf("root %s is not the registry's root of epoch %d (%s)", prover.HexField(&st.Root), st.Epoch, prover.HexField(&root))}
		default:
			live = append(live, e)
		}
	}
	// Duplicates of recorded proofs are answered without verifying them again.
	err := s.db.View(func(tx *db.Txn) error {
		for _, e := range live {
			p, err := recorded(tx, e.key)
			if err != nil {
				return err
			}
			e.prior = p
		}
		return nil
	})
	if err != nil {
		s.log.Error("read nullifiers", "error", err)
		for _, e := range live {
			*e.answer = Answer{StatusInternal, "reading nullifiers: " + err.Error()}
		}
		return nil
	}
	var toVerify []*entry
	for _, e := range live {
		if e.prior != nil && xEqual(&e.prior.Claim.Statement, &e.it.Claim.Statement) {
			*e.answer = Answer{Status: StatusDuplicate}
			continue
		}
		toVerify = append(toVerify, e)
	}
	var valid []*entry
	if len(toVerify) > 0 {
		claims := make([]prover.Claim, len(toVerify))
		roots := make([]*[32]byte, len(toVerify))
		for i, e := range toVerify {
			claims[i] = e.it.Claim
			roots[i] = &e.it.SigningRoot
		}
		vstart := time.Now()
		_, reasons, err := s.verifier.FindInvalid(claims, roots)
		s.m.verify.Observe(time.Since(vstart).Seconds())
		s.m.batch.Observe(float64(len(claims)))
		if err != nil {
			for _, e := range toVerify {
				*e.answer = Answer{StatusInternal, "verification: " + err.Error()}
			}
			return nil
		}
		for i, e := range toVerify {
			if r, bad := reasons[i]; bad {
				*e.answer = refusal(r)
				continue
			}
			valid = append(valid, e)
		}
	}
	return valid
}

// refusal maps a verification error to its status.
func refusal(err error) Answer {
	switch {
	case errors.Is(err, registry.ErrNoRoot):
		return Answer{StatusUnknownRoot, err.Error()}
	case errors.Is(err, prover.ErrWrongStatement):
		return Answer{StatusWrongStatement, err.Error()}
	case errors.Is(err, prover.ErrInvalidProof):
		return Answer{StatusInvalidProof, err.Error()}
	case errors.Is(err, prover.ErrMalformed):
		return Answer{StatusMalformed, err.Error()}
	}
	return Answer{StatusInternal, err.Error()}
}

// record stores the nullifiers of verified entries and handles equivocations, in order, in
// one durable transaction: the first proof of a key (in the database or earlier in the
// batch) is recorded; a later one with the same x is a duplicate; one with another x is an
// equivocation, whose evidence is stored with the records. The answers are set once the
// transaction is durable.
func (s *Server) record(valid []*entry) {
	type pending struct {
		key nullifierKey
		ev  *prover.Evidence
		js  []byte
	}
	if len(valid) == 0 {
		return
	}
	var (
		outs  []Answer
		fresh []pending
	)
	// Update may run fn again on a fresh snapshot, so fn keeps its results in outs and fresh
	// and acts on nothing else.
	err := s.db.Update(func(tx *db.Txn) error {
		outs = make([]Answer, len(valid))
		fresh = fresh[:0]
		seen := map[nullifierKey]*Item{}
		evDone := map[nullifierKey]bool{}
		for i, e := range valid {
			first := seen[e.key]
			if first == nil {
				p, err := recorded(tx, e.key)
				if err != nil {
					return err
				}
				first = p
			}
			switch {
			case first == nil:
				if err := tx.Put(db.Nullifiers, e.key.bytes(prefixNullifier), AppendItem(make([]byte, 0, ItemSize), e.it)); err != nil {
					return err
				}
				seen[e.key] = e.it
				outs[i] = Answer{Status: StatusAccepted}
			case xEqual(&first.Claim.Statement, &e.it.Claim.Statement):
				outs[i] = Answer{Status: StatusDuplicate}
			default:
				outs[i] = Answer{StatusEquivocation, fmt.Sprintf("a second attestation in epoch %d by the validator of nullifier %x", e.key.epoch, e.key.nullifier)}
				if evDone[e.key] {
					continue
				}
				evDone[e.key] = true
				k := e.key.bytes(prefixEvidence)
				if _, err := tx.Get(db.Nullifiers, k); err == nil {
					continue // the epoch's evidence of this validator is stored already
				} else if !errors.Is(err, db.ErrNotFound) {
					return err
				}
				ev, err := prover.NewEvidence(s.verifier, first.Claim, e.it.Claim)
				if err != nil {
					// Both proofs verified, so this is a fault of the pool, not of the sender.
					s.log.Error("evidence", "epoch", e.key.epoch, "error", err)
					continue
				}
				js, err := json.Marshal(ev)
				if err != nil {
					return fmt.Errorf("evidence encoding: %w", err)
				}
				if err := tx.Put(db.Nullifiers, k, js); err != nil {
					return err
				}
				fresh = append(fresh, pending{e.key, ev, js})
			}
		}
		return nil
	})
	if err != nil {
		s.log.Error("record nullifiers", "error", err)
		for _, e := range valid {
			*e.answer = Answer{StatusInternal, "recording the nullifier: " + err.Error()}
		}
		return
	}
	for i, e := range valid {
		*e.answer = outs[i]
	}
	for _, p := range fresh {
		s.actOn(p.key, p.ev, p.js)
	}
}

// replayRevocations revokes the keys of stored evidence the registry has not revoked: the
// evidence is committed before Revoke runs, so a crash in between leaves evidence whose key
// the registry does not bar yet.
func (s *Server) replayRevocations() {
	var evs []*prover.Evidence
	err := s.db.View(func(tx *db.Txn) error {
		return tx.Iterate(db.Nullifiers, []byte{prefixEvidence}, func(_, value []byte) error {
			var ev prover.Evidence
			if err := json.Unmarshal(value, &ev); err != nil {
				s.log.Error("stored evidence", "error", err)
				return nil
			}
			evs = append(evs, &ev)
			return nil
		})
	})
	if err != nil {
		s.log.Error("read stored evidence", "error", err)
	}
	for _, ev := range evs {
		if _, err := s.reg.Revoke(s.cfg.Key, ev); err != nil && !errors.Is(err, registry.ErrRevoked) {
			s.log.Error("revoke from stored evidence", "error", err)
		}
	}
}

// actOn revokes the key that evidence names and publishes the evidence.
func (s *Server) actOn(k nullifierKey, ev *prover.Evidence, js []byte) {
	s.m.evidence.Inc()
	m, err := s.reg.Revoke(s.cfg.Key, ev)
	var pk [bls.PublicKeyLength]byte
	switch {
	case err == nil:
		pk = m.Pubkey
	case errors.Is(err, registry.ErrRevoked):
		if m, err := s.reg.ByIdentity(ev.Identity); err == nil {
			pk = m.Pubkey
		}
	default:
		s.log.Error("revoke", "evidence", k.ID(), "error", err)
	}
	s.log.Warn("equivocation", "evidence", k.ID(), "epoch", k.epoch, "pubkey", fmt.Sprintf("%#x", pk[:]))
	s.mu.Lock()
	q := s.quic
	s.mu.Unlock()
	if q != nil {
		if _, err := q.Publish(EvidenceTopic, evidenceFrame(js)); err != nil {
			s.log.Error("publish evidence", "error", err)
		}
	}
}

// EvidenceRecord is stored evidence with what the registry says of it.
type EvidenceRecord struct {
	ID       string           `json:"id"`
	Epoch    uint64           `json:"epoch"`
	Identity string           `json:"identity"`
	Pubkey   string           `json:"pubkey,omitempty"` // the equivocating key, from the registry
	Evidence *prover.Evidence `json:"evidence,omitempty"`
}

// Evidence returns the stored evidence, oldest epoch first, without the proofs.
func (s *Server) Evidence() ([]EvidenceRecord, error) {
	var out []EvidenceRecord
	err := s.db.View(func(tx *db.Txn) error {
		return tx.Iterate(db.Nullifiers, []byte{prefixEvidence}, func(key, value []byte) error {
			r, err := s.evidenceRecord(key, value)
			if err != nil {
				return err
			}
			r.Evidence = nil
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// EvidenceByID returns one stored evidence with its proofs, or db.ErrNotFound.
func (s *Server) EvidenceByID(id string) (EvidenceRecord, error) {
	k, err := parseID(id)
	if err != nil {
		return EvidenceRecord{}, err
	}
	kb := k.bytes(prefixEvidence)
	v, err := s.db.Get(db.Nullifiers, kb)
	if err != nil {
		return EvidenceRecord{}, err
	}
	return s.evidenceRecord(kb, v)
}

func (s *Server) evidenceRecord(key, value []byte) (EvidenceRecord, error) {
	k, err := parseKey(key)
	if err != nil {
		return EvidenceRecord{}, err
	}
	var ev prover.Evidence
	if err := json.Unmarshal(value, &ev); err != nil {
		return EvidenceRecord{}, fmt.Errorf("pool: stored evidence %s: %w", k.ID(), err)
	}
	r := EvidenceRecord{ID: k.ID(), Epoch: k.epoch, Identity: prover.HexField(&ev.Identity), Evidence: &ev}
	if m, err := s.reg.ByIdentity(ev.Identity); err == nil {
		r.Pubkey = fmt.Sprintf("%#x", m.Pubkey[:])
	}
	return r, nil
}

// Register queues a registration for the next seal (registry.Registry.Register).
func (s *Server) Register(reg registry.Registration) error {
	err := s.reg.Register(reg)
	res := "ok"
	if err != nil {
		res = "refused"
	}
	s.m.registrations.WithLabelValues(res).Inc()
	return err
}

// Member returns the registered key's place in the tree whose root is the registry's root of
// epoch: ErrNoRoot before that epoch is sealed, ErrPathNotToRoot when the epoch's root is not
// the last sealed one (paths are kept for the latest tree only), registry errors otherwise.
func (s *Server) Member(pk [bls.PublicKeyLength]byte, epoch uint64) (registry.Member, error) {
	root, err := s.reg.Root(epoch)
	if errors.Is(err, registry.ErrNoRoot) {
		return registry.Member{}, fmt.Errorf("%w: epoch %d", ErrNoRoot, epoch)
	}
	if err != nil {
		return registry.Member{}, err
	}
	m, err := s.reg.Member(pk)
	if errors.Is(err, registry.ErrRevoked) {
		return registry.Member{}, fmt.Errorf("%w: %w", ErrRevokedMember, err)
	}
	if err != nil {
		return registry.Member{}, err
	}
	if m.Revoked {
		return registry.Member{}, fmt.Errorf("%w: its leaf was zeroed by the seal of epoch %d", ErrRevokedMember, m.Epoch)
	}
	if leaf := m.Leaf(); !m.Root.Equal(&root) || func() bool { r := m.Path.Root(leaf); return !r.Equal(&root) }() {
		return registry.Member{}, fmt.Errorf("%w: epoch %d has root %s, the path leads to %s (epoch %d)", ErrPathNotToRoot, epoch, prover.HexField(&root), prover.HexField(&m.Root), m.Epoch)
	}
	return m, nil
}

// SealedRoot is one epoch's root as the HTTP API shows it.
type SealedRoot struct {
	Epoch uint64 `json:"epoch"`
	Root  string `json:"root"`
}
