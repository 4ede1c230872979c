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

// FileStore is a Store kept in one append-only file: a magic header, then one record per Set
// (appended and synced), which Open reads back into memory, the last value of a key winning.
//
//	file:   fileMagic (8 bytes) | record...
//	record: key length (u32 BE) | value length (u32 BE) | CRC-32C of the two lengths |
//	        key | value | CRC-32C of everything before it in the record
//
// The header has its own checksum so that a damaged length is told apart from a record cut
// short: a header that checks out but whose record runs past the end of the file, fewer bytes
// than a header at the end, or a last record whose body checksum fails is what a crash during
// Set leaves, and is dropped; damage anywhere else is ErrCorruptStore, and the file is left
// as it is.
type FileStore struct {
	mu     sync.Mutex
	f      *os.File
	mem    *MemStore
	size   int64 // the file's length after the last record written whole
	broken error // a write or sync that failed; no record may follow it
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// fileMagic starts every store file; its last byte is the format version. Files of the first
// format had no header and no header checksums, and are refused.
var fileMagic = [8]byte{'Z', 'K', 'V', 'R', 'E', 'G', 0, 2}

// recordHeader is the length of a record's header: two lengths and their checksum.
const recordHeader = 12

// ErrStoreLocked reports a store file another process (or another FileStore) has open.
var ErrStoreLocked = errors.New("registry: store file locked")

// ErrCorruptStore reports a store file damaged before its last record, or not a store file of
// this format.
var ErrCorruptStore = errors.New("registry: corrupt store file")

// OpenFileStore opens or creates the store file at path.
func OpenFileStore(path string) (*FileStore, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open registry store: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, err
	}
	s := &FileStore{f: f, mem: NewMemStore()}
	good, err := s.load()
	if err != nil {
		f.Close()
		return nil, err
	}
	// Every record before good has been verified: only a torn tail lies beyond it. Dropping it
	// makes the next record start at a record boundary.
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("open registry store: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("open registry store: %w", err)
	}
	s.size = good
	if good == int64(len(fileMagic)) {
		// A new file, or one whose magic a crash cut short: (re)write the magic.
		if _, err := f.WriteAt(fileMagic[:], 0); err != nil {
			f.Close()
			return nil, fmt.Errorf("open registry store: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("open registry store: %w", err)
		}
	}
	return s, nil
}

// load checks the magic, reads every record and returns the offset after the last whole one.
func (s *FileStore) load() (int64, error) {
	info, err := s.f.Stat()
	if err != nil {
		return 0, fmt.Errorf("open registry store: %w", err)
	}
	size := info.Size()
	corrupt := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrCorruptStore, s.f.Name(), fmt.Sprintf(format, a...))
	}
	r := bufio.NewReader(s.f)
	var magic [len(fileMagic)]byte
	n, err := io.ReadFull(r, magic[:])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return 0, fmt.Errorf("open registry store: %w", err)
	}
	if !bytes.Equal(magic[:n], fileMagic[:n]) {
		return 0, corrupt("not a registry store of this format (version %d)", fileMagic[len(fileMagic)-1])
	}
	off := int64(len(fileMagic))
	if n < len(fileMagic) {
		return off, nil // empty, or created by a crashed open
	}
	for off < size {
		if size-off < recordHeader {
			return off, nil // torn tail: a header cut short
		}
		var hdr [recordHeader]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return 0, fmt.Errorf("open registry store: %w", err)
		}
		if crc32.Checksum(hdr[:8], crcTable) != binary.BigEndian.Uint32(hdr[8:]) {
			return 0, corrupt("bad record header at offset %d", off)
		}
		kl, vl := int64(binary.BigEndian.Uint32(hdr[:4])), int64(binary.BigEndian.Uint32(hdr[4:8]))
		recLen := recordHeader + kl + vl + 4
		if off+recLen > size {
			return off, nil // torn tail: the last record cut short
		}
		body := make([]byte, kl+vl+4)
		if _, err := io.ReadFull(r, body); err != nil {
			return 0, fmt.Errorf("open registry store: %w", err)
		}
		crc := crc32.Update(crc32.Checksum(hdr[:], crcTable), crcTable, body[:kl+vl])
		if crc != binary.BigEndian.Uint32(body[kl+vl:]) {
			if off+recLen == size {
				return off, nil // the last record was being written
			}
			return 0, corrupt("bad record checksum at offset %d", off)
		}
		s.mem.m[string(body[:kl])] = body[kl : kl+vl]
		off += recLen
	}
	return off, nil
}

// Set implements Store: it appends the record and syncs the file.
func (s *FileStore) Set(key, value []byte) error {
	rec := make([]byte, recordHeader+len(key)+len(value)+4)
	binary.BigEndian.PutUint32(rec[:4], uint32(len(key)))
	binary.BigEndian.PutUint32(rec[4:8], uint32(len(value)))
	binary.BigEndian.PutUint32(rec[8:12], crc32.Checksum(rec[:8], crcTable))
	copy(rec[recordHeader:], key)
	copy(rec[recordHeader+len(key):], value)
	binary.BigEndian.PutUint32(rec[len(rec)-4:], crc32.Checksum(rec[:len(rec)-4], crcTable))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return fmt.Errorf("registry store: an earlier write failed (%w); reopen the store", s.broken)
	}
	if _, err := s.f.Write(rec); err != nil {
		return s.fail(err)
	}
	if err := s.f.Sync(); err != nil {
		// After a failed fsync the kernel may have dropped the pages: what is on disk is
		// unknown, so nothing may be appended until a reopen has read the file again.
		return s.fail(err)
	}
	s.size += int64(len(rec))
	return s.mem.Set(key, value)
}

// fail cuts a partly written record off the file, so that a later open does not find it in
// the middle, and refuses every later Set: a record appended after a failure could follow
// bytes the failure left behind.
func (s *FileStore) fail(err error) error {
	s.broken = err
	if terr := s.f.Truncate(s.size); terr == nil {
		_, _ = s.f.Seek(s.size, io.SeekStart)
	}
	return fmt.Errorf("registry store: %w", err)
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
