package registry

import (
	"errors"
	"fmt"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// ValidatorSet answers for a BLS key whether it belongs to an active validator of the chain
// and with what effective balance (gwei). The devnet's beacon node and a pool's Beacon API
// client implement it; a key the set does not know is (0, false, nil).
type ValidatorSet interface {
	Validator(pubkey [bls.PublicKeyLength]byte) (effectiveBalance uint64, active bool, err error)
}

// ErrNotValidator reports a registration of a key that is not an active validator.
var ErrNotValidator = errors.New("registry: not an active validator")

// AdmitValidators returns a Config.Admit policy that takes a registration only from an active
// validator of set, at its effective balance exactly: without one, any BLS key registers at
// any weight, and a proof's minimum weight says nothing. A weight that changes with the
// effective balance needs a new registration.
func AdmitValidators(set ValidatorSet) func(r *Registration) error {
	return func(r *Registration) error {
		balance, active, err := set.Validator(r.Pubkey)
		switch {
		case err != nil:
			return fmt.Errorf("validator set: %w", err)
		case !active:
			return fmt.Errorf("%w: key %x", ErrNotValidator, r.Pubkey[:8])
		case r.Weight != balance:
			return fmt.Errorf("key %x registers weight %d, its effective balance is %d gwei", r.Pubkey[:8], r.Weight, balance)
		}
		return nil
	}
}
