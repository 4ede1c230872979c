// Package pbs holds what both sides of proposer-builder separation share: the builder-API checks
// a relay and a proposer's sidecar make on the same objects. It owns the builder domain
// (DOMAIN_APPLICATION_BUILDER with the genesis fork version and a zero genesis validators root,
// builder-specs "Signing"), signing and verifying bids and validator registrations with
// crypto/bls, the check of a signed blinded block against the header it commits to, unblinding,
// and HTTP content negotiation (Accept with q-values, JSON or SSZ, Eth-Consensus-Version).
//
// It also holds Boost, the proposer's sidecar (zkv boost): getHeader to every relay in parallel
// with a soft and a hard deadline, the best checked bid (highest value, ties to the smaller
// block hash), registrations fanned out, and getPayload (v1 and v2) from the relays that served
// the chosen header.
//
// Types are go-builder-client v0.7.2's and go-eth2-client v0.27.1's; forks Electra and Fulu.
// What it does not own: the relay's auction (package mev), keys on disk, QUIC bid streams.
package pbs
