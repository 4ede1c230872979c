package pool

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
	"github.com/zkvlabs/zkv/transport/frame"
)

// Frame types of the pool's requests and answers over transport's "zkv/1" (the application
// range 0x30-0x3f is the pool's). See the package doc for the payloads.
const (
	TypeProofBatch   frame.Type = 0x30 // request: a batch of proofs
	TypeBatchAnswer  frame.Type = 0x31 // answer: one status per item
	TypeRegistration frame.Type = 0x32 // request: registry.Registration.Bytes()
	TypeRegistered   frame.Type = 0x33 // answer: empty, the registration was queued for the next seal
	TypeMember       frame.Type = 0x34 // request: pubkey(48) | epoch(8)
	TypeMemberAnswer frame.Type = 0x35 // answer: a Member
	TypeEvidence     frame.Type = 0x36 // published on EvidenceTopic: evidence as JSON
)

// EvidenceTopic is the subscription topic of new equivocation evidence.
const EvidenceTopic = "pool/evidence"

// Sizes of the batch encoding.
const (
	// ItemSize is one batch item: the proof uncompressed (prover.ProofRawSize), the statement's
	// NumPublic public inputs (32 bytes each, big-endian, canonical) and the signing root.
	ItemSize = prover.ProofRawSize + prover.NumPublic*32 + 32
	// MaxBatch is the most items one batch request may carry (2 MiB, under transport's 16 MiB
	// request limit); Client.SubmitProofs splits longer lists.
	MaxBatch = 4096
	// MaxReason is the longest reason an answer carries; longer ones are cut.
	MaxReason = 512
)

// ErrMalformed reports a frame payload that does not decode.
var ErrMalformed = errors.New("pool: malformed frame")

// Status is the pool's answer to one proof of a batch. The values are part of the wire
// format: never renumber one.
type Status uint8

// Statuses of a batch item.
const (
	StatusAccepted       Status = 0 // verified; its nullifier is recorded durably
	StatusDuplicate      Status = 1 // the pool has this attestation's proof already (same nullifier, same x)
	StatusMalformed      Status = 2 // the item does not decode (bad point, non-canonical field element)
	StatusUnknownRoot    Status = 3 // no sealed root for the epoch, or another root than the sealed one
	StatusWrongStatement Status = 4 // another network, a minimum weight too low, an x not of the signing root
	StatusInvalidProof   Status = 5 // the pairing check fails
	StatusEquivocation   Status = 6 // valid, and a second attestation of its validator in the epoch: evidence
	StatusInternal       Status = 7 // the pool could not record it (storage); send it again
)

var statusNames = [...]string{"accepted", "duplicate", "malformed", "unknown_root", "wrong_statement",
	"invalid_proof", "equivocation", "internal"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Item is one proof of a batch as it travels: the claim and the attestation's signing root.
type Item struct {
	Claim       prover.Claim
	SigningRoot [32]byte
}

// AppendItem appends the wire encoding of it (ItemSize bytes).
func AppendItem(dst []byte, it *Item) []byte {
	raw := it.Claim.Proof.RawBytes()
	dst = append(dst, raw[:]...)
	pub := it.Claim.Statement.Public()
	for i := range pub {
		b := pub[i].Bytes()
		dst = append(dst, b[:]...)
	}
	return append(dst, it.SigningRoot[:]...)
}

// EncodeBatch encodes a batch request: count (u32 BE) | count × item.
func EncodeBatch(items []Item) []byte {
	out := make([]byte, 4, 4+len(items)*ItemSize)
	binary.BigEndian.PutUint32(out, uint32(len(items)))
	for i := range items {
		out = AppendItem(out, &items[i])
	}
	return out
}

// DecodeBatch decodes a batch request. A frame whose framing is wrong (a count that does not
// match the length, an empty batch, more than MaxBatch items) is ErrMalformed as a whole; an
// item that does not decode has its own error (wrapping prover.ErrMalformed) and a zero Item,
// and the others decode. Proofs are decoded together, so their G2 subgroup checks are batched
// (prover.ProofsFromRawBytes).
func DecodeBatch(b []byte) ([]Item, []error, error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("%w: batch of %d bytes, shorter than its count", ErrMalformed, len(b))
	}
	n := binary.BigEndian.Uint32(b)
	switch {
	case n == 0:
		return nil, nil, fmt.Errorf("%w: empty batch", ErrMalformed)
	case n > MaxBatch:
		return nil, nil, fmt.Errorf("%w: batch of %d items, at most %d", ErrMalformed, n, MaxBatch)
	case uint64(len(b)-4) != uint64(n)*ItemSize:
		return nil, nil, fmt.Errorf("%w: batch of %d items needs %d bytes, got %d", ErrMalformed, n, 4+int(n)*ItemSize, len(b))
	}
	b = b[4:]
	items := make([]Item, n)
	errs := make([]error, n)
	raws := make([][]byte, n)
	for i := range items {
		it := b[i*ItemSize : (i+1)*ItemSize]
		raws[i] = it[:prover.ProofRawSize]
		st, err := decodeStatement(it[prover.ProofRawSize : prover.ProofRawSize+prover.NumPublic*32])
		if err != nil {
			errs[i] = err
			raws[i] = nil
			continue
		}
		items[i].Claim.Statement = st
		copy(items[i].SigningRoot[:], it[ItemSize-32:])
	}
	// Decode the proofs of the items whose statement decoded, together.
	var idx []int
	var bufs [][]byte
	for i, r := range raws {
		if r != nil {
			idx = append(idx, i)
			bufs = append(bufs, r)
		}
	}
	proofs, perrs := prover.ProofsFromRawBytes(bufs)
	for k, i := range idx {
		if perrs[k] != nil {
			errs[i] = perrs[k]
			items[i] = Item{}
			continue
		}
		items[i].Claim.Proof = *proofs[k]
	}
	return items, errs, nil
}

func decodeStatement(b []byte) (prover.Statement, error) {
	var pub [prover.NumPublic]fr.Element
	for i := range pub {
		e, err := prover.FieldFromBytes(b[i*32 : (i+1)*32])
		if err != nil {
			return prover.Statement{}, fmt.Errorf("%w: public input %d: %v", prover.ErrMalformed, i, err)
		}
		pub[i] = e
	}
	st, err := prover.StatementFromPublic(pub)
	if err != nil {
		return prover.Statement{}, fmt.Errorf("%w: %v", prover.ErrMalformed, err)
	}
	return st, nil
}

// Answer is the pool's verdict on one item.
type Answer struct {
	Status Status
	Reason string // why, for a status other than accepted and duplicate
}

// EncodeAnswers encodes a batch answer: count (u32 BE) | count × (status(1) | reason length
// (u16 BE) | reason, UTF-8, at most MaxReason bytes).
func EncodeAnswers(as []Answer) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(as)))
	for _, a := range as {
		r := a.Reason
		if len(r) > MaxReason {
			r = r[:MaxReason]
		}
		out = append(out, byte(a.Status))
		out = binary.BigEndian.AppendUint16(out, uint16(len(r)))
		out = append(out, r...)
	}
	return out
}

// DecodeAnswers decodes EncodeAnswers.
func DecodeAnswers(b []byte) ([]Answer, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: answer of %d bytes", ErrMalformed, len(b))
	}
	n := binary.BigEndian.Uint32(b)
	if n > MaxBatch {
		return nil, fmt.Errorf("%w: answer of %d items, at most %d", ErrMalformed, n, MaxBatch)
	}
	b = b[4:]
	as := make([]Answer, n)
	for i := range as {
		if len(b) < 3 {
			return nil, fmt.Errorf("%w: answer cut at item %d", ErrMalformed, i)
		}
		l := int(binary.BigEndian.Uint16(b[1:3]))
		if l > MaxReason || len(b) < 3+l {
			return nil, fmt.Errorf("%w: answer item %d: bad reason length %d", ErrMalformed, i, l)
		}
		as[i] = Answer{Status: Status(b[0]), Reason: string(b[3 : 3+l])}
		b = b[3+l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the answer", ErrMalformed, len(b))
	}
	return as, nil
}

// encodeMemberRequest encodes pubkey(48) | epoch(8 BE).
func encodeMemberRequest(pk [bls.PublicKeyLength]byte, epoch uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), pk[:]...), epoch)
}

func decodeMemberRequest(b []byte) (pk [bls.PublicKeyLength]byte, epoch uint64, err error) {
	if len(b) != bls.PublicKeyLength+8 {
		return pk, 0, fmt.Errorf("%w: member request of %d bytes, want %d", ErrMalformed, len(b), bls.PublicKeyLength+8)
	}
	copy(pk[:], b)
	return pk, binary.BigEndian.Uint64(b[bls.PublicKeyLength:]), nil
}

// EncodeMember encodes a member: registration (registry.RegistrationSize) | revoked(1) |
// index(8) | levels(1) | levels × 3 siblings (32 each, leaf level first, child order) |
// root(32) | epoch(8).
func EncodeMember(m *registry.Member) []byte {
	rb := m.Registration.Bytes()
	out := append([]byte(nil), rb[:]...)
	rev := byte(0)
	if m.Revoked {
		rev = 1
	}
	out = append(out, rev)
	out = binary.BigEndian.AppendUint64(out, m.Path.Index)
	out = append(out, byte(len(m.Path.Siblings)))
	for _, lvl := range m.Path.Siblings {
		for _, s := range lvl {
			b := s.Bytes()
			out = append(out, b[:]...)
		}
	}
	root := m.Root.Bytes()
	out = append(out, root[:]...)
	return binary.BigEndian.AppendUint64(out, m.Epoch)
}

// DecodeMember decodes EncodeMember. It checks the encoding (canonical field elements, a
// depth the prover supports), not that the path leads to the root.
func DecodeMember(b []byte) (registry.Member, error) {
	var m registry.Member
	if len(b) < registry.RegistrationSize+1+8+1 {
		return m, fmt.Errorf("%w: member of %d bytes", ErrMalformed, len(b))
	}
	reg, err := registry.RegistrationFromBytes(b[:registry.RegistrationSize])
	if err != nil {
		return m, fmt.Errorf("%w: member registration: %w", ErrMalformed, err)
	}
	m.Registration = reg
	b = b[registry.RegistrationSize:]
	if b[0] > 1 {
		return m, fmt.Errorf("%w: member revoked flag %d", ErrMalformed, b[0])
	}
	m.Revoked = b[0] == 1
	m.Path.Index = binary.BigEndian.Uint64(b[1:9])
	levels := int(b[9])
	if err := prover.CheckDepth(2 * levels); err != nil {
		return m, fmt.Errorf("%w: member path of %d levels: %w", ErrMalformed, levels, err)
	}
	b = b[10:]
	if len(b) != levels*3*32+32+8 {
		return m, fmt.Errorf("%w: member path of %d levels needs %d more bytes, got %d", ErrMalformed, levels, levels*96+40, len(b))
	}
	m.Path.Siblings = make([][prover.Arity - 1]fr.Element, levels)
	for l := range m.Path.Siblings {
		for c := 0; c < prover.Arity-1; c++ {
			e, err := prover.FieldFromBytes(b[:32])
			if err != nil {
				return m, fmt.Errorf("%w: member path level %d: %w", ErrMalformed, l, err)
			}
			m.Path.Siblings[l][c] = e
			b = b[32:]
		}
	}
	if m.Root, err = prover.FieldFromBytes(b[:32]); err != nil {
		return m, fmt.Errorf("%w: member root: %w", ErrMalformed, err)
	}
	m.Epoch = binary.BigEndian.Uint64(b[32:])
	return m, nil
}
