package private

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/zkvlabs/zkv/prover/registry"
)

// cachePrefix is the Store's key prefix of cache entries (db's ProverCache bucket):
// cachePrefix | identity (32 bytes, big-endian) -> prover.ExportCache.
const cachePrefix = "zkv/prover-cache/"

func cacheKey(id fr.Element) []byte {
	b := id.Bytes()
	return append([]byte(cachePrefix), b[:]...)
}

// loadCache imports every stored cache entry into the prover. An entry the prover refuses
// (damaged, other keys or layout) is counted and skipped: the next proof of its validator
// computes a fresh one and overwrites it.
func (s *Service) loadCache() {
	if s.cfg.Store == nil {
		return
	}
	err := s.cfg.Store.Iterate([]byte(cachePrefix), func(k, v []byte) error {
		id, err := s.cfg.Prover.ImportCache(v)
		if err != nil {
			s.c.cacheBad.Add(1)
			s.log.Warn("prover cache entry refused", "key", fmt.Sprintf("%x", k[len(cachePrefix):]), "error", err)
			return nil
		}
		if want := cacheKey(id); string(want) != string(k) {
			s.c.cacheBad.Add(1)
			return nil
		}
		s.mu.Lock()
		s.saved[id] = sha256.Sum256(v)
		s.mu.Unlock()
		s.c.cacheLoaded.Add(1)
		return nil
	})
	if err != nil {
		s.log.Warn("reading the prover cache", "error", err)
	}
	if n := s.c.cacheLoaded.Load(); n > 0 || s.c.cacheBad.Load() > 0 {
		s.log.Info("prover cache loaded", "entries", n, "refused", s.c.cacheBad.Load())
	}
}

// savedEntry is a cache entry on its way to the Store.
type savedEntry struct {
	id   fr.Element
	blob []byte
	sum  [32]byte
}

// saveCache queues k's cache entry for the Store when it differs from the stored one (a new
// registry root reached its path, or it was never stored). A full queue drops the write: the
// entry is written after a later proof.
func (s *Service) saveCache(k *key, saves chan<- savedEntry) {
	if s.cfg.Store == nil {
		return
	}
	blob, err := s.cfg.Prover.ExportCache(k.identity)
	if err != nil {
		return // the cache is off, or the entry was evicted already
	}
	sum := sha256.Sum256(blob)
	s.mu.Lock()
	same := s.saved[k.identity] == sum
	s.mu.Unlock()
	if same {
		return
	}
	select {
	case saves <- savedEntry{id: k.identity, blob: blob, sum: sum}:
	default:
	}
}

// persist writes queued cache entries until ctx ends, then what is still queued.
func (s *Service) persist(ctx context.Context, saves <-chan savedEntry) {
	write := func(e savedEntry) {
		if err := s.cfg.Store.Set(cacheKey(e.id), e.blob); err != nil {
			if !errors.Is(err, context.Canceled) {
				s.log.Warn("write prover cache entry", "error", err)
			}
			return
		}
		s.mu.Lock()
		s.saved[e.id] = e.sum
		s.mu.Unlock()
		s.c.cacheSaved.Add(1)
	}
	for {
		select {
		case e := <-saves:
			write(e)
		case <-ctx.Done():
			for {
				select {
				case e := <-saves:
					write(e)
				default:
					return
				}
			}
		}
	}
}

// regPrefix is the Store's key prefix of the keys' last registrations:
// regPrefix | registration domain (32) | pubkey (48) -> registry.Registration.Bytes(). The
// domain in the key keeps a registration of another network from being sent again.
const regPrefix = "zkv/private/registration/"

func (s *Service) regKey(pk [48]byte) []byte {
	k := append([]byte(regPrefix), s.domain[:]...)
	return append(k, pk[:]...)
}

// loadRegistrations reads the registrations the last run signed, for keys of this run on this
// network.
func (s *Service) loadRegistrations() {
	if s.cfg.Store == nil {
		return
	}
	prefix := append([]byte(regPrefix), s.domain[:]...)
	err := s.cfg.Store.Iterate(prefix, func(k, v []byte) error {
		reg, err := registry.RegistrationFromBytes(v)
		if err != nil || string(s.regKey(reg.Pubkey)) != string(k) {
			return nil // damaged: a new registration is signed instead
		}
		pk := phase0.BLSPubKey(reg.Pubkey)
		if key, ok := s.keys[pk]; ok && reg.Identity.Equal(&key.identity) {
			s.mu.Lock()
			s.stored[pk] = reg
			s.mu.Unlock()
		}
		return nil
	})
	if err != nil {
		s.log.Warn("reading stored registrations", "error", err)
	}
}

// storeRegistration keeps reg for the next run.
func (s *Service) storeRegistration(reg registry.Registration) {
	if s.cfg.Store == nil {
		return
	}
	b := reg.Bytes()
	if err := s.cfg.Store.Set(s.regKey(reg.Pubkey), b[:]); err != nil {
		s.log.Warn("store registration", "error", err)
	}
}
