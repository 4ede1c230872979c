package prover

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fp"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// Errors of the per-validator cache's export and import.
var (
	// ErrNotCached reports a validator the prover holds no cache entry for.
	ErrNotCached = errors.New("prover: validator not in the cache")
	// ErrCacheMismatch reports a cache entry made by a prover of other keys (another circuit,
	// another setup), another wire layout or another entry version (an older prover's, after
	// an upgrade): its sums are of other bases or another format and must not be used. The
	// caller drops the entry; the next proof of its validator computes a fresh one.
	ErrCacheMismatch = errors.New("prover: cache entry of other keys or another version")
	// ErrNoCache reports a prover built with the cache disabled.
	ErrNoCache = errors.New("prover: cache disabled")
)

// An exported cache entry (ExportCache) is
//
//	magic "ZKVPC" | version (2) | keys ID (32) | identity (32, big-endian) | groups (u16 BE) |
//	per group: digest (32) | a, k (G1, 64 each: X | Y big-endian) | b2 (G2, 128) |
//	SHA-256 of everything before it (32)
//
// Version 1 also held each group's G1 sum of B, which the prover stopped computing when it
// took to rerandomizing its proofs (see Prover). Its entries, and any other version, are
// refused with ErrCacheMismatch, as an entry of other keys is: callers drop such an entry and
// the next proof of its validator makes a fresh one. The keys ID names the version as well
// (keysID), so a reader that skipped the version byte would still not take another version's
// entry.
//
// The keys ID (Prover.KeysID) ties the entry to the circuit, the setup and the wire layout, so
// an entry of other keys is refused (ErrCacheMismatch), and the checksum refuses a damaged one
// (ErrCorruptCache). Each group keeps the digest of the wire values its sums were computed
// from: after an import the prover reuses a group's sums only for exactly those values, as it
// does for sums it computed itself, so an entry from an older registry root costs the
// recomputation of the groups that changed, never a wrong proof.
const (
	entryMagic      = "ZKVPC"
	entryVersion    = 2
	cacheHeaderSize = len(entryMagic) + 1 + 32 + fr.Bytes + 2
	cacheGroupSize  = 32 + 2*bn254.SizeOfG1AffineUncompressed + bn254.SizeOfG2AffineUncompressed
)

// keysID computes the identifier of the keys and layout a cache entry of entryVersion is
// valid for: the circuit hash, the setup-specific points of the proving key and every
// group's wire list.
func keysID(k *Keys, l *layout) [32]byte { return keysIDOf(k, l, entryVersion) }

// keysIDOf is keysID for entries of the given version: the version is in the hash's domain
// string, so the IDs of two versions differ for the same keys.
func keysIDOf(k *Keys, l *layout, version byte) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "zkv/prover-cache/keys/v%d", version)
	ch := k.circuitHash
	h.Write(ch[:])
	for _, p := range []*bn254.G1Affine{&k.pk.G1.Alpha, &k.pk.G1.Beta, &k.pk.G1.Delta} {
		b := p.RawBytes()
		h.Write(b[:])
	}
	d2 := k.pk.G2.Delta.RawBytes()
	h.Write(d2[:])
	var buf [8]byte
	for _, g := range l.groups {
		binary.BigEndian.PutUint64(buf[:], g.label)
		h.Write(buf[:])
		binary.BigEndian.PutUint64(buf[:], uint64(len(g.wires)))
		h.Write(buf[:])
		for _, w := range g.wires {
			binary.BigEndian.PutUint64(buf[:], uint64(w))
			h.Write(buf[:])
		}
	}
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// KeysID identifies the keys (circuit and setup) and the wire layout of the prover's cache
// entries: an exported entry imports only into a prover with the same KeysID.
func (p *Prover) KeysID() [32]byte { return p.keysID }

// ExportCache encodes the cache entry of the validator whose identity commitment is identity
// (IdentityCommitment of its secret), for storage across restarts. It returns ErrNotCached when
// the prover holds none and ErrNoCache when the cache is disabled.
func (p *Prover) ExportCache(identity fr.Element) ([]byte, error) {
	if p.cache == nil {
		return nil, ErrNoCache
	}
	e := p.cache.peek(identity)
	if e == nil {
		return nil, ErrNotCached
	}
	groups := p.layout.groups
	out := make([]byte, 0, cacheHeaderSize+len(groups)*cacheGroupSize+sha256.Size)
	out = append(out, entryMagic...)
	out = append(out, entryVersion)
	out = append(out, p.keysID[:]...)
	idb := identity.Bytes()
	out = append(out, idb[:]...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(groups)))
	for gi := range groups {
		out = append(out, e.digests[gi][:]...)
		for _, pt := range []*bn254.G1Affine{&e.sums[gi].a, &e.sums[gi].k} {
			b := pt.RawBytes()
			out = append(out, b[:]...)
		}
		b2 := e.sums[gi].b2.RawBytes()
		out = append(out, b2[:]...)
	}
	sum := sha256.Sum256(out)
	return append(out, sum[:]...), nil
}

// ImportCache decodes an entry written by ExportCache and puts it in the cache, where the next
// proof of its validator finds it. It returns the entry's identity commitment. A damaged entry
// is ErrCorruptCache; an entry of other keys, another layout or another version (one an older
// prover wrote) is ErrCacheMismatch. Neither changes the cache, and both mean the entry is of
// no use: the caller drops it.
func (p *Prover) ImportCache(b []byte) (fr.Element, error) {
	var id fr.Element
	if p.cache == nil {
		return id, ErrNoCache
	}
	groups := p.layout.groups
	if len(b) < cacheHeaderSize+sha256.Size {
		return id, fmt.Errorf("%w: cache entry of %d bytes", ErrCorruptCache, len(b))
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return id, fmt.Errorf("%w: cache entry checksum", ErrCorruptCache)
	}
	if string(body[:len(entryMagic)]) != entryMagic {
		return id, fmt.Errorf("%w: not a cache entry", ErrCorruptCache)
	}
	r := body[len(entryMagic):]
	if r[0] != entryVersion {
		return id, fmt.Errorf("%w: cache entry of version %d, this prover's are of version %d", ErrCacheMismatch, r[0], entryVersion)
	}
	r = r[1:]
	if !bytes.Equal(r[:32], p.keysID[:]) {
		return id, fmt.Errorf("%w: keys %x, this prover's %x", ErrCacheMismatch, r[:8], p.keysID[:8])
	}
	r = r[32:]
	if err := id.SetBytesCanonical(r[:fr.Bytes]); err != nil {
		return id, fmt.Errorf("%w: cache entry identity: %v", ErrCorruptCache, err)
	}
	r = r[fr.Bytes:]
	if n := int(binary.BigEndian.Uint16(r)); n != len(groups) {
		return id, fmt.Errorf("%w: %d groups, this prover's layout has %d", ErrCacheMismatch, n, len(groups))
	}
	r = r[2:]
	if len(r) != len(groups)*cacheGroupSize {
		return id, fmt.Errorf("%w: cache entry of %d bytes for %d groups", ErrCorruptCache, len(b), len(groups))
	}
	e := &cacheEntry{digests: make([][32]byte, len(groups)), sums: make([]groupSums, len(groups))}
	for gi := range groups {
		copy(e.digests[gi][:], r[:32])
		r = r[32:]
		for _, pt := range []*bn254.G1Affine{&e.sums[gi].a, &e.sums[gi].k} {
			if err := rawG1(pt, r[:bn254.SizeOfG1AffineUncompressed]); err != nil {
				return id, err
			}
			r = r[bn254.SizeOfG1AffineUncompressed:]
		}
		if err := rawG2(&e.sums[gi].b2, r[:bn254.SizeOfG2AffineUncompressed]); err != nil {
			return id, err
		}
		r = r[bn254.SizeOfG2AffineUncompressed:]
	}
	p.cache.put(id, e)
	return id, nil
}

// rawG1 reads X | Y and checks the point is on the curve. The subgroup check is left out: G1
// of BN254 has cofactor 1, so every point on the curve is in it.
func rawG1(p *bn254.G1Affine, b []byte) error {
	if err := p.X.SetBytesCanonical(b[:fp.Bytes]); err != nil {
		return fmt.Errorf("%w: cache entry point: %v", ErrCorruptCache, err)
	}
	if err := p.Y.SetBytesCanonical(b[fp.Bytes:]); err != nil {
		return fmt.Errorf("%w: cache entry point: %v", ErrCorruptCache, err)
	}
	if !p.IsOnCurve() {
		return fmt.Errorf("%w: cache entry point off the curve", ErrCorruptCache)
	}
	return nil
}

// rawG2 reads X | Y of a G2 point as RawBytes writes them (imaginary part first) and checks
// the point is on the twist. The costly subgroup check is left out: the entry is this
// prover's own output, guarded by its checksum and keys ID, and a sum outside the subgroup
// could only make an invalid proof (which every verifier refuses), never a wrong accepted one.
func rawG2(p *bn254.G2Affine, b []byte) error {
	s := fp.Bytes
	for i, c := range []*fp.Element{&p.X.A1, &p.X.A0, &p.Y.A1, &p.Y.A0} {
		if err := c.SetBytesCanonical(b[i*s : (i+1)*s]); err != nil {
			return fmt.Errorf("%w: cache entry point: %v", ErrCorruptCache, err)
		}
	}
	if !p.IsOnCurve() {
		return fmt.Errorf("%w: cache entry point off the twist", ErrCorruptCache)
	}
	return nil
}

// peek returns the entry of key without touching the recency order.
func (c *sumCache) peek(key fr.Element) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[key]
}
