// Package transport carries zkv's messages between nodes over QUIC (quic-go) with TLS 1.3,
// and serves HTTP handlers over HTTP/3 next to HTTP/1.1 and HTTP/2.
//
// It owns node identity (a long-lived Ed25519 key in a 0600 file, a self-signed certificate
// made from it, peers pinned by key: PeerID), the "zkv/1" stream protocol below, wire error
// codes (ErrCode), and the transport's Prometheus metrics. It does not know what the messages
// mean: frame types, their payloads (SSZ where a type has one) and their handlers belong to
// the packages that use it. The frame codec itself is package frame, which works on any
// io.Reader or io.Writer.
//
// # Protocol "zkv/1"
//
// A Client dials a Server; both present a certificate and each checks the other's key
// against its allow-list during the handshake, so an unknown peer is refused before any
// stream exists. There are no TLS session tickets (a resumed session would skip the check), a
// peer removed from the allow-list is disconnected, and one peer may hold at most
// MaxConnsPerPeer connections. On the connection:
//
//   - A request is a bidirectional stream opened by the client: one request frame, and the
//     server answers with one frame, either the response or a TypeError frame (an ErrCode and
//     a message) when the handler refused the request. The client closes its side once it has
//     read the answer, which tells the server the answer arrived.
//   - Published messages travel on one unidirectional stream per connection, frame after
//     frame, each handed to the server's MessageHandler for its type.
//   - A subscription is a bidirectional stream opened by the client with a TypeSubscribe frame
//     naming the topic. The server confirms with a TypeSubscribe frame and then writes every
//     frame published on the topic. Each subscriber has a bounded queue; one that falls behind
//     is dropped with ErrCodeSlowSubscriber and never slows the publisher or other subscribers.
//
// A frame the receiver refuses (unknown type, bad flags, over the stream kind's size limit,
// corrupt compressed payload, truncated) resets the stream with the matching ErrCode; the
// connection and its other streams go on. Frame types 0x01-0xef are the application's;
// 0xf0-0xff are the transport's.
//
// # HTTP
//
// HTTPServer serves one http.Handler over HTTP/3 and over HTTP/1.1 and HTTP/2 on TCP, on the
// same port, announcing HTTP/3 with Alt-Svc; the builder and relay APIs stay reachable by
// every ecosystem client. HTTPClient prefers HTTP/3 and falls back to TCP when no QUIC
// connection can be made.
//
// # Metrics
//
// Registered on the Config's Registerer, never on a global registry:
// zkv_transport_connections_total{side,result}, zkv_transport_open_connections{side},
// zkv_transport_streams_total{kind}, zkv_transport_open_streams{kind},
// zkv_transport_frames_total{direction}, zkv_transport_wire_bytes_total{direction},
// zkv_transport_payload_bytes_total{direction} (payload over wire bytes is the compression
// ratio), zkv_transport_compression_ratio (per compressed frame),
// zkv_transport_handshake_failures_total{side,reason}, zkv_transport_stream_errors_total{code,origin}
// and zkv_transport_dropped_subscribers_total{reason}.
//
// # Lifecycle
//
// NewServer and NewClient check their configuration and start nothing. Server.Listen binds
// the socket; Server.Run and Client.Run serve until their context ends, then drain. Shutdown
// drains (stops accepting, ends subscriptions and publish streams with ErrCodeShuttingDown,
// waits for requests in flight); Close is abrupt.
package transport
