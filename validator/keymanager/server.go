// Package keymanager serves the keymanager API (ethereum/keymanager-APIs) of a running validator
// client: list, import and delete EIP-2335 keystores (imports with their EIP-3076 slashing
// protection history, deletes returning it), per-validator fee recipient, gas limit and graffiti
// overrides, and signed voluntary exits. Every request needs the bearer token of a 0600 token
// file (401 without a token, 403 with a wrong one).
//
// It owns the HTTP surface, the token and the request checks; what a key change does to the
// running client (signing, duties, keystore files, slashing protection) belongs to
// validator/client, reached through the Validator interface.
package keymanager

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/keys"
	"github.com/zkvlabs/zkv/validator/slashing"
)

// Keystores is what the keystore endpoints need of the validator client.
type Keystores interface {
	HeldKeys() ([]client.HeldKey, error)
	AddKeys(ctx context.Context, nks []client.NewKey) error
	RemoveKeys(ctx context.Context, pks []phase0.BLSPubKey) ([]client.RemoveResult, error)
	ImportSlashingProtection(ctx context.Context, ic *slashing.Interchange) error
	ExportSlashingProtection(ctx context.Context, pks []phase0.BLSPubKey) (*slashing.Interchange, error)
}

// Proposers is what the fee recipient, gas limit and graffiti endpoints need.
type Proposers interface {
	ProposerSettingsOf(pk phase0.BLSPubKey) (client.ProposerSettings, error)
	UpdateOverride(pk phase0.BLSPubKey, f func(*client.Override)) error
}

// Exits is what the voluntary exit endpoint needs.
type Exits interface {
	SignVoluntaryExit(ctx context.Context, pk phase0.BLSPubKey, epoch *phase0.Epoch) (*phase0.SignedVoluntaryExit, error)
}

// Validator is the running validator client (*client.Service implements it).
type Validator interface {
	Keystores
	Proposers
	Exits
}

// DefaultAddress is where the API listens unless told otherwise: loopback only.
const DefaultAddress = "127.0.0.1:5062"

// maxBody bounds a request body: a keystore is about 1 KiB, an interchange a few hundred bytes
// a validator; 64 MiB holds thousands of both.
const maxBody = 64 << 20

// Config configures New.
type Config struct {
	// Address to listen on (host:port); default DefaultAddress.
	Address string
	// TokenFile holds the bearer token (created 0600 with a random token when absent).
	TokenFile string
	// Validator is the running client.
	Validator Validator
	// KDFLimits bound the KDF of imported keystores (default keys.DefaultKDFLimits).
	KDFLimits keys.KDFLimits
	Logger    *slog.Logger
}

// Server is the keymanager API server. Create it with New; run it with Run or Serve.
type Server struct {
	// keysMu serializes imports and deletes: each reads the held keys, then changes them.
	keysMu sync.Mutex
	cfg    Config
	token  []byte
	log    *slog.Logger
	mux    *http.ServeMux
}

// New checks the config and reads (or creates) the token file. It listens on nothing yet.
func New(cfg Config) (*Server, error) {
	if cfg.Validator == nil {
		return nil, errors.New("keymanager: no validator client specified")
	}
	if cfg.Address == "" {
		cfg.Address = DefaultAddress
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tok, err := LoadOrCreateToken(cfg.TokenFile)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, token: []byte(tok), log: cfg.Logger.With("component", "keymanager"), mux: http.NewServeMux()}
	s.routes()
	return s, nil
}

// Handler is the API with its bearer-token check.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Run listens on the configured address and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Address)
	if err != nil {
		return fmt.Errorf("keymanager: listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then shuts down (letting requests in flight finish for up
// to 5 s) and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.log.Info("keymanager API listening", "address", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("keymanager: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	<-errc
	return nil
}

// serveHTTP checks the bearer token (keymanager-APIs, securitySchemes bearerAuth: 401 when no
// token is found, 403 when it is not the right one), comparing in constant time so that the
// response time says nothing about how much of a guess was right.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		writeError(w, http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer <token from the token file>")
		return
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), s.token) != 1 {
		writeError(w, http.StatusForbidden, "invalid bearer token")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /eth/v1/keystores", s.listKeystores)
	s.mux.HandleFunc("POST /eth/v1/keystores", s.importKeystores)
	s.mux.HandleFunc("DELETE /eth/v1/keystores", s.deleteKeystores)
	s.mux.HandleFunc("GET /eth/v1/validator/{pubkey}/feerecipient", s.getFeeRecipient)
	s.mux.HandleFunc("POST /eth/v1/validator/{pubkey}/feerecipient", s.setFeeRecipient)
	s.mux.HandleFunc("DELETE /eth/v1/validator/{pubkey}/feerecipient", s.deleteOverride(func(o *client.Override) { o.FeeRecipient = nil }))
	s.mux.HandleFunc("GET /eth/v1/validator/{pubkey}/gas_limit", s.getGasLimit)
	s.mux.HandleFunc("POST /eth/v1/validator/{pubkey}/gas_limit", s.setGasLimit)
	s.mux.HandleFunc("DELETE /eth/v1/validator/{pubkey}/gas_limit", s.deleteOverride(func(o *client.Override) { o.GasLimit = nil }))
	s.mux.HandleFunc("GET /eth/v1/validator/{pubkey}/graffiti", s.getGraffiti)
	s.mux.HandleFunc("POST /eth/v1/validator/{pubkey}/graffiti", s.setGraffiti)
	s.mux.HandleFunc("DELETE /eth/v1/validator/{pubkey}/graffiti", s.deleteOverride(func(o *client.Override) { o.Graffiti = nil }))
	s.mux.HandleFunc("POST /eth/v1/validator/{pubkey}/voluntary_exit", s.voluntaryExit)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
	})
}

// errorResponse is the API's ErrorResponse.
type errorResponse struct {
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorResponse{Message: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// readJSON decodes the body into v; an error is answered 400 with the reason.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", tooBig.Limit))
			return false
		}
		writeError(w, http.StatusBadRequest, "malformed JSON body: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "malformed JSON body: data after the object")
		return false
	}
	return true
}

// clientError answers an error of the validator client.
func clientError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, client.ErrUnknownValidator):
		writeError(w, http.StatusNotFound, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}
