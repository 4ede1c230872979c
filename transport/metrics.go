package transport

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the transport's Prometheus collectors. A Server and a Client on the same
// registry share them; the side label tells them apart.
type metrics struct {
	connections        *prometheus.CounterVec
	openConnections    *prometheus.GaugeVec
	streams            *prometheus.CounterVec
	openStreams        *prometheus.GaugeVec
	handshakeFailures  *prometheus.CounterVec
	streamErrors       *prometheus.CounterVec
	droppedSubscribers *prometheus.CounterVec
	compressionRatio   prometheus.Histogram

	// Resolved once: these are touched for every frame.
	framesIn, framesOut   prometheus.Counter
	wireIn, wireOut       prometheus.Counter
	payloadIn, payloadOut prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "zkv", "transport"
	m := &metrics{}
	var errs []error
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels))
		errs = append(errs, err)
		return c
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g, err := register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels))
		errs = append(errs, err)
		return g
	}
	m.connections = counter("connections_total", "QUIC connections by side and result (accepted, dialed, dial_failed, lost).", "side", "result")
	m.openConnections = gauge("open_connections", "QUIC connections open now.", "side")
	m.streams = counter("streams_total", "Streams by kind (request, publish, subscribe).", "kind")
	m.openStreams = gauge("open_streams", "Streams open now, by kind.", "kind")
	m.handshakeFailures = counter("handshake_failures_total", "Failed handshakes by side and reason.", "side", "reason")
	m.streamErrors = counter("stream_errors_total", "Streams ended with an error code, by code and by which side sent it.", "code", "origin")
	m.droppedSubscribers = counter("dropped_subscribers_total", "Subscribers dropped by the server, by reason.", "reason")
	frames := counter("frames_total", "Frames by direction (in, out).", "direction")
	wire := counter("wire_bytes_total", "Frame bytes on the wire, headers included, by direction.", "direction")
	payload := counter("payload_bytes_total", "Frame payload bytes before compression, by direction; divide by wire_bytes_total for the compression ratio.", "direction")
	hist, err := register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: ns, Subsystem: sub, Name: "compression_ratio",
		Help:    "Payload size over wire size of each outgoing frame that was sent compressed.",
		Buckets: []float64{1.1, 1.25, 1.5, 2, 3, 4, 6, 8, 12, 16},
	}))
	errs = append(errs, err)
	m.compressionRatio = hist
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register transport metrics: %w", err)
	}
	m.framesIn, m.framesOut = frames.WithLabelValues("in"), frames.WithLabelValues("out")
	m.wireIn, m.wireOut = wire.WithLabelValues("in"), wire.WithLabelValues("out")
	m.payloadIn, m.payloadOut = payload.WithLabelValues("in"), payload.WithLabelValues("out")
	return m, nil
}

// register registers c on reg, or returns the collector already registered under its name, so
// that several Servers and Clients can share one registry.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	if reg == nil {
		return c, nil
	}
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing, nil
		}
	}
	return c, err
}

// frameOut records one frame written: payload is its decoded size, wire its encoded size.
func (m *metrics) frameOut(payload, wire int) {
	m.framesOut.Inc()
	m.payloadOut.Add(float64(payload))
	m.wireOut.Add(float64(wire))
	// The Encoder only compresses when the frame gets smaller, so a frame shorter than the raw
	// encoding was compressed.
	if wire < payload+frameHeaderSize {
		m.compressionRatio.Observe(float64(payload) / float64(wire))
	}
}

func (m *metrics) frameIn(payload int) {
	m.framesIn.Inc()
	m.payloadIn.Add(float64(payload))
}

// streamError records a stream that ended with code; remote says the peer sent it.
func (m *metrics) streamError(code ErrCode, remote bool) {
	origin := "local"
	if remote {
		origin = "remote"
	}
	m.streamErrors.WithLabelValues(code.label(), origin).Inc()
}
