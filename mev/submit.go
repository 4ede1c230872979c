package mev

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/pbs"
)

// SubmitOpts are a submission's transport details.
type SubmitOpts struct {
	// Media is pbs.MediaJSON or pbs.MediaSSZ.
	Media string
	// Version is the Eth-Consensus-Version the builder sent; unknown means the fork of the
	// current slot.
	Version spec.DataVersion
	// Cancellations: the bid may lower the builder's earlier one (?cancellations=1).
	Cancellations bool
}

// SubmitResult says what became of an accepted submission.
type SubmitResult struct {
	Slot phase0.Slot
	Top  bool
	// Optimistic: the bid was accepted before its simulation finished.
	Optimistic bool
	Received   time.Time
}

// SubmitBlock decodes and checks a builder submission, keeps it and enters it in its auction
// (mev-boost-relay's POST /relay/v1/builder/blocks). A refusal is a *SubmissionError naming the
// first check that failed, in the order of the Step constants.
func (r *Relay) SubmitBlock(ctx context.Context, body []byte, o SubmitOpts) (*SubmitResult, error) {
	now := r.cfg.Now()
	version := o.Version
	if version == spec.DataVersionUnknown {
		version, _ = r.spec.Fork(r.spec.SlotAt(now))
	}
	s, err := DecodeSubmission(body, o.Media, version)
	if err != nil {
		return nil, err
	}
	return r.submit(ctx, s, o.Cancellations, now)
}

// Submit checks and keeps an already decoded submission (the QUIC door and tests share it).
func (r *Relay) Submit(ctx context.Context, s *Submission, cancellations bool) (*SubmitResult, error) {
	return r.submit(ctx, s, cancellations, r.cfg.Now())
}

func (r *Relay) submit(ctx context.Context, s *Submission, cancellations bool, now time.Time) (*SubmitResult, error) {
	t, p := s.Trace, s.Payload
	slot := phase0.Slot(t.Slot)
	log := r.log.With("slot", slot, "builder", fmt.Sprintf("%#x", t.BuilderPubkey[:]), "value", t.Value.Dec(), "block_hash", fmt.Sprintf("%#x", t.BlockHash[:]))
	// The builder's status: a blacklisted builder is refused before any work is spent on it; a
	// high-priority one is admitted first when submissions queue for the gate.
	st := r.BuilderStatus(t.BuilderPubkey)
	var res *SubmitResult
	var err error
	if st.Blacklisted {
		err = refuse(StepBuilder, "builder %#x is blacklisted by this relay", t.BuilderPubkey[:])
	} else if err = r.gate.acquire(ctx, st.HighPriority); err == nil {
		res, err = r.check(ctx, s, &st, cancellations, now)
		r.gate.release()
	} else {
		err = fmt.Errorf("%w: submission abandoned while waiting to be checked: %v", ErrUnavailable, err)
	}
	took := time.Since(now)
	r.m.submitSeconds.Observe(took.Seconds())
	r.m.submitMs.Observe(float64(took.Microseconds()) / 1000)
	if err != nil {
		result := "error"
		var se *SubmissionError
		if errors.As(err, &se) {
			result = strings.ReplaceAll(se.Step.String(), " ", "_")
		}
		r.m.submissions.WithLabelValues(result).Inc()
		log.Info("submission refused", "outcome", "refused", "step", result, "high_priority", st.HighPriority, "reason", err)
		return nil, err
	}
	r.m.submissions.WithLabelValues("accepted").Inc()
	log.Info("submission accepted", "outcome", "accepted", "top", res.Top, "optimistic", res.Optimistic, "high_priority", st.HighPriority, "num_tx", len(p.Transactions))
	return res, nil
}

func (r *Relay) check(ctx context.Context, s *Submission, st *BuilderStatus, cancellations bool, now time.Time) (*SubmitResult, error) {
	t, p := s.Trace, s.Payload
	slot := phase0.Slot(t.Slot)

	// The header (hash tree roots of the transactions and withdrawals: a large submission's
	// biggest hashing cost) is computed on another core while the checks below run. The
	// goroutine is always waited for.
	type headerResult struct {
		h   *deneb.ExecutionPayloadHeader
		err error
	}
	hc := make(chan headerResult, 1)
	go func() { h, err := pbs.HeaderOf(p); hc <- headerResult{h, err} }()
	var hres *headerResult
	awaitHeader := func() headerResult {
		if hres == nil {
			r := <-hc
			hres = &r
		}
		return *hres
	}
	defer awaitHeader()

	// Fork: the submission's fork is the slot's.
	if want, _ := r.spec.Fork(slot); s.Version != want {
		return nil, refuse(StepFork, "submission of version %s for slot %d, which is in the %s fork", s.Version, slot, want)
	}
	// Slot: not past, and not beyond the next slot.
	cur := r.spec.SlotAt(now)
	if slot < cur {
		return nil, refuse(StepSlot, "slot %d is in the past (current slot %d)", slot, cur)
	}
	if slot > cur+1 {
		return nil, refuse(StepSlot, "slot %d is too far ahead (current slot %d)", slot, cur)
	}
	// Timestamp: the slot's start (consensus specs compute_timestamp_at_slot).
	if want := uint64(r.spec.SlotStart(slot).Unix()); p.Timestamp != want {
		return nil, refuse(StepTimestamp, "payload timestamp %d, slot %d starts at %d", p.Timestamp, slot, want)
	}
	// Proposer: the duty is known, the trace names its proposer, the proposer registered and
	// the fee recipient is the registered one.
	duty, err := r.duty(ctx, slot)
	if err != nil {
		return nil, refuse(StepProposer, "%v", err)
	}
	if t.ProposerPubkey != duty.PubKey {
		return nil, refuse(StepProposer, "proposer pubkey %#x, the proposer of slot %d is %#x", t.ProposerPubkey[:], slot, duty.PubKey[:])
	}
	r.mu.Lock()
	reg := r.regs[duty.PubKey]
	r.mu.Unlock()
	if reg == nil {
		return nil, refuse(StepProposer, "the proposer of slot %d (%#x) has not registered with this relay", slot, duty.PubKey[:])
	}
	if t.ProposerFeeRecipient != reg.Message.FeeRecipient {
		return nil, refuse(StepProposer, "proposer fee recipient %#x, the registration names %#x", t.ProposerFeeRecipient[:], reg.Message.FeeRecipient[:])
	}
	// Bid trace equals the payload.
	switch {
	case t.BlockHash != p.BlockHash:
		return nil, refuse(StepTrace, "block hash %#x, the payload's is %#x", t.BlockHash[:], p.BlockHash[:])
	case t.ParentHash != p.ParentHash:
		return nil, refuse(StepTrace, "parent hash %#x, the payload's is %#x", t.ParentHash[:], p.ParentHash[:])
	case t.GasLimit != p.GasLimit:
		return nil, refuse(StepTrace, "gas limit %d, the payload's is %d", t.GasLimit, p.GasLimit)
	case t.GasUsed != p.GasUsed:
		return nil, refuse(StepTrace, "gas used %d, the payload's is %d", t.GasUsed, p.GasUsed)
	case t.Value.IsZero():
		return nil, refuse(StepTrace, "value is zero")
	case len(s.Bundle.Commitments) != len(s.Bundle.Proofs) && s.Version == spec.DataVersionElectra,
		len(s.Bundle.Commitments) != len(s.Bundle.Blobs):
		return nil, refuse(StepTrace, "blobs bundle has %d commitments, %d proofs and %d blobs", len(s.Bundle.Commitments), len(s.Bundle.Proofs), len(s.Bundle.Blobs))
	}
	// Payload attributes of the slot on this parent, as the beacon node announced them.
	r.mu.Lock()
	a := r.attrs[slot][p.ParentHash]
	r.mu.Unlock()
	if a == nil {
		return nil, refuse(StepAttributes, "no payload attributes known for slot %d on parent %#x", slot, p.ParentHash[:])
	}
	wr, err := pbs.WithdrawalsRoot(p.Withdrawals)
	if err != nil {
		return nil, refuse(StepAttributes, "withdrawals: %v", err)
	}
	if want, _ := pbs.WithdrawalsRoot(a.Withdrawals); wr != want {
		return nil, refuse(StepAttributes, "withdrawals root %#x, the slot's expected withdrawals give %#x", wr[:], want[:])
	}
	if p.PrevRandao != a.PrevRandao {
		return nil, refuse(StepAttributes, "prev_randao %#x, the slot's is %#x", p.PrevRandao[:], a.PrevRandao[:])
	}
	if r.cfg.BlockHasher != nil {
		h, err := r.cfg.BlockHasher(p, a.ParentBeaconBlockRoot, s.Requests)
		if err != nil {
			return nil, refuse(StepAttributes, "block hash: %v", err)
		}
		if h != p.BlockHash {
			return nil, refuse(StepAttributes, "block hash %#x does not commit to the slot's parent beacon block root %#x (recomputed %#x)", p.BlockHash[:], a.ParentBeaconBlockRoot[:], h[:])
		}
	}
	// The builder's signature of the bid trace under the builder domain, batched with others.
	set, err := pbs.SignatureSet(t.BuilderPubkey, t, r.domain, s.Signature)
	if err != nil {
		return nil, refuse(StepSignature, "%v", err)
	}
	if !r.ver.verify(set) {
		return nil, refuse(StepSignature, "invalid builder signature of the bid trace (DOMAIN_APPLICATION_BUILDER)")
	}
	// Delivered: the slot's payload already went out.
	r.mu.Lock()
	d := r.delivered[slot]
	r.mu.Unlock()
	if d != nil {
		return nil, refuse(StepDelivered, "the payload of slot %d was already delivered", slot)
	}
	// Floor: a bid without cancellations must beat the auction's floor.
	key := auctionKey{slot: slot, parent: p.ParentHash, proposer: duty.PubKey}
	r.mu.Lock()
	au := r.auctions[key]
	if au != nil && !cancellations {
		if f := au.floorValue(); f != nil && !t.Value.Gt(f) {
			r.mu.Unlock()
			return nil, refuse(StepFloor, "value %s wei is not above the auction's floor %s wei (submit with cancellations to lower a bid)", t.Value.Dec(), f.Dec())
		}
	}
	r.mu.Unlock()
	// Simulation through the execution client, last as in mev-boost-relay: an optimistic
	// builder whose collateral covers the bid is simulated after its bid is in the auction.
	var late *SimulationRequest
	if r.cfg.Simulator != nil {
		sreq := &SimulationRequest{Submission: s, RegisteredGasLimit: reg.Message.GasLimit, ParentBeaconBlockRoot: a.ParentBeaconBlockRoot, HighPriority: st.HighPriority}
		if st.covers(t.Value) {
			late = sreq
		} else {
			start := time.Now()
			err := r.cfg.Simulator.Simulate(ctx, sreq)
			r.m.simulationMs.Observe(float64(time.Since(start).Microseconds()) / 1000)
			r.m.simulations.WithLabelValues(simulationResult(err), "sync").Inc()
			var se *SimulationError
			switch {
			case errors.As(err, &se):
				return nil, refuse(StepSimulation, "%s", se.Reason)
			case errors.Is(err, ErrSimulationTimeout):
				return nil, err
			case err != nil:
				return nil, fmt.Errorf("%w: simulation: %v", ErrUnavailable, err)
			}
		}
	}

	hr := awaitHeader()
	if hr.err != nil {
		return nil, refuse(StepDecode, "payload header: %v", hr.err)
	}
	header := hr.h
	rec := &BidRecord{Version: s.Version, Trace: t, BlockNumber: p.BlockNumber, NumTx: uint64(len(p.Transactions)),
		ReceivedAt: r.cfg.Now(), Cancellations: cancellations, Optimistic: late != nil}
	b := &bid{version: s.Version, rec: rec, header: header, blobs: s.Bundle.Commitments, requests: s.Requests, value: t.Value,
		payload: &Payload{Version: s.Version, Bundle: bundleOf(p, s.Bundle)}}
	// Written behind the acknowledgement, durable before its header is served (bidwrite.go).
	if err := r.queueBid(ctx, b); err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.delivered[slot] != nil {
		r.mu.Unlock()
		return nil, refuse(StepDelivered, "the payload of slot %d was delivered while this bid was checked", slot)
	}
	r.seq++
	b.seq = r.seq
	au = r.auctions[key]
	if au == nil {
		au = newAuction()
		r.auctions[key] = au
	}
	// The relay signs a bid when the first getHeader asks for it (bid.sign), not here: builders
	// submit many bids a slot, proposers ask for a few.
	prev := au.top
	top := au.add(b, cancellations)
	newTop := au.top
	r.mu.Unlock()
	if late != nil {
		r.late.Go(func() { r.simulateLate(late) })
	}
	// The stream carries every change of the top bid: this bid, or another builder's that a
	// cancellation (this builder lowering its bid) has put back on top.
	if newTop != prev && newTop != nil {
		r.publishTop(key, newTop)
	}
	return &SubmitResult{Slot: slot, Top: top, Optimistic: late != nil, Received: rec.ReceivedAt}, nil
}

// cancellationsParam reads ?cancellations= as mev-boost-relay does ("1" or "true").
func cancellationsParam(v string) bool {
	v = strings.ToLower(v)
	return v == "1" || v == "true"
}
