package mev

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	builderapi "github.com/attestantio/go-builder-client/api"
	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	builderspec "github.com/attestantio/go-builder-client/spec"
	consensusapi "github.com/attestantio/go-eth2-client/api"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zkvlabs/zkv/pbs"
)

// maxRegistrationBytes caps a registerValidator body: 180 bytes of SSZ (about 400 of JSON) a
// registration, enough for some 80,000 validators in one request.
const maxRegistrationBytes = 32 << 20

// maxBlindedBlockBytes caps a signed blinded block.
const maxBlindedBlockBytes = 10 << 20

// Handler is the relay's HTTP API: the builder API for proposers, the builder-facing endpoints
// and the data API, and /metrics when Config.Registerer is also a Gatherer (a
// prometheus.Registry). Each handler parses, calls one Relay method and encodes.
func (r *Relay) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /eth/v1/builder/validators", r.handleRegister)
	mux.HandleFunc("GET /eth/v1/builder/header/{slot}/{parent_hash}/{pubkey}", r.handleHeader)
	mux.HandleFunc("POST /eth/v1/builder/blinded_blocks", func(w http.ResponseWriter, req *http.Request) { r.handlePayload(w, req, false) })
	mux.HandleFunc("POST /eth/v2/builder/blinded_blocks", func(w http.ResponseWriter, req *http.Request) { r.handlePayload(w, req, true) })
	mux.HandleFunc("GET /eth/v1/builder/status", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /relay/v1/builder/blocks", r.handleSubmit)
	mux.HandleFunc("GET /relay/v1/builder/validators", r.handleBuilderValidators)
	mux.HandleFunc("GET /relay/v1/data/bidtraces/proposer_payload_delivered", func(w http.ResponseWriter, req *http.Request) {
		res, err := r.PayloadsDelivered(req.Context(), req.URL.Query())
		writeJSON(w, res, err)
	})
	mux.HandleFunc("GET /relay/v1/data/bidtraces/builder_blocks_received", func(w http.ResponseWriter, req *http.Request) {
		res, err := r.BlocksReceived(req.Context(), req.URL.Query())
		writeJSON(w, res, err)
	})
	mux.HandleFunc("GET /relay/v1/data/validator_registration", r.handleRegistration)
	if g, ok := r.cfg.Registerer.(prometheus.Gatherer); ok {
		mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	}
	return mux
}

// apiError is the builder API's error body.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func statusOf(err error) int {
	var se *SubmissionError
	switch {
	case errors.As(err, &se), errors.Is(err, ErrBadRequest), errors.Is(err, ErrEquivocation), errors.Is(err, pbs.ErrVersion):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, pbs.ErrNotAcceptable):
		return http.StatusNotAcceptable
	case errors.Is(err, pbs.ErrUnsupportedMediaType):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrSimulationTimeout):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, err error) {
	code := statusOf(err)
	w.Header().Set("Content-Type", pbs.MediaJSON)
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(apiError{Code: code, Message: err.Error()})
}

func writeJSON(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, fmt.Errorf("encode: %w", err))
		return
	}
	w.Header().Set("Content-Type", pbs.MediaJSON)
	_, _ = w.Write(b)
}

// versioned writes a versioned body in the negotiated media: JSON with "version" and "data" (as
// marshal gives it), or SSZ; Eth-Consensus-Version on both.
func writeVersioned(w http.ResponseWriter, media string, version spec.DataVersion, marshalJSON func() ([]byte, error), marshalSSZ func() ([]byte, error)) {
	f := marshalJSON
	if media == pbs.MediaSSZ {
		f = marshalSSZ
	}
	b, err := f()
	if err != nil {
		writeError(w, fmt.Errorf("encode: %w", err))
		return
	}
	w.Header().Set("Content-Type", media)
	w.Header().Set(pbs.VersionHeader, version.String())
	_, _ = w.Write(b)
}

func (r *Relay) handleRegister(w http.ResponseWriter, req *http.Request) {
	media, err := pbs.RequestMediaType(req.Header.Get("Content-Type"))
	if err != nil {
		writeError(w, err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxRegistrationBytes+1))
	if err != nil || len(body) > maxRegistrationBytes {
		writeError(w, badRequest("registrations body unreadable or larger than %d bytes", maxRegistrationBytes))
		return
	}
	var regs builderapiv1.SignedValidatorRegistrations
	if media == pbs.MediaSSZ {
		err = regs.UnmarshalSSZ(body)
	} else {
		err = json.Unmarshal(body, &regs)
	}
	if err != nil {
		writeError(w, badRequest("decode registrations: %v", err))
		return
	}
	if err := r.RegisterValidators(req.Context(), regs.Registrations); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (r *Relay) handleHeader(w http.ResponseWriter, req *http.Request) {
	media, err := pbs.Negotiate(req.Header.Get("Accept"), pbs.MediaJSON, pbs.MediaSSZ)
	if err != nil {
		writeError(w, err)
		return
	}
	slot, err := strconv.ParseUint(req.PathValue("slot"), 10, 64)
	if err != nil {
		writeError(w, badRequest("invalid slot %q", req.PathValue("slot")))
		return
	}
	var parent phase0.Hash32
	if err := hexInto(parent[:], req.PathValue("parent_hash")); err != nil {
		writeError(w, badRequest("invalid parent hash: %v", err))
		return
	}
	var pubkey phase0.BLSPubKey
	if err := hexInto(pubkey[:], req.PathValue("pubkey")); err != nil {
		writeError(w, badRequest("invalid pubkey: %v", err))
		return
	}
	b, err := r.GetHeader(req.Context(), phase0.Slot(slot), parent, pubkey)
	if errors.Is(err, ErrNoBid) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeVersioned(w, media, b.Version, b.MarshalJSON, func() ([]byte, error) { return signedBid(b).MarshalSSZ() })
}

func signedBid(b *builderspec.VersionedSignedBuilderBid) interface{ MarshalSSZ() ([]byte, error) } {
	if b.Version == spec.DataVersionFulu {
		return b.Fulu
	}
	return b.Electra
}

func (r *Relay) handlePayload(w http.ResponseWriter, req *http.Request, v2 bool) {
	media, err := pbs.RequestMediaType(req.Header.Get("Content-Type"))
	if err != nil {
		writeError(w, err)
		return
	}
	accept := pbs.MediaJSON
	if !v2 {
		if accept, err = pbs.Negotiate(req.Header.Get("Accept"), pbs.MediaJSON, pbs.MediaSSZ); err != nil {
			writeError(w, err)
			return
		}
	}
	version := spec.DataVersionUnknown
	if h := req.Header.Get(pbs.VersionHeader); h != "" || media == pbs.MediaSSZ {
		if version, err = pbs.ParseVersion(h); err != nil {
			writeError(w, err)
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBlindedBlockBytes+1))
	if err != nil || len(body) > maxBlindedBlockBytes {
		writeError(w, badRequest("blinded block unreadable or larger than %d bytes", maxBlindedBlockBytes))
		return
	}
	var b apiv1electra.SignedBlindedBeaconBlock
	if media == pbs.MediaSSZ {
		err = b.UnmarshalSSZ(body)
	} else {
		err = json.Unmarshal(body, &b)
	}
	if err != nil {
		writeError(w, badRequest("decode signed blinded block: %v", err))
		return
	}
	if b.Message == nil {
		writeError(w, badRequest("signed blinded block has no message"))
		return
	}
	if version == spec.DataVersionUnknown {
		version, _ = r.spec.Fork(b.Message.Slot)
	}
	p := &consensusapi.VersionedSignedBlindedProposal{Version: version}
	if version == spec.DataVersionFulu {
		p.Fulu = &b
	} else {
		p.Electra = &b
	}
	res, err := r.GetPayload(req.Context(), p, v2)
	if err != nil {
		writeError(w, err)
		return
	}
	if v2 {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	writeVersioned(w, accept, res.Version, res.MarshalJSON, func() ([]byte, error) { return payloadSSZ(res) })
}

func payloadSSZ(res *builderapi.VersionedSubmitBlindedBlockResponse) ([]byte, error) {
	if res.Version == spec.DataVersionFulu {
		return res.Fulu.MarshalSSZ()
	}
	return res.Electra.MarshalSSZ()
}

func (r *Relay) handleSubmit(w http.ResponseWriter, req *http.Request) {
	media, err := pbs.RequestMediaType(req.Header.Get("Content-Type"))
	if err != nil {
		writeError(w, err)
		return
	}
	version := spec.DataVersionUnknown
	if h := req.Header.Get(pbs.VersionHeader); h != "" {
		if version, err = pbs.ParseVersion(h); err != nil {
			writeError(w, refuse(StepDecode, "%v", err))
			return
		}
	}
	body, err := ReadBody(req.Body, strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))), r.cfg.MaxBodyBytes)
	if err != nil {
		writeError(w, err)
		return
	}
	_, err = r.SubmitBlock(req.Context(), body, SubmitOpts{Media: media, Version: version, Cancellations: cancellationsParam(req.URL.Query().Get("cancellations"))})
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

type builderValidatorJSON struct {
	Slot           string                                    `json:"slot"`
	ValidatorIndex string                                    `json:"validator_index"`
	Entry          *builderapiv1.SignedValidatorRegistration `json:"entry"`
}

func (r *Relay) handleBuilderValidators(w http.ResponseWriter, req *http.Request) {
	vs, err := r.BuilderValidators(req.Context())
	out := make([]builderValidatorJSON, len(vs))
	for i, v := range vs {
		out[i] = builderValidatorJSON{Slot: strconv.FormatUint(uint64(v.Slot), 10), ValidatorIndex: strconv.FormatUint(uint64(v.ValidatorIndex), 10), Entry: v.Entry}
	}
	writeJSON(w, out, err)
}

func (r *Relay) handleRegistration(w http.ResponseWriter, req *http.Request) {
	var pk phase0.BLSPubKey
	if err := hexInto(pk[:], req.URL.Query().Get("pubkey")); err != nil {
		writeError(w, badRequest("invalid pubkey: %v", err))
		return
	}
	reg, err := r.Registration(pk)
	writeJSON(w, reg, err)
}
