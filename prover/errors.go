package prover

import "errors"

// Errors callers branch on. Functions wrap them with the object and the reason.
var (
	// ErrBadInput reports a request or parameter outside what the circuit proves (a depth that
	// is not supported, a weight below the minimum, a path of the wrong length).
	ErrBadInput = errors.New("prover: bad input")
	// ErrNotMember reports a leaf whose path does not lead to the expected root.
	ErrNotMember = errors.New("prover: leaf not in the tree")
	// ErrWrongStatement reports a statement that is not that of the attestation it is
	// verified as: another network, a root that is not the registry's sealed root of its
	// epoch, an x of another signing root, a minimum weight below the one required.
	ErrWrongStatement = errors.New("prover: statement is not of this attestation")
	// ErrInvalidProof reports a proof that does not verify against its statement.
	ErrInvalidProof = errors.New("prover: invalid proof")
	// ErrMalformed reports an encoding that does not decode: wrong length, a point off the
	// curve, outside its subgroup or at infinity, a non-canonical field element.
	ErrMalformed = errors.New("prover: malformed encoding")
	// ErrCorruptCache reports a key cache file whose checksum or content does not match.
	ErrCorruptCache = errors.New("prover: corrupt key cache")
	// ErrNoKeys reports that LoadKeys with CacheOnly found no usable cache file.
	ErrNoKeys = errors.New("prover: no keys in the cache")
	// ErrNoEquivocation reports two proofs that are not an equivocation (different
	// nullifiers, or the same x).
	ErrNoEquivocation = errors.New("prover: not an equivocation")
)
