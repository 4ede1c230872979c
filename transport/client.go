package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/zkvlabs/zkv/transport/frame"
)

// ClientConfig configures a Client. Addr and Server are required; the rest may be zero.
type ClientConfig struct {
	Config
	// Addr is the server's UDP address, host:port.
	Addr string
	// Server is the server's key; a server presenting any other is refused in the handshake.
	Server PeerID
}

// Client keeps one QUIC connection to one server and sends requests, published messages and
// subscriptions over it. Run owns the connection: it dials, and after a failure or a lost
// connection dials again with exponential back-off and jitter. Calls made while no
// connection is up wait for one until their context ends.
//
// Errors its callers may see: ErrClosed after Run has returned; an *Error with the code the
// server sent (ErrCodeRequestRejected and the handler's message, ErrCodeFrameTooLarge,
// ErrCodeUnknownFrameType, ErrCodeSlowSubscriber, ErrCodeShuttingDown, ...) or that this side
// used; the context's error when the caller gave up; quic-go's error when the connection broke.
type Client struct {
	cfg      ClientConfig
	id       *Identity
	m        *metrics
	log      *slog.Logger
	enc      frame.Encoder
	tlsConf  *tls.Config
	quicConf *quic.Config
	ops      tracker

	mu      sync.Mutex
	conn    *quic.Conn
	up      chan struct{} // closed while conn is set
	lastErr error
	running bool
	closed  bool
	abort   chan struct{} // closed by Close

	pubMu sync.Mutex
	pub   *publishStream
}

type publishStream struct {
	conn *quic.Conn
	str  *quic.SendStream
	w    *frame.Writer
}

// NewClient checks cfg and returns a Client for identity id. It starts nothing.
func NewClient(id *Identity, cfg ClientConfig) (*Client, error) {
	if id == nil {
		return nil, errors.New("transport client: no identity")
	}
	if cfg.Addr == "" {
		return nil, errors.New("transport client: no server address")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("transport client: server address %q: %w", cfg.Addr, err)
	}
	if cfg.Server == (PeerID{}) {
		return nil, errors.New("transport client: no server key to pin")
	}
	c, err := cfg.Config.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("transport client: %w", err)
	}
	cfg.Config = c
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	qc := cfg.quicConfig()
	// The server never opens streams towards a client.
	qc.MaxIncomingStreams, qc.MaxIncomingUniStreams = -1, -1
	cl := &Client{
		cfg:      cfg,
		id:       id,
		m:        m,
		log:      cfg.Logger.With("component", "transport_client", "server", cfg.Addr),
		enc:      frame.NewEncoder(cfg.Compression),
		quicConf: qc,
		up:       make(chan struct{}),
		abort:    make(chan struct{}),
	}
	cl.tlsConf = clientTLS(id, cfg.Server, func(reason string) {
		m.handshakeFailures.WithLabelValues("client", reason).Inc()
	})
	return cl, nil
}

// Run keeps a connection to the server until ctx ends or Close is called, then waits up to
// DrainTimeout for calls in flight and closes the connection. It returns nil after a clean
// stop. A Client runs once.
func (c *Client) Run(ctx context.Context) error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.running:
		c.mu.Unlock()
		return errors.New("transport client: Run called twice")
	}
	c.running = true
	c.mu.Unlock()

	udp, err := net.ListenUDP("udp", nil)
	if err != nil {
		c.shut()
		return fmt.Errorf("transport client: %w", err)
	}
	tr := &quic.Transport{Conn: udp}
	defer func() {
		tr.Close()
		udp.Close()
	}()

	backoff := c.cfg.MinBackoff
	for {
		conn, err := c.dial(ctx, tr)
		if err != nil {
			if c.stopping(ctx) {
				break
			}
			c.setErr(err)
			wait := backoff/2 + rand.N(backoff/2+1)
			c.log.Warn("dial failed", "error", err, "retry_in", wait)
			backoff = min(2*backoff, c.cfg.MaxBackoff)
			if !c.sleep(ctx, wait) {
				break
			}
			continue
		}
		since := time.Now()
		c.setConn(conn)
		c.log.Info("connected", "remote", conn.RemoteAddr())
		select {
		case <-conn.Context().Done():
		case <-ctx.Done():
		case <-c.abort:
		}
		if c.stopping(ctx) {
			// Drain before clearing the connection: calls in flight may still be about to use it.
			c.closeConn(conn)
			c.clearConn(conn)
			break
		}
		c.clearConn(conn)
		cause := context.Cause(conn.Context())
		c.setErr(cause)
		c.m.connections.WithLabelValues("client", "lost").Inc()
		if reason := dialFailure(cause); reason == reasonRejectedByPeer {
			// TLS 1.3 lets the client finish its handshake before the server has checked
			// the client's certificate, so a refusal arrives just after the dial succeeds.
			c.m.handshakeFailures.WithLabelValues("client", reason).Inc()
		}
		c.log.Warn("connection lost", "cause", cause)
		// A connection that stayed up a while resets the back-off; one that dies at once
		// (a server refusing our key) keeps doubling it.
		if time.Since(since) >= 10*c.cfg.MinBackoff {
			backoff = c.cfg.MinBackoff
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, c.cfg.MaxBackoff)
		if !c.sleep(ctx, wait) {
			break
		}
	}
	c.shut()
	return nil
}

// Close stops the Client at once: calls in flight fail and Run returns.
func (c *Client) Close() error {
	c.mu.Lock()
	conn := c.conn
	if !c.closed {
		c.closed = true
		close(c.abort)
	}
	c.mu.Unlock()
	if conn != nil {
		_ = conn.CloseWithError(quic.ApplicationErrorCode(ErrCodeNoError), "client closed")
	}
	return nil
}

func (c *Client) stopping(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	case <-c.abort:
		return true
	default:
		return false
	}
}

func (c *Client) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-c.abort:
		return false
	}
}

func (c *Client) dial(ctx context.Context, tr *quic.Transport) (*quic.Conn, error) {
	addr, err := net.ResolveUDPAddr("udp", c.cfg.Addr)
	if err != nil {
		c.m.connections.WithLabelValues("client", "dial_failed").Inc()
		return nil, fmt.Errorf("resolve %s: %w", c.cfg.Addr, err)
	}
	dctx, cancel := context.WithTimeout(ctx, 2*c.cfg.HandshakeTimeout)
	defer cancel()
	conn, err := tr.Dial(dctx, addr, c.tlsConf, c.quicConf)
	if err != nil {
		c.m.connections.WithLabelValues("client", "dial_failed").Inc()
		if reason := dialFailure(err); reason != "" && ctx.Err() == nil {
			c.m.handshakeFailures.WithLabelValues("client", reason).Inc()
		}
		return nil, fmt.Errorf("dial %s: %w", c.cfg.Addr, err)
	}
	c.m.connections.WithLabelValues("client", "dialed").Inc()
	return conn, nil
}

func (c *Client) setConn(conn *quic.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn = conn
	c.lastErr = nil
	close(c.up)
	c.m.openConnections.WithLabelValues("client").Inc()
}

func (c *Client) clearConn(conn *quic.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == conn {
		c.conn = nil
		c.up = make(chan struct{})
		c.m.openConnections.WithLabelValues("client").Dec()
	}
}

func (c *Client) setErr(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
}

// closeConn waits for the calls in flight, up to DrainTimeout, then closes conn.
func (c *Client) closeConn(conn *quic.Conn) {
	t := time.NewTimer(c.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-c.ops.drain():
		_ = conn.CloseWithError(quic.ApplicationErrorCode(ErrCodeNoError), "client stopped")
	case <-t.C:
		_ = conn.CloseWithError(quic.ApplicationErrorCode(ErrCodeShuttingDown), "client stopped with calls in flight")
	case <-conn.Context().Done():
	}
}

// shut marks the Client stopped, so waiting calls return ErrClosed.
func (c *Client) shut() {
	c.ops.drain()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.abort)
	}
}

// connection returns the current connection, waiting for Run to make one.
func (c *Client) connection(ctx context.Context) (*quic.Conn, error) {
	for {
		c.mu.Lock()
		conn, up, closed, lastErr := c.conn, c.up, c.closed, c.lastErr
		c.mu.Unlock()
		switch {
		case closed:
			return nil, ErrClosed
		case conn != nil:
			return conn, nil
		}
		select {
		case <-up:
		case <-c.abort:
		case <-ctx.Done():
			if lastErr != nil {
				return nil, fmt.Errorf("not connected to %s (last error: %v): %w", c.cfg.Addr, lastErr, context.Cause(ctx))
			}
			return nil, fmt.Errorf("not connected to %s: %w", c.cfg.Addr, context.Cause(ctx))
		}
	}
}

// callErr turns the error of a call into what its caller should see: the context's error if
// the caller gave up, an *Error if a wire code ended it.
func callErr(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, context.Cause(ctx))
	}
	return fmt.Errorf("%s: %w", what, wireError(err))
}

// checkOut refuses, before anything is sent, a frame the peer would refuse.
func checkOut(f frame.Frame, limit int, kind string) error {
	if !appTypes.Has(f.Type) {
		return &Error{Code: ErrCodeProtocol, Message: fmt.Sprintf("%s type %#x: applications use %#x-%#x", kind, f.Type, minAppType, maxAppType)}
	}
	if len(f.Payload) > limit {
		return &Error{Code: ErrCodeFrameTooLarge, Message: fmt.Sprintf("%s of %d bytes over the %d-byte limit", kind, len(f.Payload), limit)}
	}
	return nil
}

// Request sends req on a new stream and returns the server's response. The response payload
// belongs to the caller. A request the handler refused returns an *Error with Remote set.
func (c *Client) Request(ctx context.Context, req frame.Frame) (frame.Frame, error) {
	if err := checkOut(req, c.cfg.MaxRequestSize, "request"); err != nil {
		return frame.Frame{}, err
	}
	if !c.ops.enter() {
		return frame.Frame{}, ErrClosed
	}
	defer c.ops.leave()
	conn, err := c.connection(ctx)
	if err != nil {
		return frame.Frame{}, err
	}
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return frame.Frame{}, callErr(ctx, "open request stream", err)
	}
	c.m.streams.WithLabelValues("request").Inc()
	open := c.m.openStreams.WithLabelValues("request")
	open.Inc()
	defer open.Dec()
	stop := cancelOnDone(ctx, str)
	defer stop()

	n, err := frame.NewWriter(str, c.enc).WriteFrame(req)
	if err != nil {
		return frame.Frame{}, callErr(ctx, "send request", err)
	}
	c.m.frameOut(len(req.Payload), n)
	r := frame.NewReader(countingReader{str, c.m.wireIn}, frame.Limits{Types: appTypes.Union(frame.Types(TypeError)), MaxSize: c.cfg.MaxResponseSize})
	resp, err := r.ReadFrame()
	if err != nil {
		return frame.Frame{}, c.readFailed(ctx, str, "read response", err)
	}
	c.m.frameIn(len(resp.Payload))
	// Close only now: the FIN tells the server that the response arrived (see serveStream).
	str.CancelRead(quic.StreamErrorCode(ErrCodeNoError))
	if stop() {
		_ = str.Close()
	}
	if resp.Type == TypeError {
		return frame.Frame{}, parseErrorFrame(resp)
	}
	return resp, nil
}

// readFailed handles an error reading from the server: a frame we refuse is reported to the
// server with its code before the error is returned.
func (c *Client) readFailed(ctx context.Context, str readCanceler, what string, err error) error {
	var fe *frame.Error
	if errors.As(err, &fe) {
		code := CodeOf(err)
		str.CancelRead(quic.StreamErrorCode(code))
		c.m.streamError(code, false)
		return fmt.Errorf("%s: %w", what, &Error{Code: code, Message: fe.Error()})
	}
	if err == io.EOF {
		return fmt.Errorf("%s: %w", what, &Error{Code: ErrCodeProtocol, Remote: true, Message: "stream ended without a frame"})
	}
	var se *quic.StreamError
	if errors.As(err, &se) && se.Remote {
		c.m.streamError(ErrCode(se.ErrorCode), true)
	}
	return callErr(ctx, what, err)
}

// cancelOnDone resets both sides of str with ErrCodeCanceled if ctx ends before the returned
// stop function is called. The reset is a pair of non-blocking calls.
func cancelOnDone(ctx context.Context, str *quic.Stream) (stop func() bool) {
	if ctx.Done() == nil {
		return func() bool { return true }
	}
	return context.AfterFunc(ctx, func() {
		str.CancelRead(quic.StreamErrorCode(ErrCodeCanceled))
		str.CancelWrite(quic.StreamErrorCode(ErrCodeCanceled))
	})
}

// Publish sends f one way on the connection's publish stream. Messages from one Client
// arrive in the order they were published; delivery is at most once: a message written just
// before the connection breaks is lost. A message the server refuses ends the stream, and the
// server's code (an *Error) is returned by the next Publish. Publish blocks when the server reads slower than it
// is written to (QUIC flow control), until ctx ends.
func (c *Client) Publish(ctx context.Context, f frame.Frame) error {
	if err := checkOut(f, c.cfg.MaxMessageSize, "message"); err != nil {
		return err
	}
	if !c.ops.enter() {
		return ErrClosed
	}
	defer c.ops.leave()
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	ps, err := c.publishStream(ctx)
	if err != nil {
		return err
	}
	if ctx.Done() != nil {
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			_ = ps.str.SetWriteDeadline(time.Now())
			close(fired)
		})
		defer func() {
			if !stop() {
				// The deadline may still be in the making: clear it only after it was set,
				// or the shared stream keeps an expired deadline for the next Publish.
				<-fired
				_ = ps.str.SetWriteDeadline(time.Time{})
			}
		}()
	}
	n, err := ps.w.WriteFrame(f)
	if err != nil {
		// Part of the frame may be on the wire: the stream's framing is lost, so end it and
		// open another next time.
		code := CodeOf(err)
		if ctx.Err() != nil {
			code = ErrCodeCanceled
		}
		ps.str.CancelWrite(quic.StreamErrorCode(code))
		c.pub = nil
		return callErr(ctx, "publish", err)
	}
	c.m.frameOut(len(f.Payload), n)
	return nil
}

// publishStream returns the open publish stream of the current connection, opening one if
// needed. The caller holds pubMu.
func (c *Client) publishStream(ctx context.Context) (*publishStream, error) {
	conn, err := c.connection(ctx)
	if err != nil {
		return nil, err
	}
	// A stream the server has stopped is kept until a write fails on it, so that the caller
	// learns the server's error code.
	if c.pub != nil && c.pub.conn == conn {
		return c.pub, nil
	}
	str, err := conn.OpenUniStreamSync(ctx)
	if err != nil {
		return nil, callErr(ctx, "open publish stream", err)
	}
	c.m.streams.WithLabelValues("publish").Inc()
	c.pub = &publishStream{conn: conn, str: str, w: frame.NewWriter(str, c.enc)}
	return c.pub, nil
}

// Subscription is a stream of the frames published on one topic. Next reads them; the
// subscription ends when the server drops it, ctx of Subscribe ends, Close is called or the
// connection is lost. It does not survive a reconnect: subscribe again.
type Subscription struct {
	c     *Client
	str   *quic.Stream
	r     *frame.Reader
	stop  func() bool
	ctx   context.Context
	gauge func()
	once  sync.Once
}

// Subscribe subscribes to topic and returns once the server has confirmed: every frame
// published after that reaches the subscription, unless it falls SubscriberQueue frames behind
// and is dropped with ErrCodeSlowSubscriber. A topic the server does not have returns an *Error
// with ErrCodeUnknownTopic.
func (c *Client) Subscribe(ctx context.Context, topic string) (*Subscription, error) {
	if !topicName.MatchString(topic) {
		return nil, &Error{Code: ErrCodeProtocol, Message: fmt.Sprintf("topic %q: want 1-64 of a-z 0-9 _ . / -", topic)}
	}
	conn, err := c.connection(ctx)
	if err != nil {
		return nil, err
	}
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, callErr(ctx, "open subscription stream", err)
	}
	stop := cancelOnDone(ctx, str)
	n, err := frame.NewWriter(str, c.enc).WriteFrame(frame.Frame{Type: TypeSubscribe, Payload: []byte(topic)})
	if err != nil {
		stop()
		return nil, callErr(ctx, "subscribe", err)
	}
	c.m.frameOut(len(topic), n)
	_ = str.Close()
	s := &Subscription{
		c:   c,
		str: str,
		r:   frame.NewReader(countingReader{str, c.m.wireIn}, frame.Limits{Types: appTypes.Union(frame.Types(TypeSubscribe, TypeError)), MaxSize: c.cfg.MaxMessageSize}),
		ctx: ctx,
	}
	ack, err := s.r.ReadFrame()
	if err != nil {
		stop()
		str.CancelRead(quic.StreamErrorCode(ErrCodeCanceled))
		return nil, c.readFailed(ctx, str, "subscribe "+topic, err)
	}
	c.m.frameIn(len(ack.Payload))
	switch {
	case ack.Type == TypeError:
		stop()
		str.CancelRead(quic.StreamErrorCode(ErrCodeNoError))
		return nil, fmt.Errorf("subscribe %s: %w", topic, parseErrorFrame(ack))
	case ack.Type != TypeSubscribe || string(ack.Payload) != topic:
		stop()
		str.CancelRead(quic.StreamErrorCode(ErrCodeProtocol))
		return nil, fmt.Errorf("subscribe %s: %w", topic, &Error{Code: ErrCodeProtocol, Message: fmt.Sprintf("server confirmed with frame type %#x", ack.Type)})
	}
	c.m.streams.WithLabelValues("subscribe").Inc()
	gauge := c.m.openStreams.WithLabelValues("subscribe")
	gauge.Inc()
	s.stop = stop
	s.gauge = gauge.Dec
	return s, nil
}

// Next returns the next frame published on the topic. The payload is valid until the next
// call. When the subscription has ended it returns why: an *Error with the server's code
// (ErrCodeSlowSubscriber when it was dropped for falling behind, ErrCodeShuttingDown), the
// context's error, or the connection's.
func (s *Subscription) Next() (frame.Frame, error) {
	f, err := s.r.ReadFrame()
	if err != nil {
		s.release()
		return frame.Frame{}, s.c.readFailed(s.ctx, s.str, "subscription", err)
	}
	if f.Type == TypeSubscribe || f.Type == TypeError {
		s.release()
		s.str.CancelRead(quic.StreamErrorCode(ErrCodeProtocol))
		return frame.Frame{}, &Error{Code: ErrCodeProtocol, Message: fmt.Sprintf("unexpected frame type %#x in a subscription", f.Type)}
	}
	s.c.m.frameIn(len(f.Payload))
	return f, nil
}

// Close ends the subscription; a Next blocked in another goroutine returns.
func (s *Subscription) Close() error {
	s.str.CancelRead(quic.StreamErrorCode(ErrCodeNoError))
	s.release()
	return nil
}

func (s *Subscription) release() {
	s.once.Do(func() {
		s.stop()
		s.gauge()
	})
}
