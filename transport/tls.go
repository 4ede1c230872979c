package transport

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"

	"github.com/quic-go/quic-go"
)

// Reasons a handshake fails, the reason label of zkv_transport_handshake_failures_total.
const (
	reasonNoCertificate  = "no_certificate"
	reasonBadCertificate = "bad_certificate"
	reasonUnknownPeer    = "unknown_peer"
	reasonRejectedByPeer = "rejected_by_peer"
	reasonTimeout        = "timeout"
	reasonOther          = "other"
)

// handshakeError is a peer certificate refused by verifyPeer.
type handshakeError struct {
	reason string
	msg    string
}

func (e *handshakeError) Error() string { return e.msg }

// verifyPeer checks the certificate a peer presented and returns its PeerID. Only the key
// matters: it must be Ed25519 and allowed. The TLS 1.3 CertificateVerify message has already
// proved that the peer holds the private key, and a self-signed certificate's dates and
// signature say nothing a pinned key does not, so they are not checked.
func verifyPeer(raw [][]byte, allowed func(PeerID) bool) (PeerID, error) {
	if len(raw) == 0 {
		return PeerID{}, &handshakeError{reasonNoCertificate, "peer sent no certificate"}
	}
	if len(raw) > 1 {
		return PeerID{}, &handshakeError{reasonBadCertificate, "peer sent a certificate chain; want one self-signed certificate"}
	}
	cert, err := x509.ParseCertificate(raw[0])
	if err != nil {
		return PeerID{}, &handshakeError{reasonBadCertificate, "peer certificate: " + err.Error()}
	}
	if _, ok := cert.PublicKey.(ed25519.PublicKey); !ok {
		return PeerID{}, &handshakeError{reasonBadCertificate, "peer certificate does not hold an Ed25519 key"}
	}
	id := peerIDOf(cert)
	if !allowed(id) {
		return id, &handshakeError{reasonUnknownPeer, "peer " + id.String() + " is not on the allow-list"}
	}
	return id, nil
}

// serverTLS is a Server's TLS configuration: TLS 1.3 only, a client certificate required and
// checked against allowed during the handshake, so an unknown peer never gets a stream.
func serverTLS(id *Identity, allowed func(PeerID) bool, failed func(reason string)) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.cert},
		ClientAuth:   tls.RequireAnyClientCert,
		NextProtos:   []string{ALPN},
		// Resumed sessions skip certificate verification, so a peer removed from the
		// allow-list could come back on a ticket: no tickets, and the check runs in
		// VerifyConnection, which crypto/tls calls on resumptions too.
		SessionTicketsDisabled: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := verifyPeer(rawCerts(cs), allowed)
			if he, ok := err.(*handshakeError); ok {
				failed(he.reason)
			}
			return err
		},
	}
}

func rawCerts(cs tls.ConnectionState) [][]byte {
	raw := make([][]byte, len(cs.PeerCertificates))
	for i, c := range cs.PeerCertificates {
		raw[i] = c.Raw
	}
	return raw
}

// clientTLS is a Client's TLS configuration: it presents id and accepts only server's key.
func clientTLS(id *Identity, server PeerID, failed func(reason string)) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.cert},
		NextProtos:   []string{ALPN},
		ServerName:   "zkv",
		// There is no CA to verify against: the server's key is pinned and checked in
		// VerifyConnection, which crypto/tls still calls when this is set, resumptions included.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := verifyPeer(rawCerts(cs), func(p PeerID) bool { return p == server })
			if he, ok := err.(*handshakeError); ok {
				failed(he.reason)
			}
			return err
		},
	}
}

// dialFailure names why a dial failed, for the handshake failure metric. It returns "" for a
// failure verifyPeer has already counted.
func dialFailure(err error) string {
	var (
		te *quic.TransportError
		he *quic.HandshakeTimeoutError
		ie *quic.IdleTimeoutError
		ne net.Error
	)
	switch {
	case errors.As(err, &te) && te.ErrorCode.IsCryptoError():
		if te.Remote {
			return reasonRejectedByPeer
		}
		if errors.As(err, new(*handshakeError)) {
			return ""
		}
		return reasonBadCertificate
	case errors.As(err, &he), errors.As(err, &ie), errors.Is(err, context.DeadlineExceeded):
		return reasonTimeout
	case errors.As(err, &ne) && ne.Timeout():
		return reasonTimeout
	}
	return reasonOther
}

// peerOf returns the PeerID of a connection's authenticated peer.
func peerOf(conn *quic.Conn) (PeerID, bool) {
	certs := conn.ConnectionState().TLS.PeerCertificates
	if len(certs) == 0 {
		return PeerID{}, false
	}
	return peerIDOf(certs[0]), true
}
