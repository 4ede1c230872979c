package keymanager

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/keys"
	"github.com/zkvlabs/zkv/validator/slashing"
)

// Per-key statuses (keymanager-APIs apis/local_keystores.yaml).
const (
	StatusImported  = "imported"
	StatusDuplicate = "duplicate"
	StatusError     = "error"
	StatusDeleted   = "deleted"
	StatusNotActive = "not_active"
	StatusNotFound  = "not_found"
)

// KeyStatus is one key's outcome in an import or delete response.
type KeyStatus struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// ListedKey is one entry of the list response.
type ListedKey struct {
	ValidatingPubkey string `json:"validating_pubkey"`
	DerivationPath   string `json:"derivation_path,omitempty"`
	Readonly         bool   `json:"readonly"`
}

func pubkeyHex(pk phase0.BLSPubKey) string { return fmt.Sprintf("%#x", pk[:]) }

// parsePubkey reads a Pubkey as the API writes it: 0x and 96 hex digits.
func parsePubkey(s string) (phase0.BLSPubKey, error) {
	var pk phase0.BLSPubKey
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(b) != len(pk) || !strings.HasPrefix(s, "0x") {
		return pk, fmt.Errorf("public key %q: want 0x and 96 hex digits", s)
	}
	return phase0.BLSPubKey(b), nil
}

func (s *Server) listKeystores(w http.ResponseWriter, _ *http.Request) {
	held, err := s.cfg.Validator.HeldKeys()
	if err != nil {
		clientError(w, err)
		return
	}
	out := make([]ListedKey, len(held))
	for i, k := range held {
		out[i] = ListedKey{ValidatingPubkey: pubkeyHex(k.Pubkey), DerivationPath: k.Path}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

type importRequest struct {
	Keystores          []string `json:"keystores"`
	Passwords          []string `json:"passwords"`
	SlashingProtection *string  `json:"slashing_protection"`
}

// importKeystores decrypts each keystore with its password, imports the slashing protection
// interchange (before any imported key can sign), then hands the keys to the client, which
// writes their keystores and starts their duties at the next slot. A keystore whose key the
// client holds already, or which comes twice, is "duplicate"; one that does not parse or
// open is "error" and the others go on.
func (s *Server) importKeystores(w http.ResponseWriter, r *http.Request) {
	var req importRequest
	if !readJSON(w, r, &req) {
		return
	}
	switch {
	case req.Keystores == nil || req.Passwords == nil:
		writeError(w, http.StatusBadRequest, "keystores and passwords are required")
		return
	case len(req.Keystores) != len(req.Passwords):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%d keystores and %d passwords: passwords[i] must unlock keystores[i]", len(req.Keystores), len(req.Passwords)))
		return
	}
	var ic *slashing.Interchange
	if req.SlashingProtection != nil && strings.TrimSpace(*req.SlashingProtection) != "" {
		var err error
		if ic, err = slashing.ReadInterchange(bytes.NewReader([]byte(*req.SlashingProtection))); err != nil {
			writeError(w, http.StatusBadRequest, "slashing_protection: "+err.Error())
			return
		}
	}
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	held, err := s.cfg.Validator.HeldKeys()
	if err != nil {
		clientError(w, err)
		return
	}
	known := make(map[phase0.BLSPubKey]bool, len(held))
	for _, k := range held {
		known[k.Pubkey] = true
	}
	statuses := make([]KeyStatus, len(req.Keystores))
	var nks []client.NewKey
	var at []int
	for i, raw := range req.Keystores {
		ks, err := keys.ParseKeystore([]byte(raw))
		if err != nil {
			statuses[i] = KeyStatus{StatusError, "keystore: " + err.Error()}
			continue
		}
		sk, err := ks.DecryptWithLimits(req.Passwords[i], s.cfg.KDFLimits)
		if err != nil {
			statuses[i] = KeyStatus{StatusError, "decrypt keystore: " + err.Error()}
			continue
		}
		pub := sk.PublicKey()
		pk := phase0.BLSPubKey(pub.Bytes())
		if known[pk] {
			sk.Zeroize()
			statuses[i] = KeyStatus{Status: StatusDuplicate}
			continue
		}
		known[pk] = true
		nks = append(nks, client.NewKey{Key: &keys.Key{Secret: sk, Public: pub, Path: ks.Path}, Keystore: ks})
		at = append(at, i)
	}
	fail := func(msg string) {
		for _, i := range at {
			statuses[i] = KeyStatus{StatusError, msg}
		}
		for _, nk := range nks {
			nk.Key.Secret.Zeroize()
		}
	}
	if ic != nil {
		// EIP-3076: the history goes in before the keys can sign anything.
		if err := s.cfg.Validator.ImportSlashingProtection(r.Context(), ic); err != nil {
			fail("slashing protection not imported, so neither is the key: " + err.Error())
			writeJSON(w, http.StatusOK, map[string]any{"data": statuses})
			return
		}
	}
	if len(nks) > 0 {
		if err := s.cfg.Validator.AddKeys(r.Context(), nks); err != nil {
			fail(err.Error())
		} else {
			for _, i := range at {
				statuses[i] = KeyStatus{Status: StatusImported}
			}
		}
	}
	s.log.Info("keystores import", "requested", len(req.Keystores), "imported", len(nks))
	writeJSON(w, http.StatusOK, map[string]any{"data": statuses})
}

type deleteRequest struct {
	Pubkeys []string `json:"pubkeys"`
}

// deleteKeystores stops the keys signing (when RemoveKeys returns, none of them can sign again),
// then exports their slashing protection history, then reports: deleted (held and removed),
// not_active (not held, but history exists: returned), not_found (neither). The history is kept
// in the database, so a repeated delete returns it again.
func (s *Server) deleteKeystores(w http.ResponseWriter, r *http.Request) {
	var req deleteRequest
	if !readJSON(w, r, &req) {
		return
	}
	if req.Pubkeys == nil {
		writeError(w, http.StatusBadRequest, "pubkeys is required")
		return
	}
	pks := make([]phase0.BLSPubKey, len(req.Pubkeys))
	for i, p := range req.Pubkeys {
		pk, err := parsePubkey(p)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("pubkeys[%d]: %v", i, err))
			return
		}
		pks[i] = pk
	}
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	results, err := s.cfg.Validator.RemoveKeys(r.Context(), pks)
	if err != nil {
		clientError(w, err)
		return
	}
	ic, err := s.cfg.Validator.ExportSlashingProtection(r.Context(), pks)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "keys removed, but their slashing protection could not be exported: "+err.Error())
		return
	}
	hasData := make(map[phase0.BLSPubKey]bool, len(ic.Data))
	for _, v := range ic.Data {
		hasData[phase0.BLSPubKey(v.Pubkey)] = true
	}
	statuses := make([]KeyStatus, len(pks))
	keep := map[phase0.BLSPubKey]bool{}
	for i, res := range results {
		switch {
		case res.Removed && res.Err != nil:
			statuses[i] = KeyStatus{StatusError, "the key signs no more, but " + res.Err.Error()}
		case res.Removed:
			statuses[i] = KeyStatus{Status: StatusDeleted}
			keep[res.Pubkey] = true
		case hasData[res.Pubkey]:
			statuses[i] = KeyStatus{Status: StatusNotActive}
			keep[res.Pubkey] = true
		default:
			statuses[i] = KeyStatus{Status: StatusNotFound}
		}
	}
	// Only the keys reported deleted or not_active carry their history.
	filtered := ic.Data[:0]
	for _, v := range ic.Data {
		if keep[phase0.BLSPubKey(v.Pubkey)] {
			filtered = append(filtered, v)
		}
	}
	ic.Data = filtered
	var buf bytes.Buffer
	if err := ic.Write(&buf); err != nil {
		writeError(w, http.StatusInternalServerError, "encode slashing protection: "+err.Error())
		return
	}
	s.log.Info("keystores delete", "requested", len(pks))
	writeJSON(w, http.StatusOK, map[string]any{"data": statuses, "slashing_protection": strings.TrimSpace(buf.String())})
}
