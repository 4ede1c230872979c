// Package client is zkv's validator client: a Service that runs the duties of a set of
// validator keys against one or several beacon nodes, through the standard Beacon API only
// (go-eth2-client's HTTP client), so that it works unchanged against every consensus client.
//
// What it owns: loading the keystores (in parallel), learning the network from the beacon node
// (config/spec, genesis, fork_schedule), the slot clock, duties for the current and next epoch
// (refetched when a head event shows that their dependent_root changed), and the duties
// themselves, as the consensus specs' honest validator guide times them:
//
//   - proposals at the start of the slot: RANDAO reveal, produceBlockV3 with the
//     builder_boost_factor, blinded or full, signed under slashing protection and published;
//     once a blinded block was signed for a slot no local block is signed for it;
//   - attestations at one third of the slot or on the slot's head event, whichever is first;
//     all of the slot's attestations pass slashing protection in one group commit before any is
//     signed; published as SingleAttestation (Electra on);
//   - aggregation: selection proofs, aggregate-and-proof at two thirds of the slot;
//   - sync committee: messages with the attestations, selection proofs and contributions at two
//     thirds;
//   - prepare_beacon_proposer and builder registrations once an epoch.
//
// Doppelganger protection (on by default, WithDoppelganger): for the first epochs after the start
// the client signs nothing and asks the beacon node's liveness endpoint whether any of its
// validators was active; if one was, Run returns a *DoppelgangerError. The epoch of the start is
// not judged, so the client's own messages from before a restart are no false alarm.
//
// Several beacon nodes (WithBeaconNodes, the primary first): reads go to the first healthy
// node and fail over on a 5xx, a refused connection or a timeout (not on a 4xx, the request's
// fault); attestations, aggregates, sync committee messages and contributions, full blocks,
// subscriptions, preparations and registrations are broadcast to every healthy node; blinded
// blocks go to one node, since only a node whose builder holds the payload can unblind them. A
// failed node is asked node/syncing every quarter slot and put back in its place once it
// answers synced, so the client returns to the primary. Requests other than block production
// and submission, registrations and the validators query stop after a third of a slot.
//
// Per-validator proposer settings (WithProposerConfig, a validator/propconfig.Config; swapped
// at run time with SetProposerConfig): each validator's fee recipient in prepare_beacon_proposer
// and its builder registration, its gas limit in the registration, its graffiti and
// builder_boost_factor in produceBlockV3 (0, and no registration, when its builder is off), and
// a min_bid below which a builder's blinded block is dropped for a local one.
//
// The builder circuit breaker (WithBuilderCircuitBreaker, breaker.go): from the beacon node's
// head events the client counts the slots without a block; after 3 in a row before a proposal,
// or 6 in the last epoch (the rules Lighthouse, Prysm and Teku apply in their beacon nodes), it
// asks for a local block (builder_boost_factor 0) until the chain is healthy again.
//
// It logs with log/slog and writes one summary line per epoch (duties done, missed and late,
// blocks proposed through the builder and locally), and with WithMetrics exports Prometheus
// metrics (metrics.go) on the registerer it is given. What it does not own: the rules
// of slashing protection (validator/slashing), signing roots (validator/signer), keystores
// (validator/keys).
//
// Keys managed while running (keymanager.go, for validator/keymanager): AddKeys writes the
// keystores into the keystore directory and starts the keys' duties at the next slot; RemoveKeys
// returns once no signature by the removed keys is in flight or can follow, so their exported
// slashing protection history is final; per-validator fee recipient, gas limit and graffiti
// overrides sit on top of the proposer config and are kept in the database (Meta key
// "validator.proposer_overrides"). Keys added while running are not watched by doppelganger
// protection.
package client
