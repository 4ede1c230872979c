package beacon

import (
	"context"
	"errors"
	"fmt"
	"time"

	builderapi "github.com/attestantio/go-builder-client/api"
	builderv1 "github.com/attestantio/go-builder-client/api/v1"
	"github.com/attestantio/go-builder-client/spec"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/devnet/beacon/consensus"
)

// checkExit checks a voluntary exit (process_voluntary_exit) and returns its signature set. The
// domain is DOMAIN_VOLUNTARY_EXIT with the Capella fork version whatever the fork (EIP-7044).
func (n *Node) checkExit(ex *phase0.SignedVoluntaryExit, atSlot phase0.Slot) (bls.SignatureSet, error) {
	if ex == nil || ex.Message == nil {
		return bls.SignatureSet{}, errors.New("voluntary exit incomplete")
	}
	idx := ex.Message.ValidatorIndex
	if int(idx) >= len(n.gen.Validators) {
		return bls.SignatureSet{}, fmt.Errorf("unknown validator index %d", idx)
	}
	cur := n.slotEpoch(atSlot)
	if _, exiting := n.st.exits[idx]; exiting {
		return bls.SignatureSet{}, fmt.Errorf("validator %d has already initiated its exit", idx)
	}
	if ex.Message.Epoch > cur {
		return bls.SignatureSet{}, fmt.Errorf("exit epoch %d is in the future (current epoch %d)", ex.Message.Epoch, cur)
	}
	if uint64(cur) < n.cfg.ShardCommitteePeriod {
		return bls.SignatureSet{}, fmt.Errorf("validator %d has not been active for SHARD_COMMITTEE_PERIOD (%d epochs) yet: it may exit from epoch %d", idx, n.cfg.ShardCommitteePeriod, n.cfg.ShardCommitteePeriod)
	}
	sig, err := bls.SignatureFromBytes(ex.Signature[:])
	if err != nil {
		return bls.SignatureSet{}, fmt.Errorf("signature does not decode: %w", err)
	}
	root, err := consensus.SigningRootOf(ex.Message, consensus.ComputeDomain(consensus.DomainVoluntaryExit, CapellaForkVersion, n.gen.GenesisValidatorsRoot))
	if err != nil {
		return bls.SignatureSet{}, err
	}
	return bls.SignatureSet{PublicKey: n.gen.Validators[idx].pk, Message: root[:], Signature: sig}, nil
}

// SubmitVoluntaryExit checks and pools a signed voluntary exit; the next block includes it.
func (n *Node) SubmitVoluntaryExit(ex *phase0.SignedVoluntaryExit) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.advance()
	set, err := n.checkExit(ex, n.currentSlot())
	if err != nil {
		return err
	}
	if !bls.Verify(set.PublicKey, set.Message, set.Signature) {
		return errors.New("invalid signature: not the validator's signature of the exit (DOMAIN_VOLUNTARY_EXIT, Capella fork version, EIP-7044)")
	}
	n.st.exitPool[ex.Message.ValidatorIndex] = ex
	n.events.publish("voluntary_exit", ex)
	return nil
}

// maxRegistrationSkew is how far in the future a registration's timestamp may be.
const maxRegistrationSkew = 10 * time.Second

// RegisterValidators checks validator registrations (the builder-domain signature, a known
// validator, a timestamp not in the future and not older than the last one) and forwards the
// accepted ones to the builder, as a beacon node with mev-boost does.
func (n *Node) RegisterValidators(ctx context.Context, regs []*apiv1.SignedValidatorRegistration) []indexedError {
	var failures []indexedError
	var ok []*apiv1.SignedValidatorRegistration
	n.mu.Lock()
	byKey := n.pubkeyIndex()
	now := n.cfg.Now()
	for i, r := range regs {
		err := func() error {
			if r == nil || r.Message == nil {
				return errors.New("registration incomplete")
			}
			idx, known := byKey[r.Message.Pubkey]
			if !known {
				return fmt.Errorf("pubkey %s is not a validator of this network", r.Message.Pubkey)
			}
			if r.Message.Timestamp.After(now.Add(maxRegistrationSkew)) {
				return fmt.Errorf("registration timestamp %d is in the future", r.Message.Timestamp.Unix())
			}
			if old, seen := n.st.registrations[r.Message.Pubkey]; seen && r.Message.Timestamp.Before(old.Message.Timestamp) {
				return fmt.Errorf("registration timestamp %d is older than the last one (%d)", r.Message.Timestamp.Unix(), old.Message.Timestamp.Unix())
			}
			return checkRegistration(r, n.gen.Validators[idx].pk)
		}()
		if err != nil {
			failures = append(failures, indexedError{Index: i, Message: err.Error()})
			continue
		}
		n.st.registrations[r.Message.Pubkey] = r
		ok = append(ok, r)
	}
	n.mu.Unlock()
	if n.builder != nil && len(ok) > 0 {
		vs := make([]*builderapi.VersionedSignedValidatorRegistration, len(ok))
		for i, r := range ok {
			vs[i] = &builderapi.VersionedSignedValidatorRegistration{Version: spec.BuilderVersionV1, V1: &builderv1.SignedValidatorRegistration{
				Message: &builderv1.ValidatorRegistration{FeeRecipient: r.Message.FeeRecipient, GasLimit: r.Message.GasLimit,
					Timestamp: r.Message.Timestamp, Pubkey: r.Message.Pubkey},
				Signature: r.Signature,
			}}
		}
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if err := n.builder.register(ctx, vs); err != nil {
			n.log.Warn("builder refused or did not take the registrations", "count", len(vs), "error", err)
		}
	}
	return failures
}

func (n *Node) pubkeyIndex() map[phase0.BLSPubKey]phase0.ValidatorIndex {
	if n.byPubkey == nil {
		n.byPubkey = make(map[phase0.BLSPubKey]phase0.ValidatorIndex, len(n.gen.Validators))
		for _, v := range n.gen.Validators {
			n.byPubkey[v.Pubkey] = v.Index
		}
	}
	return n.byPubkey
}

// PrepareProposers records fee recipients (prepareBeaconProposer).
func (n *Node) PrepareProposers(preps []*apiv1.ProposalPreparation) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, p := range preps {
		if p == nil || int(p.ValidatorIndex) >= len(n.gen.Validators) {
			return fmt.Errorf("item %d: unknown validator index", i)
		}
	}
	for _, p := range preps {
		n.st.feeRecipients[p.ValidatorIndex] = p.FeeRecipient
	}
	return nil
}

// Liveness is getLiveness: whether each validator was seen attesting, proposing or signing sync
// messages in epoch (the current or the previous epoch).
func (n *Node) Liveness(e phase0.Epoch, indices []phase0.ValidatorIndex) ([]*apiv1.ValidatorLiveness, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.advance()
	cur := n.slotEpoch(n.currentSlot())
	if e > cur || e+1 < cur {
		return nil, fmt.Errorf("epoch %d: liveness is known for the current (%d) and previous epoch only", e, cur)
	}
	out := make([]*apiv1.ValidatorLiveness, 0, len(indices))
	for _, idx := range indices {
		if int(idx) >= len(n.gen.Validators) {
			return nil, fmt.Errorf("unknown validator index %d", idx)
		}
		out = append(out, &apiv1.ValidatorLiveness{Index: idx, IsLive: n.st.liveness[e][idx]})
	}
	return out, nil
}
