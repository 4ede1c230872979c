package slashing

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/zkvlabs/zkv/db"
)

// newTestProtector opens an in-memory database, starts the committer, and stops both at the end
// of the test.
func newTestProtector(t testing.TB, cfg Config) (*Protector, *db.DB) {
	t.Helper()
	d, err := db.Open(db.Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.DB = d
	p := startProtector(t, cfg)
	t.Cleanup(func() { d.Close() })
	return p, d
}

// startProtector runs New and Run on cfg and stops Run at the end of the test (before the
// database's own cleanup, which was registered earlier).
func startProtector(t testing.TB, cfg Config) *Protector {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := p.Run(ctx); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return p
}

func pk(i int) (p Pubkey) {
	p[0] = 0xa0
	p[1], p[2] = byte(i>>8), byte(i)
	return p
}

func root(i int) (r Root) {
	r[0], r[1], r[2] = 0x5e, byte(i>>8), byte(i)
	return r
}

func isSlashable(err error, reason Reason) bool {
	var se *SlashableError
	return errors.As(err, &se) && se.Reason == reason && errors.Is(err, ErrSlashable)
}

func openMem(t testing.TB) *db.DB {
	t.Helper()
	d, err := db.Open(db.Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// countRows counts the rows of the slashing buckets.
func countRows(t testing.TB, d *db.DB) int {
	t.Helper()
	n := 0
	err := d.View(func(tx *db.Txn) error {
		for _, b := range []db.Bucket{db.SlashingBlocks, db.SlashingAttestations, db.SlashingWatermarks} {
			if err := tx.Iterate(b, nil, func(k, v []byte) error { n++; return nil }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
