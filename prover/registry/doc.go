// Package registry keeps the set of validators that private attestations prove membership
// of: BLS-signed registrations (BLS key, identity commitment, weight) checked before they
// enter, a fixed-depth 4-ary Poseidon2 tree of their leaves with incremental inserts and
// updates, one root per epoch, membership paths for the prover, and persistence through a
// small Store interface that the db package's badger store satisfies.
//
// It does not decide who may register beyond the signature; Config.Admit is where the caller
// checks a registration against the validator set.
package registry
