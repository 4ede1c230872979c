package mev

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the relay's Prometheus collectors, registered on the injected registerer. Where
// mev-boost-relay has a metric of the same meaning, the name is the one its OpenTelemetry
// meters export to Prometheus (metrics/metrics.go: get_header_latency in ms becomes
// get_header_latency_milliseconds, the counter builder_demotion_count becomes
// builder_demotion_count_total); zkv's own are zkv_relay_*.
type metrics struct {
	submissions   *prometheus.CounterVec
	headers       *prometheus.CounterVec
	payloads      *prometheus.CounterVec
	registrations *prometheus.CounterVec
	submitSeconds prometheus.Histogram
	simulations   *prometheus.CounterVec
	demotions     prometheus.Counter

	getHeaderMs  prometheus.Histogram
	getPayloadMs prometheus.Histogram
	submitMs     prometheus.Histogram
	simulationMs prometheus.Histogram
	headSlot     prometheus.Gauge
	bidWrites    *prometheus.CounterVec
	bidWriteSecs prometheus.Histogram
}

// latencyBucketsMs are mev-boost-relay's latencyBoundariesMs.
var latencyBucketsMs = []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 7500, 10000}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	ms := func(name, help string) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: latencyBucketsMs})
	}
	m := &metrics{
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_relay_submissions_total",
			Help: "Builder submissions, by result: accepted, or the check that refused them."}, []string{"result"}),
		headers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_relay_get_header_total",
			Help: "getHeader requests, by result: bid, no_bid, error."}, []string{"result"}),
		payloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_relay_get_payload_total",
			Help: "submitBlindedBlock requests, by result: delivered, published, equivocation, refused, error."}, []string{"result"}),
		registrations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_relay_registrations_total",
			Help: "Validator registrations, by result: accepted, refused."}, []string{"result"}),
		submitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zkv_relay_submission_seconds",
			Help:    "Time to decode, check, store and enter a submission in its auction.",
			Buckets: []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1}}),
		simulations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_relay_simulations_total",
			Help: "Block simulations through the execution client, by result (valid, invalid, timeout, error) and mode (sync, optimistic)."}, []string{"result", "mode"}),
		demotions: prometheus.NewCounter(prometheus.CounterOpts{Name: "builder_demotion_count_total",
			Help: "Number of times a builder has been demoted (mev-boost-relay's builder_demotion_count)."}),
		getHeaderMs:  ms("get_header_latency_milliseconds", "Statistics on the duration of getHeader requests execution (mev-boost-relay's get_header_latency)."),
		getPayloadMs: ms("get_payload_latency_milliseconds", "Statistics on the duration of getPayload requests execution (mev-boost-relay's get_payload_latency)."),
		submitMs:     ms("submit_new_block_latency_milliseconds", "Statistics on the duration of submitNewBlock requests execution (mev-boost-relay's submit_new_block_latency)."),
		simulationMs: ms("submit_new_block_simulation_latency_milliseconds", "Statistics on the duration of block simulations (mev-boost-relay's submit_new_block_simulation_latency)."),
		headSlot: prometheus.NewGauge(prometheus.GaugeOpts{Name: "current_head_slot",
			Help: "The current head slot (mev-boost-relay's current_head_slot)."}),
		bidWrites: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_relay_bid_writes_total",
			Help: "Bids written to the store, by path: writer (behind the acknowledgement), inline (the queue was full: the builder waited), failed."}, []string{"path"}),
		bidWriteSecs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zkv_relay_bid_write_seconds",
			Help:    "Time of one durable bid write (record and payload).",
			Buckets: []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1}}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.submissions, m.headers, m.payloads, m.registrations, m.submitSeconds, m.simulations, m.demotions,
			m.getHeaderMs, m.getPayloadMs, m.submitMs, m.simulationMs, m.headSlot, m.bidWrites, m.bidWriteSecs} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// registerQueues registers gauges that read the relay's queues when scraped: the bid writer's
// queue and the bids not yet durable, and the submissions waiting for the gate.
func (r *Relay) registerQueues(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, g := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zkv_relay_bid_queue_length",
			Help: "Accepted bids queued for the bid writer (at most 64; beyond, submissions write their bid themselves)."},
			func() float64 { return float64(len(r.writes)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zkv_relay_bids_pending",
			Help: "Accepted bids the store may not hold yet (queued or being written)."},
			func() float64 { r.pendingMu.Lock(); defer r.pendingMu.Unlock(); return float64(len(r.pending)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zkv_relay_submissions_waiting",
			Help: "Submissions waiting for a slot of the submission gate (high-priority builders' first)."},
			func() float64 { return float64(r.gate.waiting()) }),
	} {
		if err := reg.Register(g); err != nil {
			return err
		}
	}
	return nil
}
