package registry

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sort"
	"sync"
)

// Store is the persistence the registry needs: a key-value store with ordered prefix
// iteration. A bucket of zkv's database satisfies it (db.DB.KV(db.Registrations), handed in by
// a caller above both packages); MemStore and FileStore are small implementations for tests
// and for a registry kept in one file.
//
// Set must be durable when it returns if the registry is to survive a crash at that point.
// Iterate calls fn for every key with the prefix in ascending byte order of keys; key and
// value are valid only during the call. An error from fn stops the iteration and is
// returned.
type Store interface {
	Set(key, value []byte) error
	Iterate(prefix []byte, fn func(key, value []byte) error) error
}

// MemStore is a Store in memory. It is safe for concurrent use.
type MemStore struct {
	mu sync.RWMutex
	m  map[string][]byte
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{m: map[string][]byte{}} }

// Set implements Store.
func (s *MemStore) Set(key, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[string(key)] = bytes.Clone(value)
	return nil
}

// Iterate implements Store.
func (s *MemStore) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	s.mu.RLock()
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		if bytes.HasPrefix([]byte(k), prefix) {
			keys = append(keys, k)
		}
	}
	vals := make([][]byte, len(keys))
	sort.Strings(keys)
	for i, k := range keys {
		vals[i] = s.m[k]
	}
	s.mu.RUnlock()
	for i, k := range keys {
		if err := fn([]byte(k), vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// FileStore is a Store kept in one append-only file: every Set appends a record
// (key length, value length, key, value, CRC-32C of all four) and syncs the file; Open reads
// the records back into memory, the last value of a key winning. A torn record at the end of
// the file, which a crash during Set leaves, is dropped; damage anywhere else is an error.
type FileStore struct {
	mu  sync.Mutex
	f   *os.File
	mem *MemStore
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrCorruptStore reports a store file damaged before its last record.
var ErrCorruptStore = errors.New("registry: corrupt store file")

// OpenFileStore opens or creates the store file at path.
func OpenFileStore(path string) (*FileStore, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open registry store: %w", err)
	}
	s := &FileStore{f: f, mem: NewMemStore()}
	good, err := s.load()
	if err != nil {
		f.Close()
		return nil, err
	}
	// Drop a torn tail so the next record starts at a record boundary.
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("open registry store: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("open registry store: %w", err)
	}
	return s, nil
}

// load reads every record and returns the offset after the last whole one.
func (s *FileStore) load() (int64, error) {
	info, err := s.f.Stat()
	if err != nil {
		return 0, fmt.Errorf("open registry store: %w", err)
	}
	r := bufio.NewReader(s.f)
	var off int64
	for {
		var hdr [8]byte
		n, err := io.ReadFull(r, hdr[:])
		if err == io.EOF {
			return off, nil
		}
		kl, vl := binary.BigEndian.Uint32(hdr[:4]), binary.BigEndian.Uint32(hdr[4:])
		recLen := int64(8) + int64(kl) + int64(vl) + 4
		if err != nil || off+recLen > info.Size() {
			return off, nil // torn tail
		}
		body := make([]byte, int(kl)+int(vl)+4)
		if _, err := io.ReadFull(r, body); err != nil {
			return off, nil
		}
		crc := crc32.Update(crc32.Checksum(hdr[:n], crcTable), crcTable, body[:kl+vl])
		if crc != binary.BigEndian.Uint32(body[kl+vl:]) {
			if off+recLen == info.Size() {
				return off, nil // the last record was being written
			}
			return 0, fmt.Errorf("%w: %s: bad checksum at offset %d", ErrCorruptStore, s.f.Name(), off)
		}
		s.mem.m[string(body[:kl])] = body[kl : kl+vl]
		off += recLen
	}
}

// Set implements Store: it appends the record and syncs the file.
func (s *FileStore) Set(key, value []byte) error {
	rec := make([]byte, 8+len(key)+len(value)+4)
	binary.BigEndian.PutUint32(rec[:4], uint32(len(key)))
	binary.BigEndian.PutUint32(rec[4:8], uint32(len(value)))
	copy(rec[8:], key)
	copy(rec[8+len(key):], value)
	binary.BigEndian.PutUint32(rec[len(rec)-4:], crc32.Checksum(rec[:len(rec)-4], crcTable))
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.Write(rec); err != nil {
		return fmt.Errorf("registry store: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("registry store: %w", err)
	}
	return s.mem.Set(key, value)
}

// Iterate implements Store.
func (s *FileStore) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	return s.mem.Iterate(prefix, fn)
}

// Close closes the file.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}
