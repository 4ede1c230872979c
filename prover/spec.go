package prover

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// RequestSpec is the JSON form of a Request, for the command line and for other programs that
// hand zkv a witness: field elements and byte strings as 0x-prefixed big-endian hex. Exactly
// one of Secret (the ZK secret) and BLSSecret (the 32-byte BLS secret key it derives from)
// is set.
type RequestSpec struct {
	Secret      string      `json:"secret,omitempty"`
	BLSSecret   string      `json:"blsSecret,omitempty"`
	Weight      uint64      `json:"weight"`
	Index       uint64      `json:"index"`
	Siblings    [][3]string `json:"siblings"` // per level from the leaves up, child order
	Root        string      `json:"root"`
	Epoch       uint64      `json:"epoch"`
	SigningRoot string      `json:"signingRoot"`
	MinWeight   uint64      `json:"minWeight"`
	Network     string      `json:"network"` // Network.ID, hex
}

// Request parses the spec.
func (s *RequestSpec) Request() (Request, error) {
	var r Request
	var err error
	switch {
	case s.Secret != "" && s.BLSSecret != "":
		return r, fmt.Errorf("%w: spec sets both secret and blsSecret", ErrBadInput)
	case s.Secret != "":
		if r.Secret, err = FieldFromHex(s.Secret); err != nil {
			return r, fmt.Errorf("spec secret: %w", err)
		}
	case s.BLSSecret != "":
		b, err := hex32(s.BLSSecret)
		if err != nil {
			return r, fmt.Errorf("spec blsSecret: %w", err)
		}
		r.Secret = DeriveSecret(b)
	default:
		return r, fmt.Errorf("%w: spec sets neither secret nor blsSecret", ErrBadInput)
	}
	r.Weight, r.Epoch, r.MinWeight = s.Weight, s.Epoch, s.MinWeight
	r.Path.Index = s.Index
	r.Path.Siblings = make([][Arity - 1]fr.Element, len(s.Siblings))
	for l, level := range s.Siblings {
		for j, h := range level {
			if r.Path.Siblings[l][j], err = FieldFromHex(h); err != nil {
				return r, fmt.Errorf("spec sibling %d/%d: %w", l, j, err)
			}
		}
	}
	if r.Root, err = FieldFromHex(s.Root); err != nil {
		return r, fmt.Errorf("spec root: %w", err)
	}
	if r.SigningRoot, err = hex32(s.SigningRoot); err != nil {
		return r, fmt.Errorf("spec signingRoot: %w", err)
	}
	if r.Network, err = FieldFromHex(s.Network); err != nil {
		return r, fmt.Errorf("spec network: %w", err)
	}
	return r, nil
}

// SpecFromRequest returns the spec of a request, with the ZK secret (not the BLS key).
func SpecFromRequest(r *Request) RequestSpec {
	s := RequestSpec{
		Secret:      HexField(&r.Secret),
		Weight:      r.Weight,
		Index:       r.Path.Index,
		Root:        HexField(&r.Root),
		Epoch:       r.Epoch,
		SigningRoot: "0x" + hex.EncodeToString(r.SigningRoot[:]),
		MinWeight:   r.MinWeight,
		Network:     HexField(&r.Network),
	}
	for l := range r.Path.Siblings {
		var level [3]string
		for j := range level {
			level[j] = HexField(&r.Path.Siblings[l][j])
		}
		s.Siblings = append(s.Siblings, level)
	}
	return s
}

// hex32 parses exactly 32 bytes of 0x-prefixed (or bare) hex.
func hex32(s string) ([32]byte, error) {
	var out [32]byte
	b, err := decodeHex(strings.TrimPrefix(s, "0x"))
	if err != nil {
		return out, err
	}
	if len(b) != 32 {
		return out, fmt.Errorf("%w: %d bytes, want 32", ErrMalformed, len(b))
	}
	copy(out[:], b)
	return out, nil
}

// Hex32 parses exactly 32 bytes of hex, with or without the 0x prefix.
func Hex32(s string) ([32]byte, error) { return hex32(s) }
