package pool

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the pool's Prometheus collectors.
type metrics struct {
	proofs        *prometheus.CounterVec
	registrations *prometheus.CounterVec
	evidence      prometheus.Counter
	queue         prometheus.Gauge
	sealed        prometheus.Gauge
	batch         prometheus.Histogram
	verify        prometheus.Histogram
	process       prometheus.Histogram
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		proofs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_pool_proofs_total",
			Help: "Proofs answered, by result (accepted, duplicate, malformed, unknown_root, wrong_statement, invalid_proof, equivocation, internal)."}, []string{"result"}),
		registrations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_pool_registrations_total",
			Help: "Registrations received, by result (ok, refused)."}, []string{"result"}),
		evidence: prometheus.NewCounter(prometheus.CounterOpts{Name: "zkv_pool_evidence_total",
			Help: "Equivocation evidence stored and published."}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{Name: "zkv_pool_queued_requests",
			Help: "Batch requests waiting for verification."}),
		sealed: prometheus.NewGauge(prometheus.GaugeOpts{Name: "zkv_pool_sealed_epoch",
			Help: "The last epoch whose registry root the pool sealed."}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zkv_pool_verify_batch_proofs",
			Help: "Proofs per batch verification.", Buckets: prometheus.ExponentialBuckets(1, 4, 8)}),
		verify: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zkv_pool_verify_seconds",
			Help: "Time of one batch verification (with bisection when a proof is bad).", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		process: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zkv_pool_batch_seconds",
			Help: "Time from taking a batch off the queue to its nullifiers being durable.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
	}
	if r == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.proofs, m.registrations, m.evidence, m.queue, m.sealed, m.batch, m.verify, m.process} {
		if err := r.Register(c); err != nil {
			return nil, fmt.Errorf("pool metrics: %w", err)
		}
	}
	return m, nil
}
