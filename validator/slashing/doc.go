// Package slashing is EIP-3076 slashing protection: it decides whether a validator may sign a
// block or an attestation, records what it approves durably before approving it, and imports and
// exports the EIP-3076 interchange format (version 5). It owns the slashing buckets of package
// db; it does not sign, compute signing roots, or know about duties.
//
// # Rules
//
// A block is refused if a block at the same slot was recorded with another or an unknown signing
// root (double proposal), or if its slot is at or below the lowest recorded slot (EIP-3076
// condition 3) or the low watermark, unless it is the identical block again. An attestation is
// refused if its source is after its target; if another attestation with the same target was
// recorded (double vote); if it surrounds or is surrounded by a recorded one; if its source is
// below the lowest recorded source or its target at or below the lowest recorded target (EIP-3076
// conditions 4 and 5), or below the low watermark — unless it is the identical attestation
// again. "Recorded" includes imported records. The lowest-record rules apply to the validator's
// own records too (as Lighthouse does), which is stricter than EIP-3076 asks only when nothing
// was imported, and only for requests older than everything already signed.
//
// # Strategies and history
//
// Complete keeps each validator's latest History (default 64) blocks and attestations with
// their signing roots, so an identical message can be signed again after a restart and an
// out-of-order request is judged against the exact records. Older records fold into the low
// watermark: the highest folded slot, source and target. Folding keeps every guarantee (a message
// above the watermark can conflict with no folded record) and bounds memory and disk. Minimal
// keeps only the watermark. In the EIP-3076 test suite, Complete meets the should_succeed_complete
// expectations and Minimal the should_succeed ones.
//
// # Durability and concurrency
//
// Every decision is made by one committer goroutine (Protector.Run), in arrival order, against
// the in-memory mirror of the records. It batches all waiting requests (group commit), writes
// their records in one badger transaction with synchronous writes, and answers only after the
// write returned: a caller gets nil only when the guarding record is on stable storage, and two
// conflicting requests for one key can never both get nil. A failed write refuses the whole
// batch and leaves the mirror as it was.
//
// # Storage
//
// Keys (integers big-endian, so badger's order is numeric order):
//
//	db.SlashingBlocks        pubkey(48) | slot(8)              -> signing root(32), or empty if unknown
//	db.SlashingAttestations  pubkey(48) | target(8) | source(8) -> signing root(32), or empty if unknown
//	db.SlashingWatermarks    pubkey(48)                         -> flags(1) | slot(8) | source(8) | target(8)
//	db.Meta                  "slashing.genesis_validators_root" -> 32 bytes
//
// Two attestations with one target but different sources are two keys: imported slashable data
// is kept as it is, so that nothing conflicting with any of it can be signed.
package slashing
