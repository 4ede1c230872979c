package db

import (
	"errors"
	"fmt"
	"testing"
)

// TestKV checks the bucket view the registry persists through: writes stay in their bucket,
// iteration is ordered and prefix-bounded, errors from the callback come back, and what Set
// wrote is there after a reopen.
func TestKV(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	kv := d.KV(Registrations)
	for _, k := range []string{"log/2", "log/10", "log/1", "meta", "seal/1"} {
		if err := kv.Set([]byte(k), []byte("v:"+k)); err != nil {
			t.Fatal(err)
		}
	}
	// The same key in another bucket is another key.
	if err := d.Put(RegistryLeaves, []byte("log/3"), []byte("elsewhere")); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := kv.Iterate([]byte("log/"), func(k, v []byte) error {
		if string(v) != "v:"+string(k) {
			return fmt.Errorf("key %q holds %q", k, v)
		}
		got = append(got, string(k))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"log/1", "log/10", "log/2"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("iterated %q, want %q (byte order, this bucket only)", got, want)
	}
	stop := errors.New("stop here")
	n := 0
	if err := kv.Iterate(nil, func(k, v []byte) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("callback error: got %v after %d calls, want %v after 1", err, n, stop)
	}
	if _, err := kv.Get([]byte("missing")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key: %v, want ErrNotFound", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := kv.Set([]byte("late"), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Set after Close: %v, want ErrClosed", err)
	}

	d, err = Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	v, err := d.KV(Registrations).Get([]byte("seal/1"))
	if err != nil || string(v) != "v:seal/1" {
		t.Fatalf("after reopen: %q, %v", v, err)
	}
}

func TestKVOfUnknownBucketPanics(t *testing.T) {
	d, _ := openTemp(t)
	defer func() {
		if recover() == nil {
			t.Fatal("KV(0x7f) did not panic")
		}
	}()
	d.KV(Bucket(0x7f))
}
