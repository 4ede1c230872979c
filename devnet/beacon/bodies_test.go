package beacon_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/devnet/beacon"
)

// sszBodies are the POST routes whose body may be SSZ.
var sszBodies = map[string]bool{
	"POST /eth/v2/beacon/blocks": true, "POST /eth/v2/beacon/blinded_blocks": true, "POST /eth/v2/beacon/pool/attestations": true,
	"POST /eth/v2/validator/aggregate_and_proofs": true, "POST /eth/v1/validator/register_validator": true,
}

// minItems1 are the POST routes whose body the spec requires to be a non-empty list.
var minItems1 = map[string]bool{
	"POST /eth/v1/validator/duties/attester/{epoch}": true, "POST /eth/v1/validator/duties/sync/{epoch}": true,
	"POST /eth/v1/validator/liveness/{epoch}": true,
}

// TestMalformedAndOversizedBodies sends every POST route (read from api.go, so a new one is not
// forgotten) malformed, mistyped, null-filled, empty and oversized bodies: each is refused with
// 400 (413 when oversized) in the Beacon API error shape with a reason, never a panic or a 5xx,
// and the node keeps serving.
func TestMalformedAndOversizedBodies(t *testing.T) {
	const limit = 64 << 10
	tn := newTestNet(t, 8, func(c *beacon.Config) { c.MaxBodyBytes = limit })
	tn.at(1, 0.2)
	oversized := append([]byte("["), bytes.Repeat([]byte(`"0",`), limit/4+64)...)
	oversized = append(oversized, []byte(`"0"]`)...)
	bodies := []struct {
		name string
		body []byte
		code int
	}{
		{"truncated JSON", []byte(`[{"message":{"slot":"1",`), 400},
		{"not JSON", []byte(`hello`), 400},
		{"wrong JSON type", []byte(`{"a":1}`), 400},
		{"a list of nulls", []byte(`[null]`), 400},
		{"a list of empty objects", []byte(`[{}]`), 400},
		{"null", []byte(`null`), 400},
		{"trailing data", []byte(`[] []`), 400},
		{"empty", nil, 400},
		{"oversized", oversized, 413},
	}
	var posts []string
	for _, r := range nodeRoutes(t) {
		if strings.HasPrefix(r, "POST ") {
			posts = append(posts, r)
		}
	}
	if len(posts) < 15 {
		t.Fatalf("only %d POST routes found", len(posts))
	}
	for _, r := range posts {
		path := pathParam.ReplaceAllStringFunc(strings.TrimPrefix(r, "POST "), func(p string) string { return sampleValues[p[1:len(p)-1]] })
		cases := bodies
		if r == "POST /eth/v1/beacon/states/{state_id}/validators" {
			// Its body is an object: a list is the wrong type ({"a":1} is an object with no ids).
			cases = append(cases, struct {
				name string
				body []byte
				code int
			}{"a list for an object", []byte(`["0"]`), 400})
		}
		if minItems1[r] {
			cases = append(cases, struct {
				name string
				body []byte
				code int
			}{"empty list (minItems 1)", []byte(`[]`), 400})
		}
		for _, b := range cases {
			if b.name == "wrong JSON type" && r == "POST /eth/v1/beacon/states/{state_id}/validators" {
				continue
			}
			t.Run(r+"/"+b.name, func(t *testing.T) {
				code, hdr, resp := request(t, http.MethodPost, tn.url+path, b.body,
					map[string]string{"Content-Type": "application/json", "Eth-Consensus-Version": "electra"})
				if code != b.code {
					t.Fatalf("%d %s, want %d", code, resp, b.code)
				}
				msg := apiErrorOf(t, code, hdr, resp)
				if b.code == 413 && !strings.Contains(msg, "larger than") {
					t.Fatalf("oversized body refused with %q", msg)
				}
			})
		}
		if sszBodies[r] {
			for _, b := range [][]byte{{0x01}, bytes.Repeat([]byte{0xff}, 301), bytes.Repeat([]byte{0x00}, 4096)} {
				t.Run(r+"/malformed SSZ", func(t *testing.T) {
					code, hdr, resp := request(t, http.MethodPost, tn.url+path, b,
						map[string]string{"Content-Type": "application/octet-stream", "Eth-Consensus-Version": "electra"})
					if code != 400 {
						t.Fatalf("%d bytes of garbage SSZ: %d %s, want 400", len(b), code, resp)
					}
					apiErrorOf(t, code, hdr, resp)
				})
			}
			t.Run(r+"/oversized SSZ", func(t *testing.T) {
				code, hdr, resp := request(t, http.MethodPost, tn.url+path, make([]byte, limit+1),
					map[string]string{"Content-Type": "application/octet-stream", "Eth-Consensus-Version": "electra"})
				if code != 413 {
					t.Fatalf("%d %s, want 413", code, resp)
				}
				apiErrorOf(t, code, hdr, resp)
			})
		}
	}
	// The node keeps serving: duties, attestation data and a whole slot of duties still work.
	if _, err := tn.client.AttesterDuties(context.Background(), &api.AttesterDutiesOpts{Epoch: 0, Indices: []phase0.ValidatorIndex{0, 1}}); err != nil {
		t.Fatalf("duties after the refusals: %v", err)
	}
	rep, err := tn.signer.Slot(context.Background(), 1)
	if err != nil || !rep.Proposed || rep.Attestations == 0 {
		t.Fatalf("slot 1 after the refusals: %+v %v", rep, err)
	}
}
