package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"golang.org/x/sync/errgroup"
)

// HTTPConfig configures an HTTPServer. Its zero value works.
type HTTPConfig struct {
	// ReadHeaderTimeout bounds reading a request's headers on TCP. Default 5s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection, TCP or QUIC, idle this long. Default 120s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers. Default http.DefaultMaxHeaderBytes (1 MiB).
	MaxHeaderBytes int
	// DrainTimeout bounds the graceful shutdown Run starts when its context ends. Default 5s.
	DrainTimeout time.Duration
	// Logger is the server's logger; nil discards.
	Logger *slog.Logger
}

// HTTPServer serves one http.Handler over HTTP/3 on UDP and over HTTP/1.1 and HTTP/2 with TLS
// on TCP, on the same port number. Responses on TCP carry an Alt-Svc header, so clients that
// speak HTTP/3 learn where to find it; ecosystem clients that do not keep using TCP.
//
// Errors its callers may see: from Listen, a bind error or ErrClosed; from Run, ErrClosed or
// the error of the protocol that failed (the other is then shut down too); from Shutdown, the
// context's error when requests outlived it.
type HTTPServer struct {
	cfg      HTTPConfig
	tcp      *http.Server
	h3       *http3.Server
	log      *slog.Logger
	stop     chan struct{} // closed by Shutdown and Close
	finished chan struct{} // closed when Shutdown or Close has finished with the servers
	once     sync.Once
	finOnce  sync.Once

	mu      sync.Mutex
	tcpLn   net.Listener
	udp     net.PacketConn
	running bool
	closed  bool
	done    chan struct{} // closed when Run returns
}

// NewHTTPServer returns a server of h with the certificates of tlsConf. It starts nothing.
func NewHTTPServer(h http.Handler, tlsConf *tls.Config, cfg HTTPConfig) (*HTTPServer, error) {
	if h == nil {
		return nil, errors.New("http server: no handler")
	}
	if tlsConf == nil || (len(tlsConf.Certificates) == 0 && tlsConf.GetCertificate == nil && tlsConf.GetConfigForClient == nil) {
		return nil, errors.New("http server: TLS config without a certificate")
	}
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = 5 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 120 * time.Second
	}
	if cfg.MaxHeaderBytes == 0 {
		cfg.MaxHeaderBytes = http.DefaultMaxHeaderBytes
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.ReadHeaderTimeout < 0 || cfg.IdleTimeout < 0 || cfg.MaxHeaderBytes < 0 || cfg.DrainTimeout < 0 {
		return nil, errors.New("http server: negative timeout or header limit")
	}
	s := &HTTPServer{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "http_server"),
		stop:     make(chan struct{}),
		finished: make(chan struct{}),
		done:     make(chan struct{}),
	}
	s.h3 = &http3.Server{
		Handler:        h,
		TLSConfig:      http3.ConfigureTLSConfig(tlsConf),
		QUICConfig:     &quic.Config{MaxIdleTimeout: cfg.IdleTimeout, KeepAlivePeriod: 0},
		MaxHeaderBytes: cfg.MaxHeaderBytes,
		IdleTimeout:    cfg.IdleTimeout,
		Logger:         cfg.Logger,
	}
	tcpTLS := tlsConf.Clone()
	tcpTLS.NextProtos = []string{"h2", "http/1.1"}
	s.tcp = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Before Serve has started the HTTP/3 listener there is no port to announce;
			// the response simply goes without Alt-Svc.
			_ = s.h3.SetQUICHeaders(w.Header())
			h.ServeHTTP(w, r)
		}),
		TLSConfig:         tcpTLS,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Listen binds TCP and UDP on the same port of addr ("127.0.0.1:0" picks a free one) and
// returns the TCP address; the UDP one has the same port.
func (s *HTTPServer) Listen(addr string) (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, ErrClosed
	case s.tcpLn != nil:
		return nil, fmt.Errorf("http server: already listening on %s", s.tcpLn.Addr())
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("http server: listen address %q: %w", addr, err)
	}
	// With port 0 the OS picks a TCP port that may be taken on UDP; try a few.
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
		if err != nil {
			return nil, fmt.Errorf("http server: %w", err)
		}
		tcpPort := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		udp, err := net.ListenPacket("udp", net.JoinHostPort(host, tcpPort))
		if err == nil {
			s.tcpLn, s.udp = ln, udp
			return ln.Addr(), nil
		}
		ln.Close()
		if port != "0" || attempt == 4 {
			return nil, fmt.Errorf("http server: UDP port %s: %w", tcpPort, err)
		}
	}
}

// Run serves both protocols until ctx ends, Shutdown or Close is called, or one of them
// fails; then it shuts both down, waiting up to DrainTimeout for requests in flight.
func (s *HTTPServer) Run(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case s.tcpLn == nil:
		s.mu.Unlock()
		return errors.New("http server: Run before Listen")
	case s.running:
		s.mu.Unlock()
		return errors.New("http server: already running")
	}
	s.running = true
	tcpLn, udp := s.tcpLn, s.udp
	s.mu.Unlock()
	defer close(s.done)
	defer udp.Close() // http3.Server.Serve does not close a socket it was given
	s.log.Info("serving", "addr", tcpLn.Addr(), "protocols", "h3,h2,http/1.1")

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := s.tcp.ServeTLS(tcpLn, "", ""); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server (tcp): %w", err)
		}
		return nil
	})
	g.Go(func() error {
		err := s.h3.Serve(udp)
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, quic.ErrServerClosed) {
			return fmt.Errorf("http server (h3): %w", err)
		}
		return nil
	})
	g.Go(func() error {
		select {
		case <-gctx.Done():
		case <-s.stop:
			// Shutdown or Close is stopping the servers. Wait for it: the UDP socket must
			// stay open while HTTP/3 requests drain.
			<-s.finished
			return nil
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.DrainTimeout)
		defer cancel()
		return s.shutdown(dctx)
	})
	return g.Wait()
}

func (s *HTTPServer) markClosed() {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
	})
}

func (s *HTTPServer) finish() { s.finOnce.Do(func() { close(s.finished) }) }

func (s *HTTPServer) shutdown(ctx context.Context) error {
	s.markClosed()
	defer s.finish()
	var g errgroup.Group
	g.Go(func() error { return s.tcp.Shutdown(ctx) })
	g.Go(func() error { return s.h3.Shutdown(ctx) })
	if err := g.Wait(); err != nil {
		_ = s.tcp.Close()
		_ = s.h3.Close()
		return fmt.Errorf("http server shutdown: %w", err)
	}
	return nil
}

// Shutdown stops accepting requests on both protocols and waits for those in flight (HTTP/3
// clients get a GOAWAY); when ctx ends first it closes what is left. It returns after Run has.
func (s *HTTPServer) Shutdown(ctx context.Context) error {
	err := s.shutdown(ctx)
	s.waitRun()
	return err
}

// Close closes both servers and their connections at once. It returns after Run has.
func (s *HTTPServer) Close() error {
	s.markClosed()
	err := errors.Join(s.tcp.Close(), s.h3.Close())
	s.finish()
	s.waitRun()
	return err
}

func (s *HTTPServer) waitRun() {
	s.mu.Lock()
	running, tcpLn, udp := s.running, s.tcpLn, s.udp
	s.mu.Unlock()
	if running {
		<-s.done
		return
	}
	if tcpLn != nil {
		tcpLn.Close()
		udp.Close()
	}
}

// HTTPClientConfig configures an HTTPClient. Its zero value works.
type HTTPClientConfig struct {
	// QUICTimeout bounds the QUIC handshake before a request falls back to TCP. Default 1s:
	// a closed or filtered UDP port gives no answer, so this is what a fallback costs.
	QUICTimeout time.Duration
	// FallbackFor is how long a host whose QUIC dial failed is sent over TCP before HTTP/3
	// is tried again. Default 5 minutes.
	FallbackFor time.Duration
}

// HTTPClient is an http.RoundTripper that prefers HTTP/3 and falls back to HTTP/2 or HTTP/1.1
// over TLS on TCP when no QUIC connection can be made to the host (UDP blocked, a server
// without HTTP/3). Only a failed dial falls back, never a request that was sent: a request
// the server may have acted on is not silently sent twice. A request body is replayed over
// TCP only when req.GetBody can make it again (http.NewRequest sets it for in-memory bodies).
type HTTPClient struct {
	cfg HTTPClientConfig
	h3  *http3.Transport
	tcp *http.Transport

	udpOnce sync.Once
	udpErr  error
	udp     net.PacketConn
	qtr     *quic.Transport

	mu     sync.Mutex
	broken map[string]time.Time // host -> when to try QUIC again
	closed bool
}

// quicDialError marks an HTTP/3 failure that happened before the request was sent.
type quicDialError struct{ err error }

func (e *quicDialError) Error() string { return "http3 dial: " + e.err.Error() }
func (e *quicDialError) Unwrap() error { return e.err }

// NewHTTPClient returns an HTTPClient that uses tlsConf (nil: the system roots) for both
// protocols. It starts nothing; its UDP socket is opened at the first HTTP/3 request.
func NewHTTPClient(tlsConf *tls.Config, cfg HTTPClientConfig) (*HTTPClient, error) {
	if cfg.QUICTimeout == 0 {
		cfg.QUICTimeout = time.Second
	}
	if cfg.FallbackFor == 0 {
		cfg.FallbackFor = 5 * time.Minute
	}
	if cfg.QUICTimeout < 0 || cfg.FallbackFor < 0 {
		return nil, errors.New("http client: negative timeout")
	}
	if tlsConf == nil {
		tlsConf = &tls.Config{}
	}
	c := &HTTPClient{cfg: cfg, broken: make(map[string]time.Time)}
	c.tcp = &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tlsConf.Clone(),
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConnsPerHost: 16,
	}
	c.h3 = &http3.Transport{
		TLSClientConfig: tlsConf.Clone(),
		QUICConfig:      &quic.Config{HandshakeIdleTimeout: cfg.QUICTimeout, KeepAlivePeriod: 15 * time.Second},
		Dial:            c.dialQUIC,
	}
	return c, nil
}

func (c *HTTPClient) dialQUIC(ctx context.Context, addr string, tlsConf *tls.Config, qc *quic.Config) (*quic.Conn, error) {
	c.udpOnce.Do(func() {
		c.udp, c.udpErr = net.ListenUDP("udp", nil)
		if c.udpErr == nil {
			c.qtr = &quic.Transport{Conn: c.udp}
		}
	})
	if c.udpErr != nil {
		return nil, &quicDialError{c.udpErr}
	}
	udpAddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, &quicDialError{err}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.QUICTimeout)
	defer cancel()
	conn, err := c.qtr.Dial(ctx, udpAddr, tlsConf, qc)
	if err != nil {
		return nil, &quicDialError{err}
	}
	return conn, nil
}

// RoundTrip sends req over HTTP/3, or over TCP if the host has no working HTTP/3.
func (c *HTTPClient) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	closed := c.closed
	until, broken := c.broken[req.URL.Host]
	if broken && time.Now().After(until) {
		delete(c.broken, req.URL.Host)
		broken = false
	}
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if broken || req.URL.Scheme != "https" {
		return c.tcp.RoundTrip(req)
	}
	resp, err := c.h3.RoundTrip(req)
	if _, ok := errors.AsType[*quicDialError](err); !ok || req.Context().Err() != nil {
		return resp, err
	}
	c.mu.Lock()
	c.broken[req.URL.Host] = time.Now().Add(c.cfg.FallbackFor)
	c.mu.Unlock()
	// http3 closes the body when it fails, so only a body that can be made again is replayed;
	// the host is now marked, so the caller's retry goes straight to TCP.
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, fmt.Errorf("http3 unavailable and the request body cannot be replayed over TCP (retry goes to TCP): %w", err)
		}
		body, gerr := req.GetBody()
		if gerr != nil {
			return nil, fmt.Errorf("http3 failed (%v); replay body for TCP: %w", err, gerr)
		}
		req = req.Clone(req.Context())
		req.Body = body
	}
	return c.tcp.RoundTrip(req)
}

// Client returns an http.Client that sends through c.
func (c *HTTPClient) Client() *http.Client { return &http.Client{Transport: c} }

// Close closes idle connections of both protocols and the UDP socket.
func (c *HTTPClient) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.tcp.CloseIdleConnections()
	err := c.h3.Close()
	c.udpOnce.Do(func() {}) // no socket may be opened after this
	if c.qtr != nil {
		err = errors.Join(err, c.qtr.Close(), c.udp.Close())
	}
	return err
}
