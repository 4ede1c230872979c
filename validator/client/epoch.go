package client

import (
	"context"
	"fmt"
	"time"

	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// epochStats counts an epoch's duties for its summary line.
type epochStats struct {
	proposalsExpected, attestationsExpected, syncExpected int
	proposedBuilder, proposedLocal, proposalsFailed       int
	attested, attestFailed, aggregated, aggregateFailed   int
	syncDone, syncFailed, contributed, contributeFailed   int
	late                                                  map[string]int // messages published after lateDeadline, by Report.Kind
}

func (s *Service) statsLocked(e phase0.Epoch) *epochStats {
	st, ok := s.stats[e]
	if !ok {
		st = &epochStats{}
		s.stats[e] = st
	}
	return st
}

func (st *epochStats) setExpected(proposals, attestations, sync int) {
	st.proposalsExpected, st.attestationsExpected, st.syncExpected = proposals, attestations, sync
}

func (st *epochStats) add(r Report) {
	if r.Late && r.Done > 0 {
		if st.late == nil {
			st.late = map[string]int{}
		}
		st.late[r.Kind] += r.Done
	}
	switch r.Kind {
	case "proposal":
		switch {
		case r.Done > 0 && r.Path == "builder":
			st.proposedBuilder++
		case r.Done > 0:
			st.proposedLocal++
		default:
			st.proposalsFailed++
		}
	case "attestation":
		st.attested += r.Done
		st.attestFailed += r.Failed
	case "aggregate":
		st.aggregated += r.Done
		st.aggregateFailed += r.Failed
	case "sync_message":
		st.syncDone += r.Done
		st.syncFailed += r.Failed
	case "contribution":
		st.contributed += r.Done
		st.contributeFailed += r.Failed
	}
}

// summarize writes epoch e's summary line: duties done and missed, blocks proposed and how.
func (s *Service) summarize(e phase0.Epoch) {
	s.mu.Lock()
	st := s.stats[e]
	delete(s.stats, e)
	for ep := range s.stats {
		if ep < e {
			delete(s.stats, ep)
		}
	}
	s.mu.Unlock()
	if st == nil {
		return
	}
	f := st.figures()
	s.m.summary(f)
	s.log.Info("epoch summary", "epoch", e,
		"duties_done", f.done, "duties_missed", f.missed, "duties_late", f.late,
		"attestations", st.attested, "attestations_missed", f.byKind("attestation").missed, "attestations_late", st.late["attestation"],
		"aggregates", st.aggregated, "aggregates_failed", st.aggregateFailed,
		"sync_messages", st.syncDone, "sync_messages_failed", st.syncFailed,
		"contributions", st.contributed, "contributions_failed", st.contributeFailed,
		"proposals", st.proposalsExpected, "proposed_builder", st.proposedBuilder, "proposed_local", st.proposedLocal,
		"proposals_missed", f.byKind("proposal").missed, "proposals_late", st.late["proposal"])
}

// summaryFigures are an epoch summary's totals, which the metrics repeat.
type summaryFigures struct {
	done, missed, late int
	builder, local     int
	duties             []dutyFigures
}

type dutyFigures struct {
	kind               string
	done, missed, late int
}

func (f summaryFigures) byKind(kind string) dutyFigures {
	for _, d := range f.duties {
		if d.kind == kind {
			return d
		}
	}
	return dutyFigures{kind: kind}
}

// figures counts the epoch's duties done, missed and late. A duty with a known count (proposals,
// attestations, sync committee messages) is missed when it produced no accepted message, whether
// it failed or never started; aggregates and contributions exist only once selected, so their
// failures are their misses.
func (st *epochStats) figures() summaryFigures {
	f := summaryFigures{builder: st.proposedBuilder, local: st.proposedLocal}
	proposed := st.proposedBuilder + st.proposedLocal
	f.duties = []dutyFigures{
		{kind: "proposal", done: proposed, missed: max(st.proposalsFailed, st.proposalsExpected-proposed)},
		{kind: "attestation", done: st.attested, missed: max(0, st.attestationsExpected-st.attested)},
		{kind: "aggregate", done: st.aggregated, missed: st.aggregateFailed},
		{kind: "sync_message", done: st.syncDone, missed: max(st.syncFailed, st.syncExpected-st.syncDone)},
		{kind: "contribution", done: st.contributed, missed: st.contributeFailed},
	}
	for i := range f.duties {
		d := &f.duties[i]
		d.late = st.late[d.kind]
		f.done += d.done
		f.missed += d.missed
		f.late += d.late
	}
	return f
}

// prepareProposers tells the beacon node each validator's fee recipient
// (prepare_beacon_proposer), once an epoch as the Beacon API asks.
func (s *Service) prepareProposers(ctx context.Context) {
	vals, indices := s.validatorSet()
	preps := make([]*apiv1.ProposalPreparation, 0, len(indices))
	for _, idx := range indices {
		preps = append(preps, &apiv1.ProposalPreparation{ValidatorIndex: idx, FeeRecipient: s.settingsFor(vals[idx]).feeRecipient})
	}
	if err := s.bn.SubmitProposalPreparations(ctx, preps); err != nil {
		s.log.Warn("prepare_beacon_proposer", "error", err)
	}
}

// registration is a signed builder registration, kept so that every epoch sends the same one
// (builder-specs: a relay keeps the registration with the latest timestamp; re-signing each epoch
// would only cost CPU).
type registration = api.VersionedSignedValidatorRegistration

// signRegistrations signs one registration per validator with its fee recipient and gas limit,
// timestamped now; a validator whose builder is disabled in the proposer config is not
// registered.
func (s *Service) signRegistrations() error {
	ts := time.Unix(s.o.now().Unix(), 0)
	vals, indices := s.validatorSet()
	regs := make([]*registration, 0, len(indices))
	for _, idx := range indices {
		ps := s.settingsFor(vals[idx])
		if !ps.builder {
			continue
		}
		msg := &apiv1.ValidatorRegistration{FeeRecipient: ps.feeRecipient, GasLimit: ps.gasLimit, Timestamp: ts, Pubkey: vals[idx]}
		sig, err := s.sig.SignRegistration(msg)
		if err != nil {
			return fmt.Errorf("sign registration of validator %d: %w", idx, err)
		}
		regs = append(regs, &registration{Version: spec.BuilderVersionV1, V1: &apiv1.SignedValidatorRegistration{Message: msg, Signature: sig}})
	}
	s.mu.Lock()
	s.regs = regs
	s.mu.Unlock()
	return nil
}

// registrationBatch bounds one register_validator request.
const registrationBatch = 1000

// submitRegistrations sends the builder registrations through the beacon node, in batches.
func (s *Service) submitRegistrations(ctx context.Context) {
	s.mu.Lock()
	regs := s.regs
	s.mu.Unlock()
	for i := 0; i < len(regs); i += registrationBatch {
		if err := s.bn.SubmitValidatorRegistrations(ctx, regs[i:min(i+registrationBatch, len(regs))]); err != nil {
			s.log.Warn("builder registrations", "error", err)
			return
		}
	}
}
