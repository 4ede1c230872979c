package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/pbs"
)

func (h *harness) postRegistrations(regs []*builderapiv1.SignedValidatorRegistration, media string) (int, string) {
	h.t.Helper()
	var body []byte
	var err error
	if media == pbs.MediaSSZ {
		body, err = (&builderapiv1.SignedValidatorRegistrations{Registrations: regs}).MarshalSSZ()
	} else {
		body, err = json.Marshal(regs)
	}
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.Post(h.plainRelayURL()+"/eth/v1/builder/validators", media, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

// registerValidator: JSON and SSZ lists; refusals for a future or older timestamp, an unknown
// validator and a bad signature, each named; the builder-facing list and the data API.
func TestRegistrations(t *testing.T) {
	h := newHarness(t)
	h.at(1, 0)
	now := h.clock.Now()
	if code, msg := h.postRegistrations(h.registrations(now.Add(-time.Minute))[:8], pbs.MediaSSZ); code != 200 {
		t.Fatalf("SSZ: %d %s", code, msg)
	}
	if code, msg := h.postRegistrations(h.registrations(now)[8:], pbs.MediaJSON); code != 200 {
		t.Fatalf("JSON: %d %s", code, msg)
	}
	sk, _ := bls.GenerateSecretKey()
	unknown := &builderapiv1.ValidatorRegistration{GasLimit: 1, Timestamp: now, Pubkey: phase0.BLSPubKey(sk.PublicKey().Bytes())}
	unknownSig, _ := pbs.Sign(sk, unknown, pbs.BuilderDomain(beacon.GenesisForkVersion))
	badSig := h.registrations(now)[1]
	badSig.Message.GasLimit++
	cases := []struct {
		name string
		reg  *builderapiv1.SignedValidatorRegistration
		want string
	}{
		{"future timestamp", h.registrations(now.Add(time.Minute))[0], "in the future"},
		{"older than the last", h.registrations(now.Add(-2 * time.Minute))[0], "older than the last"},
		{"unknown validator", &builderapiv1.SignedValidatorRegistration{Message: unknown, Signature: unknownSig}, "not a validator known"},
		{"bad signature", badSig, "invalid signature"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, msg := h.postRegistrations([]*builderapiv1.SignedValidatorRegistration{c.reg}, pbs.MediaJSON)
			if code != http.StatusBadRequest || !strings.Contains(msg, c.want) {
				t.Fatalf("got %d %s, want 400 with %q", code, msg, c.want)
			}
		})
	}
	resp, err := http.Post(h.plainRelayURL()+"/eth/v1/builder/validators", "text/plain", strings.NewReader("[]"))
	if err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	// The next two epochs' proposers, with their registrations.
	resp, err = http.Get(h.plainRelayURL() + "/relay/v1/builder/validators")
	if err != nil {
		t.Fatal(err)
	}
	var vs []struct {
		Slot  string                                    `json:"slot"`
		Entry *builderapiv1.SignedValidatorRegistration `json:"entry"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&vs); err != nil || len(vs) != 15 || vs[0].Slot != "1" || vs[0].Entry == nil {
		t.Fatalf("builder validators: %v, %d entries (want slots 1 to 15)", err, len(vs))
	}
	resp.Body.Close()
	pk := h.node.Genesis().Validators[3].Pubkey
	resp, err = http.Get(h.plainRelayURL() + "/relay/v1/data/validator_registration?pubkey=" + pk.String())
	if err != nil {
		t.Fatal(err)
	}
	var reg builderapiv1.SignedValidatorRegistration
	if err := json.NewDecoder(resp.Body).Decode(&reg); err != nil || reg.Message.Pubkey != pk {
		t.Fatalf("validator_registration: %v", err)
	}
	resp.Body.Close()
}

// getHeader answers in the media type the Accept header prefers, 406 when it can answer in none.
func TestHeaderNegotiation(t *testing.T) {
	h := newHarness(t)
	h.registerThroughNode()
	s := h.bidFor(1, 77, 1)
	url := h.plainRelayURL() + "/eth/v1/builder/header/1/" + s.Payload.ParentHash.String() + "/" + s.Trace.ProposerPubkey.String()
	for accept, want := range map[string]int{
		"":                         http.StatusOK,
		"application/json":         http.StatusOK,
		"application/octet-stream": http.StatusOK,
		"application/octet-stream;q=0.5,application/json;q=0.9": http.StatusOK,
		"text/html": http.StatusNotAcceptable,
	} {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("Accept %q: %d, want %d", accept, resp.StatusCode, want)
		}
		if want == http.StatusOK {
			ct, v := resp.Header.Get("Content-Type"), resp.Header.Get("Eth-Consensus-Version")
			wantCT := pbs.MediaJSON
			if accept == "application/octet-stream" {
				wantCT = pbs.MediaSSZ
			}
			if ct != wantCT || v != "electra" {
				t.Fatalf("Accept %q: Content-Type %q, version %q", accept, ct, v)
			}
		}
	}
}
