package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	ssz "github.com/ferranbt/fastssz"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/prover"
)

// testNetwork has a zero genesis validators root, so testDomain is the domain of before the
// root was part of it and the known answers below stayed.
var (
	testNetwork = prover.Network{GenesisForkVersion: [4]byte{0x10, 0x00, 0x00, 0x38}}
	testDomain  = ComputeDomain(testNetwork)
)

func testKey(t testing.TB, i int) *bls.SecretKey {
	t.Helper()
	seed := sha256.Sum256([]byte{byte(i), byte(i >> 8), 'k'})
	seed[0] &= 0x3f // below the BLS12-381 group order
	sk, err := bls.SecretKeyFromBytes(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func TestComputeDomainMatchesBuilderDomain(t *testing.T) {
	// The builder API's mainnet domain: compute_domain(0x00000001, 0x00000000, zero root), a
	// value every mev-boost relay uses; ComputeDomain differs only in the domain type.
	got := ComputeDomain(prover.Network{})
	want, _ := hex.DecodeString("00000001f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a9")
	if string(got[4:]) != string(want[4:]) || string(got[:4]) != string(DomainTypeRegistration[:]) {
		t.Fatalf("ComputeDomain = %x, want type %x then %x", got, DomainTypeRegistration, want[4:])
	}
}

func TestRegistration(t *testing.T) {
	sk := testKey(t, 1)
	reg := mustSign(t, sk, 32_000_000_000, testDomain)
	if err := reg.Verify(testDomain); err != nil {
		t.Fatal(err)
	}
	if want := prover.IdentityCommitment(prover.SecretFromBLS(sk)); !reg.Identity.Equal(&want) {
		t.Fatal("identity is not derived from the BLS key")
	}
	b := reg.Bytes()
	got, err := RegistrationFromBytes(b[:])
	if err != nil || got != reg {
		t.Fatalf("round trip: %v", err)
	}
	// The signing root against fastssz and go-eth2-client's SigningData, independent SSZ
	// implementations.
	hh := ssz.NewHasher()
	idx := hh.Index()
	hh.PutBytes(reg.Pubkey[:])
	id := reg.Identity.Bytes()
	hh.PutBytes(id[:])
	hh.PutUint64(reg.Weight)
	hh.PutUint64(reg.Timestamp)
	hh.Merkleize(idx)
	objectRoot, err := hh.HashRoot()
	if err != nil {
		t.Fatal(err)
	}
	want, err := (&phase0.SigningData{ObjectRoot: objectRoot, Domain: phase0.Domain(testDomain)}).HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	if got := reg.SigningRoot(testDomain); got != want {
		t.Fatalf("signing root %x, SSZ libraries say %x", got, want)
	}

	bad := map[string]func(r *Registration){
		"weight changed":    func(r *Registration) { r.Weight++ },
		"timestamp changed": func(r *Registration) { r.Timestamp++ },
		"identity changed":  func(r *Registration) { r.Identity.SetUint64(7) },
		"other key":         func(r *Registration) { r.Pubkey = testKey(t, 2).PublicKey().Bytes() },
		"garbage sig":       func(r *Registration) { r.Signature[5] ^= 1 },
		"other signer": func(r *Registration) {
			root := r.SigningRoot(testDomain)
			r.Signature = testKey(t, 2).Sign(root[:]).Bytes()
		},
	}
	for name, spoil := range bad {
		r := reg
		spoil(&r)
		if err := r.Verify(testDomain); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := reg.Verify(ComputeDomain(prover.Network{GenesisForkVersion: [4]byte{1}})); !errors.Is(err, ErrBadSignature) {
		t.Errorf("other network's domain: %v", err)
	}
	// Issue 13, finding 4: one fork version, another genesis validators root.
	sibling := testNetwork
	sibling.GenesisValidatorsRoot[0] = 1
	if err := reg.Verify(ComputeDomain(sibling)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("the domain of a network with the same fork version: %v", err)
	}
	if _, err := RegistrationFromBytes(b[:10]); !errors.Is(err, ErrMalformed) {
		t.Errorf("short encoding: %v", err)
	}
}

// TestRegistrationKnownAnswer pins the signing root and the encoding of one registration, so
// that a change of the format (as when the timestamp was added) is a deliberate one. The
// identity proof at the end of the encoding is randomized (Groth16's blinding), so the
// digest covers the part before it.
func TestRegistrationKnownAnswer(t *testing.T) {
	reg := mustSignAt(t, testKey(t, 1), 32_000_000_000, 1_700_000_000, testDomain)
	if got := reg.SigningRoot(testDomain); hex.EncodeToString(got[:]) != "0adec6b8b3b54afb74748a66ce2a9116c103ff276de71d6a93fd52c4eae2c5db" {
		t.Errorf("signing root %x", got)
	}
	b := reg.Bytes()
	if got := sha256.Sum256(b[:RegistrationSize-prover.ProofSize]); hex.EncodeToString(got[:]) != "d5c5142fcd62c520139de9d1c9234d54415fb569084334743c6691ae3682cc3c" {
		t.Errorf("SHA-256 of the encoding %x", got)
	}
}

// expectedRoot hashes leaves into a 4-ary tree of depth 4 by hand.
func expectedRoot(leaves []fr.Element) fr.Element {
	z := prover.ZeroHashes(4)
	var level1 [4]fr.Element
	for p := range level1 {
		var ch [4]fr.Element
		for j := range ch {
			if k := 4*p + j; k < len(leaves) {
				ch[j] = leaves[k]
			} else {
				ch[j] = z[0]
			}
		}
		level1[p] = prover.Node(ch)
	}
	return prover.Node(level1)
}

func TestRegistryLifecycle(t *testing.T) {
	r, err := Open(NewMemStore(), Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Root(0); !errors.Is(err, ErrNoRoot) {
		t.Fatalf("root before any seal: %v", err)
	}
	var leaves []fr.Element
	for i := 0; i < 6; i++ {
		reg := mustSign(t, testKey(t, i), uint64(32+i)*1_000_000_000, testDomain)
		if err := r.Register(reg); err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, reg.Leaf())
	}
	if r.Len() != 0 || r.Pending() != 6 {
		t.Fatal("registrations entered the tree before the seal")
	}
	s1, err := r.Seal(10)
	if err != nil {
		t.Fatal(err)
	}
	if want := expectedRoot(leaves); !s1.Root.Equal(&want) {
		t.Fatal("sealed root differs from the hand-built tree")
	}
	m, err := r.Member(testKey(t, 4).PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Path.Root(leaves[4]); m.Index != 4 || !got.Equal(&s1.Root) {
		t.Fatal("member path does not lead to the root")
	}

	// An update (new weight, later timestamp) and a new key, sealed at a later epoch.
	upd := mustSignAt(t, testKey(t, 2), 16_000_000_000, uint64(time.Now().Unix())+5, testDomain)
	if err := r.Register(upd); err != nil {
		t.Fatal(err)
	}
	nw := mustSign(t, testKey(t, 9), 1, testDomain)
	if err := r.Register(nw); err != nil {
		t.Fatal(err)
	}
	leaves[2] = upd.Leaf()
	leaves = append(leaves, nw.Leaf())
	if _, err := r.Seal(10); !errors.Is(err, ErrEpochOrder) {
		t.Fatalf("resealing an epoch: %v", err)
	}
	s2, err := r.Seal(12)
	if err != nil {
		t.Fatal(err)
	}
	if want := expectedRoot(leaves); !s2.Root.Equal(&want) || r.Len() != 7 {
		t.Fatal("root after an update and an insert differs from the hand-built tree")
	}
	for epoch, want := range map[uint64]fr.Element{10: s1.Root, 11: s1.Root, 12: s2.Root} {
		if got, err := r.Root(epoch); err != nil || !got.Equal(&want) {
			t.Errorf("Root(%d) wrong: %v", epoch, err)
		}
	}
	for _, epoch := range []uint64{9, 13, 99} {
		if _, err := r.Root(epoch); !errors.Is(err, ErrNoRoot) {
			t.Errorf("Root(%d) of an epoch no seal covers: %v", epoch, err)
		}
	}
	byID, err := r.ByIdentity(upd.Identity)
	if err != nil || byID.Weight != 16_000_000_000 || byID.Index != 2 {
		t.Fatalf("ByIdentity: %+v, %v", byID, err)
	}

	// Refusals.
	forged := mustSign(t, testKey(t, 20), 5, testDomain)
	forged.Weight = 6
	if err := r.Register(forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("bad signature: %v", err)
	}
	stolen := mustSign(t, testKey(t, 21), 5, testDomain)
	stolen.Identity = leavesIdentity(t, r, 3)
	root := stolen.SigningRoot(testDomain)
	stolen.Signature = testKey(t, 21).Sign(root[:]).Bytes()
	if err := r.Register(stolen); !errors.Is(err, ErrBadIdentityProof) {
		t.Fatalf("another key's identity without its secret: %v", err)
	}
	// Even a key that knows the secret of another's identity does not get it.
	colluder := signWithSecret(t, testKey(t, 21), prover.SecretFromBLS(testKey(t, 3)), 5, uint64(time.Now().Unix()))
	if err := r.Register(colluder); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("another key's identity: %v", err)
	}
	if r.Pending() != 0 {
		t.Fatal("a refused registration was queued")
	}
	if _, err := r.Member(testKey(t, 30).PublicKey().Bytes()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unregistered key: %v", err)
	}
}

func leavesIdentity(t *testing.T, r *Registry, i int) fr.Element {
	m, err := r.Member(testKey(t, i).PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return m.Identity
}

func TestRegistryFullAndAdmit(t *testing.T) {
	admitted := 0
	r, err := Open(NewMemStore(), Config{Depth: 2, Network: testNetwork, IdentityKey: testIdentityKey(t), Admit: func(reg *Registration) error {
		if reg.Weight == 0 {
			return errors.New("not an active validator")
		}
		admitted++
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(mustSign(t, testKey(t, 50), 0, testDomain)); !errors.Is(err, ErrRejected) {
		t.Fatalf("Admit refusal: %v", err)
	}
	for i := 0; i < 4; i++ {
		if err := r.Register(mustSign(t, testKey(t, i), 1, testDomain)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Register(mustSign(t, testKey(t, 4), 1, testDomain)); !errors.Is(err, ErrFull) {
		t.Fatalf("fifth leaf at depth 2: %v", err)
	}
	// An update of a queued key still fits.
	if err := r.Register(mustSignAt(t, testKey(t, 3), 2, uint64(time.Now().Unix())+5, testDomain)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Seal(1); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 4 {
		t.Fatalf("%d leaves, want 4", r.Len())
	}
}

func TestRegistryPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.log")
	cfg := Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t)}
	st, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := r.Register(mustSign(t, testKey(t, i), 7, testDomain)); err != nil {
			t.Fatal(err)
		}
	}
	s1, err := r.Seal(3)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(mustSign(t, testKey(t, 7), 8, testDomain)); err != nil { // pending at close
		t.Fatal(err)
	}
	want, _ := r.Member(testKey(t, 2).PublicKey().Bytes())
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// A crash during a write leaves a torn record at the end: dropped on open.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 0, 20, 0, 0, 1, 0, 'z', 'k'})
	f.Close()

	st2, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Open(st2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r2.Member(testKey(t, 2).PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got.Root != s1.Root || got.Index != want.Index || len(got.Path.Siblings) != len(want.Path.Siblings) || got.Path.Siblings[0] != want.Path.Siblings[0] {
		t.Fatal("reopened registry differs")
	}
	if r2.Pending() != 1 {
		t.Fatalf("pending after reopen = %d, want 1", r2.Pending())
	}
	s2, err := r2.Seal(4)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Len() != 6 || s2.Root == s1.Root {
		t.Fatal("the pending registration was not sealed after reopening")
	}
	st2.Close()

	st3 := mustReopen(t, path)
	if _, err := Open(st3, Config{Depth: 6, Network: testNetwork, IdentityKey: testIdentityKey(t)}); !errors.Is(err, ErrStoreInconsistent) {
		t.Fatalf("opening with another depth: %v", err)
	}
	st3.Close()

	// Damage before the last record is not a torn write.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[20] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFileStore(path); !errors.Is(err, ErrCorruptStore) {
		t.Fatalf("corrupt store: %v", err)
	}
}

func mustReopen(t *testing.T, path string) *FileStore {
	st, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// An old signed registration cannot be replayed to roll a key back, and an identical repeat
// is refused rather than logged again, before and after a reopen.
func TestRegistrationReplay(t *testing.T) {
	st := NewMemStore()
	cfg := Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t)}
	r, err := Open(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sk := testKey(t, 1)
	old := mustSignAt(t, sk, 32_000_000_000, 1000, testDomain)
	if err := r.Register(old); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(old); !errors.Is(err, ErrStaleRegistration) {
		t.Fatalf("identical repeat while queued: %v", err)
	}
	if _, err := r.Seal(1); err != nil {
		t.Fatal(err)
	}
	lower := mustSignAt(t, sk, 1_000_000_000, 2000, testDomain)
	if err := r.Register(lower); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Seal(2); err != nil {
		t.Fatal(err)
	}
	for name, reg := range map[string]Registration{
		"replay of the older":   old,
		"repeat of the latest":  lower,
		"same timestamp, other": mustSignAt(t, sk, 5, 2000, testDomain),
	} {
		if err := r.Register(reg); !errors.Is(err, ErrStaleRegistration) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if r.Pending() != 0 {
		t.Fatalf("%d refused registrations queued", r.Pending())
	}
	r2, err := Open(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Register(old); !errors.Is(err, ErrStaleRegistration) {
		t.Fatalf("replay after reopening: %v", err)
	}
	m, err := r2.Member(sk.PublicKey().Bytes())
	if err != nil || m.Weight != 1_000_000_000 || m.Timestamp != 2000 {
		t.Fatalf("member after reopening: %+v, %v", m.Registration, err)
	}
	if err := r2.Register(mustSignAt(t, sk, 7, 2001, testDomain)); err != nil {
		t.Fatalf("a newer registration: %v", err)
	}
}

// A log whose timestamps do not increase per key was not written by Register.
func TestOpenRefusesLogOutOfOrder(t *testing.T) {
	st := NewMemStore()
	if _, err := Open(st, Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t)}); err != nil {
		t.Fatal(err)
	}
	for i, ts := range []uint64{20, 10} {
		reg := mustSignAt(t, testKey(t, 1), 5, ts, testDomain)
		b := reg.Bytes()
		st.Set(seqKey(prefixLog, uint64(i)), b[:])
	}
	if _, err := Open(st, Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t)}); !errors.Is(err, ErrStoreInconsistent) {
		t.Fatalf("open = %v, want ErrStoreInconsistent", err)
	}
}

// failingStore fails every write of a seal record.
type failingStore struct{ *MemStore }

var errWrite = errors.New("disk full")

func (s failingStore) Set(k, v []byte) error {
	if bytes.HasPrefix(k, prefixSeal) {
		return errWrite
	}
	return s.MemStore.Set(k, v)
}

// After a seal whose record was not written, no accessor panics or answers from the tree the
// failed seal left behind.
func TestAccessorsAfterFailedSeal(t *testing.T) {
	for _, first := range []bool{true, false} {
		t.Run(fmt.Sprintf("first seal %v", first), func(t *testing.T) {
			mem := NewMemStore()
			r, err := Open(mem, Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t)})
			if err != nil {
				t.Fatal(err)
			}
			var leaves uint64
			if !first {
				if err := r.Register(mustSignAt(t, testKey(t, 9), 5, 1, testDomain)); err != nil {
					t.Fatal(err)
				}
				if _, err := r.Seal(1); err != nil {
					t.Fatal(err)
				}
				leaves = 1
			}
			r.store = failingStore{mem}
			reg := mustSignAt(t, testKey(t, 1), 5, 1, testDomain)
			if err := r.Register(reg); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Seal(2); !errors.Is(err, errWrite) {
				t.Fatalf("seal = %v, want the store's error", err)
			}
			if _, err := r.ByIdentity(reg.Identity); !errors.Is(err, errWrite) {
				t.Errorf("ByIdentity = %v", err)
			}
			if _, err := r.Member(reg.Pubkey); !errors.Is(err, errWrite) {
				t.Errorf("Member = %v", err)
			}
			if _, err := r.Root(2); !errors.Is(err, errWrite) {
				t.Errorf("Root = %v", err)
			}
			if n := r.Len(); n != leaves {
				t.Errorf("Len = %d, want the %d leaves of the last written seal", n, leaves)
			}
			if s, ok := r.LastSeal(); ok != !first || ok && s.Epoch != 1 {
				t.Errorf("LastSeal = %+v, %v", s, ok)
			}
		})
	}
}

// Store content that does not decode is an error, not a panic.
func TestOpenMalformedStore(t *testing.T) {
	cases := map[string]func(st *MemStore){
		"empty meta":     func(st *MemStore) { st.Set(keyMeta, nil) },
		"short meta":     func(st *MemStore) { st.Set(keyMeta, []byte{4}) },
		"short log key":  func(st *MemStore) { st.Set(append(bytes.Clone(prefixLog), 1, 2), make([]byte, RegistrationSize)) },
		"long log key":   func(st *MemStore) { st.Set(append(seqKey(prefixLog, 0), 0), make([]byte, RegistrationSize)) },
		"short seal key": func(st *MemStore) { st.Set(bytes.Clone(prefixSeal), make([]byte, 48)) },
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			st := NewMemStore()
			if _, err := Open(st, Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t)}); err != nil {
				t.Fatal(err)
			}
			spoil(st)
			if _, err := Open(st, Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t)}); !errors.Is(err, ErrStoreInconsistent) {
				t.Fatalf("open = %v, want ErrStoreInconsistent", err)
			}
		})
	}
}

// A registration stamped beyond MaxFutureTimestamp of the registry's clock is refused: it
// would block the key's next registrations until then. Within the allowance it is accepted.
func TestRegistrationFromTheFuture(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	r, err := Open(NewMemStore(), Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	sk := testKey(t, 1)
	far := uint64(now.Add(MaxFutureTimestamp + time.Second).Unix())
	if err := r.Register(mustSignAt(t, sk, 32_000_000_000, far, testDomain)); !errors.Is(err, ErrFutureRegistration) {
		t.Fatalf("registration %v ahead: %v, want ErrFutureRegistration", MaxFutureTimestamp+time.Second, err)
	}
	if err := r.Register(mustSignAt(t, sk, 32_000_000_000, ^uint64(0), testDomain)); !errors.Is(err, ErrFutureRegistration) {
		t.Fatalf("registration at the end of time: %v, want ErrFutureRegistration", err)
	}
	near := uint64(now.Add(MaxFutureTimestamp).Unix())
	if err := r.Register(mustSignAt(t, sk, 32_000_000_000, near, testDomain)); err != nil {
		t.Fatalf("registration within the clock allowance: %v", err)
	}
}

var identityKeys = sync.OnceValues(func() (*prover.IdentityKeys, error) { return prover.LoadIdentityKeys("", false) })

func testIdentityKeys(t testing.TB) *prover.IdentityKeys {
	t.Helper()
	k, err := identityKeys()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testIdentityKey(t testing.TB) *prover.IdentityVerifyingKey {
	return testIdentityKeys(t).VerifyingKey()
}

func mustSign(t testing.TB, sk *bls.SecretKey, weight uint64, domain [32]byte) Registration {
	t.Helper()
	r, err := Sign(testIdentityKeys(t), sk, weight, domain)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustSignAt(t testing.TB, sk *bls.SecretKey, weight, timestamp uint64, domain [32]byte) Registration {
	t.Helper()
	r, err := SignAt(testIdentityKeys(t), sk, weight, timestamp, domain)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
