package keymanager

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/validator/client"
)

// pathPubkey reads the {pubkey} of the path; a malformed one is answered 400.
func pathPubkey(w http.ResponseWriter, r *http.Request) (phase0.BLSPubKey, bool) {
	pk, err := parsePubkey(r.PathValue("pubkey"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return pk, false
	}
	return pk, true
}

// settings answers 404 for a key the client does not hold.
func (s *Server) settings(w http.ResponseWriter, pk phase0.BLSPubKey) (client.ProposerSettings, bool) {
	ps, err := s.cfg.Validator.ProposerSettingsOf(pk)
	if err != nil {
		clientError(w, err)
		return ps, false
	}
	return ps, true
}

func (s *Server) update(w http.ResponseWriter, pk phase0.BLSPubKey, code int, f func(*client.Override)) {
	if err := s.cfg.Validator.UpdateOverride(pk, f); err != nil {
		clientError(w, err)
		return
	}
	w.WriteHeader(code)
}

// deleteOverride removes one override: 204 whether or not there was one, for a held key (the
// value of the proposer config file or the flags applies again).
func (s *Server) deleteOverride(f func(*client.Override)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if pk, ok := pathPubkey(w, r); ok {
			s.update(w, pk, http.StatusNoContent, f)
		}
	}
}

func (s *Server) getFeeRecipient(w http.ResponseWriter, r *http.Request) {
	pk, ok := pathPubkey(w, r)
	if !ok {
		return
	}
	if ps, ok := s.settings(w, pk); ok {
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]string{
			"pubkey": pubkeyHex(pk), "ethaddress": fmt.Sprintf("%#x", ps.FeeRecipient[:])}})
	}
}

func (s *Server) setFeeRecipient(w http.ResponseWriter, r *http.Request) {
	pk, ok := pathPubkey(w, r)
	if !ok {
		return
	}
	var req struct {
		EthAddress *string `json:"ethaddress"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if req.EthAddress == nil {
		writeError(w, http.StatusBadRequest, "ethaddress is required")
		return
	}
	b, err := hex.DecodeString(strings.TrimPrefix(*req.EthAddress, "0x"))
	if err != nil || len(b) != 20 || !strings.HasPrefix(*req.EthAddress, "0x") {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("ethaddress %q: want 0x and 40 hex digits", *req.EthAddress))
		return
	}
	var addr bellatrix.ExecutionAddress
	copy(addr[:], b)
	if addr == (bellatrix.ExecutionAddress{}) {
		// keymanager-APIs setFeeRecipient: "Cannot specify the 0x00 fee recipient address".
		writeError(w, http.StatusBadRequest, "ethaddress: the zero address cannot be a fee recipient (its fees would be burned)")
		return
	}
	s.update(w, pk, http.StatusAccepted, func(o *client.Override) { o.FeeRecipient = &addr })
}

func (s *Server) getGasLimit(w http.ResponseWriter, r *http.Request) {
	pk, ok := pathPubkey(w, r)
	if !ok {
		return
	}
	if ps, ok := s.settings(w, pk); ok {
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]string{
			"pubkey": pubkeyHex(pk), "gas_limit": strconv.FormatUint(ps.GasLimit, 10)}})
	}
}

func (s *Server) setGasLimit(w http.ResponseWriter, r *http.Request) {
	pk, ok := pathPubkey(w, r)
	if !ok {
		return
	}
	var req struct {
		GasLimit *string `json:"gas_limit"` // Uint64: a decimal string
	}
	if !readJSON(w, r, &req) {
		return
	}
	if req.GasLimit == nil {
		writeError(w, http.StatusBadRequest, "gas_limit is required (a decimal string)")
		return
	}
	g, err := strconv.ParseUint(*req.GasLimit, 10, 64)
	if err != nil || g == 0 || (len(*req.GasLimit) > 1 && (*req.GasLimit)[0] == '0') {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("gas_limit %q: want a positive decimal uint64", *req.GasLimit))
		return
	}
	s.update(w, pk, http.StatusAccepted, func(o *client.Override) { o.GasLimit = &g })
}

func (s *Server) getGraffiti(w http.ResponseWriter, r *http.Request) {
	pk, ok := pathPubkey(w, r)
	if !ok {
		return
	}
	if ps, ok := s.settings(w, pk); ok {
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]string{
			"pubkey": pubkeyHex(pk), "graffiti": string(bytes.TrimRight(ps.Graffiti[:], "\x00"))}})
	}
}

func (s *Server) setGraffiti(w http.ResponseWriter, r *http.Request) {
	pk, ok := pathPubkey(w, r)
	if !ok {
		return
	}
	var req struct {
		Graffiti *string `json:"graffiti"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if req.Graffiti == nil {
		writeError(w, http.StatusBadRequest, "graffiti is required")
		return
	}
	if len(*req.Graffiti) > 32 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("graffiti is %d bytes, at most 32 fit a block's graffiti field", len(*req.Graffiti)))
		return
	}
	var g [32]byte
	copy(g[:], *req.Graffiti)
	s.update(w, pk, http.StatusAccepted, func(o *client.Override) { o.Graffiti = &g })
}

// voluntaryExit signs (and does not submit) a voluntary exit; ?epoch= sets its epoch, the
// current one by default.
func (s *Server) voluntaryExit(w http.ResponseWriter, r *http.Request) {
	pk, ok := pathPubkey(w, r)
	if !ok {
		return
	}
	var epoch *phase0.Epoch
	if q := r.URL.Query().Get("epoch"); q != "" {
		e, err := strconv.ParseUint(q, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("epoch %q: want a decimal uint64", q))
			return
		}
		epoch = (*phase0.Epoch)(&e)
	}
	exit, err := s.cfg.Validator.SignVoluntaryExit(r.Context(), pk, epoch)
	if err != nil {
		clientError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": exit})
}
