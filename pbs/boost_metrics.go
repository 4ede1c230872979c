package pbs

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The endpoint label values: the builder-API paths, as mev-boost labels them.
const (
	endpointStatus    = "/eth/v1/builder/status"
	endpointRegister  = "/eth/v1/builder/validators"
	endpointHeader    = "/eth/v1/builder/header/{slot}/{parent_hash}/{pubkey}"
	endpointPayload   = "/eth/v1/builder/blinded_blocks"
	endpointPayloadV2 = "/eth/v2/builder/blinded_blocks"
)

// Paths a relay's bid reaches getHeader by (the path label).
const (
	pathHTTP = "http"
	pathQUIC = "quic"
)

// boostMetrics are the sidecar's Prometheus collectors. Where mev-boost has a metric of the
// same meaning (mev-boost server/metrics.go) the name and labels are its own; the rest are
// zkv_boost_*. A nil *boostMetrics records nothing.
type boostMetrics struct {
	beaconStatus  *prometheus.CounterVec   // mev_boost_beacon_node_status_code_total{http_status_code,endpoint}
	bidValues     *prometheus.HistogramVec // mev_boost_bid_values{relay}, ETH
	belowMinBid   *prometheus.CounterVec   // mev_boost_bids_below_min_bid{relay}
	winningValue  prometheus.Histogram     // mev_boost_winning_bid_value, ETH
	latency       *prometheus.HistogramVec // mev_boost_relay_latency{endpoint,relay}, milliseconds
	relayStatusC  *prometheus.CounterVec   // mev_boost_relay_status_code_total{http_status_code,endpoint,relay}
	lastSlot      *prometheus.GaugeVec     // mev_boost_relay_last_slot{relay}
	msIntoSlot    *prometheus.HistogramVec // mev_boost_millisec_into_slot{endpoint}
	relayAnswers  *prometheus.CounterVec   // zkv_boost_get_header_relay_answers_total{relay,path,result}
	getHeaders    *prometheus.CounterVec   // zkv_boost_get_header_total{result}
	up            *prometheus.GaugeVec     // zkv_boost_relay_up{relay}
	streamUp      *prometheus.GaugeVec     // zkv_boost_relay_stream_up{relay}
	streamedBids  *prometheus.CounterVec   // zkv_boost_streamed_bids_total{relay,result}
	configReloads *prometheus.CounterVec   // zkv_boost_config_reloads_total{result}
	// zkv_boost_stream_confirmations_total{relay,result}: HTTP confirmations of winning streamed bids
	streamConfirms *prometheus.CounterVec
}

var msBuckets = []float64{0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 750, 1000, 2000, 4000}

func newBoostMetrics() *boostMetrics {
	m := &boostMetrics{
		beaconStatus: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mev_boost_beacon_node_status_code_total",
			Help: "HTTP status codes returned to the beacon node, by endpoint."}, []string{"http_status_code", "endpoint"}),
		bidValues: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mev_boost_bid_values",
			Help: "Value in ETH of the bids received, by relay.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"relay"}),
		belowMinBid: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mev_boost_bids_below_min_bid",
			Help: "Bids below the proposer's min-bid, by relay."}, []string{"relay"}),
		winningValue: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mev_boost_winning_bid_value",
			Help: "Value in ETH of the bid returned to the beacon node.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mev_boost_relay_latency",
			Help: "Milliseconds a relay took to answer, by endpoint and relay.", Buckets: msBuckets}, []string{"endpoint", "relay"}),
		relayStatusC: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mev_boost_relay_status_code_total",
			Help: "HTTP status codes received from relays, by endpoint and relay."}, []string{"http_status_code", "endpoint", "relay"}),
		lastSlot: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mev_boost_relay_last_slot",
			Help: "Last slot for which the relay delivered an accepted header."}, []string{"relay"}),
		msIntoSlot: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mev_boost_millisec_into_slot",
			Help: "Milliseconds into the slot when the endpoint was called.", Buckets: msBuckets}, []string{"endpoint"}),
		relayAnswers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_boost_get_header_relay_answers_total",
			Help: "Per-relay outcomes of getHeader, by the path that answered (http or quic) and result (bid, no_bid, refused, failed, timed_out)."},
			[]string{"relay", "path", "result"}),
		getHeaders: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_boost_get_header_total",
			Help: "getHeader requests by result (bid, no_bid, late)."}, []string{"result"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "zkv_boost_relay_up",
			Help: "1 while the relay has failed fewer than the down threshold of its last calls."}, []string{"relay"}),
		streamUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "zkv_boost_relay_stream_up",
			Help: "1 while the sidecar is subscribed to the relay's QUIC top-bid stream."}, []string{"relay"}),
		streamedBids: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_boost_streamed_bids_total",
			Help: "Top bids received on relays' QUIC streams, by result (accepted, refused)."}, []string{"relay", "result"}),
		configReloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_boost_config_reloads_total",
			Help: "Relay configurations applied, by result (ok, refused)."}, []string{"result"}),
		streamConfirms: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zkv_boost_stream_confirmations_total",
			Help: "getHeader over HTTP confirming a winning streamed bid, by result (same, changed: the relay served another bid; no_bid, refused, below_min_bid, failed)."},
			[]string{"relay", "result"}),
	}
	return m
}

// register puts the collectors on reg (nil: nowhere).
func (m *boostMetrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{m.beaconStatus, m.bidValues, m.belowMinBid, m.winningValue, m.latency, m.relayStatusC,
		m.lastSlot, m.msIntoSlot, m.relayAnswers, m.getHeaders, m.up, m.streamUp, m.streamedBids, m.configReloads, m.streamConfirms} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return errors.New("pbs: the boost's metrics are already registered on this registry")
			}
			return err
		}
	}
	return nil
}

func (m *boostMetrics) relayLatency(endpoint, relay string, d time.Duration) {
	m.latency.WithLabelValues(endpoint, relay).Observe(float64(d.Microseconds()) / 1000)
}

func (m *boostMetrics) relayStatus(code int, endpoint, relay string) {
	m.relayStatusC.WithLabelValues(strconv.Itoa(code), endpoint, relay).Inc()
}

func (m *boostMetrics) relayUp(relay string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(relay).Set(v)
}
