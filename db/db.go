package db

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Bucket is the first byte of every key: it separates the owners of the one key space.
type Bucket byte

// Buckets. The values are part of the on-disk format: never renumber or reuse one.
const (
	Meta                 Bucket = 0x01
	SlashingBlocks       Bucket = 0x10
	SlashingAttestations Bucket = 0x11
	SlashingWatermarks   Bucket = 0x12
	Registrations        Bucket = 0x20
	Bids                 Bucket = 0x21
	Payloads             Bucket = 0x22
	Nullifiers           Bucket = 0x23
	RegistryLeaves       Bucket = 0x24
	ProverCache          Bucket = 0x25
)

var bucketNames = map[Bucket]string{
	Meta:                 "meta",
	SlashingBlocks:       "slashing_blocks",
	SlashingAttestations: "slashing_attestations",
	SlashingWatermarks:   "slashing_watermarks",
	Registrations:        "registrations",
	Bids:                 "bids",
	Payloads:             "payloads",
	Nullifiers:           "nullifiers",
	RegistryLeaves:       "registry_leaves",
	ProverCache:          "prover_cache",
}

func (b Bucket) String() string {
	if n, ok := bucketNames[b]; ok {
		return n
	}
	return fmt.Sprintf("bucket(0x%02x)", byte(b))
}

func (b Bucket) valid() bool { _, ok := bucketNames[b]; return ok }

// Errors callers may branch on.
var (
	// ErrNotFound: the key has no value.
	ErrNotFound = errors.New("db: not found")
	// ErrLocked: another process (or another Open in this one) holds the database directory.
	ErrLocked = errors.New("db: locked")
	// ErrTooLarge: one transaction or batch entry exceeds what badger accepts in one commit.
	ErrTooLarge = errors.New("db: transaction too large")
	// ErrClosed: the database was closed.
	ErrClosed = errors.New("db: closed")
	// ErrSchemaVersion: the database was written by an incompatible version of zkv.
	ErrSchemaVersion = errors.New("db: unsupported schema version")
	// ErrReadOnly: a write was attempted inside View.
	ErrReadOnly = errors.New("db: write in a read-only transaction")
)

// SchemaVersion is the version of the key schema documented in the package doc.
const SchemaVersion uint32 = 1

const schemaVersionKey = "db.schema_version"

// Config configures Open. The zero value with Dir set works.
type Config struct {
	// Dir is the database directory, created (0700) if missing. Required unless InMemory.
	Dir string
	// InMemory keeps everything in memory (tests, throwaway devnets). Nothing is durable.
	InMemory bool
	// Logger receives badger's own messages: its info and debug output at debug level, warnings
	// and errors as such. Nil discards them.
	Logger *slog.Logger
	// GCInterval is how often Run collects value-log garbage. Default 10 minutes.
	GCInterval time.Duration
}

// DB is an open database. It is safe for concurrent use. Close it when done; Run, when
// started, must have returned before Close.
type DB struct {
	mu     sync.RWMutex // held shared by every operation, exclusively by Close
	wmu    sync.RWMutex // held shared by first attempts of Update, exclusively by retries
	closed bool
	bdb    *badger.DB
	lock   *dirLock
	where  string
	log    *slog.Logger
	gc     time.Duration
}

// Open opens (or creates) the database. A directory held by another process gives ErrLocked
// with a message that names the directory.
func Open(cfg Config) (*DB, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	gc := cfg.GCInterval
	if gc <= 0 {
		gc = 10 * time.Minute
	}
	var opts badger.Options
	var lock *dirLock
	where := "memory"
	if cfg.InMemory {
		opts = badger.DefaultOptions("").WithInMemory(true)
	} else {
		if cfg.Dir == "" {
			return nil, errors.New("db: no directory given")
		}
		where = cfg.Dir
		if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("db: create %s: %w", cfg.Dir, err)
		}
		// Our own lock, taken before badger's, so that the error can say plainly what is wrong
		// (badger's message does not wrap a testable error).
		var err error
		lock, err = lockDir(cfg.Dir)
		if err != nil {
			return nil, err
		}
		opts = badger.DefaultOptions(cfg.Dir).WithSyncWrites(true).WithValueThreshold(valueThreshold)
	}
	opts = opts.
		WithLogger(slogAdapter{log.With("component", "badger")}).
		WithMetricsEnabled(false). // badger's metrics are process-global expvars
		WithNumVersionsToKeep(1).
		WithNumMemtables(3).
		WithBlockCacheSize(64 << 20)
	bdb, err := badger.Open(opts)
	if err != nil {
		lock.release()
		return nil, fmt.Errorf("db: open %s: %w", where, err)
	}
	d := &DB{bdb: bdb, lock: lock, where: where, log: log, gc: gc}
	if err := d.checkSchema(); err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

func (d *DB) checkSchema() error {
	return d.Update(func(tx *Txn) error {
		v, err := tx.Get(Meta, []byte(schemaVersionKey))
		if errors.Is(err, ErrNotFound) {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], SchemaVersion)
			return tx.Put(Meta, []byte(schemaVersionKey), b[:])
		}
		if err != nil {
			return err
		}
		if len(v) != 4 || binary.BigEndian.Uint32(v) != SchemaVersion {
			return fmt.Errorf("%w: database at %s has schema %x, this zkv reads %d", ErrSchemaVersion, d.where, v, SchemaVersion)
		}
		return nil
	})
}

// String names the database by its location.
func (d *DB) String() string { return "db(" + d.where + ")" }

// Close flushes and closes the database and releases the directory lock. It is idempotent.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	err := d.bdb.Close()
	d.lock.release()
	if err != nil {
		return fmt.Errorf("db: close %s: %w", d.where, err)
	}
	return nil
}

// Run collects value-log garbage every GCInterval until ctx ends, then returns nil. Values
// under 64 KiB live in the LSM tree; larger ones (the relay's TTL'd payloads) live in the value
// log, which only this collection shrinks.
func (d *DB) Run(ctx context.Context) error {
	t := time.NewTicker(d.gc)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			d.collectGarbage()
		}
	}
}

func (d *DB) collectGarbage() {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return
	}
	for range 16 { // each round rewrites at most one log file; bound the work per tick
		err := d.bdb.RunValueLogGC(0.5)
		if err != nil {
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				d.log.Warn("value log garbage collection failed", "db", d.where, "error", err)
			}
			return
		}
	}
}

// View runs fn in a read-only transaction that sees one consistent snapshot.
func (d *DB) View(fn func(*Txn) error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return ErrClosed
	}
	return mapErr(d.bdb.View(func(t *badger.Txn) error { return fn(&Txn{t: t}) }))
}

// Update runs fn in a read-write transaction and commits it durably: when Update returns nil,
// every write of fn is on stable storage. If fn returns an error nothing is written. Concurrent
// Updates commit optimistically; one that read a key another committed meanwhile runs fn again
// on a fresh snapshot, alone (so fn must not have effects outside the transaction). Running the
// retry alone is what guarantees progress: optimistic retries among many writers of one hot key
// can otherwise starve each other.
func (d *DB) Update(fn func(*Txn) error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return ErrClosed
	}
	do := func() error {
		return d.bdb.Update(func(t *badger.Txn) error { return fn(&Txn{t: t, writable: true}) })
	}
	d.wmu.RLock()
	err := do()
	d.wmu.RUnlock()
	if !errors.Is(err, badger.ErrConflict) {
		return mapErr(err)
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	// Alone, only a Batch's background commit can still conflict with fn; bound the tries.
	for range maxConflictRetries {
		if err = do(); !errors.Is(err, badger.ErrConflict) {
			return mapErr(err)
		}
	}
	return fmt.Errorf("db: transaction on %s kept conflicting with concurrent writers (%d tries)", d.where, maxConflictRetries)
}

// valueThreshold is the size from which a value goes to badger's value log instead of the LSM
// tree (badger's default is 1 MiB). Slashing records, registrations, bid records and deliveries
// are far below it; the relay's payloads (100 KB to a few MB) are above it. Kept in the tree, a
// 350 KB payload costs a copy into the memtable, a WAL write and, as memtables fill every few
// hundred bids, flushes and compactions that rewrite it again; in the value log it is one
// append, and Run's garbage collection reclaims it when its TTL ends. Measured with mev's
// BenchmarkPutBid350KB/synced on 2 cores: 5.8-9.3 ms per bid at 1 MiB, 3.5-5.6 ms at 64 KiB.
// In-memory databases keep badger's default (badger refuses a value log there).
const valueThreshold = 64 << 10

// maxConflictRetries bounds the exclusive retries of one Update.
const maxConflictRetries = 16

// Get returns a copy of the value at (b, key), or ErrNotFound.
func (d *DB) Get(b Bucket, key []byte) ([]byte, error) {
	var v []byte
	err := d.View(func(tx *Txn) error {
		var err error
		v, err = tx.Get(b, key)
		return err
	})
	return v, err
}

// Put writes one value durably.
func (d *DB) Put(b Bucket, key, value []byte) error {
	return d.Update(func(tx *Txn) error { return tx.Put(b, key, value) })
}

// Delete removes one key durably. Deleting a missing key is not an error.
func (d *DB) Delete(b Bucket, key []byte) error {
	return d.Update(func(tx *Txn) error { return tx.Delete(b, key) })
}

// Txn is a transaction handed to View or Update callbacks; it is valid only inside the callback.
type Txn struct {
	t        *badger.Txn
	writable bool
}

func fullKey(b Bucket, key []byte) ([]byte, error) {
	if !b.valid() {
		return nil, fmt.Errorf("db: unknown %v", b)
	}
	k := make([]byte, 1+len(key))
	k[0] = byte(b)
	copy(k[1:], key)
	return k, nil
}

// Get returns a copy of the value at (b, key), or ErrNotFound.
func (tx *Txn) Get(b Bucket, key []byte) ([]byte, error) {
	k, err := fullKey(b, key)
	if err != nil {
		return nil, err
	}
	it, err := tx.t.Get(k)
	if err != nil {
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil, ErrNotFound
		}
		return nil, mapErr(err)
	}
	return it.ValueCopy(nil)
}

// Put sets (b, key) to value. The transaction keeps its own copies.
func (tx *Txn) Put(b Bucket, key, value []byte) error {
	return tx.set(b, key, value, 0)
}

// PutTTL sets (b, key) to value, which disappears after ttl (bids, payloads).
func (tx *Txn) PutTTL(b Bucket, key, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("db: put %v: non-positive ttl %v", b, ttl)
	}
	return tx.set(b, key, value, ttl)
}

func (tx *Txn) set(b Bucket, key, value []byte, ttl time.Duration) error {
	if !tx.writable {
		return ErrReadOnly
	}
	k, err := fullKey(b, key)
	if err != nil {
		return err
	}
	e := badger.NewEntry(k, append([]byte(nil), value...))
	if ttl > 0 {
		e = e.WithTTL(ttl)
	}
	return mapErr(tx.t.SetEntry(e))
}

// Delete removes (b, key); a missing key is not an error.
func (tx *Txn) Delete(b Bucket, key []byte) error {
	if !tx.writable {
		return ErrReadOnly
	}
	k, err := fullKey(b, key)
	if err != nil {
		return err
	}
	return mapErr(tx.t.Delete(k))
}

// ErrStop, returned by an Iterate callback, ends the iteration early without an error.
var ErrStop = errors.New("db: stop iteration")

// Iterate calls fn for every key of bucket b that starts with prefix, in ascending byte order.
// fn sees the key without the bucket byte; key and value are valid only during the call (copy
// what you keep). Returning ErrStop ends the walk and Iterate returns nil; any other error ends
// it and is returned.
func (tx *Txn) Iterate(b Bucket, prefix []byte, fn func(key, value []byte) error) error {
	p, err := fullKey(b, prefix)
	if err != nil {
		return err
	}
	opts := badger.DefaultIteratorOptions
	opts.Prefix = p
	it := tx.t.NewIterator(opts)
	defer it.Close()
	for it.Seek(p); it.ValidForPrefix(p); it.Next() {
		item := it.Item()
		err := item.Value(func(v []byte) error { return fn(item.Key()[1:], v) })
		if errors.Is(err, ErrStop) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Batch writes many keys without the size limit of one transaction, for bulk loads where
// atomicity across all keys is not needed. Each internal commit is durable; Flush returns after
// the last one. A Batch is not safe for concurrent use.
type Batch struct {
	d   *DB
	wb  *badger.WriteBatch
	err error
}

// NewBatch starts a batch. Call Flush to write it or Cancel to drop what was not yet committed.
func (d *DB) NewBatch() *Batch {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return &Batch{d: d, err: ErrClosed}
	}
	return &Batch{d: d, wb: d.bdb.NewWriteBatch()}
}

// Put adds a write to the batch.
func (bt *Batch) Put(b Bucket, key, value []byte) error {
	if bt.err != nil {
		return bt.err
	}
	k, err := fullKey(b, key)
	if err != nil {
		return err
	}
	if err := bt.wb.Set(k, append([]byte(nil), value...)); err != nil {
		bt.err = mapErr(err)
	}
	return bt.err
}

// Delete adds a deletion to the batch.
func (bt *Batch) Delete(b Bucket, key []byte) error {
	if bt.err != nil {
		return bt.err
	}
	k, err := fullKey(b, key)
	if err != nil {
		return err
	}
	if err := bt.wb.Delete(k); err != nil {
		bt.err = mapErr(err)
	}
	return bt.err
}

// Flush commits what is left and waits for every commit of the batch.
func (bt *Batch) Flush() error {
	if bt.err != nil {
		if bt.wb != nil {
			bt.wb.Cancel()
		}
		return bt.err
	}
	bt.d.mu.RLock()
	defer bt.d.mu.RUnlock()
	if bt.d.closed {
		return ErrClosed
	}
	bt.err = mapErr(bt.wb.Flush())
	return bt.err
}

// Cancel drops the batch's uncommitted writes (commits already made stay).
func (bt *Batch) Cancel() {
	if bt.wb != nil {
		bt.wb.Cancel()
	}
	if bt.err == nil {
		bt.err = errors.New("db: batch cancelled")
	}
}

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badger.ErrTxnTooBig):
		return fmt.Errorf("%w: %v", ErrTooLarge, err)
	case errors.Is(err, badger.ErrDBClosed):
		return ErrClosed
	case errors.Is(err, badger.ErrKeyNotFound):
		return ErrNotFound
	}
	return err
}

// slogAdapter routes badger's printf-style logger to slog. Badger's info output (compaction,
// replay) is operational noise for a validator, so it goes to debug.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Errorf(f string, v ...any)   { a.l.Error(trim(fmt.Sprintf(f, v...))) }
func (a slogAdapter) Warningf(f string, v ...any) { a.l.Warn(trim(fmt.Sprintf(f, v...))) }
func (a slogAdapter) Infof(f string, v ...any)    { a.debug(f, v) }
func (a slogAdapter) Debugf(f string, v ...any)   { a.debug(f, v) }

// debug formats only when debug output is wanted: badger logs on its write path.
func (a slogAdapter) debug(f string, v []any) {
	if a.l.Enabled(context.Background(), slog.LevelDebug) {
		a.l.Debug(trim(fmt.Sprintf(f, v...)))
	}
}

func trim(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}
