// Package pbs holds what both sides of proposer-builder separation share: the builder-API checks
// a relay and a proposer's sidecar make on the same objects. It owns the builder domain
// (DOMAIN_APPLICATION_BUILDER with the genesis fork version and a zero genesis validators root,
// builder-specs "Signing"), signing and verifying bids and validator registrations with
// crypto/bls, the check of a signed blinded block against the header it commits to, unblinding,
// and HTTP content negotiation (Accept with q-values, JSON or SSZ, Eth-Consensus-Version).
//
// It also holds Boost, the proposer's sidecar (zkv boost): getHeader to every relay of the
// proposer's set in parallel with a soft and a hard deadline inside the 950 ms budget, cut by
// the caller's X-Timeout-Ms and by the late-in-slot limit (2 s into the slot: 204, the proposer
// builds locally), sending relays Date-Milliseconds and X-Timeout-Ms as mev-boost does; the best
// checked bid (highest value, ties to the smaller block hash); registrations fanned out to each
// validator's relays; getPayload (v1 and v2) from the relays that served the chosen header.
// Relay sets and min-bids per validator come from a RelayConfig (a YAML or JSON file with
// mev-boost's proposer-config names), swapped whole on reload. Each relay's consecutive failures
// make its health, which status reports. A relay entry may name the relay's QUIC door
// (#quic=ADDR@PEERID): the sidecar subscribes to its top-bid stream (transport, the frames of
// mev/quic.go) and answers getHeader from the streamed bid of the auction, HTTP otherwise;
// a streamed winner is confirmed by one getHeader to its relay, which releases payloads only
// for headers it served.
// Metrics carry mev-boost's names where the meaning is the same.
//
// Types are go-builder-client v0.7.2's and go-eth2-client v0.27.1's; forks Electra and Fulu.
// What it does not own: the relay's auction and its QUIC door (package mev), keys on disk.
package pbs
