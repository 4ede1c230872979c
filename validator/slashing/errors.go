package slashing

import (
	"encoding/hex"
	"errors"
	"fmt"
)

// Errors callers may branch on.
var (
	// ErrSlashable: signing would be slashable, or is refused by a low watermark. Returned
	// wrapped in a *SlashableError. The caller must not sign.
	ErrSlashable = errors.New("slashing protection refused")
	// ErrClosed: the Protector is not running (Run has returned). The caller must not sign.
	ErrClosed = errors.New("slashing protection is not running")
	// ErrGenesisMismatch: a database or interchange belongs to another network.
	ErrGenesisMismatch = errors.New("genesis validators root mismatch")
	// ErrInvalidInterchange: an interchange file is malformed or of an unsupported version.
	ErrInvalidInterchange = errors.New("invalid slashing protection interchange")
	// ErrCorrupt: a slashing protection record in the database cannot be decoded.
	ErrCorrupt = errors.New("corrupt slashing protection record")
)

// Reason says why a signing request was refused.
type Reason int

// Reasons. The comments cite the rule each enforces.
const (
	// DoubleProposal: a block at this slot was signed with a different (or unknown) signing root
	// (consensus specs, is_slashable_block_header / proposer slashing).
	DoubleProposal Reason = iota + 1
	// SlotBelowLowWatermark: slot <= the lowest recorded or imported slot and not a repeat
	// (EIP-3076 condition 3), or <= the highest slot folded into the watermark.
	SlotBelowLowWatermark
	// DoubleVote: an attestation with this target was signed with a different (or unknown)
	// signing root (consensus specs, is_slashable_attestation_data, double vote).
	DoubleVote
	// SurroundingVote: the new attestation surrounds a recorded one (source < old source and
	// target > old target).
	SurroundingVote
	// SurroundedVote: a recorded attestation surrounds the new one.
	SurroundedVote
	// SourceBelowLowWatermark: source < the lowest recorded source (EIP-3076 condition 4), or
	// < the highest source folded into the watermark.
	SourceBelowLowWatermark
	// TargetBelowLowWatermark: target <= the lowest recorded target and not a repeat (EIP-3076
	// condition 5), or <= the highest target folded into the watermark.
	TargetBelowLowWatermark
	// SourceAfterTarget: source > target, which no valid attestation has.
	SourceAfterTarget
)

var reasonText = map[Reason]string{
	DoubleProposal:          "double proposal",
	SlotBelowLowWatermark:   "slot at or below the low watermark",
	DoubleVote:              "double vote",
	SurroundingVote:         "surrounding vote",
	SurroundedVote:          "surrounded vote",
	SourceBelowLowWatermark: "source below the low watermark",
	TargetBelowLowWatermark: "target at or below the low watermark",
	SourceAfterTarget:       "source epoch after target epoch",
}

func (r Reason) String() string {
	if s, ok := reasonText[r]; ok {
		return s
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// SlashableError describes a refused signing request. It matches ErrSlashable with errors.Is.
type SlashableError struct {
	Pubkey Pubkey
	Reason Reason
	// Attempted and Existing describe the messages as "block slot=S" or
	// "attestation source=S target=T"; Existing is the record or watermark that refused it.
	Attempted string
	Existing  string
}

func (e *SlashableError) Error() string {
	s := fmt.Sprintf("refusing to sign %s for %s: %v", e.Attempted, e.Pubkey, e.Reason)
	if e.Existing != "" {
		s += " (" + e.Existing + ")"
	}
	return s
}

// Is makes errors.Is(err, ErrSlashable) true.
func (e *SlashableError) Is(target error) bool { return target == ErrSlashable }

// Pubkey is a validator's compressed BLS public key, the unit of slashing protection.
type Pubkey [48]byte

// String is the 0x-prefixed hex form, as in the interchange format.
func (p Pubkey) String() string { return "0x" + hex.EncodeToString(p[:]) }

// Root is a 32-byte signing root (consensus specs, compute_signing_root).
type Root [32]byte

// String is the 0x-prefixed hex form.
func (r Root) String() string { return "0x" + hex.EncodeToString(r[:]) }
