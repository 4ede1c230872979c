package transport

import (
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go"

	"github.com/zkvlabs/zkv/transport/frame"
)

// Frame types 0xf0 to 0xff belong to the transport; applications use 0x01 to 0xef.
const (
	// TypeSubscribe opens a subscription: its payload is the topic name.
	TypeSubscribe frame.Type = 0xf0
	// TypeError answers a request the handler refused: an 8-byte big-endian ErrCode, then a
	// UTF-8 message.
	TypeError frame.Type = 0xff

	minAppType frame.Type = 0x01
	maxAppType frame.Type = 0xef
)

// appTypes is every type an application may use.
var appTypes = frame.TypeRange(minAppType, maxAppType)

// ALPN is the TLS application protocol of zkv's QUIC streams.
const ALPN = "zkv/1"

const (
	frameHeaderSize = frame.HeaderSize
	maxTopicLen     = 64
	maxErrorMessage = 1024
)

// topicName is what a topic may be called: short, printable, no spaces.
var topicName = regexp.MustCompile(`^[a-z0-9][a-z0-9_./-]{0,63}$`)

// Config holds the knobs a Server and a Client share. Its zero value works: each zero field
// takes the default named in its comment.
type Config struct {
	// HandshakeTimeout bounds the QUIC and TLS handshake. Default 5s.
	HandshakeTimeout time.Duration
	// IdleTimeout closes a connection that has been silent this long. Default 30s.
	IdleTimeout time.Duration
	// KeepAlive is how often a ping keeps an idle connection open; negative disables it.
	// Default 10s (a third of the default idle timeout, so two lost pings do not close it).
	KeepAlive time.Duration
	// MaxStreams is how many streams of each direction a peer may have open at once. Default 256.
	MaxStreams int64
	// MaxConnsPerPeer is how many connections a Server keeps open to one peer; more are closed
	// with ErrCodeTooManyConnections. With MaxStreams and the size limits it bounds the memory
	// one peer can hold. Default 8.
	MaxConnsPerPeer int
	// Largest payload per stream kind. MaxRequestSize and MaxResponseSize default to 16 MiB
	// (a relay block submission may be 15 MiB); MaxMessageSize, for published messages and
	// subscription frames, defaults to 1 MiB. None may exceed frame.MaxPayload.
	MaxRequestSize, MaxResponseSize, MaxMessageSize int
	// Compression chooses compression by payload size; see frame.Compression.
	Compression frame.Compression
	// SubscriberQueue is how many frames a subscriber may fall behind before it is dropped
	// with ErrCodeSlowSubscriber. Default 256.
	SubscriberQueue int
	// DrainTimeout bounds the graceful shutdown that Run starts when its context ends.
	// Default 5s.
	DrainTimeout time.Duration
	// MinBackoff and MaxBackoff bound a Client's wait between failed dials; the wait doubles
	// after each failure, with jitter. Defaults 100ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// Registerer receives the transport's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Logger is the transport's logger; nil discards.
	Logger *slog.Logger
}

// withDefaults validates c and returns a copy with every zero field set.
func (c Config) withDefaults() (Config, error) {
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setDur(&c.HandshakeTimeout, 5*time.Second)
	setDur(&c.IdleTimeout, 30*time.Second)
	setDur(&c.KeepAlive, 10*time.Second)
	setDur(&c.DrainTimeout, 5*time.Second)
	setDur(&c.MinBackoff, 100*time.Millisecond)
	setDur(&c.MaxBackoff, 30*time.Second)
	if c.MaxStreams == 0 {
		c.MaxStreams = 256
	}
	if c.MaxConnsPerPeer == 0 {
		c.MaxConnsPerPeer = 8
	}
	if c.MaxRequestSize == 0 {
		c.MaxRequestSize = 16 << 20
	}
	if c.MaxResponseSize == 0 {
		c.MaxResponseSize = 16 << 20
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = 1 << 20
	}
	if c.SubscriberQueue == 0 {
		c.SubscriberQueue = 256
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"handshake timeout", c.HandshakeTimeout}, {"idle timeout", c.IdleTimeout}, {"drain timeout", c.DrainTimeout}, {"min backoff", c.MinBackoff}, {"max backoff", c.MaxBackoff}} {
		if d.v < 0 {
			return c, fmt.Errorf("%s %v: must not be negative", d.name, d.v)
		}
	}
	if c.MaxBackoff < c.MinBackoff {
		return c, fmt.Errorf("max backoff %v below min backoff %v", c.MaxBackoff, c.MinBackoff)
	}
	if c.KeepAlive > 0 && c.KeepAlive >= c.IdleTimeout {
		return c, fmt.Errorf("keep-alive %v not below idle timeout %v: the connection would idle out between pings", c.KeepAlive, c.IdleTimeout)
	}
	if c.MaxStreams < 0 {
		return c, fmt.Errorf("max streams %d: must be positive", c.MaxStreams)
	}
	if c.MaxConnsPerPeer < 0 {
		return c, fmt.Errorf("max connections per peer %d: must be positive", c.MaxConnsPerPeer)
	}
	if c.SubscriberQueue < 0 {
		return c, fmt.Errorf("subscriber queue %d: must be positive", c.SubscriberQueue)
	}
	for _, s := range []struct {
		name string
		v    int
	}{{"max request size", c.MaxRequestSize}, {"max response size", c.MaxResponseSize}, {"max message size", c.MaxMessageSize}} {
		if s.v < 0 || s.v > frame.MaxPayload {
			return c, fmt.Errorf("%s %d: want 1 to %d bytes", s.name, s.v, frame.MaxPayload)
		}
	}
	return c, nil
}

func (c *Config) quicConfig() *quic.Config {
	keepAlive := c.KeepAlive
	if keepAlive < 0 {
		keepAlive = 0
	}
	return &quic.Config{
		HandshakeIdleTimeout:  c.HandshakeTimeout,
		MaxIdleTimeout:        c.IdleTimeout,
		KeepAlivePeriod:       keepAlive,
		MaxIncomingStreams:    c.MaxStreams,
		MaxIncomingUniStreams: c.MaxStreams,
		// A 16 MiB response must not stall on a 6 MB stream window.
		MaxStreamReceiveWindow:     uint64(max(c.MaxRequestSize, c.MaxResponseSize)) + 64<<10,
		MaxConnectionReceiveWindow: 2 * (uint64(max(c.MaxRequestSize, c.MaxResponseSize)) + 64<<10),
	}
}
