package prover

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/consensys/gnark-crypto/ecc"
	bn254 "github.com/consensys/gnark-crypto/ecc/bn254"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/backend/groth16/bn254/mpcsetup"
	cs "github.com/consensys/gnark/constraint/bn254"
)

// ErrBadTranscript reports a ceremony transcript that does not verify: a record that is
// truncated, tampered with, built on another record than its predecessor, made for another
// circuit or depth, or whose proof of correct contribution fails.
var ErrBadTranscript = errors.New("prover: bad ceremony transcript")

// A ceremony transcript is a directory of records, one file each:
//
//	phase1/0000.zkvc            the initial powers of tau (no secret: anyone recomputes it)
//	phase1/0001.zkvc, ...       contributions to phase 1
//	phase1/beacon.zkvc          the random beacon that seals phase 1
//	phase2-<circuit>/0000.zkvc  phase 2 of one circuit, initialised from the sealed phase 1
//	phase2-<circuit>/0001.zkvc  contributions to phase 2 (one contribution writes one file per circuit)
//	phase2-<circuit>/beacon.zkvc the beacon that seals phase 2 and fixes the keys
//
// The protocol is that of Bowe, Gabizon and Miers, "Scalable Multi-party Computation for
// zk-SNARK Parameters in the Random Beacon Model" (eprint 2017/1050), as gnark's
// backend/groth16/bn254/mpcsetup implements it: phase 1 is circuit-independent, phase 2 is per
// circuit and starts from the sealed phase 1, so the two phases need two beacons, each drawn
// after the last contribution of its phase. The keys are sound when one contributor of each
// phase kept their randomness secret.
//
// Every record is: magic | version | phase | kind | circuit | depth | depths mask | domain size
// | circuit hash | index | hash of the previous record | this record's hash | payload length |
// payload (gnark's serialization of the Phase1 or Phase2 object, which carries the
// contribution's proof of knowledge, or the beacon value). A record's hash is a SHA-256 over
// everything but itself; hashes chain from phase1/0000 through the phase-1 beacon into every
// circuit's phase 2 and its beacon, next to gnark's own chain (each object's challenge is the
// hash of its predecessor).
var ceremonyMagic = [8]byte{'Z', 'K', 'V', 'C', 'R', 'M', 'N', 'Y'}

const (
	ceremonyVersion    = 1
	ceremonyHeaderSize = 8 + 1 + 1 + 1 + 1 + 1 + 4 + 8 + 32 + 4 + 32 + 32 + 8
	ceremonyExt        = ".zkvc"
	beaconName         = "beacon" + ceremonyExt

	// MaxBeaconSize bounds a beacon value (a block hash is 32 bytes).
	MaxBeaconSize = 1024
)

// Record kinds.
const (
	kindInitial      = 0
	kindContribution = 1
	kindBeacon       = 2
)

var kindNames = [...]string{"initial", "contribution", "beacon"}

// Circuit codes in a record header.
const (
	codePowersOfTau = 0
	codeAttestation = 1
	codeIdentity    = 2
)

// CeremonyCircuit names one circuit of a ceremony's phase 2: the attestation circuit of a
// registry depth, or the identity-proof circuit (IdentityCircuit) that registrations carry.
type CeremonyCircuit struct {
	Identity bool // the identity-proof circuit; Depth is 0
	Depth    int  // the attestation circuit's registry depth
}

// String names the circuit as its transcript directory does: "attestation-d20", "identity".
func (c CeremonyCircuit) String() string {
	if c.Identity {
		return "identity"
	}
	return fmt.Sprintf("attestation-d%d", c.Depth)
}

func (c CeremonyCircuit) code() uint8 {
	if c.Identity {
		return codeIdentity
	}
	return codeAttestation
}

func (c CeremonyCircuit) dir() string { return "phase2-" + c.String() }

func (c CeremonyCircuit) compile() (*cs.R1CS, error) {
	if c.Identity {
		return compileIdentity()
	}
	return compile(c.Depth)
}

// CeremonyRecord describes one record of a transcript.
type CeremonyRecord struct {
	Path    string   // the file
	Phase   int      // 1 or 2
	Circuit string   // "powers-of-tau" in phase 1, CeremonyCircuit.String() in phase 2
	Kind    string   // "initial", "contribution" or "beacon"
	Index   int      // position in its chain; the initial record is 0, a beacon follows the last contribution
	Prev    [32]byte // hash of the record it is built on (zero for phase1/0000)
	Hash    [32]byte // this record's hash
	Bytes   int64    // file size
}

// CeremonyTranscript is a verified transcript.
type CeremonyTranscript struct {
	// Phase is where the ceremony stands: 1 while phase 1 takes contributions, 2 once its
	// beacon sealed it and phase 2 takes them, 3 once phase 2 is sealed and the keys fixed.
	Phase int
	// Depths are the attestation circuit depths the ceremony is for.
	Depths []int
	// DomainSize is phase 1's size: the powers of tau cover every circuit with at most this
	// many constraints.
	DomainSize uint64
	// Records lists every record in the order verified: phase 1, then each circuit's phase 2.
	Records []CeremonyRecord
	// Final maps each circuit, once sealed, to the hash of its phase-2 beacon record: the
	// transcript hash its keys record (KeyOrigin.Transcript).
	Final map[CeremonyCircuit][32]byte
}

// Contributions returns the number of contributions to a phase (to each circuit in phase 2:
// one contribution writes a record for every circuit).
func (t *CeremonyTranscript) Contributions(phase int) int {
	circuit := "powers-of-tau"
	if phase == 2 {
		circuit = t.Circuits()[0].String()
	}
	n := 0
	for _, r := range t.Records {
		if r.Phase == phase && r.Circuit == circuit && r.Kind == "contribution" {
			n++
		}
	}
	return n
}

// Circuits returns the circuits of phase 2: the attestation circuit of each depth, then the
// identity circuit.
func (t *CeremonyTranscript) Circuits() []CeremonyCircuit { return ceremonyCircuits(t.Depths) }

func ceremonyCircuits(depths []int) []CeremonyCircuit {
	out := make([]CeremonyCircuit, 0, len(depths)+1)
	for _, d := range depths {
		out = append(out, CeremonyCircuit{Depth: d})
	}
	return append(out, CeremonyCircuit{Identity: true})
}

// recordHeader is the fixed-size header of a record.
type recordHeader struct {
	phase, kind, circuit, depth uint8
	depths                      uint32 // phase 1: bit d/2 set for each attestation depth d
	size                        uint64 // the domain size of the phase's SRS
	circuitHash                 [32]byte
	index                       uint32
	prev, hash                  [32]byte
}

func (h *recordHeader) encode(payloadLen int) []byte {
	b := make([]byte, 0, ceremonyHeaderSize)
	b = append(b, ceremonyMagic[:]...)
	b = append(b, ceremonyVersion, h.phase, h.kind, h.circuit, h.depth)
	b = binary.BigEndian.AppendUint32(b, h.depths)
	b = binary.BigEndian.AppendUint64(b, h.size)
	b = append(b, h.circuitHash[:]...)
	b = binary.BigEndian.AppendUint32(b, h.index)
	b = append(b, h.prev[:]...)
	b = append(b, h.hash[:]...)
	return binary.BigEndian.AppendUint64(b, uint64(payloadLen))
}

// hashOffset is where the record's own hash lies in the header.
const hashOffset = ceremonyHeaderSize - 8 - 32

// recordHash hashes a record with its hash field zeroed.
func recordHash(header, payload []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("zkv ceremony record v1"))
	h.Write(header[:hashOffset])
	h.Write(make([]byte, 32))
	h.Write(header[hashOffset+32:])
	h.Write(payload)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// parseRecord checks a record's framing and hash and returns its header and payload.
func parseRecord(data []byte) (recordHeader, []byte, error) {
	var h recordHeader
	if len(data) < ceremonyHeaderSize {
		return h, nil, fmt.Errorf("truncated: %d bytes, shorter than a record header", len(data))
	}
	if !bytes.Equal(data[:8], ceremonyMagic[:]) {
		return h, nil, errors.New("not a zkv ceremony record")
	}
	if data[8] != ceremonyVersion {
		return h, nil, fmt.Errorf("record version %d, want %d", data[8], ceremonyVersion)
	}
	h.phase, h.kind, h.circuit, h.depth = data[9], data[10], data[11], data[12]
	off := 13
	h.depths = binary.BigEndian.Uint32(data[off:])
	off += 4
	h.size = binary.BigEndian.Uint64(data[off:])
	off += 8
	copy(h.circuitHash[:], data[off:])
	off += 32
	h.index = binary.BigEndian.Uint32(data[off:])
	off += 4
	copy(h.prev[:], data[off:])
	off += 32
	copy(h.hash[:], data[off:])
	off += 32
	n := binary.BigEndian.Uint64(data[off:])
	payload := data[ceremonyHeaderSize:]
	if n != uint64(len(payload)) {
		return h, nil, fmt.Errorf("truncated or padded: payload of %d bytes, the header says %d", len(payload), n)
	}
	if got := recordHash(data[:ceremonyHeaderSize], payload); got != h.hash {
		return h, nil, fmt.Errorf("hash mismatch: content hashes to %x, the header says %x", got[:8], h.hash[:8])
	}
	if h.kind > kindBeacon {
		return h, nil, fmt.Errorf("unknown record kind %d", h.kind)
	}
	return h, payload, nil
}

// ceremonyDir is an opened transcript directory.
type ceremonyDir struct{ root string }

func (d ceremonyDir) path(sub string, index int) string {
	return filepath.Join(d.root, sub, fmt.Sprintf("%04d%s", index, ceremonyExt))
}

// list returns the numbered records of a chain directory, checking they are 0..n-1, and
// whether a beacon record is there.
func (d ceremonyDir) list(sub string) (n int, beacon bool, err error) {
	entries, err := os.ReadDir(filepath.Join(d.root, sub))
	if err != nil {
		return 0, false, err
	}
	var idx []int
	for _, e := range entries {
		name := e.Name()
		if name == beaconName {
			beacon = true
			continue
		}
		if !strings.HasSuffix(name, ceremonyExt) {
			continue // a contributor's notes or a temporary file are not records
		}
		i, err := strconv.Atoi(strings.TrimSuffix(name, ceremonyExt))
		if err != nil || i < 0 || name != fmt.Sprintf("%04d%s", i, ceremonyExt) {
			return 0, false, fmt.Errorf("%w: %s: not a record name (want NNNN%s)", ErrBadTranscript, filepath.Join(sub, name), ceremonyExt)
		}
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for k, i := range idx {
		if i != k {
			return 0, false, fmt.Errorf("%w: %s: record %d missing", ErrBadTranscript, sub, k)
		}
	}
	return len(idx), beacon, nil
}

// writeNew writes files under new names only, all or none: each is written beside its name,
// synced, then linked into place; a failure removes what this call placed.
func writeNew(files map[string][]byte) error {
	var placed []string
	fail := func(err error) error {
		for _, p := range placed {
			os.Remove(p)
		}
		return err
	}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fail(err)
		}
		f, err := os.CreateTemp(filepath.Dir(p), ".zkvc-*")
		if err != nil {
			return fail(err)
		}
		_, err = f.Write(files[p])
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			// Link, not rename: a record that appeared meanwhile (another contributor) is
			// an error, not silently replaced.
			err = os.Link(f.Name(), p)
		}
		os.Remove(f.Name())
		if err != nil {
			return fail(fmt.Errorf("write %s: %w", p, err))
		}
		placed = append(placed, p)
	}
	return nil
}

func makeRecord(h recordHeader, payload []byte) ([]byte, [32]byte) {
	header := h.encode(len(payload))
	sum := recordHash(header, payload)
	copy(header[hashOffset:], sum[:])
	return append(header, payload...), sum
}

func depthMask(depths []int) uint32 {
	var m uint32
	for _, d := range depths {
		m |= 1 << uint(d/2)
	}
	return m
}

func depthsOf(mask uint32) []int {
	var out []int
	for i := 0; i < 32; i++ {
		if mask&(1<<uint(i)) != 0 {
			out = append(out, 2*i)
		}
	}
	return out
}

// domainSize is the FFT domain of a circuit: the constraints rounded up to a power of two.
func domainSize(ccs *cs.R1CS) uint64 { return ecc.NextPowerOfTwo(uint64(ccs.GetNbConstraints())) }

func encodeGnark(w io.WriterTo) ([]byte, error) {
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// decodeGnark decodes a payload, which must be consumed exactly. gnark's decoders check
// every point is on the curve and in its subgroup; decodeSafely turns their panics on
// lengths they trust into errors.
func decodeGnark(payload []byte, v io.ReaderFrom) error {
	r := bytes.NewReader(payload)
	if err := decodeSafely(func() error { _, err := v.ReadFrom(r); return err }); err != nil {
		return err
	}
	if r.Len() != 0 {
		return fmt.Errorf("%d trailing bytes", r.Len())
	}
	return nil
}

// InitCeremony starts a ceremony transcript in dir (which must not hold one) for the
// attestation circuits of the given depths and the identity circuit: it writes the initial
// powers of tau, sized for the largest of these circuits, as phase1/0000.zkvc. The initial
// record holds no secret; contributions add them.
func InitCeremony(dir string, depths []int) (CeremonyRecord, error) {
	var rec CeremonyRecord
	if len(depths) == 0 {
		return rec, fmt.Errorf("%w: a ceremony needs at least one depth", ErrBadInput)
	}
	depths = slices.Clone(depths)
	slices.Sort(depths)
	depths = slices.Compact(depths)
	for _, d := range depths {
		if err := CheckDepth(d); err != nil {
			return rec, err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "phase1")); err == nil {
		return rec, fmt.Errorf("%s already holds a ceremony transcript", dir)
	}
	var n uint64
	for _, c := range ceremonyCircuits(depths) {
		ccs, err := c.compile()
		if err != nil {
			return rec, err
		}
		n = max(n, domainSize(ccs))
	}
	payload, err := encodeGnark(mpcsetup.NewPhase1(n))
	if err != nil {
		return rec, fmt.Errorf("encode phase 1: %w", err)
	}
	h := recordHeader{phase: 1, kind: kindInitial, circuit: codePowersOfTau, depths: depthMask(depths), size: n}
	file, sum := makeRecord(h, payload)
	d := ceremonyDir{dir}
	p := d.path("phase1", 0)
	if err := writeNew(map[string][]byte{p: file}); err != nil {
		return rec, err
	}
	return CeremonyRecord{Path: p, Phase: 1, Circuit: "powers-of-tau", Kind: "initial", Hash: sum, Bytes: int64(len(file))}, nil
}

// chainState is one verified chain (phase 1, or one circuit's phase 2).
type chainState struct {
	circuit CeremonyCircuit
	ccs     *cs.R1CS
	srs     mpcsetup.SrsCommons // phase 2: the sealed powers of tau cut to the circuit's domain
	n       int                 // records before the beacon
	last    [32]byte            // hash of the last record
	beacon  []byte              // nil until sealed
	p1      []*mpcsetup.Phase1  // phase 1 contributions (index 1..)
	p2      []*mpcsetup.Phase2  // phase 2 contributions (index 1..)
	head1   *mpcsetup.Phase1    // the last phase-1 object, the one the next contribution builds on
	head2   *mpcsetup.Phase2
}

// ceremonyState is a verified transcript with what contributing and finalising need.
type ceremonyState struct {
	dir     ceremonyDir
	t       CeremonyTranscript
	p1      chainState
	commons *mpcsetup.SrsCommons // sealed phase 1
	p2      []*chainState
}

// readRecord reads a record and checks it is the one its chain expects at path.
func (s *ceremonyState) readRecord(path string, want recordHeader, kind uint8) ([]byte, recordHeader, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, recordHeader{}, err
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadTranscript, path, fmt.Sprintf(format, a...))
	}
	h, payload, err := parseRecord(data)
	if err != nil {
		return nil, h, bad("%v", err)
	}
	switch {
	case h.phase != want.phase:
		return nil, h, bad("a record of phase %d in phase %d's chain", h.phase, want.phase)
	case h.circuit != want.circuit || h.depth != want.depth:
		return nil, h, bad("a record for another circuit or depth (%s), want %s", circuitName(h), circuitName(want))
	case h.circuitHash != want.circuitHash:
		return nil, h, bad("a record for another version of the circuit (hash %x, want %x)", h.circuitHash[:8], want.circuitHash[:8])
	case h.depths != want.depths || h.size != want.size:
		return nil, h, bad("a record of another ceremony (depths %v, domain %d; want depths %v, domain %d)", depthsOf(h.depths), h.size, depthsOf(want.depths), want.size)
	case h.kind != kind:
		return nil, h, bad("a %s record where a %s belongs", kindName(h.kind), kindName(kind))
	case h.index != want.index:
		return nil, h, bad("record index %d under the name of record %d", h.index, want.index)
	case h.prev != want.prev:
		return nil, h, bad("built on a record of hash %x, not on the previous record (hash %x)", h.prev[:8], want.prev[:8])
	}
	s.t.Records = append(s.t.Records, CeremonyRecord{
		Path: path, Phase: int(h.phase), Circuit: circuitName(h), Kind: kindName(h.kind), Index: int(h.index),
		Prev: h.prev, Hash: h.hash, Bytes: int64(len(data)),
	})
	return payload, h, nil
}

func circuitName(h recordHeader) string {
	switch h.circuit {
	case codePowersOfTau:
		return "powers-of-tau"
	case codeAttestation:
		return CeremonyCircuit{Depth: int(h.depth)}.String()
	case codeIdentity:
		return CeremonyCircuit{Identity: true}.String()
	}
	return fmt.Sprintf("circuit %d", h.circuit)
}

func kindName(k uint8) string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind %d", k)
}

// VerifyCeremony checks a transcript from its first record: every record's framing, hash and
// place in its chain, every contribution's proof of correct contribution (gnark's Verify of
// each Phase1 and Phase2 object against its predecessor), the initial records against their
// recomputation, and the beacons by recomputing what they seal (gnark's VerifyPhase1 and
// VerifyPhase2). It returns every record with its hash, so contributors find theirs. A
// transcript that does not verify is ErrBadTranscript naming the first bad record.
//
// Recomputing a circuit's initial phase-2 record (gnark's Phase2.Initialize) is the slow
// part: about 16 s for a depth-2 or depth-4 circuit (domain 2048) and some 30 s at depth 20
// (domain 4096) on 2 shared cores (BenchmarkCeremonyDepth20).
func VerifyCeremony(dir string) (*CeremonyTranscript, error) {
	s, err := loadCeremony(dir, loadFull)
	if err != nil {
		return nil, err
	}
	return &s.t, nil
}

// loadMode says how much loadCeremony checks.
type loadMode int

const (
	// loadChain checks every record's framing, hash and link, and every contribution's
	// proof against its predecessor, taking the initial phase-2 records as they are: what a
	// contribution needs. Their content is checked by VerifyPhase2 when phase 2 is sealed,
	// which starts from its own recomputation.
	loadChain loadMode = iota
	// loadSealed is loadChain and the sealed phase 1, which sealing phase 2 needs.
	loadSealed
	// loadFull checks everything: VerifyCeremony.
	loadFull
)

func loadCeremony(dir string, mode loadMode) (*ceremonyState, error) {
	s := &ceremonyState{dir: ceremonyDir{dir}, t: CeremonyTranscript{Phase: 1, Final: map[CeremonyCircuit][32]byte{}}}
	if err := s.verifyPhase1(mode >= loadSealed); err != nil {
		return nil, err
	}
	if s.p1.beacon == nil {
		return s, nil
	}
	s.t.Phase = 2
	sealed := 0
	for _, c := range s.t.Circuits() {
		cs, err := s.verifyPhase2(c, mode == loadFull)
		if err != nil {
			return nil, err
		}
		s.p2 = append(s.p2, cs)
		if cs.beacon != nil {
			sealed++
		}
	}
	switch sealed {
	case 0:
	case len(s.p2):
		s.t.Phase = 3
	default:
		return nil, fmt.Errorf("%w: %s: %d of %d circuits sealed", ErrBadTranscript, dir, sealed, len(s.p2))
	}
	return s, nil
}

func (s *ceremonyState) verifyPhase1(seal bool) error {
	const sub = "phase1"
	n, beacon, err := s.dir.list(sub)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && n == 0) {
		return fmt.Errorf("%w: %s holds no ceremony (run init first)", ErrBadTranscript, s.dir.root)
	}
	if err != nil {
		return err
	}
	// The initial record fixes the ceremony: its depths and its domain size.
	path0 := s.dir.path(sub, 0)
	data, err := os.ReadFile(path0)
	if err != nil {
		return err
	}
	h0, _, err := parseRecord(data)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadTranscript, path0, err)
	}
	depths := depthsOf(h0.depths)
	if len(depths) == 0 || h0.size == 0 || h0.size&(h0.size-1) != 0 || bits.Len64(h0.size) > 28 {
		return fmt.Errorf("%w: %s: depths %v and domain %d are not those of a ceremony", ErrBadTranscript, path0, depths, h0.size)
	}
	for _, d := range depths {
		if err := CheckDepth(d); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadTranscript, path0, err)
		}
	}
	var need uint64
	for _, c := range ceremonyCircuits(depths) {
		ccs, err := c.compile()
		if err != nil {
			return err
		}
		need = max(need, domainSize(ccs))
	}
	if h0.size != need {
		return fmt.Errorf("%w: %s: powers of tau of %d, the circuits need %d", ErrBadTranscript, path0, h0.size, need)
	}
	s.t.Depths, s.t.DomainSize = depths, h0.size

	want0 := recordHeader{phase: 1, circuit: codePowersOfTau, depths: h0.depths, size: h0.size}
	payload, _, err := s.readRecord(path0, want0, kindInitial)
	if err != nil {
		return err
	}
	initial := mpcsetup.NewPhase1(h0.size)
	initialBytes, err := encodeGnark(initial)
	if err != nil {
		return err
	}
	if !bytes.Equal(payload, initialBytes) {
		return fmt.Errorf("%w: %s: not the initial powers of tau of domain %d", ErrBadTranscript, path0, h0.size)
	}
	c := &s.p1
	c.n, c.last, c.head1 = 1, h0.hash, initial
	// A contribution's object has the initial one's size plus its 32-byte challenge; checking
	// the size first keeps gnark's decoder from allocating what a forged length asks for.
	contribSize := len(initialBytes) + sha256.Size
	for i := 1; i < n; i++ {
		path := s.dir.path(sub, i)
		want := want0
		want.index, want.prev = uint32(i), c.last
		payload, h, err := s.readRecord(path, want, kindContribution)
		if err != nil {
			return err
		}
		if len(payload) != contribSize {
			return fmt.Errorf("%w: %s: contribution of %d bytes, want %d", ErrBadTranscript, path, len(payload), contribSize)
		}
		next := new(mpcsetup.Phase1)
		if err := decodeGnark(payload, next); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadTranscript, path, err)
		}
		if err := c.head1.Verify(next); err != nil {
			return fmt.Errorf("%w: %s: contribution %d: %v", ErrBadTranscript, path, i, err)
		}
		c.p1 = append(c.p1, next)
		c.head1, c.last, c.n = next, h.hash, i+1
	}
	if !beacon {
		return nil
	}
	path := filepath.Join(s.dir.root, sub, beaconName)
	want := want0
	want.index, want.prev = uint32(n), c.last
	b, h, err := s.readRecord(path, want, kindBeacon)
	if err != nil {
		return err
	}
	if len(b) == 0 || len(b) > MaxBeaconSize {
		return fmt.Errorf("%w: %s: beacon of %d bytes", ErrBadTranscript, path, len(b))
	}
	if seal {
		if s.commons, err = sealPhase1(h0.size, b, c.p1); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadTranscript, path, err)
		}
	}
	c.beacon, c.last = b, h.hash
	return nil
}

// sealPhase1 runs gnark's VerifyPhase1 on fresh copies of the contributions (it modifies the
// last one) and returns the sealed powers of tau.
func sealPhase1(n uint64, beacon []byte, contribs []*mpcsetup.Phase1) (*mpcsetup.SrsCommons, error) {
	if len(beacon) == 0 || len(beacon) > MaxBeaconSize {
		return nil, fmt.Errorf("%w: beacon of %d bytes: want 1 to %d", ErrBadInput, len(beacon), MaxBeaconSize)
	}
	if len(contribs) == 0 {
		return nil, fmt.Errorf("%w: phase 1 has no contribution: sealing it would make keys whose toxic waste the beacon alone fixes", ErrBadInput)
	}
	cp, err := clonePhase1(contribs)
	if err != nil {
		return nil, err
	}
	commons, err := mpcsetup.VerifyPhase1(n, beacon, cp...)
	if err != nil {
		return nil, err
	}
	return &commons, nil
}

func clonePhase1(in []*mpcsetup.Phase1) ([]*mpcsetup.Phase1, error) {
	out := make([]*mpcsetup.Phase1, len(in))
	for i, p := range in {
		b, err := encodeGnark(p)
		if err != nil {
			return nil, err
		}
		out[i] = new(mpcsetup.Phase1)
		if err := decodeGnark(b, out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// truncateSRS cuts the powers of tau of a larger domain to a circuit's domain m: the same
// powers, fewer of them ([τⁱ]₁ for i ≤ 2m-2, [τⁱ]₂, [ατⁱ]₁, [βτⁱ]₁ for i ≤ m-1), which is what
// a phase 1 of domain m would have produced with the same τ, α and β.
func truncateSRS(c *mpcsetup.SrsCommons, m uint64) mpcsetup.SrsCommons {
	var t mpcsetup.SrsCommons
	t.G1.Tau = c.G1.Tau[:2*m-1]
	t.G1.AlphaTau = c.G1.AlphaTau[:m]
	t.G1.BetaTau = c.G1.BetaTau[:m]
	t.G2.Tau = c.G2.Tau[:m]
	t.G2.Beta = c.G2.Beta
	return t
}

// phase2Initial is the initial phase-2 object of a circuit, recomputed from the sealed
// powers of tau.
func phase2Initial(ccs *cs.R1CS, srs *mpcsetup.SrsCommons) (*mpcsetup.Phase2, error) {
	if len(ccs.CommitmentInfo.CommitmentIndexes()) != 0 {
		return nil, errors.New("circuit with BSB22 commitments") // zkv's circuits have none
	}
	p := new(mpcsetup.Phase2)
	p.Initialize(ccs, srs)
	return p, nil
}

func (s *ceremonyState) phase2Header(c *chainState) recordHeader {
	return recordHeader{
		phase: 2, circuit: c.circuit.code(), depth: uint8(c.circuit.Depth),
		depths: depthMask(s.t.Depths), size: domainSize(c.ccs), circuitHash: circuitHash(c.ccs),
	}
}

// newChain compiles a circuit of phase 2 and, once phase 1 is sealed, cuts its powers of tau.
func (s *ceremonyState) newChain(circuit CeremonyCircuit) (*chainState, error) {
	ccs, err := circuit.compile()
	if err != nil {
		return nil, err
	}
	m := domainSize(ccs)
	if m > s.t.DomainSize {
		return nil, fmt.Errorf("%w: %s needs a domain of %d, phase 1 has %d", ErrBadTranscript, circuit, m, s.t.DomainSize)
	}
	c := &chainState{circuit: circuit, ccs: ccs}
	if s.commons != nil {
		c.srs = truncateSRS(s.commons, m)
	}
	return c, nil
}

// phase2Size is the encoded size of a circuit's initial phase-2 object: δ in both groups, a
// base per private wire, the domain's Z bases, an empty proof and no challenge. Checking it
// before decoding keeps gnark's decoder from allocating what a forged length asks for.
func phase2Size(ccs *cs.R1CS) (int, error) {
	internal, secret, _ := ccs.GetNbVariables()
	var p mpcsetup.Phase2
	p.Parameters.G1.PKK = make([]bn254.G1Affine, internal+secret)
	p.Parameters.G1.Z = make([]bn254.G1Affine, domainSize(ccs)-1)
	b, err := encodeGnark(&p)
	return len(b), err
}

func (s *ceremonyState) verifyPhase2(circuit CeremonyCircuit, full bool) (*chainState, error) {
	sub := circuit.dir()
	n, beacon, err := s.dir.list(sub)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && n == 0) {
		return nil, fmt.Errorf("%w: phase 1 is sealed but %s has no records", ErrBadTranscript, sub)
	}
	if err != nil {
		return nil, err
	}
	c, err := s.newChain(circuit)
	if err != nil {
		return nil, err
	}
	size, err := phase2Size(c.ccs)
	if err != nil {
		return nil, err
	}
	want0 := s.phase2Header(c)
	want0.prev = s.p1.last
	path0 := s.dir.path(sub, 0)
	initialBytes, h0, err := s.readRecord(path0, want0, kindInitial)
	if err != nil {
		return nil, err
	}
	initial := new(mpcsetup.Phase2)
	if len(initialBytes) != size {
		return nil, fmt.Errorf("%w: %s: initial record of %d bytes, want %d", ErrBadTranscript, path0, len(initialBytes), size)
	}
	if err := decodeGnark(initialBytes, initial); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadTranscript, path0, err)
	}
	c.n, c.last, c.head2 = 1, h0.hash, initial
	contribSize := size + sha256.Size
	for i := 1; i < n; i++ {
		path := s.dir.path(sub, i)
		want := want0
		want.index, want.prev = uint32(i), c.last
		payload, h, err := s.readRecord(path, want, kindContribution)
		if err != nil {
			return nil, err
		}
		if len(payload) != contribSize {
			return nil, fmt.Errorf("%w: %s: contribution of %d bytes, want %d", ErrBadTranscript, path, len(payload), contribSize)
		}
		next := new(mpcsetup.Phase2)
		if err := decodeGnark(payload, next); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadTranscript, path, err)
		}
		if len(next.Sigmas) != 0 {
			return nil, fmt.Errorf("%w: %s: %d commitment proofs in a circuit without commitments", ErrBadTranscript, path, len(next.Sigmas))
		}
		if err := c.head2.Verify(next); err != nil {
			return nil, fmt.Errorf("%w: %s: contribution %d: %v", ErrBadTranscript, path, i, err)
		}
		c.p2 = append(c.p2, next)
		c.head2, c.last, c.n = next, h.hash, i+1
	}
	var beaconPath string
	if beacon {
		beaconPath = filepath.Join(s.dir.root, sub, beaconName)
		want := want0
		want.index, want.prev = uint32(n), c.last
		b, h, err := s.readRecord(beaconPath, want, kindBeacon)
		if err != nil {
			return nil, err
		}
		if len(b) == 0 || len(b) > MaxBeaconSize {
			return nil, fmt.Errorf("%w: %s: beacon of %d bytes", ErrBadTranscript, beaconPath, len(b))
		}
		c.beacon, c.last = b, h.hash
		s.t.Final[circuit] = h.hash
	}
	if !full {
		return c, nil
	}
	// The initial record must be the one the sealed phase 1 and the circuit give. With a
	// beacon, VerifyPhase2 recomputes it and checks the first contribution's challenge, which
	// the loop above checked is the hash of the record's object.
	if beacon {
		if _, _, err := c.seal(c.beacon); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadTranscript, beaconPath, err)
		}
		return c, nil
	}
	want, err := phase2Initial(c.ccs, &c.srs)
	if err != nil {
		return nil, err
	}
	wantBytes, err := encodeGnark(want)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(initialBytes, wantBytes) {
		return nil, fmt.Errorf("%w: %s: not the initial phase 2 of %s from the sealed phase 1", ErrBadTranscript, path0, circuit)
	}
	return c, nil
}

// seal runs gnark's VerifyPhase2 on fresh copies of the chain's contributions and returns
// the keys the beacon fixes.
func (c *chainState) seal(beacon []byte) (*groth16bn254.ProvingKey, *groth16bn254.VerifyingKey, error) {
	if len(beacon) == 0 || len(beacon) > MaxBeaconSize {
		return nil, nil, fmt.Errorf("%w: beacon of %d bytes: want 1 to %d", ErrBadInput, len(beacon), MaxBeaconSize)
	}
	if len(c.p2) == 0 {
		return nil, nil, fmt.Errorf("%w: phase 2 of %s has no contribution: sealing it would make keys whose toxic waste the beacon alone fixes", ErrBadInput, c.circuit)
	}
	cp := make([]*mpcsetup.Phase2, len(c.p2))
	for i, p := range c.p2 {
		b, err := encodeGnark(p)
		if err != nil {
			return nil, nil, err
		}
		cp[i] = new(mpcsetup.Phase2)
		if err := decodeGnark(b, cp[i]); err != nil {
			return nil, nil, err
		}
	}
	var (
		pk  any
		vk  any
		err error
	)
	// VerifyPhase2 reinitialises from the circuit and the sealed phase 1 and checks the
	// whole chain again before sealing; Initialize panics on a circuit larger than the
	// domain, which newChain ruled out.
	err = decodeSafely(func() error {
		p, v, err := mpcsetup.VerifyPhase2(c.ccs, &c.srs, beacon, cp...)
		pk, vk = p, v
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return pk.(*groth16bn254.ProvingKey), vk.(*groth16bn254.VerifyingKey), nil
}

// ContributeCeremony adds one contribution to the ceremony in dir, after checking the chain it
// builds on (every record's hash and link and every contribution's proof; VerifyCeremony
// checks the rest): to phase 1 while it is open, otherwise to phase 2 of every circuit (one record
// each). The contribution's secrets come from the system's randomness (crypto/rand) and,
// when entropy is not empty, from entropy as well (see mixEntropy); gnark discards them when
// the contribution is made. It returns the records written.
func ContributeCeremony(dir string, entropy []byte) ([]CeremonyRecord, error) {
	s, err := loadCeremony(dir, loadChain)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	var recs []CeremonyRecord
	add := func(sub string, h recordHeader, payload []byte, circuit string) {
		file, sum := makeRecord(h, payload)
		p := s.dir.path(sub, int(h.index))
		files[p] = file
		recs = append(recs, CeremonyRecord{Path: p, Phase: int(h.phase), Circuit: circuit, Kind: "contribution",
			Index: int(h.index), Prev: h.prev, Hash: sum, Bytes: int64(len(file))})
	}
	switch s.t.Phase {
	case 1:
		c := &s.p1
		next, err := clonePhase1([]*mpcsetup.Phase1{c.head1})
		if err != nil {
			return nil, err
		}
		mixEntropy(entropy, c.last, next[0].Contribute)
		payload, err := encodeGnark(next[0])
		if err != nil {
			return nil, err
		}
		h := recordHeader{phase: 1, kind: kindContribution, circuit: codePowersOfTau, depths: depthMask(s.t.Depths),
			size: s.t.DomainSize, index: uint32(c.n), prev: c.last}
		add("phase1", h, payload, "powers-of-tau")
	case 2:
		for _, c := range s.p2 {
			b, err := encodeGnark(c.head2)
			if err != nil {
				return nil, err
			}
			next := new(mpcsetup.Phase2)
			if err := decodeGnark(b, next); err != nil {
				return nil, err
			}
			mixEntropy(entropy, c.last, next.Contribute)
			payload, err := encodeGnark(next)
			if err != nil {
				return nil, err
			}
			h := s.phase2Header(c)
			h.kind, h.index, h.prev = kindContribution, uint32(c.n), c.last
			add(c.circuit.dir(), h, payload, c.circuit.String())
		}
	default:
		return nil, fmt.Errorf("%w: the ceremony in %s is finalized: it takes no more contributions", ErrBadInput, dir)
	}
	if err := writeNew(files); err != nil {
		return nil, err
	}
	return recs, nil
}

// randMu serialises the replacement of crypto/rand.Reader in mixEntropy.
var randMu sync.Mutex

// systemRand is where contributions draw system randomness; tests replace it to show that
// the user's entropy reaches the contribution.
var systemRand io.Reader = rand.Reader

// mixEntropy runs contribute with the user's entropy mixed into the randomness it draws.
//
// gnark's Contribute (mpcsetup.UpdateValues) samples each secret with fr.Element.SetRandom,
// which reads crypto/rand.Reader, and takes no randomness of ours: its Phase1 keeps its
// parameters unexported, so the contribution cannot be made outside gnark. What zkv can do
// without changing gnark is replace crypto/rand.Reader while Contribute runs with a reader
// that returns the system's random bytes XOR an AES-256-CTR key stream keyed by
// SHA-256(domain, previous record's hash, entropy). The XOR of the system's bytes with a
// stream independent of them is uniform when either is unpredictable: the entropy can only
// add to the system's randomness, never replace it. The replacement is process-wide, so
// Contribute must not run beside other users of crypto/rand (the CLI runs it alone);
// randMu keeps two contributions from overlapping. Without entropy, gnark draws from the
// system alone.
func mixEntropy(entropy []byte, prev [32]byte, contribute func()) {
	randMu.Lock()
	defer randMu.Unlock()
	if len(entropy) == 0 && systemRand == rand.Reader {
		contribute()
		return
	}
	h := sha256.New()
	h.Write([]byte("zkv ceremony entropy v1"))
	h.Write(prev[:])
	h.Write(entropy)
	block, err := aes.NewCipher(h.Sum(nil))
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	saved := rand.Reader
	rand.Reader = &mixedReader{sys: systemRand, stream: cipher.NewCTR(block, make([]byte, aes.BlockSize))}
	defer func() { rand.Reader = saved }()
	contribute()
}

type mixedReader struct {
	sys    io.Reader
	stream cipher.Stream
}

func (m *mixedReader) Read(p []byte) (int, error) {
	n, err := io.ReadFull(m.sys, p)
	m.stream.XORKeyStream(p[:n], p[:n])
	return n, err
}

// CeremonyKeys are the keys a finalized ceremony wrote.
type CeremonyKeys struct {
	Attestation []*Keys
	Identity    *IdentityKeys
	Paths       []string // the cache files written
}

// FinalizeCeremony applies a public random beacon to the ceremony in dir, after checking the
// chain and, through gnark's VerifyPhase1 and VerifyPhase2, every contribution of the phase. The beacon must be a value nobody could know before the phase's last
// contribution was published (a future block hash, a drand round).
//
// While phase 1 is open, it seals phase 1 (gnark's VerifyPhase1 with the beacon), writes the
// beacon record and the initial phase-2 record of every circuit; contributions then go to
// phase 2, which needs a second, later beacon. While phase 2 is open, it seals every
// circuit's phase 2 (gnark's VerifyPhase2 with the beacon), writes the beacon records and
// the keys into cacheDir in the key cache format, marked as ceremony keys with their
// transcript hash, where LoadKeys and LoadIdentityKeys read them. It returns the verified
// transcript after the step, and the keys after phase 2.
func FinalizeCeremony(dir string, beacon []byte, cacheDir string) (*CeremonyTranscript, *CeremonyKeys, error) {
	if len(beacon) == 0 || len(beacon) > MaxBeaconSize {
		return nil, nil, fmt.Errorf("%w: beacon of %d bytes: want 1 to %d", ErrBadInput, len(beacon), MaxBeaconSize)
	}
	s, err := loadCeremony(dir, loadSealed)
	if err != nil {
		return nil, nil, err
	}
	switch s.t.Phase {
	case 1:
		if err := s.finalizePhase1(beacon); err != nil {
			return nil, nil, err
		}
		t, err := loadCeremony(dir, loadChain)
		if err != nil {
			return nil, nil, err
		}
		return &t.t, nil, nil
	case 2:
		if cacheDir == "" {
			return nil, nil, fmt.Errorf("%w: finalizing phase 2 needs a key cache directory", ErrBadInput)
		}
		keys, err := s.finalizePhase2(beacon, cacheDir)
		if err != nil {
			return nil, nil, err
		}
		t, err := loadCeremony(dir, loadChain)
		if err != nil {
			return nil, nil, err
		}
		return &t.t, keys, nil
	default:
		return nil, nil, fmt.Errorf("%w: the ceremony in %s is already finalized", ErrBadInput, dir)
	}
}

func (s *ceremonyState) finalizePhase1(beacon []byte) error {
	c := &s.p1
	commons, err := sealPhase1(s.t.DomainSize, beacon, c.p1)
	if err != nil {
		return err
	}
	s.commons = commons
	h := recordHeader{phase: 1, kind: kindBeacon, circuit: codePowersOfTau, depths: depthMask(s.t.Depths),
		size: s.t.DomainSize, index: uint32(c.n), prev: c.last}
	file, sum := makeRecord(h, beacon)
	files := map[string][]byte{filepath.Join(s.dir.root, "phase1", beaconName): file}
	for _, circuit := range s.t.Circuits() {
		ch, err := s.newChain(circuit)
		if err != nil {
			return err
		}
		p, err := phase2Initial(ch.ccs, &ch.srs)
		if err != nil {
			return err
		}
		payload, err := encodeGnark(p)
		if err != nil {
			return err
		}
		h := s.phase2Header(ch)
		h.kind, h.prev = kindInitial, sum
		f, _ := makeRecord(h, payload)
		files[s.dir.path(circuit.dir(), 0)] = f
	}
	return writeNew(files)
}

func (s *ceremonyState) finalizePhase2(beacon []byte, cacheDir string) (*CeremonyKeys, error) {
	files := map[string][]byte{}
	out := &CeremonyKeys{}
	type pending struct {
		write func() error
		path  string
	}
	var writes []pending
	for _, c := range s.p2 {
		pk, vk, err := c.seal(beacon)
		if err != nil {
			return nil, err
		}
		h := s.phase2Header(c)
		h.kind, h.index, h.prev = kindBeacon, uint32(c.n), c.last
		file, sum := makeRecord(h, beacon)
		files[filepath.Join(s.dir.root, c.circuit.dir(), beaconName)] = file
		origin := KeyOrigin{Ceremony: true, Transcript: sum}
		if c.circuit.Identity {
			ik := &IdentityKeys{ccs: c.ccs, pk: pk, origin: origin}
			if ik.vk, err = newIdentityVerifyingKey(vk); err != nil {
				return nil, err
			}
			if n := domainSize(c.ccs); pk.Domain.Cardinality != n {
				return nil, fmt.Errorf("identity proving key of domain %d, want %d", pk.Domain.Cardinality, n)
			}
			out.Identity = ik
			p := filepath.Join(cacheDir, identityCacheName(c.ccs))
			writes = append(writes, pending{func() error { return ik.writeCache(p) }, p})
			continue
		}
		k := &Keys{depth: c.circuit.Depth, ccs: c.ccs, pk: pk, circuitHash: circuitHash(c.ccs), origin: origin}
		if err := k.checkProvingKey(pk); err != nil {
			return nil, fmt.Errorf("ceremony proving key of %s: %w", c.circuit, err)
		}
		if k.vk, err = newVerifyingKey(vk); err != nil {
			return nil, err
		}
		out.Attestation = append(out.Attestation, k)
		p := filepath.Join(cacheDir, k.cacheName())
		writes = append(writes, pending{func() error { return k.writeCache(p) }, p})
	}
	// The beacon records first: keys without the records that fix them could not be checked.
	if err := writeNew(files); err != nil {
		return nil, err
	}
	for _, w := range writes {
		if err := w.write(); err != nil {
			return nil, err
		}
		out.Paths = append(out.Paths, w.path)
	}
	return out, nil
}
