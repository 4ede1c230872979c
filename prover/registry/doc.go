// Package registry keeps the set of validators that private attestations prove membership
// of: BLS-signed registrations (BLS key, identity commitment, weight, and a proof of knowledge
// of the identity's secret bound to the key and network) checked before they enter, a
// fixed-depth 4-ary Poseidon2 tree of their leaves with incremental inserts and updates, one
// root per sealed epoch, membership paths for the prover, revocation of equivocators from
// verified evidence, and persistence through a small Store interface that the db package's
// badger store satisfies.
//
// A key's identity is fixed by its first registration and an identity is never released, so
// evidence names one key for good. It does not decide who may register beyond the signature
// and the identity proof; Config.Admit is where the caller checks a registration against the
// validator set (AdmitValidators).
package registry
