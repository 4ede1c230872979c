// Package db is zkv's one badger/v4 database per process: typed buckets over one key space, a
// small transaction API, KV (one bucket as a plain key-value store), durable commits, and an exclusive directory lock. It owns the storage
// engine and the key schema's top level (which bucket byte means what); it does not own what the
// values mean, which belongs to each bucket's package. No badger type appears in its API.
//
// # Key schema
//
// Every key is one bucket byte followed by the bucket's own key. Integers are big-endian so that
// badger's byte order is numeric order and prefix iteration walks them in order. Bucket bytes are
// allocated here and never reused.
//
//	bucket                     byte  key after the bucket byte              value
//	Meta                       0x01  UTF-8 name                             owner-defined
//	                                 "db.schema_version"                    uint32 (this package)
//	                                 "slashing.genesis_validators_root"     32 bytes
//	                                 "validator.proposer_overrides"         JSON: pubkey -> keymanager API
//	                                                                        overrides (validator/client)
//	SlashingBlocks             0x10  pubkey(48) | slot(8)                   signing root (32) or empty (unknown)
//	SlashingAttestations       0x11  pubkey(48) | target(8) | source(8)     signing root (32) or empty (unknown)
//	SlashingWatermarks         0x12  pubkey(48)                             flags(1) | slot(8) | source(8) | target(8)
//	Registrations              0x20  registrations: the private-attestation registry (prover/registry),
//	                                 through KV, and the relay's validator registrations (mev):
//	                                 "zkv/registry/meta"                    depth(1) | domain(32)
//	                                 "zkv/registry/log/" | seq(8)           a signed registration
//	                                 "zkv/registry/seal/" | epoch(8)        root(32) | applied(8) | leaves(8)
//	                                 "zkv/relay/registration/" | pubkey(48) the relay's (mev) latest
//	                                                                        SignedValidatorRegistration, SSZ
//	                                 "zkv/relay/builder/" | pubkey(48)      a builder's status at the relay
//	                                                                        (mev BuilderStatus as JSON:
//	                                                                        blacklisted, high priority,
//	                                                                        optimistic, collateral), no TTL
//	                                 "zkv/relay/demotion/" | slot(8) |      an optimistic builder's demotion
//	                                 block_hash(32) | unix_nano(8)          (mev Demotion as JSON), no TTL
//	Bids                       0x21  relay bids (mev), each with a TTL (default 7 days):
//	                                 'b' | slot(8) | block_hash(32)         BidRecord as JSON (bid trace,
//	                                                                        block number, tx count, receipt time)
//	Payloads                   0x22  relay payloads (mev), each with a TTL:
//	                                 'p' | slot(8) | block_hash(32)         fork(1: 5 electra, 6 fulu) | SSZ of
//	                                                                        the ExecutionPayloadAndBlobsBundle
//	                                 'd' | slot(8)                          the slot's Delivery as JSON (TTL 30
//	                                                                        days): written, synced, before a
//	                                                                        payload leaves the relay
//	                                 's' | slot(8) | proposer(48) |         parent hash(32): a header the relay
//	                                 block_hash(32)                         served to the proposer (getHeader),
//	                                                                        synced before it leaves; a payload is
//	                                                                        released only for one (TTL 30 days)
//	Nullifiers                 0x23  the private-attestation pool (package pool):
//	                                 'n' | epoch(8) | nullifier(32)         the first valid proof of the validator
//	                                                                        in the epoch, as on the wire: proof
//	                                                                        uncompressed(256) | 7 public inputs
//	                                                                        (32 each: root, epoch, x, y, nullifier,
//	                                                                        min weight, network) | signing root(32)
//	                                 'e' | epoch(8) | nullifier(32)         equivocation evidence (prover.Evidence
//	                                                                        as JSON)
//	RegistryLeaves             0x24  reserved for the registry tree's nodes (prover), should
//	                                 recomputing them on open become too slow
//	ProverCache                0x25  the private attestations' state (validator/private), through KV, so a
//	                                 restart keeps the proving speed and signs no registration again:
//	                                 "zkv/prover-cache/" | identity(32)     prover.ExportCache: version, keys ID,
//	                                                                        group sums, SHA-256; an entry that
//	                                                                        does not import is skipped and
//	                                                                        overwritten by the next proof
//	                                 "zkv/private/registration/" |          the key's last signed registration
//	                                 domain(32) | pubkey(48)                (registry.Registration.Bytes), sent
//	                                                                        again at start while its weight holds
//
// The slashing buckets are documented in detail in package validator/slashing. A package that
// starts to use a reserved bucket documents its key and value layout in this table.
//
// # Durability
//
// The database is opened with synchronous writes: when Update, a Batch's Flush or Put returns
// nil, the data is on stable storage (the write-ahead log is fsynced). Slashing protection relies
// on this: a signature never leaves the process before the record that guards it is durable.
// Badger merges concurrent commits into one log write and one fsync, so concurrent writers share
// the cost; package slashing additionally batches its own requests (group commit). There is no
// unsynced write: badger's sync setting is per database, and its Sync covers only the active
// memtable's log, so a caller that may lose a write (the relay's bids) defers the write instead
// (package mev). Values of 64 KiB and more live in badger's value log, not the LSM tree.
//
// # Errors
//
// Callers may branch on ErrNotFound, ErrLocked (another process holds the directory),
// ErrTooLarge (one transaction holds more than badger accepts), ErrClosed, ErrReadOnly (a
// write inside View) and ErrSchemaVersion.
package db
