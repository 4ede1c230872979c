// Package pbs holds what both sides of proposer-builder separation share: the builder-API checks
// a relay and a proposer's sidecar make on the same objects. It owns the builder domain
// (DOMAIN_APPLICATION_BUILDER with the genesis fork version and a zero genesis validators root,
// builder-specs "Signing"), signing and verifying bids and validator registrations with
// crypto/bls, the check of a signed blinded block against the header it commits to, unblinding,
// and HTTP content negotiation (Accept with q-values, JSON or SSZ, Eth-Consensus-Version).
//
// Types are go-builder-client v0.7.2's and go-eth2-client v0.27.1's; forks Electra and Fulu.
// What it does not own: choosing among relays (the boost sidecar), the relay's auction (package
// mev), keys on disk.
package pbs
