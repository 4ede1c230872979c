package client

import (
	"context"
	"errors"
	"strings"
	"time"

	eth2client "github.com/attestantio/go-eth2-client"
	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zkvlabs/zkv/validator/slashing"
)

// WithMetrics registers the client's Prometheus collectors on reg (never the global registry:
// two clients in one process, as in tests, each have their own). Without it the collectors
// still count but nothing exports them, and the beacon-node health probe does not run.
//
// Names follow the ecosystem where the meaning is shared: Lighthouse's validator client exports
// vc_signed_{beacon_blocks,attestations,aggregates}_total{status} and
// vc_beacon_nodes_{total,available,synced}_count, and so does zkv (status "success" is a message
// the beacon node accepted, "slashable" one that slashing protection refused, "error" any other
// failure). The rest are zkv_validator_*.
func WithMetrics(reg prometheus.Registerer) Option { return func(o *options) { o.metricsReg = reg } }

// Duty names of the metrics' duty label: Report.Kind.
var dutyKinds = []string{"proposal", "attestation", "aggregate", "sync_message", "contribution"}

// metrics are the validator client's collectors.
type metrics struct {
	signed        map[string]*prometheus.CounterVec // by Report.Kind, label status
	dutySeconds   *prometheus.HistogramVec
	late          *prometheus.CounterVec
	refusals      *prometheus.CounterVec
	duties        *prometheus.CounterVec // the epoch summaries' figures
	blocks        *prometheus.CounterVec // the epoch summaries' blocks, by path
	bnSeconds     *prometheus.HistogramVec
	bnRequests    *prometheus.CounterVec
	bnUp          *prometheus.GaugeVec
	bnSynced      *prometheus.GaugeVec
	bnTotal       prometheus.Gauge
	bnAvailable   prometheus.Gauge
	bnSyncedCount prometheus.Gauge
	primaryInUse  prometheus.Gauge
	keys          prometheus.Gauge
	statuses      *prometheus.GaugeVec
	breakerOpen   prometheus.Gauge
	breakerTrips  *prometheus.CounterVec
	missedSlots   *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	signed := func(name, what string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name,
			Help: what + " by status: success (accepted by a beacon node), slashable (refused by slashing protection), error."},
			[]string{"status"})
	}
	m := &metrics{
		signed: map[string]*prometheus.CounterVec{
			"proposal":     signed("vc_signed_beacon_blocks_total", "Block proposals,"),
			"attestation":  signed("vc_signed_attestations_total", "Attestations,"),
			"aggregate":    signed("vc_signed_aggregates_total", "Aggregate-and-proofs,"),
			"sync_message": signed("vc_signed_sync_committee_messages_total", "Sync committee messages,"),
			"contribution": signed("vc_signed_sync_committee_contributions_total", "Sync committee contribution-and-proofs,"),
		},
		dutySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "zkv_validator_duty_delay_seconds",
			Help:    "Time from the start of a duty's slot until its messages were published (or it failed), by duty.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, 24}}, []string{"duty"}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_validator_duties_late_total",
			Help: "Messages published after their deadline in the slot (see the epoch summary), by duty."}, []string{"duty"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_validator_slashing_protection_refusals_total",
			Help: "Duties whose signing slashing protection refused (EIP-3076), by duty."}, []string{"duty"}),
		duties: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_validator_epoch_duties_total",
			Help: "The per-epoch summary line's figures, added at each summary: duties done, missed and late, by duty."},
			[]string{"duty", "result"}),
		blocks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_validator_blocks_proposed_total",
			Help: "Blocks proposed, by path: builder (blinded, through the beacon node's builder) or local; added at each epoch summary."},
			[]string{"path"}),
		bnSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "zkv_validator_beacon_node_request_seconds",
			Help:    "Beacon API request durations, by beacon node and request.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10}}, []string{"beacon_node", "request"}),
		bnRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_validator_beacon_node_requests_total",
			Help: "Beacon API requests, by beacon node, request and result (ok, error)."}, []string{"beacon_node", "request", "result"}),
		bnUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "zkv_validator_beacon_node_up",
			Help: "1 when the beacon node answered its last health probe (node/syncing), else 0."}, []string{"beacon_node"}),
		bnSynced: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "zkv_validator_beacon_node_synced",
			Help: "1 when the beacon node's last health probe said it is synced, else 0."}, []string{"beacon_node"}),
		bnTotal:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "vc_beacon_nodes_total_count", Help: "Beacon nodes configured."}),
		bnAvailable:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "vc_beacon_nodes_available_count", Help: "Beacon nodes that answered their last health probe."}),
		bnSyncedCount: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vc_beacon_nodes_synced_count", Help: "Beacon nodes that are up and synced."}),
		primaryInUse: prometheus.NewGauge(prometheus.GaugeOpts{Name: "zkv_validator_beacon_node_primary_in_use",
			Help: "1 when requests go to the primary (first) beacon node, 0 while the client has failed over."}),
		keys: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vc_validators_total_count", Help: "Validator keys loaded."}),
		statuses: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "zkv_validator_validators",
			Help: "This client's validators by their status on the beacon chain (Beacon API validator status)."}, []string{"status"}),
		breakerOpen: prometheus.NewGauge(prometheus.GaugeOpts{Name: "zkv_validator_builder_circuit_breaker_open",
			Help: "1 while the builder circuit breaker is open (proposals are local), else 0."}),
		breakerTrips: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_validator_builder_circuit_breaker_transitions_total",
			Help: "Builder circuit breaker changes, by the state entered: open, closed."}, []string{"state"}),
		missedSlots: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "zkv_validator_chain_missed_slots",
			Help: "Slots without a block before the current one, as the circuit breaker counts them: consecutive, or in the last epoch."},
			[]string{"window"}),
	}
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.dutySeconds, m.late, m.refusals, m.duties, m.blocks, m.bnSeconds, m.bnRequests, m.bnUp,
		m.bnSynced, m.bnTotal, m.bnAvailable, m.bnSyncedCount, m.primaryInUse, m.keys, m.statuses, m.breakerOpen,
		m.breakerTrips, m.missedSlots}
	for _, k := range dutyKinds {
		cs = append(cs, m.signed[k])
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Series that exist from the start, so that a rate() over them does not begin with a gap.
	for _, k := range dutyKinds {
		m.signed[k].WithLabelValues("success")
		m.late.WithLabelValues(k)
	}
	m.breakerTrips.WithLabelValues("open")
	m.breakerTrips.WithLabelValues("closed")
	return m, nil
}

// report counts one duty outcome.
func (m *metrics) report(r Report, delay time.Duration) {
	c, ok := m.signed[r.Kind]
	if !ok {
		return
	}
	if r.Done > 0 {
		c.WithLabelValues("success").Add(float64(r.Done))
	}
	if r.Failed > 0 {
		// A Report carries its first error: when it is slashing protection's, the duty's failures
		// are counted as refusals (the signer refuses per key, and a slot's refusals share a cause).
		status := "error"
		if errors.Is(r.Err, slashing.ErrSlashable) {
			status = "slashable"
			m.refusals.WithLabelValues(r.Kind).Add(float64(r.Failed))
		}
		c.WithLabelValues(status).Add(float64(r.Failed))
	}
	if r.Late {
		m.late.WithLabelValues(r.Kind).Add(float64(r.Done))
	}
	m.dutySeconds.WithLabelValues(r.Kind).Observe(delay.Seconds())
}

// request counts one Beacon API request to the node at addr; the request label is what the
// fallback calls it, in snake case ("attestation data" is attestation_data).
func (m *metrics) request(addr, what string, d time.Duration, err error) {
	what = strings.ReplaceAll(what, " ", "_")
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.bnSeconds.WithLabelValues(addr, what).Observe(d.Seconds())
	m.bnRequests.WithLabelValues(addr, what, result).Inc()
}

// summary adds an epoch summary's figures.
func (m *metrics) summary(f summaryFigures) {
	for _, d := range f.duties {
		m.duties.WithLabelValues(d.kind, "done").Add(float64(d.done))
		m.duties.WithLabelValues(d.kind, "missed").Add(float64(d.missed))
		m.duties.WithLabelValues(d.kind, "late").Add(float64(d.late))
	}
	m.blocks.WithLabelValues("builder").Add(float64(f.builder))
	m.blocks.WithLabelValues("local").Add(float64(f.local))
}

// setStatuses sets the validators-per-status gauge from a validators query.
func (m *metrics) setStatuses(vals map[phase0.ValidatorIndex]*apiv1.Validator) {
	counts := map[string]int{}
	for _, v := range vals {
		counts[v.Status.String()]++
	}
	m.statuses.Reset()
	for st, n := range counts {
		m.statuses.WithLabelValues(st).Set(float64(n))
	}
}

// lateDeadline is when a duty's message stops being useful within its slot: attestations and
// sync committee messages are aggregated at two thirds of the slot (phase0 and altair
// validator.md), so later ones miss the aggregates; aggregates and contributions count for the
// next block, built at the next slot's start; a block must be seen before the slot's
// attestations at one third of the slot, or the attesters vote for its parent.
func (s *Service) lateDeadline(kind string) time.Duration {
	switch kind {
	case "proposal":
		return s.spec.slotDuration / 3
	case "attestation", "sync_message":
		return 2 * s.spec.slotDuration / 3
	default:
		return s.spec.slotDuration
	}
}

// healthInterval is how often the beacon nodes' health is probed for the metrics.
func (s *Service) healthInterval() time.Duration {
	return max(s.spec.slotDuration/4, 250*time.Millisecond)
}

// watchHealth probes every beacon node's node/syncing each healthInterval until ctx ends and sets
// the health gauges. It runs only with WithMetrics: the fallback's own health check probes only
// the nodes that failed, and only with two or more.
func (s *Service) watchHealth(ctx context.Context) {
	if s.o.metricsReg == nil {
		return
	}
	nodes := []*beaconNode{{addr: "beacon_node", bn: s.bn}}
	if s.nodes != nil {
		nodes = s.nodes.nodes
	}
	s.m.bnTotal.Set(float64(len(nodes)))
	t := time.NewTicker(s.healthInterval())
	defer t.Stop()
	for {
		up, synced := 0, 0
		for _, n := range nodes {
			// A third of a slot, as the other short requests, but at least a second: a node slow
			// to answer node/syncing on a loaded host is not down.
			u, sy := probeHealth(ctx, n.bn, max(s.spec.slotDuration/3, time.Second))
			s.m.bnUp.WithLabelValues(n.addr).Set(b2f(u))
			s.m.bnSynced.WithLabelValues(n.addr).Set(b2f(sy))
			if u {
				up++
			}
			if sy {
				synced++
			}
		}
		s.m.bnAvailable.Set(float64(up))
		s.m.bnSyncedCount.Set(float64(synced))
		primary := up > 0 && nodes[0].healthy.Load()
		if s.nodes == nil {
			primary = up > 0
		} else if primary {
			primary = s.nodes.order()[0] == nodes[0]
		}
		s.m.primaryInUse.Set(b2f(primary))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probeHealth asks bn for node/syncing: up when it answers, synced when it is not more than a
// slot behind (Beacon API /eth/v1/node/syncing). A node without node/syncing is asked for genesis
// and counted as synced when it answers.
func probeHealth(ctx context.Context, bn BeaconNode, timeout time.Duration) (up, synced bool) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sp, ok := bn.(eth2client.NodeSyncingProvider)
	if !ok {
		_, err := bn.Genesis(ctx, &api.GenesisOpts{})
		return err == nil, err == nil
	}
	resp, err := sp.NodeSyncing(ctx, &api.NodeSyncingOpts{})
	if err != nil || resp.Data == nil {
		return false, false
	}
	return true, !resp.Data.IsSyncing || resp.Data.SyncDistance <= 1
}

// refreshStatuses reads this client's validators' statuses for the gauge, and counts the keys
// held (with WithMetrics, once an epoch: the keymanager API may have added or removed keys).
func (s *Service) refreshStatuses(ctx context.Context) {
	if s.o.metricsReg == nil {
		return
	}
	s.m.keys.Set(float64(len(s.sig.PublicKeys())))
	_, indices := s.validatorSet()
	if len(indices) == 0 {
		return
	}
	resp, err := s.bn.Validators(ctx, &api.ValidatorsOpts{State: "head", Indices: indices})
	if err != nil {
		s.log.Debug("validator statuses", "error", err)
		return
	}
	s.m.setStatuses(resp.Data)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
