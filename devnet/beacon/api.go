package beacon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const (
	contentJSON = "application/json"
	contentSSZ  = "application/octet-stream"
)

// apiError is the Beacon API's error body; Failures lists refused items of a list submission.
type apiError struct {
	Code     int            `json:"code"`
	Message  string         `json:"message"`
	Failures []indexedError `json:"failures,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Code: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"code":500,"message":"encode response"}`)
	}
	w.Header().Set("Content-Type", contentJSON)
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// writeData answers {"data": v} plus any extra top-level fields.
func writeData(w http.ResponseWriter, v any, extra map[string]any) {
	m := map[string]any{"data": v}
	for k, x := range extra {
		m[k] = x
	}
	writeJSON(w, http.StatusOK, m)
}

// writeFailures answers a list submission: 200 when all items passed, else 400 with one failure per
// refused item (the accepted ones stay accepted, as the Beacon API specifies).
func writeFailures(w http.ResponseWriter, what string, failures []indexedError) {
	if len(failures) == 0 {
		w.WriteHeader(http.StatusOK)
		return
	}
	writeJSON(w, http.StatusBadRequest, apiError{Code: http.StatusBadRequest,
		Message: fmt.Sprintf("some %s failed validation: %s", what, failures[0].Message), Failures: failures})
}

// acceptsSSZ reports whether the client prefers SSZ by its Accept header (q-values honoured; JSON
// wins ties and is the default).
func acceptsSSZ(r *http.Request) bool {
	best, bestQ := contentJSON, -1.0
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				q = f
			}
		}
		if mt == contentSSZ && q > bestQ {
			best, bestQ = contentSSZ, q
		} else if (mt == contentJSON || mt == "*/*" || mt == "application/*") && q >= bestQ && q > 0 {
			best, bestQ = contentJSON, q
		}
	}
	return best == contentSSZ
}

// acceptable checks the Accept header allows JSON or SSZ (else 406).
func acceptable(r *http.Request, ssz bool) bool {
	a := r.Header.Get("Accept")
	if a == "" {
		return true
	}
	for _, part := range strings.Split(a, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		if mt == contentJSON || mt == "*/*" || mt == "application/*" || (ssz && mt == contentSSZ) {
			return true
		}
	}
	return false
}

// readBody reads a request body of at most MaxBodyBytes and says whether it is SSZ. It answers
// 413 for an oversized body and 415 for another content type; ok is false when it answered.
func (n *Node) readBody(w http.ResponseWriter, r *http.Request, sszAllowed bool) (body []byte, isSSZ bool, ok bool) {
	ct := r.Header.Get("Content-Type")
	mt := contentJSON
	if ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("malformed Content-Type %q", ct))
			return nil, false, false
		}
	}
	switch {
	case mt == contentJSON:
	case mt == contentSSZ && sszAllowed:
		isSSZ = true
	default:
		want := contentJSON
		if sszAllowed {
			want += " or " + contentSSZ
		}
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %q: this endpoint takes %s", mt, want))
		return nil, false, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, n.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", n.cfg.MaxBodyBytes))
			return nil, false, false
		}
		writeError(w, http.StatusBadRequest, "read request body: "+err.Error())
		return nil, false, false
	}
	if len(body) == 0 {
		writeError(w, http.StatusBadRequest, "request body is empty")
		return nil, false, false
	}
	return body, isSSZ, true
}

// readJSON reads a JSON-only request body into v; it answers the error itself when it returns
// false.
func (n *Node) readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, _, ok := n.readBody(w, r, false)
	if !ok {
		return false
	}
	if err := decodeJSON(body, v); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return false
	}
	return true
}

// readVersioned reads a versioned block body (JSON or SSZ) with its Eth-Consensus-Version and
// broadcast_validation; it answers the error itself when ok is false.
func (n *Node) readVersioned(w http.ResponseWriter, r *http.Request) (body []byte, isSSZ bool, version spec.DataVersion, ok bool) {
	if body, isSSZ, ok = n.readBody(w, r, true); !ok {
		return nil, false, 0, false
	}
	version, err := consensusVersion(r)
	if err == nil {
		err = checkBroadcastValidation(r)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false, 0, false
	}
	return body, isSSZ, version, true
}

// decodeJSON decodes body into v, refusing trailing data and a bare null (which encoding/json
// would take as an empty value: no request body of the API is null).
func decodeJSON(body []byte, v any) error {
	if string(bytes.TrimSpace(body)) == "null" {
		return errors.New("malformed JSON body: null")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON body: %w", err)
	}
	if dec.More() {
		return errors.New("malformed JSON body: trailing data")
	}
	return nil
}

// consensusVersion reads the Eth-Consensus-Version header a versioned body needs.
func consensusVersion(r *http.Request) (spec.DataVersion, error) {
	h := r.Header.Get("Eth-Consensus-Version")
	if h == "" {
		return 0, errors.New("Eth-Consensus-Version header is required")
	}
	var v spec.DataVersion
	if err := v.UnmarshalJSON([]byte(strconv.Quote(strings.ToLower(h)))); err != nil {
		return 0, fmt.Errorf("unknown Eth-Consensus-Version %q", h)
	}
	if v != spec.DataVersionElectra && v != spec.DataVersionFulu {
		return 0, fmt.Errorf("wrong fork: Eth-Consensus-Version %s, the devnet runs Electra and Fulu", h)
	}
	return v, nil
}

func parseUint(s, what string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid %s %q: want a decimal number", what, s)
	}
	return v, nil
}

func parseRoot(s, what string) (phase0.Root, error) {
	var r phase0.Root
	b, err := decodeHex(s, 32)
	if err != nil {
		return r, fmt.Errorf("invalid %s: %w", what, err)
	}
	copy(r[:], b)
	return r, nil
}

func decodeHex(s string, n int) ([]byte, error) {
	if !strings.HasPrefix(s, "0x") {
		return nil, errors.New("want 0x-prefixed hex")
	}
	s = s[2:]
	if len(s) != 2*n {
		return nil, fmt.Errorf("want %d bytes of hex, got %d characters", n, len(s))
	}
	b := make([]byte, n)
	for i := 0; i < n; i++ {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, errors.New("not hex")
		}
		b[i] = byte(v)
	}
	return b, nil
}

// indexList decodes a JSON list of decimal-string validator indices.
func indexList(body []byte) ([]phase0.ValidatorIndex, error) {
	var raw []string
	if err := decodeJSON(body, &raw); err != nil {
		return nil, err
	}
	if len(raw) == 0 { // the spec's minItems: 1 (duties and liveness)
		return nil, errors.New("malformed body: empty list, at least one validator index is required")
	}
	out := make([]phase0.ValidatorIndex, len(raw))
	for i, s := range raw {
		v, err := parseUint(s, "validator index")
		if err != nil {
			return nil, err
		}
		out[i] = phase0.ValidatorIndex(v)
	}
	return out, nil
}

// Handler is the Beacon API. Routes it does not serve answer 404, wrong methods 405, both in the
// Beacon API's error shape.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	routes := map[string]http.HandlerFunc{
		"GET /eth/v1/node/version":                                       n.getVersion,
		"GET /eth/v1/node/syncing":                                       n.getSyncing,
		"GET /eth/v1/node/health":                                        n.getHealth,
		"GET /eth/v1/node/identity":                                      n.getIdentity,
		"GET /eth/v1/config/spec":                                        n.getSpec,
		"GET /eth/v1/config/fork_schedule":                               n.getForkSchedule,
		"GET /eth/v1/config/deposit_contract":                            n.getDepositContract,
		"GET /eth/v1/beacon/genesis":                                     n.getGenesis,
		"GET /eth/v1/beacon/states/{state_id}/fork":                      n.getFork,
		"GET /eth/v1/beacon/states/{state_id}/finality_checkpoints":      n.getFinality,
		"GET /eth/v1/beacon/states/{state_id}/validators":                n.getValidators,
		"POST /eth/v1/beacon/states/{state_id}/validators":               n.postValidators,
		"GET /eth/v1/beacon/states/{state_id}/validators/{validator_id}": n.getValidator,
		"GET /eth/v1/beacon/states/{state_id}/committees":                n.getCommittees,
		"GET /eth/v1/beacon/headers":                                     n.getHeaders,
		"GET /eth/v1/beacon/headers/{block_id}":                          n.getHeader,
		"GET /eth/v1/beacon/blocks/{block_id}/root":                      n.getBlockRoot,
		"GET /eth/v2/beacon/blocks/{block_id}":                           n.getBlock,
		"POST /eth/v2/beacon/blocks":                                     n.postBlock,
		"POST /eth/v2/beacon/blinded_blocks":                             n.postBlindedBlock,
		"POST /eth/v2/beacon/pool/attestations":                          n.postAttestations,
		"POST /eth/v1/beacon/pool/sync_committees":                       n.postSyncMessages,
		"POST /eth/v1/beacon/pool/voluntary_exits":                       n.postVoluntaryExit,
		"GET /eth/v1/beacon/pool/voluntary_exits":                        n.getVoluntaryExits,
		"GET /eth/v1/validator/duties/proposer/{epoch}":                  n.getProposerDuties,
		"POST /eth/v1/validator/duties/attester/{epoch}":                 n.postAttesterDuties,
		"POST /eth/v1/validator/duties/sync/{epoch}":                     n.postSyncDuties,
		"GET /eth/v3/validator/blocks/{slot}":                            n.getBlockV3,
		"GET /eth/v1/validator/attestation_data":                         n.getAttestationData,
		"GET /eth/v2/validator/aggregate_attestation":                    n.getAggregate,
		"POST /eth/v2/validator/aggregate_and_proofs":                    n.postAggregates,
		"GET /eth/v1/validator/sync_committee_contribution":              n.getContribution,
		"POST /eth/v1/validator/contribution_and_proofs":                 n.postContributions,
		"POST /eth/v1/validator/beacon_committee_subscriptions":          n.postCommitteeSubscriptions,
		"POST /eth/v1/validator/sync_committee_subscriptions":            n.postSyncSubscriptions,
		"POST /eth/v1/validator/prepare_beacon_proposer":                 n.postPrepareProposer,
		"POST /eth/v1/validator/register_validator":                      n.postRegisterValidator,
		"POST /eth/v1/validator/liveness/{epoch}":                        n.postLiveness,
		"GET /eth/v1/events":                                             n.serveEvents,
	}
	for p, h := range routes {
		mux.HandleFunc(p, h)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics.reg, promhttp.HandlerOpts{}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lw := &loggingWriter{ResponseWriter: w}
		defer func() {
			if lw.code >= 400 {
				// Everything the node refuses is logged with the reason it answered.
				n.log.Info("request refused", "method", r.Method, "path", r.URL.Path, "status", lw.code, "reason", lw.reason())
				n.metrics.refused.WithLabelValues(strings.SplitN(r.URL.Path, "/", 5)[min(4, len(strings.SplitN(r.URL.Path, "/", 5))-1)]).Inc()
			}
		}()
		w = lw
		h, pattern := mux.Handler(r)
		if pattern != "" {
			// 406 when Accept allows neither JSON nor SSZ where the route has it (the API's
			// content negotiation); the event stream and /metrics negotiate their own types.
			if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/eth/") && r.URL.Path != "/eth/v1/events" && !acceptable(r, sszGetRoutes[pattern]) {
				writeError(w, http.StatusNotAcceptable, "this endpoint answers application/json"+map[bool]string{true: " or application/octet-stream"}[sszGetRoutes[pattern]])
				return
			}
			mux.ServeHTTP(w, r) // sets the request's path values
			return
		}
		// No route: let the mux decide between 404 and 405, then answer in the API's shape.
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		code := rec.code
		if code == 0 {
			code = http.StatusNotFound
		}
		msg := fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)
		if code == http.StatusMethodNotAllowed {
			msg = fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path)
		}
		writeError(w, code, msg)
	})
}

// loggingWriter keeps the status and the start of an error body for the refusal log.
type loggingWriter struct {
	http.ResponseWriter
	code int
	body []byte
}

func (l *loggingWriter) WriteHeader(code int) {
	if l.code == 0 {
		l.code = code
	}
	l.ResponseWriter.WriteHeader(code)
}

func (l *loggingWriter) Write(b []byte) (int, error) {
	if l.code == 0 {
		l.code = http.StatusOK
	}
	if l.code >= 400 && len(l.body) < 512 {
		l.body = append(l.body, b[:min(len(b), 512-len(l.body))]...)
	}
	return l.ResponseWriter.Write(b)
}

// Flush lets the event stream through the wrapper.
func (l *loggingWriter) Flush() {
	if f, ok := l.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (l *loggingWriter) reason() string {
	var e apiError
	if json.Unmarshal(l.body, &e) == nil && e.Message != "" {
		return e.Message
	}
	return string(l.body)
}

// sszGetRoutes are the GET routes that can answer SSZ.
var sszGetRoutes = map[string]bool{
	"GET /eth/v2/beacon/blocks/{block_id}": true, "GET /eth/v3/validator/blocks/{slot}": true,
	"GET /eth/v1/validator/attestation_data": true, "GET /eth/v2/validator/aggregate_attestation": true,
}

type statusRecorder struct {
	header http.Header
	code   int
}

func (s *statusRecorder) Header() http.Header         { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusRecorder) WriteHeader(code int)        { s.code = code }
