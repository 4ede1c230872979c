// Package pool is zkv's private-attestation pool and its client. A Server receives proofs
// from many validators over QUIC (transport's "zkv/1"), verifies them together in batches
// across senders (prover.Verifier, with bisection to name bad proofs), records one nullifier
// per validator and epoch in badger, and turns two different attestations of one validator
// in one epoch into evidence: stored, published to subscribers and over HTTP, and acted on by
// revoking the key in the pool's registry (registry.Revoke), so that it is barred from the
// next seal. The pool owns its registry: registrations arrive over QUIC, are admitted against
// the validator set (registry.AdmitValidators over BeaconValidators) and are sealed into one
// root per epoch as the chain's clock starts it. A Client is the validator's side.
//
// It does not prove (package prover), keep slashing protection, or talk to a beacon node
// beyond the genesis, the spec and the validator set.
//
// # Wire
//
// Frame types (0x30-0x3f are the pool's) and their payloads; integers are big-endian:
//
//	type  name            direction            payload
//	0x30  proof batch     request, v -> pool   count(4) | count × item, 1 ≤ count ≤ MaxBatch (4,096)
//	                                           item (ItemSize = 512): proof A|B|C uncompressed (256:
//	                                           G1 x|y, G2 x.a1|x.a0|y.a1|y.a0, 32 each) | the 7 public
//	                                           inputs in circuit order (root, epoch, x, y, nullifier,
//	                                           min weight, network; 32 each, canonical) | signing root(32)
//	0x31  batch answer    response             count(4) | count × (status(1) | reason length(2) | reason)
//	0x32  registration    request              registry.Registration.Bytes() (RegistrationSize)
//	0x33  registered      response             empty: queued for the next seal
//	0x34  member          request              BLS pubkey(48) | epoch(8)
//	0x35  member answer   response             registration | revoked(1) | index(8) | levels(1) |
//	                                           levels × 3 × 32 siblings | root(32) | epoch(8)
//	0x36  evidence        on "pool/evidence"   prover.Evidence as JSON (both proofs, snarkjs form)
//
// A request the pool refuses as a whole (a batch frame whose count and length disagree, a
// registration or member request it refuses) gets transport's error frame with
// ErrCodeRequestRejected and the reason. In a batch, each item has its own Status:
// accepted (0), duplicate (1: same nullifier and x as a recorded proof, not verified again),
// malformed (2), unknown_root (3: no sealed root for the epoch, or not the sealed one),
// wrong_statement (4), invalid_proof (5), equivocation (6: valid, and the validator's second
// attestation of the epoch; evidence follows), internal (7: not recorded, send again).
// The answer is sent after every accepted item's nullifier is durable, so a validator may
// forget a proof once it is answered.
//
// Why uncompressed: decompressing a proof costs a square root in Fp and one in Fp2, and
// B's G2 subgroup check costs as much again; uncompressed points need neither root (G1 has
// cofactor 1, so on the curve is in the group), and the G2 checks of a frame's proofs are
// batched (prover.ProofsFromRawBytes). The frame is 128 bytes a proof longer. See
// BenchmarkDecodeProof in package prover.
//
// # HTTP (read-only JSON)
//
//	GET /pool/v1/health          status, leaves, pending registrations, last sealed epoch
//	GET /pool/v1/counts          per epoch: received, verified, duplicates, refused, equivocations
//	                             (since the process started)
//	GET /pool/v1/roots           the sealed roots proofs may use: [{epoch, root}]
//	GET /pool/v1/evidence        the stored evidence: [{id, epoch, identity, pubkey}]
//	GET /pool/v1/evidence/{id}   one evidence with both proofs ({..., evidence}); 404 if none
//
// # Storage
//
// Bucket db.Nullifiers: 'n' | epoch(8) | nullifier(32) -> the item as on the wire (the first
// valid proof of the validator in the epoch); 'e' | epoch(8) | nullifier(32) -> evidence JSON.
// The registry lives in db.Registrations.
//
// # Metrics
//
// zkv_pool_proofs_total{result}, zkv_pool_registrations_total{result},
// zkv_pool_evidence_total, zkv_pool_queued_requests, zkv_pool_sealed_epoch,
// zkv_pool_verify_batch_proofs, zkv_pool_verify_seconds, zkv_pool_batch_seconds.
package pool
