package signer

import (
	"errors"
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/validator/keys"
)

// ErrDuplicateKey: AddKeys was given a key the Signer already holds.
var ErrDuplicateKey = errors.New("signer: key already held")

// Has reports whether the Signer holds pk's secret key.
func (s *Signer) Has(pk phase0.BLSPubKey) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.keys[pk]
	return ok
}

// AddKeys adds keys to sign with (the keymanager API's import). It adds all or none: a key
// already held, or given twice, is ErrDuplicateKey. The Signer keeps the secret keys; the
// caller must not zeroize them. Their slashing protection history must be in the Protector
// before AddKeys is called: the first signature may follow at once.
func (s *Signer) AddKeys(ks []*keys.Key) error {
	add := make(map[phase0.BLSPubKey]*bls.SecretKey, len(ks))
	for i, k := range ks {
		if k == nil || k.Secret == nil {
			return fmt.Errorf("signer: key %d has no secret", i)
		}
		pub := k.Public
		if pub == nil {
			pub = k.Secret.PublicKey()
		}
		pk := phase0.BLSPubKey(pub.Bytes())
		if _, dup := add[pk]; dup {
			return fmt.Errorf("%w: %#x given twice", ErrDuplicateKey, pk[:])
		}
		add[pk] = k.Secret
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for pk := range add {
		if _, ok := s.keys[pk]; ok {
			return fmt.Errorf("%w: %#x", ErrDuplicateKey, pk[:])
		}
	}
	for pk, sk := range add {
		s.keys[pk] = sk
	}
	return nil
}

// RemoveKeys stops signing with pks and returns those it held. When it returns, every signing
// call that could use one of them has finished (and its slashing protection record is
// written), and no later call signs with them: the history of the removed keys is final, and
// an export taken now is complete. The removed secret keys are zeroized.
func (s *Signer) RemoveKeys(pks []phase0.BLSPubKey) []phase0.BLSPubKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	var removed []phase0.BLSPubKey
	for _, pk := range pks {
		if sk, ok := s.keys[pk]; ok {
			sk.Zeroize()
			delete(s.keys, pk)
			removed = append(removed, pk)
		}
	}
	return removed
}
