package mev

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	builderapi "github.com/attestantio/go-builder-client/api"
	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	builderspec "github.com/attestantio/go-builder-client/spec"
	consensusapi "github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/pbs"
)

// RegisterValidators checks and keeps validator registrations (builder-specs
// registerValidator): each signed under the builder domain, its timestamp not more than
// MaxRegistrationSkew ahead and not older than the validator's last, the validator known to the
// beacon node and active or pending. Valid ones are kept even when others fail; the error names
// every failure by index.
func (r *Relay) RegisterValidators(ctx context.Context, regs []*builderapiv1.SignedValidatorRegistration) error {
	now := r.cfg.Now()
	var failures []string
	fail := func(i int, format string, args ...any) {
		failures = append(failures, fmt.Sprintf("registration %d: %s", i, fmt.Sprintf(format, args...)))
	}
	// Content and timestamps first; what is new goes to the beacon node and the batch check.
	type cand struct {
		i   int
		reg *builderapiv1.SignedValidatorRegistration
	}
	var fresh []cand
	r.mu.Lock()
	for i, reg := range regs {
		if reg == nil || reg.Message == nil {
			fail(i, "incomplete")
			continue
		}
		m := reg.Message
		if m.Timestamp.After(now.Add(r.cfg.MaxRegistrationSkew)) {
			fail(i, "timestamp %d is in the future", m.Timestamp.Unix())
			continue
		}
		if old := r.regs[m.Pubkey]; old != nil {
			if m.Timestamp.Before(old.Message.Timestamp) {
				fail(i, "timestamp %d is older than the last registration's %d", m.Timestamp.Unix(), old.Message.Timestamp.Unix())
				continue
			}
			if *old.Message == *m && old.Signature == reg.Signature {
				continue // the same registration again (validator clients repeat them every epoch)
			}
		}
		fresh = append(fresh, cand{i, reg})
	}
	r.mu.Unlock()
	if len(fresh) > 0 {
		keys := make([]phase0.BLSPubKey, len(fresh))
		for j, c := range fresh {
			keys[j] = c.reg.Message.Pubkey
		}
		vals, err := r.cfg.Beacon.Validators(ctx, keys)
		if err != nil {
			return fmt.Errorf("%w: validators from the beacon node: %v", ErrUnavailable, err)
		}
		v := bls.NewVerifier(len(fresh))
		var checked []cand
		for _, c := range fresh {
			val := vals[c.reg.Message.Pubkey]
			switch {
			case val == nil:
				fail(c.i, "%#x is not a validator known to the beacon node", c.reg.Message.Pubkey[:])
				continue
			case !val.Status.IsActive() && !val.Status.IsPending():
				fail(c.i, "validator %d is %s, not active or pending", val.Index, val.Status)
				continue
			}
			set, err := pbs.SignatureSet(c.reg.Message.Pubkey, c.reg.Message, r.domain, c.reg.Signature)
			if err != nil {
				fail(c.i, "%v", err)
				continue
			}
			v.Add(set)
			checked = append(checked, c)
		}
		bad := map[int]bool{}
		if len(checked) > 0 && !v.Verify() {
			for _, k := range v.Invalid() {
				bad[k] = true
			}
		}
		for k, c := range checked {
			if bad[k] {
				fail(c.i, "invalid signature under the builder domain")
				continue
			}
			if err := r.cfg.Store.PutRegistration(ctx, c.reg); err != nil {
				return fmt.Errorf("%w: store registration: %v", ErrUnavailable, err)
			}
			r.mu.Lock()
			if old := r.regs[c.reg.Message.Pubkey]; old == nil || !c.reg.Message.Timestamp.Before(old.Message.Timestamp) {
				r.regs[c.reg.Message.Pubkey] = c.reg
			}
			r.mu.Unlock()
		}
	}
	r.log.Info("registrations", "count", len(regs), "new", len(fresh), "failed", len(failures))
	r.m.registrations.WithLabelValues("refused").Add(float64(len(failures)))
	r.m.registrations.WithLabelValues("accepted").Add(float64(len(regs) - len(failures)))
	if len(failures) > 0 {
		return badRequest("%s", strings.Join(failures, "; "))
	}
	return nil
}

// GetHeader returns the relay-signed top bid for (slot, parent hash, proposer), or ErrNoBid
// (builder-specs getHeader: 204).
func (r *Relay) GetHeader(ctx context.Context, slot phase0.Slot, parent phase0.Hash32, pubkey phase0.BLSPubKey) (*builderspec.VersionedSignedBuilderBid, error) {
	start := time.Now()
	defer func() { r.m.getHeaderMs.Observe(float64(time.Since(start).Microseconds()) / 1000) }()
	key := auctionKey{slot: slot, parent: parent, proposer: pubkey}
	r.mu.Lock()
	au := r.auctions[key]
	var top *bid
	if au != nil {
		top = au.top
	}
	delivered := r.delivered[slot] != nil
	r.mu.Unlock()
	if top == nil || delivered {
		r.m.headers.WithLabelValues("no_bid").Inc()
		r.log.Info("header request", "slot", slot, "parent_hash", fmt.Sprintf("%#x", parent[:]), "proposer", fmt.Sprintf("%#x", pubkey[:]),
			"outcome", "no_bid", "delivered", delivered)
		return nil, ErrNoBid
	}
	// The payload of a served header must survive a crash (getPayload reads it from the
	// Store): the bid is durable before its header leaves. Usually the writer has done it.
	if err := r.storeBid(ctx, top); err != nil {
		r.m.headers.WithLabelValues("error").Inc()
		return nil, err
	}
	// And the relay records that it served this bid's header to this proposer, durably, before
	// the header leaves: getPayload releases a payload only for a header the relay served.
	if err := top.markServed(ctx, r.cfg.Store, key); err != nil {
		r.m.headers.WithLabelValues("error").Inc()
		return nil, fmt.Errorf("%w: record the served header: %v", ErrUnavailable, err)
	}
	signed, err := top.sign(r.cfg.SecretKey, r.pubkey, r.domain)
	if err != nil {
		r.m.headers.WithLabelValues("error").Inc()
		return nil, fmt.Errorf("sign bid: %w", err)
	}
	r.m.headers.WithLabelValues("bid").Inc()
	r.log.Info("header served", "slot", slot, "builder", fmt.Sprintf("%#x", top.rec.Trace.BuilderPubkey[:]), "value", top.value.Dec(),
		"block_hash", fmt.Sprintf("%#x", top.header.BlockHash[:]), "outcome", "bid")
	return signed, nil
}

// GetPayload releases the payload of a signed blinded block (builder-specs submitBlindedBlock)
// and returns it; with publish (the v2 endpoint) it publishes the full block through the beacon
// node instead, with broadcast_validation=consensus_and_equivocation, and returns nil.
//
// The payload leaves only for the header of a bid the relay accepted for that slot and
// proposer, signed by the slot's proposer, and once per slot: the delivery record is written
// (durably) before the payload is returned or published. The same blinded block again gets the
// same payload (mev-boost retries); a different one for a delivered slot is ErrEquivocation.
func (r *Relay) GetPayload(ctx context.Context, p *consensusapi.VersionedSignedBlindedProposal, publish bool) (*builderapi.VersionedSubmitBlindedBlockResponse, error) {
	start := time.Now()
	res, err := r.getPayload(ctx, p, publish)
	r.m.getPayloadMs.Observe(float64(time.Since(start).Microseconds()) / 1000)
	result := "delivered"
	switch {
	case errors.Is(err, ErrEquivocation):
		result = "equivocation"
	case errors.Is(err, ErrBadRequest):
		result = "refused"
	case err != nil:
		result = "error"
	case publish:
		result = "published"
	}
	r.m.payloads.WithLabelValues(result).Inc()
	if err != nil {
		// Deliveries log their own line with the bid's details; an equivocation has its warning too.
		var slot phase0.Slot
		if b, berr := pbs.BlindedBlock(p); berr == nil {
			slot = b.Message.Slot
		}
		r.log.Info("payload request", "slot", slot, "outcome", result, "v2", publish, "reason", err)
	}
	return res, err
}

func (r *Relay) getPayload(ctx context.Context, p *consensusapi.VersionedSignedBlindedProposal, publish bool) (*builderapi.VersionedSubmitBlindedBlockResponse, error) {
	b, err := pbs.BlindedBlock(p)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	m := b.Message
	slot := m.Slot
	if want, _ := r.spec.Fork(slot); p.Version != want {
		return nil, badRequest("blinded block of version %s for slot %d, which is in the %s fork", p.Version, slot, want)
	}
	duty, err := r.duty(ctx, slot)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	if m.ProposerIndex != duty.ValidatorIndex {
		return nil, badRequest("proposer index %d, the proposer of slot %d is %d", m.ProposerIndex, slot, duty.ValidatorIndex)
	}
	hash := m.Body.ExecutionPayloadHeader.BlockHash
	rec, payload, err := r.cfg.Store.Payload(ctx, slot, hash)
	if errors.Is(err, ErrNotFound) {
		// A bid accepted moments ago may still be on its way to the Store.
		if err := r.storePending(ctx); err != nil {
			return nil, err
		}
		rec, payload, err = r.cfg.Store.Payload(ctx, slot, hash)
	}
	if errors.Is(err, ErrNotFound) {
		return nil, badRequest("no bid of this relay for slot %d has block hash %#x", slot, hash[:])
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read payload: %v", ErrUnavailable, err)
	}
	if rec.Trace.ProposerPubkey != duty.PubKey {
		return nil, badRequest("the bid with block hash %#x was for another proposer", hash[:])
	}
	// Only for a header the relay signed and served to this proposer (recorded by GetHeader).
	if served, err := r.cfg.Store.Served(ctx, slot, duty.PubKey, hash); err != nil {
		return nil, fmt.Errorf("%w: read the served headers: %v", ErrUnavailable, err)
	} else if !served {
		return nil, badRequest("the relay did not serve a header with block hash %#x for slot %d to proposer %#x", hash[:], slot, duty.PubKey[:])
	}
	if payload.Version != p.Version {
		return nil, badRequest("the bid is of version %s, the blinded block %s", payload.Version, p.Version)
	}
	header, err := pbs.HeaderOf(payload.Bundle.ExecutionPayload)
	if err != nil {
		return nil, fmt.Errorf("stored payload header: %w", err)
	}
	if err := pbs.CheckBlindedBlock(b, header); err != nil {
		return nil, badRequest("%v", err)
	}
	_, forkVersion := r.spec.Fork(slot)
	if err := pbs.VerifyProposerSignature(b, duty.PubKey, forkVersion, r.spec.GenesisValidatorsRoot); err != nil {
		return nil, badRequest("proposer signature of the blinded block (DOMAIN_BEACON_PROPOSER): %v", err)
	}
	blindedRoot, err := m.HashTreeRoot()
	if err != nil {
		return nil, badRequest("blinded block root: %v", err)
	}

	// The delivery record, durable before anything leaves.
	r.deliverMu.Lock()
	d, fresh, err := r.cfg.Store.Deliver(ctx, &Delivery{Slot: slot, BlockHash: hash, BlindedRoot: blindedRoot, Trace: rec.Trace,
		BlockNumber: rec.BlockNumber, NumTx: rec.NumTx, DeliveredAt: r.cfg.Now()})
	r.deliverMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	r.mu.Lock()
	r.delivered[slot] = d
	r.mu.Unlock()
	log := r.log.With("slot", slot, "proposer_index", m.ProposerIndex, "block_hash", fmt.Sprintf("%#x", hash[:]), "value", rec.Trace.Value.Dec())
	if d.BlindedRoot != blindedRoot {
		log.Warn("proposer equivocation: a second, different blinded block for a delivered slot",
			"delivered_block_hash", fmt.Sprintf("%#x", d.BlockHash[:]), "delivered_root", fmt.Sprintf("%#x", d.BlindedRoot[:]),
			"refused_root", fmt.Sprintf("%#x", blindedRoot[:]))
		return nil, fmt.Errorf("%w: the payload of slot %d was delivered for another blinded block (root %#x)", ErrEquivocation, slot, d.BlindedRoot[:])
	}
	if publish {
		full, err := pbs.Unblind(p.Version, b, payload.Bundle.ExecutionPayload, payload.Bundle.BlobsBundle)
		if err != nil {
			return nil, fmt.Errorf("unblind: %w", err)
		}
		if err := r.cfg.Beacon.Publish(ctx, full); err != nil {
			log.Warn("publish failed", "error", err)
			if rec.Optimistic {
				// mev-boost-relay demotes an optimistic builder whose block fails to go out.
				r.demote(context.WithoutCancel(ctx), rec.Trace.BuilderPubkey, slot, hash, fmt.Sprintf("delivery: publish failed: %v", err))
			}
			return nil, fmt.Errorf("%w: publish the block: %v", ErrUnavailable, err)
		}
		log.Info("payload delivered", "builder", fmt.Sprintf("%#x", rec.Trace.BuilderPubkey[:]), "outcome", "published", "first", fresh)
		return nil, nil
	}
	resp, err := pbs.PayloadResponse(p.Version, payload.Bundle.ExecutionPayload, payload.Bundle.BlobsBundle)
	if err != nil {
		return nil, err
	}
	log.Info("payload delivered", "builder", fmt.Sprintf("%#x", rec.Trace.BuilderPubkey[:]), "outcome", "returned", "first", fresh)
	return resp, nil
}

// BuilderValidator is an entry of GET /relay/v1/builder/validators.
type BuilderValidator struct {
	Slot           phase0.Slot
	ValidatorIndex phase0.ValidatorIndex
	Entry          *builderapiv1.SignedValidatorRegistration
}

// BuilderValidators lists the proposers of the current and next epoch that registered, with
// their registrations (mev-boost-relay's GET /relay/v1/builder/validators).
func (r *Relay) BuilderValidators(ctx context.Context) ([]BuilderValidator, error) {
	cur := r.spec.SlotAt(r.cfg.Now())
	e := r.spec.Epoch(cur)
	for _, ep := range []phase0.Epoch{e, e + 1} {
		if err := r.loadDuties(ctx, ep); err != nil {
			return nil, fmt.Errorf("%w: proposer duties of epoch %d: %v", ErrUnavailable, ep, err)
		}
	}
	end := phase0.Slot(uint64(e+2) * r.spec.SlotsPerEpoch)
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []BuilderValidator{}
	for s := cur; s < end; s++ {
		d := r.duties[s]
		if d == nil {
			continue
		}
		if reg := r.regs[d.PubKey]; reg != nil {
			out = append(out, BuilderValidator{Slot: s, ValidatorIndex: d.ValidatorIndex, Entry: reg})
		}
	}
	return out, nil
}

// Registration returns a validator's registration (the data API's validator_registration).
func (r *Relay) Registration(pubkey phase0.BLSPubKey) (*builderapiv1.SignedValidatorRegistration, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	reg := r.regs[pubkey]
	if reg == nil {
		return nil, fmt.Errorf("%w: no registration for %#x", ErrNotFound, pubkey[:])
	}
	return reg, nil
}
