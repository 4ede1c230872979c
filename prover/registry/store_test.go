package registry

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeStore writes n records key-i = value-i to a new store file and returns its path and
// the offset at which each record starts.
func writeStore(t *testing.T, n int) (string, []int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store")
	st, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	off := int64(len(fileMagic))
	for i := range n {
		k, v := fmt.Appendf(nil, "key-%d", i), bytes.Repeat([]byte{byte(i)}, 40)
		if err := st.Set(k, v); err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
		off += int64(recordHeader + len(k) + len(v) + 4)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return path, offs
}

func storeKeys(t *testing.T, st *FileStore) []string {
	t.Helper()
	var keys []string
	if err := st.Iterate(nil, func(k, _ []byte) error { keys = append(keys, string(k)); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

// A damaged record before the last one is an error, whatever its damage looks like, and the
// file is left untouched for someone to look at.
func TestFileStoreDamageBeforeTail(t *testing.T) {
	path, offs := writeStore(t, 4)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	spoil := map[string]func(b []byte){
		// A value length running past the end of the file used to pass for a torn tail.
		"length beyond EOF": func(b []byte) { binary.BigEndian.PutUint32(b[offs[1]+4:], 1<<20) },
		"length shortened":  func(b []byte) { binary.BigEndian.PutUint32(b[offs[1]+4:], 3) },
		"header checksum":   func(b []byte) { b[offs[2]+9] ^= 1 },
		"value byte":        func(b []byte) { b[offs[1]+recordHeader+8] ^= 1 },
		"old format":        func(b []byte) { copy(b, []byte{0, 0, 0, 16, 0, 0, 0, 40}) },
	}
	for name, f := range spoil {
		t.Run(name, func(t *testing.T) {
			b := bytes.Clone(good)
			f(b)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := OpenFileStore(path); !errors.Is(err, ErrCorruptStore) {
				t.Fatalf("open = %v, want ErrCorruptStore", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, b) {
				t.Fatalf("the damaged file was changed: %d bytes, was %d", len(after), len(b))
			}
		})
	}
}

// What a crash during Set leaves at the end of the file is dropped, and the store carries on
// after the last whole record.
func TestFileStoreTornTail(t *testing.T) {
	path, offs := writeStore(t, 3)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	last := offs[2]
	torn := map[string][]byte{
		"partial header":   good[:last+5],
		"header only":      good[:last+recordHeader],
		"partial body":     good[:len(good)-3],
		"bad last crc":     append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1),
		"partial magic":    fileMagic[:3],
		"whole file, none": good,
	}
	for name, b := range torn {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			st, err := OpenFileStore(path)
			if err != nil {
				t.Fatal(err)
			}
			want := min(len(b), int(last))
			if name == "whole file, none" {
				want = len(good)
			}
			if name == "partial magic" {
				want = len(fileMagic)
			}
			if err := st.Set([]byte("next"), []byte("v")); err != nil {
				t.Fatal(err)
			}
			st.Close()
			after, _ := os.ReadFile(path)
			if len(after) < want || !bytes.Equal(after[:want], good[:want]) {
				t.Fatalf("kept %d bytes, want the first %d of the file", len(after), want)
			}
			st2, err := OpenFileStore(path)
			if err != nil {
				t.Fatalf("reopen after a write past the torn tail: %v", err)
			}
			defer st2.Close()
			if keys := storeKeys(t, st2); len(keys) == 0 || keys[len(keys)-1] != "next" {
				t.Fatalf("keys after reopening: %q", keys)
			}
		})
	}
}

// A Set whose write or sync fails leaves the store refusing every later Set (a record after
// a failed one could follow the bytes it left), and the file, reopened, holds every record
// written whole before it.
func TestFileStoreRefusesWritesAfterAFailure(t *testing.T) {
	path, _ := writeStore(t, 2)
	st, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Set([]byte("key-2"), []byte("two")); err != nil {
		t.Fatal(err)
	}
	size := st.size
	// Swap the file for a read-only handle: the next write fails as a full disk would.
	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st.f.Close()
	st.f = ro
	if err := st.Set([]byte("key-3"), []byte("three")); err == nil {
		t.Fatal("a write to a read-only file succeeded")
	}
	if err := st.Set([]byte("key-4"), []byte("four")); err == nil || !strings.Contains(err.Error(), "earlier write failed") {
		t.Fatalf("Set after a failed one: %v, want a refusal", err)
	}
	st.Close()
	if info, err := os.Stat(path); err != nil || info.Size() != size {
		t.Fatalf("file is %v bytes (%v), want %d", info.Size(), err, size)
	}
	again, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got := storeKeys(t, again); fmt.Sprint(got) != "[key-0 key-1 key-2]" {
		t.Fatalf("reopened store holds %v", got)
	}
}

// One registry file has one writer: a second open, in this process or another, is refused
// until the first store is closed.
func TestFileStoreLocked(t *testing.T) {
	path, _ := writeStore(t, 1)
	st, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFileStore(path); !errors.Is(err, ErrStoreLocked) {
		t.Fatalf("second open: %v, want ErrStoreLocked", err)
	}
	st.Close()
	again, err := OpenFileStore(path)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	again.Close()
}
