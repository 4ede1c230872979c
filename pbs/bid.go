package pbs

import (
	"errors"
	"fmt"

	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	builderspec "github.com/attestantio/go-builder-client/spec"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
)

// ErrBidRefused wraps every reason CheckBid refuses a bid for.
var ErrBidRefused = errors.New("pbs: bid refused")

// BidChecks are what a proposer's side expects of a bid for its slot, beyond the signature
// (mev-boost's getHeader checks).
type BidChecks struct {
	// Version is the fork of the slot; the bid must be of it.
	Version spec.DataVersion
	// ParentHash is the execution parent the proposer builds on.
	ParentHash phase0.Hash32
	// RelayPubkey, when non-zero, is the only key whose bids are accepted (the relay's key
	// from its URL).
	RelayPubkey phase0.BLSPubKey
	// MinValue, when set, is the least value in wei a bid must have (mev-boost's -min-bid).
	MinValue *uint256.Int
}

// CheckBid verifies a relay's bid: a supported fork matching the slot, complete, signed by its
// relay under domain (the builder domain), the relay's key when one is pinned, the expected
// parent hash, a non-zero block hash and a non-zero value of at least MinValue.
func CheckBid(b *builderspec.VersionedSignedBuilderBid, domain phase0.Domain, c BidChecks) error {
	if b == nil || b.IsEmpty() {
		return fmt.Errorf("%w: empty", ErrBidRefused)
	}
	if b.Version != spec.DataVersionElectra && b.Version != spec.DataVersionFulu {
		return fmt.Errorf("%w: version %s, want electra or fulu", ErrBidRefused, b.Version)
	}
	if c.Version != spec.DataVersionUnknown && b.Version != c.Version {
		return fmt.Errorf("%w: version %s, the slot is %s", ErrBidRefused, b.Version, c.Version)
	}
	sb := b.Electra
	if b.Version == spec.DataVersionFulu {
		sb = b.Fulu
	}
	if sb == nil || sb.Message == nil || sb.Message.Header == nil || sb.Message.Value == nil {
		return fmt.Errorf("%w: incomplete (message, header and value are required)", ErrBidRefused)
	}
	m := sb.Message
	if c.RelayPubkey != (phase0.BLSPubKey{}) && m.Pubkey != c.RelayPubkey {
		return fmt.Errorf("%w: signed by %#x, the relay is %#x", ErrBidRefused, m.Pubkey[:], c.RelayPubkey[:])
	}
	if err := Verify(m.Pubkey, m, domain, sb.Signature); err != nil {
		return fmt.Errorf("%w: signature under the builder domain: %w", ErrBidRefused, err)
	}
	if m.Header.ParentHash != c.ParentHash {
		return fmt.Errorf("%w: parent hash %#x, want %#x", ErrBidRefused, m.Header.ParentHash[:], c.ParentHash[:])
	}
	if m.Header.BlockHash == (phase0.Hash32{}) {
		return fmt.Errorf("%w: zero block hash", ErrBidRefused)
	}
	if m.Value.IsZero() {
		return fmt.Errorf("%w: zero value", ErrBidRefused)
	}
	if c.MinValue != nil && m.Value.Lt(c.MinValue) {
		return fmt.Errorf("%w: value %s wei below the minimum %s", ErrBidRefused, m.Value.Dec(), c.MinValue.Dec())
	}
	return nil
}

// Registration checks: builder-specs registerValidator.
var (
	// ErrRegistration wraps every reason CheckRegistration refuses a registration for.
	ErrRegistration = errors.New("pbs: registration refused")
)

// CheckRegistration verifies a validator registration's content and its signature under the
// builder domain. Whether the validator exists, and the timestamp against the previous one, are
// the caller's (they need state).
func CheckRegistration(r *builderapiv1.SignedValidatorRegistration, domain phase0.Domain) error {
	if r == nil || r.Message == nil {
		return fmt.Errorf("%w: incomplete", ErrRegistration)
	}
	if err := Verify(r.Message.Pubkey, r.Message, domain, r.Signature); err != nil {
		return fmt.Errorf("%w: %#x: signature under the builder domain: %w", ErrRegistration, r.Message.Pubkey[:], err)
	}
	return nil
}
