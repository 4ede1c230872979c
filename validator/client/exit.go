package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/validator/signer"
	"github.com/zkvlabs/zkv/validator/slashing"
)

// noSlashable is the Protector of the exit signer: it refuses every block and attestation, so
// the one-shot exit path can sign nothing slashable and needs no slashing database.
type noSlashable struct{}

var errExitOnly = errors.New("the exit signer signs no blocks or attestations")

func (noSlashable) CheckAndRecordBlock(context.Context, slashing.Block) error { return errExitOnly }
func (noSlashable) CheckAndRecordAttestations(_ context.Context, as []slashing.Attestation) []error {
	errs := make([]error, len(as))
	for i := range errs {
		errs[i] = errExitOnly
	}
	return errs
}

// Exit signs a voluntary exit for each validator of pubkeys (all held in the keystores of
// WithKeystores) at epoch, or at the current epoch when epoch is nil, and submits them to the
// beacon node (phase0 beacon-chain.md "Voluntary exits"; the domain is Capella's, EIP-7044, so
// a signed exit stays valid). An exit cannot be undone. The options are New's, without the
// database: an exit is not a slashable message. It returns the exits it submitted, and stops at
// the first the beacon node refuses.
func Exit(ctx context.Context, pubkeys []phase0.BLSPubKey, epoch *phase0.Epoch, opts ...Option) ([]*phase0.SignedVoluntaryExit, error) {
	if len(pubkeys) == 0 {
		return nil, errors.New("client: no validator to exit")
	}
	s, err := newService(false, opts)
	if err != nil {
		return nil, err
	}
	ks, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer zeroize(ks)
	if s.sig, err = signer.New(s.net, noSlashable{}, ks); err != nil {
		return nil, err
	}
	if err := s.resolveIndices(ctx); err != nil {
		return nil, err
	}
	index := make(map[phase0.BLSPubKey]phase0.ValidatorIndex, len(s.vals))
	for idx, pk := range s.vals {
		index[pk] = idx
	}
	e := s.net.EpochOf(s.currentSlot())
	if epoch != nil {
		e = *epoch
	}
	var out []*phase0.SignedVoluntaryExit
	for _, pk := range pubkeys {
		idx, ok := index[pk]
		if !ok {
			return out, fmt.Errorf("validator %#x: no keystore for it, or the beacon node does not know it", pk[:])
		}
		msg := &phase0.VoluntaryExit{Epoch: e, ValidatorIndex: idx}
		sig, err := s.sig.SignVoluntaryExit(pk, msg)
		if err != nil {
			return out, fmt.Errorf("validator %d: %w", idx, err)
		}
		exit := &phase0.SignedVoluntaryExit{Message: msg, Signature: sig}
		if err := s.bn.SubmitVoluntaryExit(ctx, exit); err != nil {
			return out, fmt.Errorf("validator %d: submit exit: %w", idx, err)
		}
		s.log.Info("voluntary exit submitted", "validator_index", idx, "epoch", e)
		out = append(out, exit)
	}
	return out, nil
}
