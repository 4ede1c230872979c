// Package mev is zkv's relay: it takes builders' block submissions, checks them in the order
// mev-boost-relay does (each refusal a 400 naming the check), runs one auction per (slot,
// parent hash, proposer) with cancellations and a top bid, serves the builder API to proposers
// (registerValidator, getHeader, submitBlindedBlock v1 and v2, status), the builder-facing
// validators list and the data API, and keeps bids, payloads and delivery records in a Store
// (badger on one machine).
//
// The payload of a slot is released only for a header of a bid the relay accepted, to the
// slot's proposer, with a valid proposer signature, and at most once per slot: the delivery
// record is durable before the payload leaves the process, so a second, different blinded block
// for the slot is refused as proposer equivocation even after a crash and restart. An accepted
// bid is written to the Store behind the builder's acknowledgement (Run's writer), and is
// durable before its header is first served: a crash loses only bids no proposer has seen.
//
// The payload is released only for a header the relay served to that proposer: GetHeader
// records the served bid durably before the header leaves (Store.PutServed).
//
// Builders have a status (BuilderStatus, mev-boost-relay's block_builder row), kept in the
// Store and set through AdminHandler (mev-boost-relay's internal API, served on its own
// address): blacklisted builders are refused, high-priority ones are admitted first when
// submissions queue up, and optimistic ones have bids within their collateral accepted before
// the Simulator (an execution client's flashbots_validateBuilderSubmissionV4/V5) has answered;
// a failed late simulation or a failed publication demotes the builder, durably.
//
// It reads the chain through the standard Beacon API (Beacon; BeaconClient over go-eth2-client
// and the event stream). Handlers are thin: each parses, calls a method returning (result,
// error) and encodes, so the same methods serve every door: HTTP/1.1+2 (Run), HTTP/3 and HTTPS
// (HTTP3Server) and QUIC frames (QUICServer: submissions and the top-bid stream, which carries
// every change of an auction's top bid, a cancellation's included).
//
// Not here yet: several relay replicas over one shared Store (mev-boost-relay's Redis). The
// proposer's sidecar is package pbs's Boost.
package mev
