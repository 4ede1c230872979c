package db

// KV is one bucket seen as a plain key-value store with ordered prefix iteration. Packages
// that sit beside db rather than above it (the prover's registry) declare the small interface
// they persist through, and a caller higher up hands them a KV: their arrows keep pointing
// down and no db type enters their API.
type KV struct {
	d *DB
	b Bucket
}

// KV returns bucket b as a KV. It panics on a bucket this package does not define, as that is
// a programming error, not a runtime condition.
func (d *DB) KV(b Bucket) KV {
	if !b.valid() {
		panic("db: KV of unknown " + b.String())
	}
	return KV{d: d, b: b}
}

// Set writes value at key durably: when it returns nil the write survives a crash.
func (kv KV) Set(key, value []byte) error { return kv.d.Put(kv.b, key, value) }

// Get returns a copy of the value at key, or ErrNotFound.
func (kv KV) Get(key []byte) ([]byte, error) { return kv.d.Get(kv.b, key) }

// Iterate calls fn for every key with the prefix, in ascending byte order, inside one
// read-only snapshot; key and value are valid only during the call. An error from fn ends the
// walk and is returned (ErrStop ends it with nil).
func (kv KV) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	return kv.d.View(func(tx *Txn) error { return tx.Iterate(kv.b, prefix, fn) })
}
