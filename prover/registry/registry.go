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
	ErrBadSignature      = errors.New("registry: bad registration signature")
	ErrMalformed         = errors.New("registry: malformed encoding")
	ErrDuplicate         = errors.New("registry: identity registered to another key")
	ErrFull              = errors.New("registry: tree full")
	ErrNotFound          = errors.New("registry: not registered")
	ErrNoRoot            = errors.New("registry: no root sealed at or before the epoch")
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

// Config configures a Registry. Domain is required; the zero depth means prover.DefaultDepth.
type Config struct {
	Depth  int      // tree depth (index bits), even, up to prover.MaxDepth
	Domain [32]byte // registration signing domain, ComputeDomain of the network
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
// key's registration replaces its leaf (a new weight or identity). A key's registrations must
// come with increasing timestamps, so none can be replayed (ErrStaleRegistration). Between
// seals the tree is that of the last sealed epoch, so Member's paths lead to the root that
// proofs of the current epoch use. Root(epoch) answers for any sealed epoch, and for later
// epochs until the next seal.
//
// Persistence: every accepted registration is written to the store before Register returns
// and every seal after its registrations; Open replays them. Keys (prefix "zkv/registry/"):
//
//	meta              depth (1 byte) | domain (32 bytes)
//	log/<seq u64 BE>  Registration.Bytes() (with its timestamp), in acceptance order
//	seal/<epoch u64 BE>  root (32 bytes) | registrations applied (u64 BE) | leaves (u64 BE)
//
// The tree's nodes are not stored: Open recomputes them (a few seconds for a million leaves)
// and checks the result against the last sealed root. Open also checks that the log's
// timestamps increase per key, as Register made them.
//
// After a Seal whose record could not be written, every method but Domain and Depth returns
// (or answers from) the state of the last good seal or the error of the failed one, until the
// registry is reopened.
//
// A Registry is safe for concurrent use.
type Registry struct {
	mu     sync.RWMutex
	cfg    Config
	store  Store
	tree   *tree
	log    []Registration // every accepted registration, sealed ones first
	sealed int            // log[:sealed] are in the tree
	index  map[[bls.PublicKeyLength]byte]uint64
	byID   map[fr.Element]uint64
	latest map[[bls.PublicKeyLength]byte]uint64 // timestamp of each key's last accepted registration
	regs   []Registration                       // current registration of each leaf
	seals  []Seal

	// Queued registrations: identity -> key, and the keys not yet in the tree.
	queuedID  map[fr.Element][bls.PublicKeyLength]byte
	queuedNew map[[bls.PublicKeyLength]byte]bool

	// broken is set when a seal record could not be written after the tree had taken the
	// queued registrations: memory and store disagree until the registry is reopened.
	broken error
}

// Seal is the root of one epoch.
type Seal struct {
	Epoch   uint64
	Root    fr.Element
	Applied uint64 // registrations applied, in log order
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
// another depth or domain is refused.
func Open(store Store, cfg Config) (*Registry, error) {
	if cfg.Depth == 0 {
		cfg.Depth = prover.DefaultDepth
	}
	if err := prover.CheckDepth(cfg.Depth); err != nil {
		return nil, err
	}
	r := &Registry{
		cfg:    cfg,
		store:  store,
		tree:   newTree(cfg.Depth),
		index:  map[[bls.PublicKeyLength]byte]uint64{},
		byID:   map[fr.Element]uint64{},
		latest: map[[bls.PublicKeyLength]byte]uint64{},

		queuedID:  map[fr.Element][bls.PublicKeyLength]byte{},
		queuedNew: map[[bls.PublicKeyLength]byte]bool{},
	}
	meta := append([]byte{byte(cfg.Depth)}, cfg.Domain[:]...)
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
		reg, err := RegistrationFromBytes(v)
		if err != nil {
			return fmt.Errorf("log entry %x: %w", k[len(prefixLog):], err)
		}
		if seq := binary.BigEndian.Uint64(k[len(prefixLog):]); seq != uint64(len(r.log)) {
			return fmt.Errorf("%w: log entry %d where %d was expected", ErrStoreInconsistent, seq, len(r.log))
		}
		// Register took the log in this order, so the rule holds all along it.
		if last, ok := r.latest[reg.Pubkey]; ok && reg.Timestamp <= last {
			return fmt.Errorf("%w: log entry %d for key %x has timestamp %d, not after %d", ErrStoreInconsistent, len(r.log), reg.Pubkey[:8], reg.Timestamp, last)
		}
		r.latest[reg.Pubkey] = reg.Timestamp
		r.log = append(r.log, reg)
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
			return nil, fmt.Errorf("%w: seal of epoch %d applies %d registrations, the log has %d", ErrStoreInconsistent, last.Epoch, last.Applied, len(r.log))
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
		r.queue(&r.log[r.sealed+i])
	}
	return r, nil
}

func (r *Registry) queue(reg *Registration) {
	r.queuedID[reg.Identity] = reg.Pubkey
	if _, ok := r.index[reg.Pubkey]; !ok {
		r.queuedNew[reg.Pubkey] = true
	}
}

// apply puts a registration in the tree (without rehashing).
func (r *Registry) apply(reg *Registration) {
	idx, ok := r.index[reg.Pubkey]
	if !ok {
		idx = r.tree.len()
		r.index[reg.Pubkey] = idx
		r.regs = append(r.regs, *reg)
	} else {
		delete(r.byID, r.regs[idx].Identity)
		r.regs[idx] = *reg
	}
	r.byID[reg.Identity] = idx
	r.tree.set(idx, reg.Leaf())
}

// Register checks a registration (signature under the registry's domain, Config.Admit, a
// timestamp after that of the key's last accepted registration, a free leaf, an identity not
// held by another key, a timestamp at most MaxFutureTimestamp ahead) and queues it for the
// next Seal. It returns ErrBadSignature, ErrRejected, ErrStaleRegistration,
// ErrFutureRegistration, ErrDuplicate or ErrFull for registrations it refuses.
func (r *Registry) Register(reg Registration) error {
	if err := reg.Verify(r.cfg.Domain); err != nil {
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
	// Without this, anyone holding an old signed registration could resubmit it and roll the
	// key back, and an identical repeat would grow the log for nothing.
	if last, ok := r.latest[reg.Pubkey]; ok && reg.Timestamp <= last {
		return fmt.Errorf("%w: key %x: timestamp %d, last accepted %d", ErrStaleRegistration, reg.Pubkey[:8], reg.Timestamp, last)
	}
	// An identity belongs to one key, in the tree and in the queue.
	if idx, ok := r.byID[reg.Identity]; ok && r.regs[idx].Pubkey != reg.Pubkey {
		return fmt.Errorf("%w: identity %s", ErrDuplicate, prover.HexField(&reg.Identity))
	}
	if pk, ok := r.queuedID[reg.Identity]; ok && pk != reg.Pubkey {
		return fmt.Errorf("%w: identity %s", ErrDuplicate, prover.HexField(&reg.Identity))
	}
	if _, known := r.index[reg.Pubkey]; !known && !r.queuedNew[reg.Pubkey] {
		if capacity := uint64(1) << uint(r.cfg.Depth); r.tree.len()+uint64(len(r.queuedNew)) >= capacity {
			return fmt.Errorf("%w: depth %d holds %d leaves", ErrFull, r.cfg.Depth, capacity)
		}
	}
	b := reg.Bytes()
	if err := r.store.Set(seqKey(prefixLog, uint64(len(r.log))), b[:]); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	r.log = append(r.log, reg)
	r.latest[reg.Pubkey] = reg.Timestamp
	r.queue(&r.log[len(r.log)-1])
	return nil
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
	clear(r.queuedID)
	clear(r.queuedNew)
	return s, nil
}

// Root returns the root in force at epoch: that of the latest seal at or before it.
func (r *Registry) Root(epoch uint64) (fr.Element, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.broken != nil {
		return fr.Element{}, r.broken
	}
	i := sort.Search(len(r.seals), func(i int) bool { return r.seals[i].Epoch > epoch })
	if i == 0 {
		return fr.Element{}, fmt.Errorf("%w: epoch %d", ErrNoRoot, epoch)
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
	Index uint64
	Path  prover.Path
	Root  fr.Element // the last sealed root, which Path leads to
	Epoch uint64     // the epoch of that seal
}

// Member returns the sealed registration of a BLS key with its membership path.
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
	return r.member(idx), nil
}

// ByIdentity returns the sealed member whose identity commitment is id, the lookup that turns
// equivocation evidence into a validator.
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
	return Member{Registration: r.regs[idx], Index: idx, Path: r.tree.path(idx), Root: last.Root, Epoch: last.Epoch}
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
func (r *Registry) Domain() [32]byte { return r.cfg.Domain }

// Depth returns the tree depth.
func (r *Registry) Depth() int { return r.cfg.Depth }
