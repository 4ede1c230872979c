package private

import (
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/signer"
)

// equivocate returns the signing root of a second attestation that conflicts with a: the same
// data with another beacon_block_root, under the same domain. Two such attestations of one
// target are a double vote (phase0 beacon-chain.md, is_slashable_attestation_data); here only
// their private proofs are made, so that a pool must find the validator from them alone.
func equivocate(a client.SignedAttestation) ([32]byte, error) {
	d := *a.Data
	d.BeaconBlockRoot[0] ^= 0xff
	root, err := d.HashTreeRoot()
	if err != nil {
		return [32]byte{}, fmt.Errorf("attestation data root: %w", err)
	}
	sr := signer.SigningRoot(phase0.Root(root), a.Domain)
	if sr == a.SigningRoot {
		return [32]byte{}, fmt.Errorf("second attestation has the first's signing root")
	}
	return sr, nil
}
