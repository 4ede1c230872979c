package prover

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/consensys/gnark"
	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/constraint"
	cs "github.com/consensys/gnark/constraint/bn254"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/logger"
)

func init() {
	// gnark logs every compile, setup and proof on a global zerolog logger; zkv reports what
	// matters through its own return values.
	logger.Disable()
}

// Keys are the compiled circuit and the Groth16 keys of one registry depth.
//
// Keys that LoadKeys makes come from a single-party setup: whoever ran it knows the toxic
// waste and can forge proofs. They are for devnets and tests only; production keys come from
// a multi-party ceremony (see Ceremony), which writes them into the same cache, where
// LoadKeys reads them with Origin().Ceremony set.
type Keys struct {
	depth       int
	ccs         *cs.R1CS
	pk          *groth16bn254.ProvingKey
	vk          *VerifyingKey
	circuitHash [32]byte
	origin      KeyOrigin
}

// KeyOrigin says where a set of keys comes from.
type KeyOrigin struct {
	// Ceremony is set for keys of a multi-party ceremony (Ceremony.Finalize), unset for keys
	// of a single-party setup (DevnetWarning applies).
	Ceremony bool
	// Transcript is, for ceremony keys, the hash of the ceremony's final record for this
	// circuit (its beacon record), which chains every contribution of both phases: 'zkv
	// prover ceremony verify' prints it.
	Transcript [32]byte
}

// Origin says whether the keys come from a ceremony (and which) or a single-party setup.
func (k *Keys) Origin() KeyOrigin { return k.origin }

// Depth returns the registry depth the keys prove for.
func (k *Keys) Depth() int { return k.depth }

// VerifyingKey returns the verifying key.
func (k *Keys) VerifyingKey() *VerifyingKey { return k.vk }

// Constraints returns the number of R1CS constraints of the circuit.
func (k *Keys) Constraints() int { return k.ccs.GetNbConstraints() }

// CircuitHash identifies the compiled circuit: a SHA-256 over its constraints and coefficients.
func (k *Keys) CircuitHash() [32]byte { return k.circuitHash }

// KeyConfig configures LoadKeys. The zero value is a depth-20 circuit without a disk cache.
type KeyConfig struct {
	Depth    int    // registry depth; 0 means DefaultDepth
	CacheDir string // directory of the key cache; "" keeps keys in memory only
	// CacheOnly reads the keys from the cache and never makes new ones: a missing or damaged
	// cache file is ErrNoKeys. Provers and verifiers that must agree on one setup use it, so
	// that a lost cache file does not silently become a different setup.
	CacheOnly bool
}

// KeyInfo says how LoadKeys obtained the keys.
type KeyInfo struct {
	Path        string        // the cache file; "" without a cache directory
	FromCache   bool          // the keys were read from Path
	CacheError  error         // why an existing cache file was discarded and regenerated
	Constraints int           // R1CS constraints of the circuit
	Compile     time.Duration // circuit compilation
	Load        time.Duration // reading and checking the cache file
	Setup       time.Duration // the single-party setup, when one ran
}

// DevnetWarning is the label every single-party setup carries wherever it is shown.
const DevnetWarning = "DEVNET ONLY: these keys come from a single-party Groth16 setup; " +
	"whoever ran it can forge proofs. Production keys must come from a multi-party ceremony."

// LoadKeys compiles the circuit and returns its keys, from the cache when a valid cache file
// exists and from a new single-party setup otherwise (see DevnetWarning). A cache file is
// keyed by (gnark version, circuit hash, depth, architecture) in its name and carries a
// SHA-256 of its content; a file that fails the check is reported in KeyInfo.CacheError,
// regenerated and replaced.
func LoadKeys(cfg KeyConfig) (*Keys, KeyInfo, error) {
	var info KeyInfo
	if cfg.Depth == 0 {
		cfg.Depth = DefaultDepth
	}
	if err := CheckDepth(cfg.Depth); err != nil {
		return nil, info, err
	}
	start := time.Now()
	ccs, err := compile(cfg.Depth)
	if err != nil {
		return nil, info, err
	}
	info.Compile = time.Since(start)
	info.Constraints = ccs.GetNbConstraints()
	k := &Keys{depth: cfg.Depth, ccs: ccs, circuitHash: circuitHash(ccs)}

	if cfg.CacheDir != "" {
		info.Path = filepath.Join(cfg.CacheDir, k.cacheName())
		start = time.Now()
		err := k.readCache(info.Path)
		switch {
		case err == nil:
			info.Load = time.Since(start)
			info.FromCache = true
			return k, info, nil
		case errors.Is(err, fs.ErrNotExist):
			if cfg.CacheOnly {
				return nil, info, fmt.Errorf("%w: no keys of depth %d in %s", ErrNoKeys, cfg.Depth, cfg.CacheDir)
			}
		default:
			if cfg.CacheOnly {
				return nil, info, fmt.Errorf("%w: %s: %w", ErrNoKeys, info.Path, err)
			}
			info.CacheError = err
		}
	}
	if cfg.CacheOnly {
		return nil, info, fmt.Errorf("%w: CacheOnly without a cache directory", ErrNoKeys)
	}

	start = time.Now()
	pk, vk, err := groth16.Setup(ccs)
	if err != nil {
		return nil, info, fmt.Errorf("groth16 setup of depth %d: %w", cfg.Depth, err)
	}
	info.Setup = time.Since(start)
	k.pk = pk.(*groth16bn254.ProvingKey)
	if k.vk, err = newVerifyingKey(vk.(*groth16bn254.VerifyingKey)); err != nil {
		return nil, info, err
	}
	if info.Path != "" {
		if err := k.writeCache(info.Path); err != nil {
			return nil, info, err
		}
	}
	return k, info, nil
}

// compile compiles the circuit of a depth and checks that it is a plain Groth16 circuit.
func compile(depth int) (*cs.R1CS, error) {
	ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, NewCircuit(depth))
	if err != nil {
		return nil, fmt.Errorf("compile circuit of depth %d: %w", depth, err)
	}
	r := ccs.(*cs.R1CS)
	if n := len(r.CommitmentInfo.CommitmentIndexes()); n != 0 {
		return nil, fmt.Errorf("compile circuit of depth %d: %d BSB22 commitments, want none", depth, n)
	}
	if r.GetNbPublicVariables() != NumPublic+1 {
		return nil, fmt.Errorf("compile circuit of depth %d: %d public variables, want %d", depth, r.GetNbPublicVariables(), NumPublic+1)
	}
	return r, nil
}

// circuitHash hashes what the keys depend on: the variable counts, every constraint's terms
// and the coefficient table.
func circuitHash(ccs *cs.R1CS) [32]byte {
	h := sha256.New()
	var buf [8]byte
	put := func(v uint64) {
		binary.BigEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	put(uint64(ccs.GetNbPublicVariables()))
	put(uint64(ccs.GetNbSecretVariables()))
	put(uint64(ccs.GetNbInternalVariables()))
	r1cs := ccs.GetR1Cs()
	put(uint64(len(r1cs)))
	for _, c := range r1cs {
		for _, le := range [...]constraint.LinearExpression{c.L, c.R, c.O} {
			put(uint64(len(le)))
			for _, t := range le {
				put(uint64(t.CID)<<32 | uint64(t.VID))
			}
		}
	}
	put(uint64(len(ccs.Coefficients)))
	for i := range ccs.Coefficients {
		b := ccs.Coefficients[i].Bytes()
		h.Write(b[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func (k *Keys) cacheName() string {
	return fmt.Sprintf("zkv-groth16-bn254-d%d-gnark%s-%s-%x.keys", k.depth, gnark.Version, runtime.GOARCH, k.circuitHash[:8])
}

// Cache file: magic | SHA-256 of the rest | header | origin | proving key (gnark dump) |
// verifying key. The proving key is a raw memory dump (gnark WriteDump), the fastest form to
// load, which is why the name carries the architecture and the checksum guards the content.
// Version 2 added the origin (a kind byte and the ceremony transcript hash); a version-1
// file has none and holds single-party keys.
var (
	cacheMagic   = [8]byte{'Z', 'K', 'V', 'K', 'E', 'Y', 'S', 2}
	cacheMagicV1 = [8]byte{'Z', 'K', 'V', 'K', 'E', 'Y', 'S', 1}
)

// originSize is the encoded size of a KeyOrigin: a kind byte (0 single-party, 1 ceremony)
// and the transcript hash.
const originSize = 1 + sha256.Size

func (o KeyOrigin) encode() []byte {
	b := make([]byte, originSize)
	if o.Ceremony {
		b[0] = 1
		copy(b[1:], o.Transcript[:])
	}
	return b
}

func decodeOrigin(b []byte) (KeyOrigin, error) {
	var o KeyOrigin
	if len(b) < originSize {
		return o, errors.New("truncated key origin")
	}
	switch b[0] {
	case 0:
		if !bytes.Equal(b[1:originSize], make([]byte, sha256.Size)) {
			return o, errors.New("single-party keys with a transcript hash")
		}
	case 1:
		o.Ceremony = true
		copy(o.Transcript[:], b[1:originSize])
	default:
		return o, fmt.Errorf("unknown key origin %d", b[0])
	}
	return o, nil
}

func (k *Keys) cacheHeader() []byte {
	var b bytes.Buffer
	var d [4]byte
	binary.BigEndian.PutUint32(d[:], uint32(k.depth))
	b.Write(d[:])
	b.Write(k.circuitHash[:])
	for _, s := range []string{gnark.Version.String(), runtime.GOARCH} {
		var n [2]byte
		binary.BigEndian.PutUint16(n[:], uint16(len(s)))
		b.Write(n[:])
		b.WriteString(s)
	}
	return b.Bytes()
}

func (k *Keys) writeCache(path string) error {
	var payload bytes.Buffer
	payload.Write(k.cacheHeader())
	payload.Write(k.origin.encode())
	var pkBuf bytes.Buffer
	if err := k.pk.WriteDump(&pkBuf); err != nil {
		return fmt.Errorf("encode proving key: %w", err)
	}
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(pkBuf.Len()))
	payload.Write(n[:])
	payload.Write(pkBuf.Bytes())
	if _, err := k.vk.vk.WriteRawTo(&payload); err != nil {
		return fmt.Errorf("encode verifying key: %w", err)
	}
	sum := sha256.Sum256(payload.Bytes())

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("key cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".zkv-keys-*")
	if err != nil {
		return fmt.Errorf("key cache: %w", err)
	}
	defer os.Remove(f.Name()) // no-op after the rename
	for _, part := range [][]byte{cacheMagic[:], sum[:], payload.Bytes()} {
		if _, err := f.Write(part); err != nil {
			f.Close()
			return fmt.Errorf("write key cache %s: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write key cache %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write key cache %s: %w", path, err)
	}
	// Rename last, so a reader never sees half a file under the final name.
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write key cache %s: %w", path, err)
	}
	return nil
}

func (k *Keys) readCache(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	corrupt := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrCorruptCache, path, fmt.Sprintf(format, a...))
	}
	if len(data) < len(cacheMagic)+sha256.Size {
		return corrupt("not a zkv key cache")
	}
	v1 := bytes.Equal(data[:len(cacheMagicV1)], cacheMagicV1[:])
	if !v1 && !bytes.Equal(data[:len(cacheMagic)], cacheMagic[:]) {
		return corrupt("not a zkv key cache")
	}
	sum, payload := data[len(cacheMagic):len(cacheMagic)+sha256.Size], data[len(cacheMagic)+sha256.Size:]
	if got := sha256.Sum256(payload); !bytes.Equal(got[:], sum) {
		return corrupt("checksum mismatch")
	}
	header := k.cacheHeader()
	if !bytes.HasPrefix(payload, header) {
		return corrupt("made for another circuit, gnark version or architecture")
	}
	rest := payload[len(header):]
	var origin KeyOrigin
	if !v1 {
		if origin, err = decodeOrigin(rest); err != nil {
			return corrupt("%v", err)
		}
		rest = rest[originSize:]
	}
	r := bytes.NewReader(rest)
	var n uint64
	if err := binary.Read(r, binary.BigEndian, &n); err != nil || n > uint64(r.Len()) {
		return corrupt("truncated proving key")
	}
	pkBytes := make([]byte, n)
	if _, err := io.ReadFull(r, pkBytes); err != nil {
		return corrupt("truncated proving key")
	}
	pk := new(groth16bn254.ProvingKey)
	if err := decodeSafely(func() error { return pk.ReadDump(bytes.NewReader(pkBytes)) }); err != nil {
		return corrupt("proving key: %v", err)
	}
	// The checksum already covers the content, so the subgroup checks of ReadFrom would only
	// cost time.
	vk := new(groth16bn254.VerifyingKey)
	if err := decodeSafely(func() error { _, err := vk.UnsafeReadFrom(r); return err }); err != nil {
		return corrupt("verifying key: %v", err)
	}
	if r.Len() != 0 {
		return corrupt("%d trailing bytes", r.Len())
	}
	if err := k.checkProvingKey(pk); err != nil {
		return corrupt("proving key does not fit the circuit: %v", err)
	}
	// The proving key must be the verifying key's: a cache that pairs keys of two setups
	// makes proofs that its own verifier refuses. α, β and δ are in both.
	if !pk.G1.Alpha.Equal(&vk.G1.Alpha) || !pk.G1.Beta.Equal(&vk.G1.Beta) || !pk.G2.Beta.Equal(&vk.G2.Beta) ||
		!pk.G1.Delta.Equal(&vk.G1.Delta) || !pk.G2.Delta.Equal(&vk.G2.Delta) {
		return corrupt("proving key of another setup than the verifying key")
	}
	vkw, err := newVerifyingKey(vk)
	if err != nil {
		return corrupt("%v", err)
	}
	k.pk, k.vk, k.origin = pk, vkw, origin
	return nil
}

// decodeSafely runs one of gnark's decoders, turning a panic into an error: gnark's raw dump
// reader trusts the lengths it reads (a dump whose flags do not match its wire count makes it
// allocate a slice of a garbage length), and the cache's checksum does not make a file
// trustworthy, since anyone can recompute it.
func decodeSafely(decode func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panicked: %v", p)
		}
	}()
	return decode()
}

// checkProvingKey checks every length that Prover, its layout and gnark's prover index by
// against the compiled circuit. The cache's checksum only guards against damage: anyone can
// recompute it, and a key of the wrong shape must be an error, not an index out of range.
func (k *Keys) checkProvingKey(pk *groth16bn254.ProvingKey) error {
	nbPublic := k.ccs.GetNbPublicVariables()
	nbWires := nbPublic + k.ccs.GetNbSecretVariables() + k.ccs.GetNbInternalVariables()
	if len(pk.CommitmentKeys) != 0 {
		return fmt.Errorf("%d commitment keys, want none", len(pk.CommitmentKeys))
	}
	if n := ecc.NextPowerOfTwo(uint64(k.ccs.GetNbConstraints())); pk.Domain.Cardinality != n {
		return fmt.Errorf("domain of %d points, want %d", pk.Domain.Cardinality, n)
	}
	if len(pk.InfinityA) != nbWires || len(pk.InfinityB) != nbWires {
		return fmt.Errorf("infinity flags for %d and %d wires, want %d", len(pk.InfinityA), len(pk.InfinityB), nbWires)
	}
	// G1.A, G1.B and G2.B hold the bases of the wires not flagged at infinity.
	finite := func(infinity []bool) int {
		n := 0
		for _, inf := range infinity {
			if !inf {
				n++
			}
		}
		return n
	}
	nA, nB := finite(pk.InfinityA), finite(pk.InfinityB)
	switch {
	case len(pk.G1.A) != nA || pk.NbInfinityA != uint64(nbWires-nA):
		return fmt.Errorf("%d A bases and %d at infinity, the flags say %d and %d", len(pk.G1.A), pk.NbInfinityA, nA, nbWires-nA)
	case len(pk.G1.B) != nB || len(pk.G2.B) != nB || pk.NbInfinityB != uint64(nbWires-nB):
		return fmt.Errorf("%d G1 and %d G2 B bases and %d at infinity, the flags say %d and %d", len(pk.G1.B), len(pk.G2.B), pk.NbInfinityB, nB, nbWires-nB)
	case len(pk.G1.K) != nbWires-nbPublic:
		return fmt.Errorf("%d K bases, want %d", len(pk.G1.K), nbWires-nbPublic)
	case uint64(len(pk.G1.Z)) != pk.Domain.Cardinality-1:
		return fmt.Errorf("%d Z bases, want %d", len(pk.G1.Z), pk.Domain.Cardinality-1)
	}
	return nil
}
