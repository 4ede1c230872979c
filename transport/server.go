package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go"

	"github.com/zkvlabs/zkv/transport/frame"
)

// RequestHandler answers one request from peer; req.Payload is the handler's to keep. ctx
// ends when the peer gives up or the connection closes. A returned error reaches the peer as an error frame: an *Error's code and
// message, or ErrCodeRequestRejected with err's text, so write errors for the peer to read.
type RequestHandler func(ctx context.Context, peer PeerID, req frame.Frame) (frame.Frame, error)

// MessageHandler receives one published message from peer. msg.Payload is valid only during
// the call. Messages of one publish stream arrive in order, one call at a time, and a slow
// handler slows that publisher through QUIC flow control.
type MessageHandler func(ctx context.Context, peer PeerID, msg frame.Frame)

// ServerConfig configures a Server. Its zero value works: a server that refuses every peer
// until SetPeers, answers no requests and has no topics.
type ServerConfig struct {
	Config
	// Peers is the allow-list: only these keys may connect.
	Peers []PeerID
	// Requests maps each request type to its handler; other request types are refused with
	// ErrCodeUnknownFrameType.
	Requests map[frame.Type]RequestHandler
	// Messages maps each published message type to its handler.
	Messages map[frame.Type]MessageHandler
	// Topics lists the topics peers may subscribe to (lower-case letters, digits and _ . / -,
	// at most 64 bytes).
	Topics []string
}

// ErrClosed is returned by a Server or Client used after it has shut down.
var ErrClosed = errors.New("transport closed")

// Server accepts QUIC connections from the peers on its allow-list and serves their streams:
// requests, published messages and subscriptions. One goroutine owns each connection and
// waits for the goroutines of its streams.
//
// Errors its callers may see: from Listen, a bind error or ErrClosed; from Run, ErrClosed or
// a listener error; from Publish, an *Error with ErrCodeUnknownTopic, ErrCodeProtocol (a
// reserved frame type) or ErrCodeFrameTooLarge.
type Server struct {
	cfg        ServerConfig
	id         *Identity
	m          *metrics
	log        *slog.Logger
	enc        frame.Encoder
	reqLimits  frame.Limits
	msgLimits  frame.Limits
	topics     map[string]*topic
	allowed    atomic.Pointer[map[PeerID]struct{}]
	handshakes *prometheus.CounterVec

	mu      sync.Mutex
	udp     net.PacketConn
	tr      *quic.Transport
	ln      *quic.Listener
	conns   map[*serverConn]struct{}
	running bool
	closing bool
	done    chan struct{} // closed when Run returns
}

// NewServer checks cfg and returns a Server for identity id. It starts nothing.
func NewServer(id *Identity, cfg ServerConfig) (*Server, error) {
	if id == nil {
		return nil, errors.New("transport server: no identity")
	}
	c, err := cfg.Config.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("transport server: %w", err)
	}
	cfg.Config = c
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		id:     id,
		m:      m,
		log:    cfg.Logger.With("component", "transport_server"),
		enc:    frame.NewEncoder(cfg.Compression),
		topics: make(map[string]*topic),
		conns:  make(map[*serverConn]struct{}),
		done:   make(chan struct{}),
	}
	reqTypes := frame.Types(TypeSubscribe)
	for t, h := range cfg.Requests {
		if !appTypes.Has(t) || h == nil {
			return nil, fmt.Errorf("transport server: request type %#x: want a handler for a type in %#x-%#x", t, minAppType, maxAppType)
		}
		reqTypes.Add(t)
	}
	var msgTypes frame.TypeSet
	for t, h := range cfg.Messages {
		if !appTypes.Has(t) || h == nil {
			return nil, fmt.Errorf("transport server: message type %#x: want a handler for a type in %#x-%#x", t, minAppType, maxAppType)
		}
		msgTypes.Add(t)
	}
	// The first frame of a stream is a request or a subscribe frame, read before its type is
	// known, so both share the request limit; it is at least a topic name's length so that a
	// server without request handlers can still take subscriptions.
	s.reqLimits = frame.Limits{Types: reqTypes, MaxSize: max(cfg.MaxRequestSize, maxTopicLen)}
	s.msgLimits = frame.Limits{Types: msgTypes, MaxSize: cfg.MaxMessageSize}
	for _, name := range cfg.Topics {
		if !topicName.MatchString(name) {
			return nil, fmt.Errorf("transport server: topic %q: want 1-64 of a-z 0-9 _ . / -, starting with a letter or digit", name)
		}
		if s.topics[name] != nil {
			return nil, fmt.Errorf("transport server: topic %q listed twice", name)
		}
		s.topics[name] = &topic{name: name, subs: make(map[*subscriber]struct{})}
	}
	s.SetPeers(cfg.Peers)
	return s, nil
}

// SetPeers replaces the allow-list. A peer no longer on it is disconnected with
// ErrCodeNotAllowed and cannot connect again, resumed TLS sessions included.
func (s *Server) SetPeers(peers []PeerID) {
	m := make(map[PeerID]struct{}, len(peers))
	for _, p := range peers {
		m[p] = struct{}{}
	}
	s.allowed.Store(&m)
	s.mu.Lock()
	var removed []*serverConn
	for sc := range s.conns {
		if !s.isAllowed(sc.peer) {
			removed = append(removed, sc)
		}
	}
	s.mu.Unlock()
	for _, sc := range removed {
		sc.log.Info("peer removed from the allow-list: disconnecting")
		_ = sc.conn.CloseWithError(quic.ApplicationErrorCode(ErrCodeNotAllowed), "removed from the allow-list")
	}
}

func (s *Server) isAllowed(p PeerID) bool {
	_, ok := (*s.allowed.Load())[p]
	return ok
}

// Listen binds the UDP socket at addr ("127.0.0.1:0" picks a free port) and returns its
// address. Run serves it.
func (s *Server) Listen(addr string) (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		return nil, ErrClosed
	case s.ln != nil:
		return nil, fmt.Errorf("transport server: already listening on %s", s.ln.Addr())
	}
	udpAddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport server: listen address %q: %w", addr, err)
	}
	udp, err := net.ListenUDP("udp", udpAddr)
	if err != nil {
		return nil, fmt.Errorf("transport server: %w", err)
	}
	tr := &quic.Transport{Conn: udp}
	failed := func(reason string) { s.m.handshakeFailures.WithLabelValues("server", reason).Inc() }
	ln, err := tr.Listen(serverTLS(s.id, s.isAllowed, failed), s.cfg.quicConfig())
	if err != nil {
		tr.Close()
		udp.Close()
		return nil, fmt.Errorf("transport server: %w", err)
	}
	s.udp, s.tr, s.ln = udp, tr, ln
	return ln.Addr(), nil
}

// Addr returns the address the server listens on, or nil before Listen.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Run serves the socket bound by Listen until ctx ends, then shuts down gracefully, waiting
// up to DrainTimeout for requests in flight; Shutdown and Close also end it. It returns nil
// after a clean stop.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.closing:
		s.mu.Unlock()
		return ErrClosed
	case s.ln == nil:
		s.mu.Unlock()
		return errors.New("transport server: Run before Listen")
	case s.running:
		s.mu.Unlock()
		return errors.New("transport server: already running")
	}
	s.running = true
	ln := s.ln
	s.mu.Unlock()
	defer close(s.done)
	s.log.Info("serving", "addr", ln.Addr(), "peers", len(*s.allowed.Load()))

	// The watcher turns the end of ctx into a graceful shutdown; Run waits for it.
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.DrainTimeout)
			defer cancel()
			if err := s.drain(dctx); err != nil {
				s.log.Warn("shutdown did not drain in time; closed the rest", "error", err)
			}
		case <-stopWatch:
		}
	}()

	var conns sync.WaitGroup
	var err error
	for {
		conn, aerr := ln.Accept(context.Background())
		if aerr != nil {
			if !s.isClosing() {
				err = fmt.Errorf("transport server: accept: %w", aerr)
			}
			break
		}
		sc := s.track(conn)
		if sc == nil {
			_ = conn.CloseWithError(quic.ApplicationErrorCode(ErrCodeShuttingDown), "server shutting down")
			continue
		}
		conns.Go(sc.serve)
	}
	if err != nil {
		// The listener failed on its own: close everything rather than leave peers hanging.
		s.closeAll(ErrCodeInternal, "server listener failed")
	}
	close(stopWatch)
	<-watchDone
	conns.Wait()
	s.mu.Lock()
	s.tr.Close()
	s.udp.Close()
	s.mu.Unlock()
	return err
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Shutdown stops accepting connections and streams, ends subscriptions and publish streams
// with ErrCodeShuttingDown, waits for requests in flight, then closes every connection. If ctx
// ends first it closes them at once and returns ctx's error. It returns after Run has.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.drain(ctx)
	s.waitRun()
	return err
}

// Close closes every connection at once with ErrCodeShuttingDown. It returns after Run has.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.closeListener()
	s.closeAll(ErrCodeShuttingDown, "server closed")
	s.waitRun()
	return nil
}

// waitRun waits for Run to return, or closes the socket itself when Run never started.
func (s *Server) waitRun() {
	s.mu.Lock()
	running := s.running
	if !running && s.tr != nil {
		s.tr.Close()
		s.udp.Close()
	}
	s.mu.Unlock()
	if running {
		<-s.done
	}
}

func (s *Server) closeListener() {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
}

func (s *Server) drain(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	conns := make([]*serverConn, 0, len(s.conns))
	for sc := range s.conns {
		conns = append(conns, sc)
	}
	s.mu.Unlock()
	s.closeListener()
	for _, sc := range conns {
		sc.stopAccepting()
	}
	for _, t := range s.topics {
		t.endAll(ErrCodeShuttingDown, s.m)
	}
	for _, sc := range conns {
		select {
		case <-sc.requests.drain():
		case <-sc.conn.Context().Done():
		case <-ctx.Done():
			s.closeAll(ErrCodeShuttingDown, "server shutdown timed out")
			return ctx.Err()
		}
	}
	s.closeAll(ErrCodeNoError, "server shut down")
	return nil
}

// closeAll closes every tracked connection with code.
func (s *Server) closeAll(code ErrCode, msg string) {
	s.mu.Lock()
	conns := make([]*serverConn, 0, len(s.conns))
	for sc := range s.conns {
		conns = append(conns, sc)
	}
	s.mu.Unlock()
	for _, sc := range conns {
		_ = sc.conn.CloseWithError(quic.ApplicationErrorCode(code), msg)
	}
}

// track registers a new connection, or returns nil when the server is shutting down.
func (s *Server) track(conn *quic.Conn) *serverConn {
	peer, ok := peerOf(conn)
	if !ok {
		// The TLS config requires a certificate, so this is a bug, not a peer's doing.
		s.log.Error("accepted a connection without a peer certificate", "remote", conn.RemoteAddr())
		_ = conn.CloseWithError(quic.ApplicationErrorCode(ErrCodeInternal), "no peer certificate")
		return nil
	}
	if !s.isAllowed(peer) {
		// The handshake checks the allow-list; this catches a SetPeers that removed the peer
		// between its handshake and now.
		_ = conn.CloseWithError(quic.ApplicationErrorCode(ErrCodeNotAllowed), "not on the allow-list")
		return nil
	}
	ctx, cancel := context.WithCancel(conn.Context())
	sc := &serverConn{
		s:          s,
		conn:       conn,
		peer:       peer,
		log:        s.log.With("peer", peer.String(), "remote", conn.RemoteAddr().String()),
		acceptCtx:  ctx,
		stopAccept: cancel,
		pubStreams: make(map[*quic.ReceiveStream]struct{}),
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		cancel()
		return nil
	}
	n := 0
	for other := range s.conns {
		if other.peer == peer {
			n++
		}
	}
	if n >= s.cfg.MaxConnsPerPeer {
		s.mu.Unlock()
		cancel()
		sc.log.Warn("too many connections from one peer: closing the newest", "open", n)
		_ = conn.CloseWithError(quic.ApplicationErrorCode(ErrCodeTooManyConns), fmt.Sprintf("%d connections open already", n))
		return nil
	}
	s.conns[sc] = struct{}{}
	s.mu.Unlock()
	return sc
}

func (s *Server) untrack(sc *serverConn) {
	s.mu.Lock()
	delete(s.conns, sc)
	s.mu.Unlock()
}

// Publish sends f to every subscriber of topicName and returns how many it was queued for.
// It never blocks: a subscriber whose queue is full is dropped with ErrCodeSlowSubscriber.
// f is encoded once, whatever the number of subscribers.
func (s *Server) Publish(topicName string, f frame.Frame) (int, error) {
	t := s.topics[topicName]
	if t == nil {
		return 0, &Error{Code: ErrCodeUnknownTopic, Message: fmt.Sprintf("topic %q is not configured", topicName)}
	}
	if !appTypes.Has(f.Type) {
		return 0, &Error{Code: ErrCodeProtocol, Message: fmt.Sprintf("frame type %#x is reserved", f.Type)}
	}
	if len(f.Payload) > s.cfg.MaxMessageSize {
		return 0, &Error{Code: ErrCodeFrameTooLarge, Message: fmt.Sprintf("message of %d bytes over the %d-byte limit", len(f.Payload), s.cfg.MaxMessageSize)}
	}
	if t.empty() {
		return 0, nil
	}
	b, err := s.enc.Append(nil, f)
	if err != nil {
		return 0, err
	}
	return t.publish(queued{b: b, payload: len(f.Payload)}, s.m), nil
}

// serverConn is one accepted connection. Its serve method is the connection's owner goroutine.
type serverConn struct {
	s          *Server
	conn       *quic.Conn
	peer       PeerID
	log        *slog.Logger
	acceptCtx  context.Context
	stopAccept context.CancelFunc
	requests   tracker

	mu         sync.Mutex
	pubStreams map[*quic.ReceiveStream]struct{} // ended by a graceful shutdown
}

func (sc *serverConn) serve() {
	s := sc.s
	s.m.connections.WithLabelValues("server", "accepted").Inc()
	open := s.m.openConnections.WithLabelValues("server")
	open.Inc()
	defer open.Dec()
	defer s.untrack(sc)
	defer sc.stopAccept()
	sc.log.Debug("connection accepted")

	var streams sync.WaitGroup
	streams.Go(func() {
		for {
			str, err := sc.conn.AcceptUniStream(sc.acceptCtx)
			if err != nil {
				return
			}
			streams.Go(func() { sc.servePublish(str) })
		}
	})
	for {
		str, err := sc.conn.AcceptStream(sc.acceptCtx)
		if err != nil {
			break
		}
		if !sc.requests.enter() {
			str.CancelRead(quic.StreamErrorCode(ErrCodeShuttingDown))
			str.CancelWrite(quic.StreamErrorCode(ErrCodeShuttingDown))
			continue
		}
		streams.Go(func() {
			defer sc.requests.leave()
			sc.serveStream(str)
		})
	}
	streams.Wait()
	// Streams are done; wait for the connection itself to end (the peer leaves, the idle
	// timeout fires, or shutdown closes it) so the open-connection gauge stays truthful.
	<-sc.conn.Context().Done()
	sc.log.Debug("connection closed", "cause", context.Cause(sc.conn.Context()))
}

// stopAccepting ends the accept loops and the long-lived streams, for a graceful shutdown.
func (sc *serverConn) stopAccepting() {
	sc.stopAccept()
	sc.requests.drain()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for str := range sc.pubStreams {
		str.CancelRead(quic.StreamErrorCode(ErrCodeShuttingDown))
	}
}

// readCanceler is the receive side of a stream, bidirectional or not.
type readCanceler interface {
	CancelRead(quic.StreamErrorCode)
}

// fail ends a stream after a frame error, telling the peer why.
func (sc *serverConn) fail(str readCanceler, err error) {
	code := CodeOf(err)
	var se *quic.StreamError
	var ae *quic.ApplicationError
	remote := (errors.As(err, &se) && se.Remote) || (errors.As(err, &ae) && ae.Remote)
	if remote || sc.conn.Context().Err() != nil {
		// The peer reset the stream or the connection is gone: nothing to tell anyone.
		if remote {
			sc.s.m.streamError(code, true)
		}
		return
	}
	sc.s.m.streamError(code, false)
	sc.log.Debug("stream refused", "code", code, "error", err)
	str.CancelRead(quic.StreamErrorCode(code))
	if w, ok := str.(interface{ CancelWrite(quic.StreamErrorCode) }); ok {
		w.CancelWrite(quic.StreamErrorCode(code))
	}
}

// serveStream serves a bidirectional stream: one request and its response, or a subscription.
func (sc *serverConn) serveStream(str *quic.Stream) {
	s := sc.s
	r := frame.NewReader(countingReader{str, s.m.wireIn}, s.reqLimits)
	req, err := r.ReadFrame()
	if err != nil {
		if err == io.EOF {
			err = &Error{Code: ErrCodeProtocol, Message: "stream ended before a request"}
		}
		sc.fail(str, err)
		return
	}
	s.m.frameIn(len(req.Payload))
	if req.Type == TypeSubscribe {
		sc.serveSubscription(str, string(req.Payload))
		return
	}
	s.m.streams.WithLabelValues("request").Inc()
	open := s.m.openStreams.WithLabelValues("request")
	open.Inc()
	defer open.Dec()

	resp, herr := s.cfg.Requests[req.Type](str.Context(), sc.peer, req)
	if herr == nil && (!appTypes.Has(resp.Type) || len(resp.Payload) > s.cfg.MaxResponseSize) {
		sc.log.Error("handler returned a response the protocol cannot carry", "request_type", req.Type, "response_type", resp.Type, "size", len(resp.Payload))
		herr = &Error{Code: ErrCodeInternal, Message: "server produced an invalid response"}
	}
	if herr != nil {
		resp = errorFrame(herr)
	}
	w := frame.NewWriter(str, s.enc)
	n, err := w.WriteFrame(resp)
	if err != nil {
		sc.fail(str, err)
		return
	}
	s.m.frameOut(len(resp.Payload), n)
	_ = str.Close()
	// The client closes its side only after it has read the response, so its FIN says the
	// response arrived. Until then the request counts as in flight: a graceful shutdown that
	// closed the connection earlier could cut the response off. A client that never closes
	// holds the stream for one idle timeout at most.
	//
	// The check reads the stream itself, not r: r's buffers hold req.Payload, which the handler
	// may keep, and a peer sending more must not be able to overwrite it.
	_ = str.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
	var one [1]byte
	if n, err := io.ReadFull(str, one[:]); n != 0 || err != io.EOF {
		str.CancelRead(quic.StreamErrorCode(ErrCodeProtocol))
	}
}

// errorFrame encodes err as a TypeError frame.
func errorFrame(err error) frame.Frame {
	code, msg := ErrCodeRequestRejected, err.Error()
	var te *Error
	if errors.As(err, &te) {
		code, msg = te.Code, te.Message
	}
	if len(msg) > maxErrorMessage {
		msg = msg[:maxErrorMessage]
	}
	p := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(msg)), uint64(code))
	return frame.Frame{Type: TypeError, Payload: append(p, msg...)}
}

// parseErrorFrame decodes a TypeError frame sent by the peer.
func parseErrorFrame(f frame.Frame) *Error {
	if len(f.Payload) < 8 {
		return &Error{Code: ErrCodeProtocol, Message: "error frame shorter than its code"}
	}
	msg := f.Payload[8:]
	if len(msg) > maxErrorMessage {
		msg = msg[:maxErrorMessage]
	}
	return &Error{Code: ErrCode(binary.BigEndian.Uint64(f.Payload)), Remote: true, Message: string(msg)}
}

// servePublish serves a unidirectional publish stream: frames handed one by one to the
// message handlers until the peer closes the stream.
func (sc *serverConn) servePublish(str *quic.ReceiveStream) {
	s := sc.s
	s.m.streams.WithLabelValues("publish").Inc()
	open := s.m.openStreams.WithLabelValues("publish")
	open.Inc()
	defer open.Dec()
	if !sc.addPublish(str) {
		str.CancelRead(quic.StreamErrorCode(ErrCodeShuttingDown))
		return
	}
	defer sc.removePublish(str)

	ctx := sc.conn.Context()
	r := frame.NewReader(countingReader{str, s.m.wireIn}, s.msgLimits)
	for {
		msg, err := r.ReadFrame()
		if err == io.EOF {
			return
		}
		if err != nil {
			sc.fail(str, err)
			return
		}
		s.m.frameIn(len(msg.Payload))
		s.cfg.Messages[msg.Type](ctx, sc.peer, msg)
	}
}

func (sc *serverConn) addPublish(str *quic.ReceiveStream) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.acceptCtx.Err() != nil {
		return false
	}
	sc.pubStreams[str] = struct{}{}
	return true
}

func (sc *serverConn) removePublish(str *quic.ReceiveStream) {
	sc.mu.Lock()
	delete(sc.pubStreams, str)
	sc.mu.Unlock()
}

// serveSubscription registers the stream as a subscriber of the topic named, confirms with a
// TypeSubscribe frame, then forwards the topic's frames until the subscriber is dropped, the
// peer ends the stream or the connection closes.
func (sc *serverConn) serveSubscription(str *quic.Stream, name string) {
	s := sc.s
	w := frame.NewWriter(str, s.enc)
	t := s.topics[name]
	if t == nil {
		// Answer with an error frame rather than a bare reset, so the peer reads the name.
		if n, err := w.WriteFrame(errorFrame(&Error{Code: ErrCodeUnknownTopic, Message: fmt.Sprintf("no topic %q", name)})); err == nil {
			s.m.frameOut(0, n)
		}
		s.m.streamError(ErrCodeUnknownTopic, false)
		str.CancelRead(quic.StreamErrorCode(ErrCodeUnknownTopic))
		_ = str.Close()
		return
	}
	s.m.streams.WithLabelValues("subscribe").Inc()
	open := s.m.openStreams.WithLabelValues("subscribe")
	open.Inc()
	defer open.Dec()

	sub := newSubscriber(s.cfg.SubscriberQueue, func(code ErrCode) {
		// Unblocks the forwarder if it is stuck in Write on a peer that stopped reading.
		str.CancelWrite(quic.StreamErrorCode(code))
	})
	if !t.add(sub) {
		str.CancelRead(quic.StreamErrorCode(ErrCodeShuttingDown))
		str.CancelWrite(quic.StreamErrorCode(ErrCodeShuttingDown))
		return
	}
	defer t.remove(sub)
	if n, err := w.WriteFrame(frame.Frame{Type: TypeSubscribe, Payload: []byte(name)}); err != nil {
		sc.fail(str, err)
		return
	} else {
		s.m.frameOut(len(name), n)
	}
	sc.log.Debug("subscribed", "topic", name)

	peerGone := str.Context().Done() // the peer sent STOP_SENDING, or we reset the send side
	connGone := sc.conn.Context().Done()
	for {
		select {
		case q := <-sub.queue:
			n, err := str.Write(q.b)
			if err != nil {
				sc.endSubscription(str, sub, err)
				return
			}
			s.m.frameOut(q.payload, n)
		case <-sub.done:
			sc.endSubscription(str, sub, nil)
			return
		case <-peerGone:
			sc.endSubscription(str, sub, context.Cause(str.Context()))
			return
		case <-connGone:
			return
		}
	}
}

// endSubscription resets a subscription stream with the reason it ended.
func (sc *serverConn) endSubscription(str *quic.Stream, sub *subscriber, err error) {
	code, ended := sub.reason()
	if !ended {
		code = CodeOf(err)
	}
	var se *quic.StreamError
	if errors.As(err, &se) && se.Remote {
		sc.s.m.streamError(code, true)
	} else {
		sc.s.m.streamError(code, false)
	}
	sc.log.Debug("subscription ended", "code", code, "error", err)
	str.CancelWrite(quic.StreamErrorCode(code))
	str.CancelRead(quic.StreamErrorCode(code))
}

// countingReader counts the bytes read from a stream, for the wire-bytes metric.
type countingReader struct {
	r io.Reader
	c prometheus.Counter
}

func (cr countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	if n > 0 {
		cr.c.Add(float64(n))
	}
	return n, err
}
