// Package private makes the validator's private attestations: for every attestation the
// validator client signs (client.WithAttestationHook), a zero-knowledge proof that some
// registered validator attested (package prover), sent to one or more private-attestation
// pools.
//
// What it owns:
//
//   - Registration: each key's identity registration (registry.Sign, weight = the key's
//     effective balance from the beacon node), sent to every pool when Run starts and again
//     when the weight changes (checked once an epoch). The last registration of each key is
//     kept in the Store and sent again after a restart while the weight holds, so a restart
//     signs (and proves the identity of) no key again.
//   - Proving in the background: Attested only queues the slot's attestations (a bounded
//     queue; when it is full the slot is dropped and counted, the BLS attestation is never
//     delayed). One goroutine asks a pool for each validator's membership path of the epoch
//     (retrying until the pool has sealed the epoch's root) and proves the slot's requests on
//     one prover.Prover for the whole process, ProveMany on every core, a core-sized chunk at
//     a time so that the proofs of a slot leave as they finish.
//   - Delivery: every pool gets every proof through its own outbox and goroutine, so a pool
//     that is down delays no other. Proofs a pool has not acknowledged are resent when it is
//     back; an outbox keeps those of the current and the previous epoch (the last slot's
//     proofs finish after its epoch ends) up to Config.MaxPending, and drops older ones and
//     overflow with a counter (Stats).
//   - Restart speed: the prover's per-validator cache entries (prover.ExportCache) are written
//     to a Store (the db's ProverCache bucket through db.KV) after each proof whose entry
//     changed, and imported when Run starts, so the first epoch after a restart is proved at
//     the steady rate. An entry the prover refuses (damaged, other keys) is skipped and
//     replaced by the next proof.
//   - Config.Equivocate, for devnets and tests only: the listed keys prove a second, different
//     attestation (the same data with another beacon_block_root) in the first epoch they
//     attest, so that pools can show they catch it. Only the proof is doubled: the BLS
//     attestation is signed once, under slashing protection.
//
// What it does not own: the pools themselves and their transport (package pool implements
// Pool over QUIC), verification, nullifiers and evidence (the pool's job), keys at rest
// (validator/keys), and when attestations are signed (validator/client).
package private
