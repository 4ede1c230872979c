package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	eth2client "github.com/attestantio/go-eth2-client"
	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// fallback is a BeaconNode over several beacon nodes, the primary first. Requests that read go
// to the first healthy node in that order and fail over to the next when a node errs (a 4xx
// answer is the request's fault, not the node's, and does not fail over); messages that others
// must see (attestations, aggregates, sync messages and contributions, blocks, subscriptions,
// preparations, registrations, exits) are broadcast to every healthy node and count as sent
// when one accepts them. A node that errs is unhealthy until the health check (run) sees it
// answer node/syncing again; then it takes back its place, so the client returns to the
// primary.
//
// go-eth2-client's multi package does the fallback half of this, but it appends a recovered
// node after the others (the client would stay on the secondary), rechecks every 30 s with no
// knob, and sends submissions to one node only: hence this type.
type fallback struct {
	nodes []*beaconNode
	log   *slog.Logger
	short atomic.Int64 // time.Duration: reads and submissions due within the slot
	long  time.Duration
	m     *metrics // nil: not counted
}

type beaconNode struct {
	addr    string
	bn      BeaconNode
	healthy atomic.Bool
}

func newFallback(bns []BeaconNode, addrs []string, timeout time.Duration, log *slog.Logger) *fallback {
	f := &fallback{log: log, long: timeout}
	f.short.Store(int64(timeout))
	for i, bn := range bns {
		n := &beaconNode{addr: addrs[i], bn: bn}
		n.healthy.Store(true)
		f.nodes = append(f.nodes, n)
	}
	return f
}

// setSlot bounds the short requests by a third of a slot: attestation data fetched later than
// that misses the attestation deadline anyway (consensus-specs phase0 validator guide,
// "Attesting": attest at 1/3 of the slot), and the time left is better spent on the next node.
func (f *fallback) setSlot(d time.Duration) {
	if t := d / 3; t > 0 && t < f.long {
		f.short.Store(int64(t))
	}
}

// order is the nodes to try: the healthy ones in their order, then the others (when none is
// healthy, trying them beats failing at once).
func (f *fallback) order() []*beaconNode {
	var good, bad []*beaconNode
	for _, n := range f.nodes {
		if n.healthy.Load() {
			good = append(good, n)
		} else {
			bad = append(bad, n)
		}
	}
	return append(good, bad...)
}

func (f *fallback) healthyNodes() []*beaconNode {
	var out []*beaconNode
	for _, n := range f.nodes {
		if n.healthy.Load() {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return f.nodes
	}
	return out
}

// nodeFault says whether err is the node's fault (fail over) rather than the request's (a 4xx
// answer) or the caller's (its context ended).
func nodeFault(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var apiErr *api.Error
	if errors.As(err, &apiErr) && apiErr.StatusCode >= 400 && apiErr.StatusCode < 500 {
		return false
	}
	return true
}

func (f *fallback) markDown(n *beaconNode, what string, err error) {
	if len(f.nodes) > 1 && n.healthy.Swap(false) {
		f.log.Warn("beacon node unhealthy: failing over", "beacon_node", n.addr, "request", what, "error", err)
	}
}

// first runs call on the nodes in order until one answers.
func first[T any](ctx context.Context, f *fallback, long bool, what string, call func(context.Context, BeaconNode) (T, error)) (T, error) {
	var zero T
	var errs []error
	for _, n := range f.order() {
		start := time.Now()
		res, err := bounded(ctx, f, long, func(ctx context.Context) (T, error) { return call(ctx, n.bn) })
		f.observe(n, what, start, err)
		if err == nil {
			return res, nil
		}
		if !nodeFault(ctx, err) {
			return zero, err
		}
		f.markDown(n, what, err)
		errs = append(errs, fmt.Errorf("%s: %w", n.addr, err))
	}
	if len(errs) == 1 {
		return zero, errors.Unwrap(errs[0])
	}
	return zero, fmt.Errorf("%s: every beacon node failed: %w", what, errors.Join(errs...))
}

func (f *fallback) timeout(long bool) time.Duration {
	if long {
		return f.long
	}
	return time.Duration(f.short.Load())
}

// bounded runs call under the request's timeout.
func bounded[T any](ctx context.Context, f *fallback, long bool, call func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout(long))
	defer cancel()
	return call(ctx)
}

// submit runs a submission on n under the request's timeout.
func (f *fallback) submit(ctx context.Context, n *beaconNode, what string, long bool, call func(context.Context, BeaconNode) error) error {
	start := time.Now()
	_, err := bounded(ctx, f, long, func(ctx context.Context) (struct{}, error) { return struct{}{}, call(ctx, n.bn) })
	f.observe(n, what, start, err)
	return err
}

// observe counts a request to n in the metrics.
func (f *fallback) observe(n *beaconNode, what string, start time.Time, err error) {
	if f.m != nil {
		f.m.request(n.addr, what, time.Since(start), err)
	}
}

// broadcast runs call on every healthy node at once; it succeeds when one node accepts.
func (f *fallback) broadcast(ctx context.Context, what string, long bool, call func(context.Context, BeaconNode) error) error {
	nodes := f.healthyNodes()
	if len(nodes) == 1 {
		n := nodes[0]
		err := f.submit(ctx, n, what, long, call)
		if err != nil && nodeFault(ctx, err) {
			f.markDown(n, what, err)
		}
		return err
	}
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			errs[i] = f.submit(ctx, n, what, long, call)
		})
	}
	wg.Wait()
	var failed []error
	for i, err := range errs {
		if err == nil {
			continue
		}
		if nodeFault(ctx, err) {
			f.markDown(nodes[i], what, err)
		}
		failed = append(failed, fmt.Errorf("%s: %w", nodes[i].addr, err))
	}
	if len(failed) < len(nodes) {
		if len(failed) > 0 {
			f.log.Debug("broadcast partly failed", "request", what, "accepted", len(nodes)-len(failed), "failed", len(failed), "error", errors.Join(failed...))
		}
		return nil
	}
	return fmt.Errorf("%s: no beacon node accepted: %w", what, errors.Join(failed...))
}

// run checks the unhealthy nodes every interval until ctx ends, and marks healthy again those
// that answer node/syncing as synced (or that answer genesis, when the node offers no
// node/syncing).
func (f *fallback) run(ctx context.Context, interval time.Duration) {
	if len(f.nodes) < 2 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, n := range f.nodes {
			if n.healthy.Load() {
				continue
			}
			if err := f.probe(ctx, n); err != nil {
				f.log.Debug("beacon node still unhealthy", "beacon_node", n.addr, "error", err)
				continue
			}
			n.healthy.Store(true)
			f.log.Info("beacon node healthy again", "beacon_node", n.addr)
		}
	}
}

func (f *fallback) probe(ctx context.Context, n *beaconNode) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout(false))
	defer cancel()
	sp, ok := n.bn.(eth2client.NodeSyncingProvider)
	if !ok {
		_, err := n.bn.Genesis(ctx, &api.GenesisOpts{})
		return err
	}
	resp, err := sp.NodeSyncing(ctx, &api.NodeSyncingOpts{})
	if err != nil {
		return err
	}
	// A node that is still catching up answers duties it cannot yet know (Beacon API
	// /eth/v1/node/syncing): it stays out until it has caught up.
	if resp.Data.IsSyncing && resp.Data.SyncDistance > 1 {
		return fmt.Errorf("syncing, %d slots behind", resp.Data.SyncDistance)
	}
	return nil
}

// Name is the implementation's name.
func (*fallback) Name() string { return "zkv-fallback" }

// Address is the first healthy node's address.
func (f *fallback) Address() string { return f.order()[0].addr }

// IsActive is true when a node is healthy.
func (f *fallback) IsActive() bool { return f.order()[0].healthy.Load() }

// IsSynced is IsActive: a node that is not synced is not healthy.
func (f *fallback) IsSynced() bool { return f.IsActive() }

// Events subscribes on every node: go-eth2-client's stream reconnects by itself, and the
// Service keeps the first head event of each slot, wherever it came from.
func (f *fallback) Events(ctx context.Context, opts *api.EventsOpts) error {
	var errs []error
	for _, n := range f.nodes {
		if err := n.bn.Events(ctx, opts); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.addr, err))
		}
	}
	if len(errs) == len(f.nodes) {
		return errors.Join(errs...)
	}
	return nil
}

func (f *fallback) Spec(ctx context.Context, opts *api.SpecOpts) (*api.Response[map[string]any], error) {
	return first(ctx, f, false, "config/spec", func(ctx context.Context, bn BeaconNode) (*api.Response[map[string]any], error) {
		return bn.Spec(ctx, opts)
	})
}

func (f *fallback) Genesis(ctx context.Context, opts *api.GenesisOpts) (*api.Response[*apiv1.Genesis], error) {
	return first(ctx, f, false, "genesis", func(ctx context.Context, bn BeaconNode) (*api.Response[*apiv1.Genesis], error) {
		return bn.Genesis(ctx, opts)
	})
}

func (f *fallback) ForkSchedule(ctx context.Context, opts *api.ForkScheduleOpts) (*api.Response[[]*phase0.Fork], error) {
	return first(ctx, f, false, "fork_schedule", func(ctx context.Context, bn BeaconNode) (*api.Response[[]*phase0.Fork], error) {
		return bn.ForkSchedule(ctx, opts)
	})
}

// Validators may read a large state: it has the long timeout.
func (f *fallback) Validators(ctx context.Context, opts *api.ValidatorsOpts) (*api.Response[map[phase0.ValidatorIndex]*apiv1.Validator], error) {
	return first(ctx, f, true, "validators", func(ctx context.Context, bn BeaconNode) (*api.Response[map[phase0.ValidatorIndex]*apiv1.Validator], error) {
		return bn.Validators(ctx, opts)
	})
}

func (f *fallback) ProposerDuties(ctx context.Context, opts *api.ProposerDutiesOpts) (*api.Response[[]*apiv1.ProposerDuty], error) {
	return first(ctx, f, false, "proposer duties", func(ctx context.Context, bn BeaconNode) (*api.Response[[]*apiv1.ProposerDuty], error) {
		return bn.ProposerDuties(ctx, opts)
	})
}

func (f *fallback) AttesterDuties(ctx context.Context, opts *api.AttesterDutiesOpts) (*api.Response[[]*apiv1.AttesterDuty], error) {
	return first(ctx, f, false, "attester duties", func(ctx context.Context, bn BeaconNode) (*api.Response[[]*apiv1.AttesterDuty], error) {
		return bn.AttesterDuties(ctx, opts)
	})
}

func (f *fallback) SyncCommitteeDuties(ctx context.Context, opts *api.SyncCommitteeDutiesOpts) (*api.Response[[]*apiv1.SyncCommitteeDuty], error) {
	return first(ctx, f, false, "sync committee duties", func(ctx context.Context, bn BeaconNode) (*api.Response[[]*apiv1.SyncCommitteeDuty], error) {
		return bn.SyncCommitteeDuties(ctx, opts)
	})
}

func (f *fallback) AttestationData(ctx context.Context, opts *api.AttestationDataOpts) (*api.Response[*phase0.AttestationData], error) {
	return first(ctx, f, false, "attestation data", func(ctx context.Context, bn BeaconNode) (*api.Response[*phase0.AttestationData], error) {
		return bn.AttestationData(ctx, opts)
	})
}

func (f *fallback) AggregateAttestation(ctx context.Context, opts *api.AggregateAttestationOpts) (*api.Response[*spec.VersionedAttestation], error) {
	return first(ctx, f, false, "aggregate attestation", func(ctx context.Context, bn BeaconNode) (*api.Response[*spec.VersionedAttestation], error) {
		return bn.AggregateAttestation(ctx, opts)
	})
}

func (f *fallback) SyncCommitteeContribution(ctx context.Context, opts *api.SyncCommitteeContributionOpts) (*api.Response[*altair.SyncCommitteeContribution], error) {
	return first(ctx, f, false, "sync committee contribution", func(ctx context.Context, bn BeaconNode) (*api.Response[*altair.SyncCommitteeContribution], error) {
		return bn.SyncCommitteeContribution(ctx, opts)
	})
}

func (f *fallback) BeaconBlockRoot(ctx context.Context, opts *api.BeaconBlockRootOpts) (*api.Response[*phase0.Root], error) {
	return first(ctx, f, false, "block root", func(ctx context.Context, bn BeaconNode) (*api.Response[*phase0.Root], error) {
		return bn.BeaconBlockRoot(ctx, opts)
	})
}

func (f *fallback) ValidatorLiveness(ctx context.Context, opts *api.ValidatorLivenessOpts) (*api.Response[[]*apiv1.ValidatorLiveness], error) {
	return first(ctx, f, false, "validator liveness", func(ctx context.Context, bn BeaconNode) (*api.Response[[]*apiv1.ValidatorLiveness], error) {
		return bn.ValidatorLiveness(ctx, opts)
	})
}

// Proposal has the long timeout: producing a block waits for the execution client and the
// builders.
func (f *fallback) Proposal(ctx context.Context, opts *api.ProposalOpts) (*api.Response[*api.VersionedProposal], error) {
	return first(ctx, f, true, "block production", func(ctx context.Context, bn BeaconNode) (*api.Response[*api.VersionedProposal], error) {
		return bn.Proposal(ctx, opts)
	})
}

// SubmitBlindedProposal goes to one node, in fallback order, not to all: only a node whose
// builder holds the payload can unblind the block, and a second unblinding request to another
// builder would only fail.
func (f *fallback) SubmitBlindedProposal(ctx context.Context, opts *api.SubmitBlindedProposalOpts) error {
	_, err := first(ctx, f, true, "blinded block", func(ctx context.Context, bn BeaconNode) (struct{}, error) {
		return struct{}{}, bn.SubmitBlindedProposal(ctx, opts)
	})
	return err
}

// SubmitProposal has the long timeout: a block that reaches no node is a missed proposal.
func (f *fallback) SubmitProposal(ctx context.Context, opts *api.SubmitProposalOpts) error {
	return f.broadcast(ctx, "block", true, func(ctx context.Context, bn BeaconNode) error { return bn.SubmitProposal(ctx, opts) })
}

func (f *fallback) SubmitAttestations(ctx context.Context, opts *api.SubmitAttestationsOpts) error {
	return f.broadcast(ctx, "attestations", false, func(ctx context.Context, bn BeaconNode) error { return bn.SubmitAttestations(ctx, opts) })
}

func (f *fallback) SubmitAggregateAttestations(ctx context.Context, opts *api.SubmitAggregateAttestationsOpts) error {
	return f.broadcast(ctx, "aggregates", false, func(ctx context.Context, bn BeaconNode) error {
		return bn.SubmitAggregateAttestations(ctx, opts)
	})
}

func (f *fallback) SubmitBeaconCommitteeSubscriptions(ctx context.Context, subs []*apiv1.BeaconCommitteeSubscription) error {
	return f.broadcast(ctx, "beacon committee subscriptions", true, func(ctx context.Context, bn BeaconNode) error {
		return bn.SubmitBeaconCommitteeSubscriptions(ctx, subs)
	})
}

func (f *fallback) SubmitSyncCommitteeSubscriptions(ctx context.Context, subs []*apiv1.SyncCommitteeSubscription) error {
	return f.broadcast(ctx, "sync committee subscriptions", true, func(ctx context.Context, bn BeaconNode) error {
		return bn.SubmitSyncCommitteeSubscriptions(ctx, subs)
	})
}

func (f *fallback) SubmitSyncCommitteeMessages(ctx context.Context, msgs []*altair.SyncCommitteeMessage) error {
	return f.broadcast(ctx, "sync committee messages", false, func(ctx context.Context, bn BeaconNode) error {
		return bn.SubmitSyncCommitteeMessages(ctx, msgs)
	})
}

func (f *fallback) SubmitSyncCommitteeContributions(ctx context.Context, cs []*altair.SignedContributionAndProof) error {
	return f.broadcast(ctx, "sync committee contributions", false, func(ctx context.Context, bn BeaconNode) error {
		return bn.SubmitSyncCommitteeContributions(ctx, cs)
	})
}

// SubmitProposalPreparations goes to every node: whichever produces the next block needs the
// fee recipient.
func (f *fallback) SubmitProposalPreparations(ctx context.Context, preps []*apiv1.ProposalPreparation) error {
	return f.broadcast(ctx, "proposal preparations", true, func(ctx context.Context, bn BeaconNode) error {
		return bn.SubmitProposalPreparations(ctx, preps)
	})
}

func (f *fallback) SubmitValidatorRegistrations(ctx context.Context, regs []*api.VersionedSignedValidatorRegistration) error {
	return f.broadcast(ctx, "validator registrations", true, func(ctx context.Context, bn BeaconNode) error {
		return bn.SubmitValidatorRegistrations(ctx, regs)
	})
}

func (f *fallback) SubmitVoluntaryExit(ctx context.Context, exit *phase0.SignedVoluntaryExit) error {
	return f.broadcast(ctx, "voluntary exit", true, func(ctx context.Context, bn BeaconNode) error {
		return bn.SubmitVoluntaryExit(ctx, exit)
	})
}

var _ BeaconNode = (*fallback)(nil)
