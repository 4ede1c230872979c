package mev

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the relay's basic Prometheus collectors, registered on the injected registerer.
type metrics struct {
	submissions   *prometheus.CounterVec
	headers       *prometheus.CounterVec
	payloads      *prometheus.CounterVec
	registrations *prometheus.CounterVec
	submitSeconds prometheus.Histogram
	simulations   *prometheus.CounterVec
	demotions     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
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
		// mev-boost-relay's builder_demotion_count.
		demotions: prometheus.NewCounter(prometheus.CounterOpts{Name: "zkv_relay_builder_demotions_total",
			Help: "Optimistic builders demoted after a failed late simulation or a failed delivery."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.submissions, m.headers, m.payloads, m.registrations, m.submitSeconds, m.simulations, m.demotions} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
