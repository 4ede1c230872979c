package db

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTemp(t *testing.T) (*DB, string) {
	t.Helper()
	dir := t.TempDir()
	d, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, dir
}

func TestPutGetDeleteAcrossBuckets(t *testing.T) {
	d, _ := openTemp(t)
	key := []byte("k")
	if err := d.Put(Bids, key, []byte("bid")); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(Payloads, key, []byte("payload")); err != nil {
		t.Fatal(err)
	}
	// The same key in two buckets is two keys.
	for b, want := range map[Bucket]string{Bids: "bid", Payloads: "payload"} {
		got, err := d.Get(b, key)
		if err != nil || string(got) != want {
			t.Fatalf("get %v: %q, %v; want %q", b, got, err, want)
		}
	}
	if _, err := d.Get(Nullifiers, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get from an empty bucket: %v, want ErrNotFound", err)
	}
	if err := d.Delete(Bids, key); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Get(Bids, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v, want ErrNotFound", err)
	}
	if got, _ := d.Get(Payloads, key); string(got) != "payload" {
		t.Fatalf("delete in one bucket touched another: %q", got)
	}
	if err := d.Delete(Bids, []byte("missing")); err != nil {
		t.Fatalf("delete of a missing key: %v", err)
	}
}

func TestUnknownBucketRefused(t *testing.T) {
	d, _ := openTemp(t)
	if err := d.Put(Bucket(0x7f), []byte("k"), nil); err == nil || !strings.Contains(err.Error(), "unknown bucket(0x7f)") {
		t.Fatalf("put to an unknown bucket: %v", err)
	}
}

func TestIteratePrefixInOrder(t *testing.T) {
	d, _ := openTemp(t)
	pk := bytes.Repeat([]byte{0xaa}, 48)
	other := bytes.Repeat([]byte{0xab}, 48)
	err := d.Update(func(tx *Txn) error {
		for _, slot := range []uint64{300, 2, 1 << 40, 17} {
			k := binary.BigEndian.AppendUint64(append([]byte(nil), pk...), slot)
			if err := tx.Put(SlashingBlocks, k, []byte{byte(slot)}); err != nil {
				return err
			}
		}
		// Same bytes in a neighbouring bucket and a neighbouring prefix must not show up.
		if err := tx.Put(SlashingAttestations, append(append([]byte(nil), pk...), 0, 0, 0, 0, 0, 0, 0, 1), nil); err != nil {
			return err
		}
		return tx.Put(SlashingBlocks, binary.BigEndian.AppendUint64(append([]byte(nil), other...), 1), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	var slots []uint64
	err = d.View(func(tx *Txn) error {
		return tx.Iterate(SlashingBlocks, pk, func(k, v []byte) error {
			if !bytes.HasPrefix(k, pk) || len(k) != 56 {
				return fmt.Errorf("key %x does not carry the prefix", k)
			}
			slots = append(slots, binary.BigEndian.Uint64(k[48:]))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(slots) != "[2 17 300 1099511627776]" {
		t.Fatalf("iterated %v", slots)
	}
	n := 0
	err = d.View(func(tx *Txn) error {
		return tx.Iterate(SlashingBlocks, nil, func(k, v []byte) error {
			n++
			if n == 2 {
				return ErrStop
			}
			return nil
		})
	})
	if err != nil || n != 2 {
		t.Fatalf("ErrStop: n=%d err=%v", n, err)
	}
	boom := errors.New("boom")
	err = d.View(func(tx *Txn) error {
		return tx.Iterate(SlashingBlocks, nil, func(k, v []byte) error { return boom })
	})
	if !errors.Is(err, boom) {
		t.Fatalf("callback error: %v", err)
	}
}

func TestUpdateIsAllOrNothing(t *testing.T) {
	d, _ := openTemp(t)
	boom := errors.New("boom")
	err := d.Update(func(tx *Txn) error {
		if err := tx.Put(Meta, []byte("a"), []byte("1")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update: %v", err)
	}
	if _, err := d.Get(Meta, []byte("a")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a failed update left a write behind: %v", err)
	}
	err = d.View(func(tx *Txn) error { return tx.Put(Meta, []byte("a"), nil) })
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write in View: %v", err)
	}
}

func TestDurableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Put(Registrations, []byte("v"), []byte("reg")); err != nil {
		t.Fatal(err)
	}
	b := d.NewBatch()
	for i := range 1000 {
		if err := b.Put(Nullifiers, binary.BigEndian.AppendUint32(nil, uint32(i)), []byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Delete(Nullifiers, binary.BigEndian.AppendUint32(nil, 7)); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := d.Get(Registrations, []byte("v")); !errors.Is(err, ErrClosed) {
		t.Fatalf("get after close: %v", err)
	}
	d, err = Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if v, err := d.Get(Registrations, []byte("v")); err != nil || string(v) != "reg" {
		t.Fatalf("after reopen: %q %v", v, err)
	}
	n := 0
	if err := d.View(func(tx *Txn) error {
		return tx.Iterate(Nullifiers, nil, func(k, v []byte) error { n++; return nil })
	}); err != nil || n != 999 {
		t.Fatalf("batch after reopen: %d keys, %v", n, err)
	}
}

func TestLockedDatabaseGivesClearError(t *testing.T) {
	d, dir := openTemp(t)
	_, err := Open(Config{Dir: dir})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if want := "database at " + dir + " is in use by another process"; !strings.Contains(err.Error(), want) {
		t.Fatalf("message %q lacks %q", err, want)
	}
	// Closing releases the lock.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	d2.Close()
}

func TestSchemaVersionChecked(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Put(Meta, []byte(schemaVersionKey), []byte{0, 0, 0, 99}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, err := Open(Config{Dir: dir}); !errors.Is(err, ErrSchemaVersion) {
		t.Fatalf("open of a future schema: %v", err)
	}
	// The failed open released the lock.
	if err := func() error {
		d, err := Open(Config{Dir: dir})
		if err == nil {
			d.Close()
		}
		return err
	}(); errors.Is(err, ErrLocked) {
		t.Fatalf("failed open kept the lock: %v", err)
	}
}

func TestTooLargeTransaction(t *testing.T) {
	d, err := Open(Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	val := make([]byte, 64<<10)
	err = d.Update(func(tx *Txn) error {
		for i := range 1 << 12 { // 256 MiB, far over badger's per-transaction limit
			if err := tx.Put(Payloads, binary.BigEndian.AppendUint32(nil, uint32(i)), val); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge transaction: %v, want ErrTooLarge", err)
	}
}

func TestTTLExpires(t *testing.T) {
	d, err := Open(Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Update(func(tx *Txn) error { return tx.PutTTL(Bids, []byte("b"), []byte("x"), time.Second) }); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Get(Bids, []byte("b")); err != nil {
		t.Fatalf("fresh TTL value: %v", err)
	}
	if err := d.Update(func(tx *Txn) error { return tx.PutTTL(Bids, []byte("b"), nil, 0) }); err == nil {
		t.Fatal("zero TTL accepted")
	}
	// Badger's expiry has one-second resolution (Unix seconds).
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := d.Get(Bids, []byte("b")); errors.Is(err, ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("TTL value never expired")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestConcurrentUpdatesOfOneKey(t *testing.T) {
	d, _ := openTemp(t)
	// Read-modify-write from many goroutines: conflict retries make every increment count.
	const n = 32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			err := d.Update(func(tx *Txn) error {
				var c uint64
				v, err := tx.Get(Meta, []byte("counter"))
				if err == nil {
					c = binary.BigEndian.Uint64(v)
				} else if !errors.Is(err, ErrNotFound) {
					return err
				}
				return tx.Put(Meta, []byte("counter"), binary.BigEndian.AppendUint64(nil, c+1))
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	v, err := d.Get(Meta, []byte("counter"))
	if err != nil || binary.BigEndian.Uint64(v) != n {
		t.Fatalf("counter %x %v, want %d", v, err, n)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	d, err := Open(Config{Dir: t.TempDir(), GCInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	time.Sleep(20 * time.Millisecond) // let a few GC ticks run against a live database
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
