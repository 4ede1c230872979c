package mev

import (
	"crypto/tls"
	"fmt"

	"github.com/zkvlabs/zkv/transport"
)

// HTTP3Server returns a server of the relay's Handler (the same builder API, relay API and data
// API as the plain HTTP listener) over HTTP/3 on UDP and HTTP/1.1+2 with TLS on TCP at the same
// port; TCP responses carry Alt-Svc, so clients that speak HTTP/3 move to it and the others
// keep using TCP. tlsConf holds the relay's certificate (zkv relay uses its transport identity's
// self-signed one: clients pin it). The caller listens and runs the server; Run of the Relay
// must run too (it follows the chain).
func (r *Relay) HTTP3Server(tlsConf *tls.Config, cfg transport.HTTPConfig) (*transport.HTTPServer, error) {
	if cfg.Logger == nil {
		cfg.Logger = r.log
	}
	srv, err := transport.NewHTTPServer(r.Handler(), tlsConf, cfg)
	if err != nil {
		return nil, fmt.Errorf("mev: HTTP/3 server: %w", err)
	}
	return srv, nil
}
