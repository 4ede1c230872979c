package pbs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	consensusapi "github.com/attestantio/go-eth2-client/api"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the builder API to a beacon node or validator client: each route parses, calls
// one Boost method and encodes. The status route answers 200 while at least one relay is up,
// 503 otherwise, with every relay's health (RelayHealth) in a JSON body. It serves /metrics too
// when BoostConfig.Registerer is a prometheus.Gatherer.
func (b *Boost) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern, endpoint string, h http.HandlerFunc) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
			h(sw, r)
			b.m.beaconStatus.WithLabelValues(strconv.Itoa(sw.code), endpoint).Inc()
		})
	}
	route("POST /eth/v1/builder/validators", endpointRegister, b.handleRegister)
	route("GET /eth/v1/builder/header/{slot}/{parent_hash}/{pubkey}", endpointHeader, b.handleHeader)
	route("POST /eth/v1/builder/blinded_blocks", endpointPayload, func(w http.ResponseWriter, r *http.Request) { b.handlePayload(w, r, false) })
	route("POST /eth/v2/builder/blinded_blocks", endpointPayloadV2, func(w http.ResponseWriter, r *http.Request) { b.handlePayload(w, r, true) })
	route("GET /eth/v1/builder/status", endpointStatus, func(w http.ResponseWriter, r *http.Request) {
		health, err := b.Status(r.Context())
		code := http.StatusOK
		if err != nil {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", MediaJSON)
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(struct {
			Code    int           `json:"code"`
			Message string        `json:"message,omitempty"`
			Relays  []RelayHealth `json:"relays"`
		}{code, errString(err), health})
	})
	if g, ok := b.cfg.Registerer.(prometheus.Gatherer); ok {
		mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	}
	return mux
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// statusWriter remembers the status code a handler wrote, for the beacon-node status metric.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func boostError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", MediaJSON)
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, err.Error()})
}

func mediaError(w http.ResponseWriter, err error) {
	code := http.StatusBadRequest
	switch {
	case errors.Is(err, ErrNotAcceptable):
		code = http.StatusNotAcceptable
	case errors.Is(err, ErrUnsupportedMediaType):
		code = http.StatusUnsupportedMediaType
	}
	boostError(w, code, err)
}

func (b *Boost) handleRegister(w http.ResponseWriter, r *http.Request) {
	media, err := RequestMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mediaError(w, err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		boostError(w, http.StatusBadRequest, err)
		return
	}
	var regs builderapiv1.SignedValidatorRegistrations
	if media == MediaSSZ {
		err = regs.UnmarshalSSZ(body)
	} else {
		err = json.Unmarshal(body, &regs)
	}
	if err != nil {
		boostError(w, http.StatusBadRequest, fmt.Errorf("decode registrations: %w", err))
		return
	}
	if err := b.RegisterValidators(r.Context(), regs.Registrations); err != nil {
		boostError(w, http.StatusBadGateway, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (b *Boost) handleHeader(w http.ResponseWriter, r *http.Request) {
	media, err := Negotiate(r.Header.Get("Accept"), MediaJSON, MediaSSZ)
	if err != nil {
		mediaError(w, err)
		return
	}
	slot, err := strconv.ParseUint(r.PathValue("slot"), 10, 64)
	var parent phase0.Hash32
	var pubkey phase0.BLSPubKey
	if err == nil {
		err = hexTo(parent[:], r.PathValue("parent_hash"))
	}
	if err == nil {
		err = hexTo(pubkey[:], r.PathValue("pubkey"))
	}
	if err != nil {
		boostError(w, http.StatusBadRequest, fmt.Errorf("getHeader path: %w", err))
		return
	}
	ctx := r.Context()
	// X-Timeout-Ms: the beacon node's own budget for this request; GetHeader keeps within it
	// when it is lower than ours (mev-boost honours it the same way).
	if ms, err := strconv.ParseUint(r.Header.Get(HeaderTimeoutMs), 10, 32); err == nil && ms > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
		defer cancel()
	}
	bid, root, err := b.getHeader(ctx, phase0.Slot(slot), parent, pubkey)
	if errors.Is(err, ErrNoBid) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		boostError(w, http.StatusBadGateway, err)
		return
	}
	out, err := b.encodedBid(bid, root, media)
	if err != nil {
		boostError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", media)
	w.Header().Set(VersionHeader, bid.Version.String())
	_, _ = w.Write(out)
}

func (b *Boost) handlePayload(w http.ResponseWriter, r *http.Request, v2 bool) {
	media, err := RequestMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mediaError(w, err)
		return
	}
	accept := MediaJSON
	if !v2 {
		if accept, err = Negotiate(r.Header.Get("Accept"), MediaJSON, MediaSSZ); err != nil {
			mediaError(w, err)
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		boostError(w, http.StatusBadRequest, err)
		return
	}
	var blk apiv1electra.SignedBlindedBeaconBlock
	if media == MediaSSZ {
		err = blk.UnmarshalSSZ(body)
	} else {
		err = json.Unmarshal(body, &blk)
	}
	if err != nil || blk.Message == nil {
		boostError(w, http.StatusBadRequest, fmt.Errorf("decode signed blinded block: %v", err))
		return
	}
	version := spec.DataVersionElectra
	if h := r.Header.Get(VersionHeader); h != "" {
		if version, err = ParseVersion(h); err != nil {
			boostError(w, http.StatusBadRequest, err)
			return
		}
	}
	p := &consensusapi.VersionedSignedBlindedProposal{Version: version}
	if version == spec.DataVersionFulu {
		p.Fulu = &blk
	} else {
		p.Electra = &blk
	}
	res, err := b.GetPayload(r.Context(), p, v2)
	if err != nil {
		boostError(w, http.StatusBadGateway, err)
		return
	}
	if v2 {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	var out []byte
	if accept == MediaSSZ {
		if res.Version == spec.DataVersionFulu {
			out, err = res.Fulu.MarshalSSZ()
		} else {
			out, err = res.Electra.MarshalSSZ()
		}
	} else {
		out, err = res.MarshalJSON()
	}
	if err != nil {
		boostError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", accept)
	w.Header().Set(VersionHeader, res.Version.String())
	_, _ = w.Write(out)
}
