package pool

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/prover"
)

// registrySealPrefix is where the registry keeps its seals in db.Registrations (db's schema
// table): "zkv/registry/seal/" | epoch(8) -> root(32) | applied(8) | leaves(8).
const registrySealPrefix = "zkv/registry/seal/"

// Handler returns the pool's read-only HTTP JSON API (see the package doc for the paths).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pool/v1/health", func(w http.ResponseWriter, _ *http.Request) {
		h := map[string]any{"status": "ok", "leaves": s.reg.Len(), "pending_registrations": s.reg.Pending()}
		if seal, ok := s.reg.LastSeal(); ok {
			h["last_sealed_epoch"] = seal.Epoch
		}
		writeJSON(w, http.StatusOK, h)
	})
	mux.HandleFunc("GET /pool/v1/counts", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"epochs": s.Counts()})
	})
	mux.HandleFunc("GET /pool/v1/roots", func(w http.ResponseWriter, _ *http.Request) {
		roots, err := s.Roots()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"roots": roots})
	})
	mux.HandleFunc("GET /pool/v1/evidence", func(w http.ResponseWriter, _ *http.Request) {
		evs, err := s.Evidence()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		if evs == nil {
			evs = []EvidenceRecord{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"evidence": evs})
	})
	mux.HandleFunc("GET /pool/v1/evidence/{id}", func(w http.ResponseWriter, r *http.Request) {
		ev, err := s.EvidenceByID(r.PathValue("id"))
		switch {
		case errors.Is(err, db.ErrNotFound):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no evidence " + r.PathValue("id")})
		case err != nil:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		default:
			writeJSON(w, http.StatusOK, ev)
		}
	})
	return mux
}

// Roots returns the registry roots the pool accepts proofs against: one per sealed epoch,
// as the registry recorded its seals in the pool's database (a proof of an epoch between two
// seals uses the earlier one's root).
func (s *Server) Roots() ([]SealedRoot, error) {
	var out []SealedRoot
	err := s.db.KV(db.Registrations).Iterate([]byte(registrySealPrefix), func(k, v []byte) error {
		if len(k) != len(registrySealPrefix)+8 || len(v) < fr.Bytes {
			return nil
		}
		var root fr.Element
		root.SetBytes(v[:fr.Bytes])
		out = append(out, SealedRoot{Epoch: binary.BigEndian.Uint64(k[len(registrySealPrefix):]), Root: prover.HexField(&root)})
		return nil
	})
	if err == nil && len(out) == 0 {
		// A registry kept outside the pool's database: its last seal at least.
		if seal, ok := s.reg.LastSeal(); ok {
			out = append(out, SealedRoot{Epoch: seal.Epoch, Root: prover.HexField(&seal.Root)})
		}
	}
	if out == nil {
		out = []SealedRoot{}
	}
	return out, err
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
