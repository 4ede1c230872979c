package pool

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/prover"
)

// Key prefixes in db.Nullifiers (see db's schema table).
const (
	prefixNullifier byte = 'n' // 'n' | epoch(8) | nullifier(32) -> the item as on the wire (ItemSize)
	prefixEvidence  byte = 'e' // 'e' | epoch(8) | nullifier(32) -> evidence as JSON (prover.Evidence)
)

// nullifierKey is (epoch, nullifier): the validator's one slot for the epoch.
type nullifierKey struct {
	epoch     uint64
	nullifier [32]byte
}

func keyOf(st *prover.Statement) nullifierKey {
	return nullifierKey{epoch: st.Epoch, nullifier: st.Nullifier.Bytes()}
}

func (k nullifierKey) bytes(prefix byte) []byte {
	b := make([]byte, 0, 41)
	b = append(b, prefix)
	b = binary.BigEndian.AppendUint64(b, k.epoch)
	return append(b, k.nullifier[:]...)
}

func parseKey(b []byte) (nullifierKey, error) {
	var k nullifierKey
	if len(b) != 41 {
		return k, fmt.Errorf("%w: nullifier key of %d bytes", ErrMalformed, len(b))
	}
	k.epoch = binary.BigEndian.Uint64(b[1:9])
	copy(k.nullifier[:], b[9:])
	return k, nil
}

// ID is the evidence's name in the HTTP API: epoch-nullifier in hex.
func (k nullifierKey) ID() string { return fmt.Sprintf("%d-%x", k.epoch, k.nullifier) }

func parseID(s string) (nullifierKey, error) {
	var k nullifierKey
	var n []byte
	if _, err := fmt.Sscanf(s, "%d-%x", &k.epoch, &n); err != nil || len(n) != 32 {
		return k, fmt.Errorf("evidence id %q: want <epoch>-<64 hex digits>", s)
	}
	copy(k.nullifier[:], n)
	return k, nil
}

// recorded returns the item recorded under k, or nil.
func recorded(tx *db.Txn, k nullifierKey) (*Item, error) {
	v, err := tx.Get(db.Nullifiers, k.bytes(prefixNullifier))
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeStored(v)
}

// decodeStored decodes a recorded item. The pool wrote it after checking it, so a failure is
// a damaged database.
func decodeStored(v []byte) (*Item, error) {
	if len(v) != ItemSize {
		return nil, fmt.Errorf("pool: stored nullifier record of %d bytes, want %d", len(v), ItemSize)
	}
	items, errs, err := DecodeBatch(append(binary.BigEndian.AppendUint32(nil, 1), v...))
	if err != nil {
		return nil, fmt.Errorf("pool: stored nullifier record: %w", err)
	}
	if errs[0] != nil {
		return nil, fmt.Errorf("pool: stored nullifier record: %w", errs[0])
	}
	return &items[0], nil
}

func xEqual(a, b *prover.Statement) bool { return a.X.Equal(&b.X) }
