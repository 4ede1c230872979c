package mev

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// The execution simulator's request is mev-boost-relay's: the method of the fork (V4 Electra,
// V5 Fulu), the body's fields with registered_gas_limit as a decimal string, X-Request-ID and
// X-High-Priority; the answer's error is a *SimulationError with message and data; a body that
// is not JSON-RPC is an error of its own, and no answer in time is ErrSimulationTimeout.
func TestExecutionSimulator(t *testing.T) {
	type seen struct {
		method, prio, reqID string
		params              map[string]json.RawMessage
	}
	var got seen
	reply := `{"jsonrpc":"2.0","id":"1","result":null}`
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reply == "stall" {
			select {
			case <-r.Context().Done():
			case <-block:
			}
			return
		}
		var req struct {
			Method string                       `json:"method"`
			Params []map[string]json.RawMessage `json:"params"`
		}
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &req) != nil || len(req.Params) != 1 {
			http.Error(w, "bad request", 400)
			return
		}
		got = seen{method: req.Method, prio: r.Header.Get("X-High-Priority"), reqID: r.Header.Get("X-Request-ID"), params: req.Params[0]}
		_, _ = io.WriteString(w, reply)
	}))
	defer srv.Close()
	defer close(block)
	x, err := NewExecutionSimulator(srv.URL, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root := phase0.Root{9}
	for _, c := range []struct {
		v      spec.DataVersion
		method string
	}{{spec.DataVersionElectra, "flashbots_validateBuilderSubmissionV4"}, {spec.DataVersionFulu, "flashbots_validateBuilderSubmissionV5"}} {
		s := testSubmission(c.v, 1)
		if err := x.Simulate(ctx, &SimulationRequest{Submission: s, RegisteredGasLimit: 36_000_000, ParentBeaconBlockRoot: root, HighPriority: true}); err != nil {
			t.Fatalf("%s: %v", c.v, err)
		}
		if got.method != c.method || got.prio != "true" || got.reqID != "5/"+s.Trace.BlockHash.String() {
			t.Fatalf("%s: method %s, X-High-Priority %q, X-Request-ID %q", c.v, got.method, got.prio, got.reqID)
		}
		for _, f := range []string{"message", "execution_payload", "blobs_bundle", "execution_requests", "signature"} {
			if len(got.params[f]) == 0 || string(got.params[f]) == "null" {
				t.Fatalf("%s: no %s in the request", c.v, f)
			}
		}
		if string(got.params["registered_gas_limit"]) != `"36000000"` || string(got.params["parent_beacon_block_root"]) != `"`+root.String()+`"` {
			t.Fatalf("%s: registered_gas_limit %s parent_beacon_block_root %s", c.v, got.params["registered_gas_limit"], got.params["parent_beacon_block_root"])
		}
	}
	s := testSubmission(spec.DataVersionElectra, 0)
	if err := x.Simulate(ctx, &SimulationRequest{Submission: s}); err != nil || got.prio != "" {
		t.Fatalf("low priority: %v, X-High-Priority %q", err, got.prio)
	}
	reply = `{"jsonrpc":"2.0","id":"1","error":{"code":-32000,"message":"incorrect gas limit set","data":"want 36000000"}}`
	var se *SimulationError
	if err := x.Simulate(ctx, &SimulationRequest{Submission: s}); !errors.As(err, &se) || se.Reason != `incorrect gas limit set ("want 36000000")` {
		t.Fatalf("refusal: %v", err)
	}
	reply = `<html>bad gateway</html>`
	if err := x.Simulate(ctx, &SimulationRequest{Submission: s}); err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), "not JSON-RPC") {
		t.Fatalf("not JSON-RPC: %v", err)
	}
	reply = "stall"
	if err := x.Simulate(ctx, &SimulationRequest{Submission: s}); !errors.Is(err, ErrSimulationTimeout) {
		t.Fatalf("no answer: %v, want ErrSimulationTimeout", err)
	}
	if _, err := NewExecutionSimulator("ftp://x", 0); err == nil {
		t.Fatal("an ftp URL was accepted")
	}
	if _, err := ValidationMethod(spec.DataVersionDeneb); err == nil {
		t.Fatal("a validation method for deneb")
	}
}
