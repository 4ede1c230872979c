package registry

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/prover"
)

// Errors callers branch on.
var (
	ErrBadSignature = errors.New("registry: bad registration signature")
	// ErrBadIdentityProof reports a registration whose proof of knowledge of the identity's
	// secret does not verify for its key and the registry's domain.
	ErrBadIdentityProof = errors.New("registry: bad identity proof")
	ErrMalformed        = errors.New("registry: malformed encoding")
	// ErrDuplicate reports an identity that another key holds or once held: identities are
	// never released, so evidence of an equivocation names one key for good.
	ErrDuplicate = errors.New("registry: identity registered to another key")
	// ErrIdentityChange reports a registration of a known key with another identity. A key's
	// identity is fixed when it is first registered; later registrations change its weight
	// only. A key that could change identity could prove twice in one epoch under two
	// nullifiers, once under each.
	ErrIdentityChange = errors.New("registry: a key's identity cannot change")
	// ErrRevoked reports a key whose leaf was revoked by equivocation evidence.
	ErrRevoked  = errors.New("registry: key revoked")
	ErrFull     = errors.New("registry: tree full")
	ErrNotFound = errors.New("registry: not registered")
	// ErrNoRoot reports an epoch that no seal covers yet: before the first seal, or after
	// the last one. The registry answers a root only for an epoch that can no longer change.
	ErrNoRoot            = errors.New("registry: epoch not sealed")
	ErrEpochOrder        = errors.New("registry: epoch not after the last sealed epoch")
	ErrRejected          = errors.New("registry: registration rejected")
	ErrStoreInconsistent = errors.New("registry: store content inconsistent")
	// ErrStaleRegistration reports a registration of a known key whose timestamp is not
	// after that of the key's last accepted registration: a replay, or a repeat.
	ErrStaleRegistration = errors.New("registry: registration not newer than the key's last one")
	// ErrFutureRegistration reports a registration stamped more than MaxFutureTimestamp
	// ahead of the registry's clock: accepted, it would block the key's next registrations
	// until that time.
	ErrFutureRegistration = errors.New("registry: registration timestamp in the future")
)

// MaxFutureTimestamp is how far ahead of the registry's clock a registration's timestamp may
// be, for clock skew; the builder API allows validator registrations the same 10 seconds.
const MaxFutureTimestamp = 10 * time.Second

// Config configures a Registry. The network is required (its genesis validators root and
// genesis fork version give the registration domain and the network identifier proofs and
// evidence must carry); the zero depth means prover.DefaultDepth.
type Config struct {
	Depth   int            // tree depth (index bits), even, up to prover.MaxDepth
	Network prover.Network // the chain the registry is for
	// IdentityKey verifies the identity proof of every registration. A registry opened
	// without one serves roots, paths, seals and revocations, and refuses registrations.
	IdentityKey *prover.IdentityVerifyingKey
	// Admit, when set, is asked about every registration whose signature verified, before it
	// is queued: the place to check the key and weight against the validator set. An error
	// rejects the registration (wrapped in ErrRejected).
	Admit func(r *Registration) error
	// Now is the registry's clock for MaxFutureTimestamp; nil means time.Now.
	Now func() time.Time
}

// Registry is the set of registered validators as a Poseidon2 tree with one root per epoch.
//
// Registrations queue until Seal(epoch) applies them: a new key takes the next leaf, a known
// key's registration replaces its leaf's weight. A key's identity commitment is fixed by its
// first registration (ErrIdentityChange), and an identity belongs to one key for the
// registry's whole history, revoked keys included (ErrDuplicate), so that evidence, which
// names an identity, names the key that equivocated. A key's registrations must come with
// increasing timestamps, so none can be replayed (ErrStaleRegistration).
//
// Roots: Root(epoch) answers only for an epoch that no later seal can change: at or before
// the last sealed epoch (the root of the latest seal at or before it). A later epoch has no
// root until it is sealed (ErrNoRoot), and a seal is for an epoch after the last sealed one
// (ErrEpochOrder), so every answer Root gives is final: no epoch has two roots.
//
// Revocation: Revoke takes equivocation evidence that verifies against the registry's own
// network and roots, bars the key at once (no further registrations) and zeroes its leaf at
// the next seal, so the secret that the evidence published proves nothing from that epoch on.
//
// Between seals the tree is that of the last sealed epoch, so Member's paths lead to the
// root that proofs of the current epoch use.
//
// Persistence: every accepted registration and revocation is written to the store before
// Register or Revoke returns and every seal after its entries; Open replays them. Keys
// (prefix "zkv/registry/"):
//
//	meta              depth (1 byte) | domain (32 bytes)
//	log/<seq u64 BE>  Registration.Bytes() (with its timestamp), or a revocation: 'R' |
//	                  identity (32 bytes), in acceptance order
//	seal/<epoch u64 BE>  root (32 bytes) | log entries applied (u64 BE) | leaves (u64 BE)
//
// The tree's nodes are not stored: Open recomputes them (a few seconds for a million leaves)
// and checks the result against the last sealed root. Open also checks the log against the
// rules Register and Revoke applied.
//
// After a Seal whose record could not be written, every method but Domain and Depth returns
// (or answers from) the state of the last good seal or the error of the failed one, until the
// registry is reopened.
//
// A Registry is safe for concurrent use.
type Registry struct {
	mu     sync.RWMutex
	cfg    Config
	domain [32]byte
	store  Store
	tree   *tree
	log    []logEntry // every accepted entry, sealed ones first
	sealed int        // log[:sealed] are in the tree
	index  map[[bls.PublicKeyLength]byte]uint64
	byID   map[fr.Element]uint64
	regs   []Registration  // current registration of each leaf
	gone   map[uint64]bool // leaves zeroed by a sealed revocation
	seals  []Seal

	// What the log holds, sealed or queued: the rules of Register are checked against it.
	latest    map[[bls.PublicKeyLength]byte]uint64     // timestamp of each key's last registration
	keyID     map[[bls.PublicKeyLength]byte]fr.Element // each key's identity, fixed
	idOwner   map[fr.Element][bls.PublicKeyLength]byte // each identity's key, never released
	revoked   map[[bls.PublicKeyLength]byte]bool       // keys barred by a revocation
	queuedNew map[[bls.PublicKeyLength]byte]bool       // keys not yet in the tree

	// broken is set when a seal record could not be written after the tree had taken the
	// queued registrations: memory and store disagree until the registry is reopened.
	broken error
}

// logEntry is a registration, or a revocation of the identity reg.Identity.
type logEntry struct {
	reg    Registration
	revoke bool
}

const revocationSize = 1 + fr.Bytes

func (e *logEntry) bytes() []byte {
	if e.revoke {
		id := e.reg.Identity.Bytes()
		return append([]byte{'R'}, id[:]...)
	}
	b := e.reg.Bytes()
	return b[:]
}

func logEntryFromBytes(b []byte) (logEntry, error) {
	if len(b) == revocationSize && b[0] == 'R' {
		id, err := prover.FieldFromBytes(b[1:])
		if err != nil {
			return logEntry{}, fmt.Errorf("%w: revoked identity: %v", ErrMalformed, err)
		}
		return logEntry{reg: Registration{Identity: id}, revoke: true}, nil
	}
	reg, err := RegistrationFromBytes(b)
	return logEntry{reg: reg}, err
}

// Seal is the root of one epoch.
type Seal struct {
	Epoch   uint64
	Root    fr.Element
	Applied uint64 // log entries applied, in log order
	Leaves  uint64
}

var (
	prefix     = []byte("zkv/registry/")
	keyMeta    = append(bytes.Clone(prefix), "meta"...)
	prefixLog  = append(bytes.Clone(prefix), "log/"...)
	prefixSeal = append(bytes.Clone(prefix), "seal/"...)
)

func seqKey(p []byte, n uint64) []byte {
	k := append(bytes.Clone(p), make([]byte, 8)...)
	binary.BigEndian.PutUint64(k[len(p):], n)
	return k
}

// Open loads the registry kept in store, or starts an empty one there. A store written with
// another depth or domain (network) is refused.
func Open(store Store, cfg Config) (*Registry, error) {
	if cfg.Depth == 0 {
		cfg.Depth = prover.DefaultDepth
	}
	if err := prover.CheckDepth(cfg.Depth); err != nil {
		return nil, err
	}
	r := &Registry{
		cfg:    cfg,
		domain: ComputeDomain(cfg.Network),
		store:  store,
		tree:   newTree(cfg.Depth),
		index:  map[[bls.PublicKeyLength]byte]uint64{},
		byID:   map[fr.Element]uint64{},
		gone:   map[uint64]bool{},

		latest:    map[[bls.PublicKeyLength]byte]uint64{},
		keyID:     map[[bls.PublicKeyLength]byte]fr.Element{},
		idOwner:   map[fr.Element][bls.PublicKeyLength]byte{},
		revoked:   map[[bls.PublicKeyLength]byte]bool{},
		queuedNew: map[[bls.PublicKeyLength]byte]bool{},
	}
	meta := append([]byte{byte(cfg.Depth)}, r.domain[:]...)
	var stored []byte
	found := false // an empty value is a meta record too, and a broken one
	if err := store.Iterate(keyMeta, func(k, v []byte) error {
		if bytes.Equal(k, keyMeta) {
			stored, found = bytes.Clone(v), true
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	switch {
	case !found:
		if err := store.Set(keyMeta, meta); err != nil {
			return nil, fmt.Errorf("open registry: %w", err)
		}
	case len(stored) != len(meta):
		return nil, fmt.Errorf("%w: meta record of %d bytes, want %d", ErrStoreInconsistent, len(stored), len(meta))
	case !bytes.Equal(stored, meta):
		return nil, fmt.Errorf("%w: store holds a registry of depth %d for another domain or depth", ErrStoreInconsistent, stored[0])
	}

	if err := store.Iterate(prefixLog, func(k, v []byte) error {
		if len(k) != len(prefixLog)+8 {
			return fmt.Errorf("%w: log key of %d bytes, want %d", ErrStoreInconsistent, len(k), len(prefixLog)+8)
		}
		e, err := logEntryFromBytes(v)
		if err != nil {
			return fmt.Errorf("log entry %x: %w", k[len(prefixLog):], err)
		}
		if seq := binary.BigEndian.Uint64(k[len(prefixLog):]); seq != uint64(len(r.log)) {
			return fmt.Errorf("%w: log entry %d where %d was expected", ErrStoreInconsistent, seq, len(r.log))
		}
		// Register and Revoke took the log in this order, so their rules hold all along it.
		if err := r.check(&e); err != nil {
			return fmt.Errorf("%w: log entry %d: %w", ErrStoreInconsistent, len(r.log), err)
		}
		r.accept(e)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	if err := store.Iterate(prefixSeal, func(k, v []byte) error {
		if len(k) != len(prefixSeal)+8 {
			return fmt.Errorf("%w: seal key of %d bytes, want %d", ErrStoreInconsistent, len(k), len(prefixSeal)+8)
		}
		if len(v) != fr.Bytes+16 {
			return fmt.Errorf("%w: seal record of %d bytes", ErrMalformed, len(v))
		}
		root, err := prover.FieldFromBytes(v[:fr.Bytes])
		if err != nil {
			return err
		}
		r.seals = append(r.seals, Seal{
			Epoch:   binary.BigEndian.Uint64(k[len(prefixSeal):]),
			Root:    root,
			Applied: binary.BigEndian.Uint64(v[fr.Bytes:]),
			Leaves:  binary.BigEndian.Uint64(v[fr.Bytes+8:]),
		})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	if len(r.seals) > 0 {
		last := r.seals[len(r.seals)-1]
		if last.Applied > uint64(len(r.log)) {
			return nil, fmt.Errorf("%w: seal of epoch %d applies %d log entries, the log has %d", ErrStoreInconsistent, last.Epoch, last.Applied, len(r.log))
		}
		for i := range r.log[:last.Applied] {
			r.apply(&r.log[i])
		}
		r.sealed = int(last.Applied)
		r.tree.rehash()
		if root := r.tree.root(); !root.Equal(&last.Root) || r.tree.len() != last.Leaves {
			return nil, fmt.Errorf("%w: replayed tree has root %s and %d leaves, the seal of epoch %d says %s and %d",
				ErrStoreInconsistent, prover.HexField(&root), r.tree.len(), last.Epoch, prover.HexField(&last.Root), last.Leaves)
		}
	}
	for i := range r.log[r.sealed:] {
		if e := &r.log[r.sealed+i]; !e.revoke {
			if _, ok := r.index[e.reg.Pubkey]; !ok {
				r.queuedNew[e.reg.Pubkey] = true
			}
		}
	}
	return r, nil
}

// check applies the rules of the log to one more entry (not the signature, Admit or the
// clock, which depend on the time of acceptance).
func (r *Registry) check(e *logEntry) error {
	reg := &e.reg
	if e.revoke {
		owner, ok := r.idOwner[reg.Identity]
		if !ok {
			return fmt.Errorf("%w: identity %s", ErrNotFound, prover.HexField(&reg.Identity))
		}
		if r.revoked[owner] {
			return fmt.Errorf("%w: key %x", ErrRevoked, owner[:8])
		}
		return nil
	}
	if r.revoked[reg.Pubkey] {
		return fmt.Errorf("%w: key %x", ErrRevoked, reg.Pubkey[:8])
	}
	// Without this, anyone holding an old signed registration could resubmit it and roll the
	// key back, and an identical repeat would grow the log for nothing.
	if last, ok := r.latest[reg.Pubkey]; ok && reg.Timestamp <= last {
		return fmt.Errorf("%w: key %x: timestamp %d, last accepted %d", ErrStaleRegistration, reg.Pubkey[:8], reg.Timestamp, last)
	}
	if id, ok := r.keyID[reg.Pubkey]; ok && !id.Equal(&reg.Identity) {
		return fmt.Errorf("%w: key %x holds identity %s", ErrIdentityChange, reg.Pubkey[:8], prover.HexField(&id))
	}
	if owner, ok := r.idOwner[reg.Identity]; ok && owner != reg.Pubkey {
		return fmt.Errorf("%w: identity %s", ErrDuplicate, prover.HexField(&reg.Identity))
	}
	if _, known := r.keyID[reg.Pubkey]; !known {
		if capacity := uint64(1) << uint(r.cfg.Depth); r.tree.len()+uint64(len(r.queuedNew)) >= capacity {
			return fmt.Errorf("%w: depth %d holds %d leaves", ErrFull, r.cfg.Depth, capacity)
		}
	}
	return nil
}

// accept appends an entry that passed check to the log (in memory) and to the rules' state.
func (r *Registry) accept(e logEntry) {
	r.log = append(r.log, e)
	reg := &e.reg
	if e.revoke {
		r.revoked[r.idOwner[reg.Identity]] = true
		return
	}
	if _, known := r.keyID[reg.Pubkey]; !known {
		r.queuedNew[reg.Pubkey] = true
	}
	r.latest[reg.Pubkey] = reg.Timestamp
	r.keyID[reg.Pubkey] = reg.Identity
	r.idOwner[reg.Identity] = reg.Pubkey
}

// apply puts a log entry in the tree (without rehashing).
func (r *Registry) apply(e *logEntry) {
	reg := &e.reg
	if e.revoke {
		idx := r.byID[reg.Identity] // check made sure the identity was registered before
		r.gone[idx] = true
		r.tree.set(idx, fr.Element{})
		return
	}
	idx, ok := r.index[reg.Pubkey]
	if !ok {
		idx = r.tree.len()
		r.index[reg.Pubkey] = idx
		r.regs = append(r.regs, *reg)
	} else {
		r.regs[idx] = *reg // the same identity: check made sure of it
	}
	r.byID[reg.Identity] = idx
	r.tree.set(idx, reg.Leaf())
}

// Register checks a registration (signature under the registry's domain, identity proof,
// Config.Admit, a
// timestamp after that of the key's last accepted registration and at most
// MaxFutureTimestamp ahead, the key's own identity, an identity never held by another key, a
// key not revoked, a free leaf) and queues it for the next Seal. It returns ErrBadSignature,
// ErrBadIdentityProof, ErrRejected, ErrStaleRegistration, ErrFutureRegistration, ErrIdentityChange,
// ErrDuplicate, ErrRevoked or ErrFull for registrations it refuses.
func (r *Registry) Register(reg Registration) error {
	if err := reg.Verify(r.domain); err != nil {
		return err
	}
	if r.cfg.IdentityKey == nil {
		return fmt.Errorf("%w: registry opened without an identity verifying key", ErrBadIdentityProof)
	}
	if err := reg.VerifyIdentity(r.cfg.IdentityKey, r.domain); err != nil {
		return err
	}
	now := time.Now()
	if r.cfg.Now != nil {
		now = r.cfg.Now()
	}
	if limit := now.Add(MaxFutureTimestamp).Unix(); reg.Timestamp > uint64(max(limit, 0)) {
		return fmt.Errorf("%w: key %x: timestamp %d, clock %d", ErrFutureRegistration, reg.Pubkey[:8], reg.Timestamp, now.Unix())
	}
	if r.cfg.Admit != nil {
		if err := r.cfg.Admit(&reg); err != nil {
			return fmt.Errorf("%w: %v", ErrRejected, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken != nil {
		return r.broken
	}
	e := logEntry{reg: reg}
	if err := r.check(&e); err != nil {
		return err
	}
	if err := r.store.Set(seqKey(prefixLog, uint64(len(r.log))), e.bytes()); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	r.accept(e)
	return nil
}

// Revoke acts on equivocation evidence: it checks the evidence against the registry's own
// network and sealed roots (prover.Evidence.Check with vk), bars the identity's key from
// further registrations at once and queues the zeroing of its leaf for the next Seal, from
// which on the published secret proves nothing. It returns the member the evidence names.
// Evidence that does not check is refused with the prover's error (ErrWrongStatement for
// another network or registry, ErrInvalidProof, ErrNoEquivocation); an identity never
// sealed in the tree is ErrNotFound, and one revoked already ErrRevoked.
func (r *Registry) Revoke(vk *prover.VerifyingKey, ev *prover.Evidence) (Member, error) {
	v := &prover.Verifier{Key: vk, Network: r.cfg.Network.ID(), Roots: r}
	if err := ev.Check(v); err != nil {
		return Member{}, fmt.Errorf("revoke: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken != nil {
		return Member{}, r.broken
	}
	idx, ok := r.byID[ev.Identity]
	if !ok {
		return Member{}, fmt.Errorf("revoke: %w: identity %s not in the sealed tree", ErrNotFound, prover.HexField(&ev.Identity))
	}
	e := logEntry{reg: Registration{Identity: ev.Identity}, revoke: true}
	if err := r.check(&e); err != nil {
		return Member{}, fmt.Errorf("revoke: %w", err)
	}
	if err := r.store.Set(seqKey(prefixLog, uint64(len(r.log))), e.bytes()); err != nil {
		return Member{}, fmt.Errorf("revoke: %w", err)
	}
	r.accept(e)
	return r.member(idx), nil
}

// Pending returns the number of registrations waiting for the next Seal.
func (r *Registry) Pending() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.log) - r.sealed
}

// Seal applies the queued registrations and fixes the resulting root as the root of epoch,
// which must be later than the last sealed epoch.
func (r *Registry) Seal(epoch uint64) (Seal, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken != nil {
		return Seal{}, r.broken
	}
	if n := len(r.seals); n > 0 && epoch <= r.seals[n-1].Epoch {
		return Seal{}, fmt.Errorf("%w: epoch %d, last sealed %d", ErrEpochOrder, epoch, r.seals[n-1].Epoch)
	}
	for i := r.sealed; i < len(r.log); i++ {
		r.apply(&r.log[i])
	}
	r.tree.rehash()
	s := Seal{Epoch: epoch, Root: r.tree.root(), Applied: uint64(len(r.log)), Leaves: r.tree.len()}
	v := make([]byte, fr.Bytes+16)
	rb := s.Root.Bytes()
	copy(v, rb[:])
	binary.BigEndian.PutUint64(v[fr.Bytes:], s.Applied)
	binary.BigEndian.PutUint64(v[fr.Bytes+8:], s.Leaves)
	// The seal record goes last: a crash before it leaves the registrations queued, and Open
	// replays exactly the sealed ones.
	if err := r.store.Set(seqKey(prefixSeal, epoch), v); err != nil {
		r.broken = fmt.Errorf("registry unusable after a failed seal of epoch %d, reopen it: %w", epoch, err)
		return Seal{}, r.broken
	}
	r.sealed = len(r.log)
	r.seals = append(r.seals, s)
	clear(r.queuedNew)
	return s, nil
}

// Root returns the root of epoch: that of the latest seal at or before it, for an epoch at
// or before the last sealed one. A later epoch is ErrNoRoot, never the latest root: it may
// still be sealed with another one. Root implements prover.Roots.
func (r *Registry) Root(epoch uint64) (fr.Element, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.broken != nil {
		return fr.Element{}, r.broken
	}
	if n := len(r.seals); n == 0 || epoch > r.seals[n-1].Epoch {
		return fr.Element{}, fmt.Errorf("%w: epoch %d (seal it first)", ErrNoRoot, epoch)
	}
	i := sort.Search(len(r.seals), func(i int) bool { return r.seals[i].Epoch > epoch })
	if i == 0 {
		return fr.Element{}, fmt.Errorf("%w: epoch %d is before the first seal (%d)", ErrNoRoot, epoch, r.seals[0].Epoch)
	}
	return r.seals[i-1].Root, nil
}

// LastSeal returns the most recent seal, and false before the first. A seal whose record
// could not be written is not one.
func (r *Registry) LastSeal() (Seal, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.seals) == 0 {
		return Seal{}, false
	}
	return r.seals[len(r.seals)-1], true
}

// Member is a registered validator's place in the sealed tree.
type Member struct {
	Registration
	Revoked bool // a sealed revocation zeroed the leaf; Path leads to the root from a zero leaf
	Index   uint64
	Path    prover.Path
	Root    fr.Element // the last sealed root, which Path leads to
	Epoch   uint64     // the epoch of that seal
}

// Member returns the sealed registration of a BLS key with its membership path. A key whose
// leaf a sealed revocation zeroed is ErrRevoked.
func (r *Registry) Member(pubkey [bls.PublicKeyLength]byte) (Member, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.broken != nil {
		return Member{}, r.broken
	}
	idx, ok := r.index[pubkey]
	if !ok || idx >= r.tree.len() {
		return Member{}, fmt.Errorf("%w: key %x", ErrNotFound, pubkey[:8])
	}
	if r.gone[idx] {
		return Member{}, fmt.Errorf("%w: key %x", ErrRevoked, pubkey[:8])
	}
	return r.member(idx), nil
}

// ByIdentity returns the sealed member whose identity commitment is id, the lookup that turns
// equivocation evidence into a validator. Identities are never released, so the answer is the
// same for the registry's whole history, a revoked member included (Member.Revoked).
func (r *Registry) ByIdentity(id fr.Element) (Member, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	// A failed seal has put its registrations in byID and the tree but not in seals.
	if r.broken != nil {
		return Member{}, r.broken
	}
	idx, ok := r.byID[id]
	if !ok {
		return Member{}, fmt.Errorf("%w: identity %s", ErrNotFound, prover.HexField(&id))
	}
	return r.member(idx), nil
}

func (r *Registry) member(idx uint64) Member {
	last := r.seals[len(r.seals)-1]
	return Member{Registration: r.regs[idx], Revoked: r.gone[idx], Index: idx, Path: r.tree.path(idx), Root: last.Root, Epoch: last.Epoch}
}

// Len returns the number of leaves of the sealed tree: that of the last seal whose record was
// written, not the tree of a failed seal.
func (r *Registry) Len() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.seals) == 0 {
		return 0
	}
	return r.seals[len(r.seals)-1].Leaves
}

// Domain returns the registration signing domain.
func (r *Registry) Domain() [32]byte { return r.domain }

// Network returns the network the registry is for.
func (r *Registry) Network() prover.Network { return r.cfg.Network }

// Depth returns the tree depth.
func (r *Registry) Depth() int { return r.cfg.Depth }
