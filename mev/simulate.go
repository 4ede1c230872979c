package mev

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	builderfulu "github.com/attestantio/go-builder-client/api/fulu"
)

// Simulator executes a submission's block on top of its parent and says whether it is valid
// (an execution client's flashbots_validateBuilderSubmissionV*). Simulate returns nil for a
// valid block, a *SimulationError when the simulator refused the block, ErrSimulationTimeout
// when it did not answer in time, and any other error when it could not be asked.
type Simulator interface {
	Simulate(ctx context.Context, req *SimulationRequest) error
}

// SimulationRequest is what a block is simulated with: the submission, the gas limit its
// proposer registered, the slot's parent beacon block root (EIP-4788), and whether its builder
// has high priority.
type SimulationRequest struct {
	Submission            *Submission
	RegisteredGasLimit    uint64
	ParentBeaconBlockRoot phase0.Root
	HighPriority          bool
}

// SimulationError is a simulator's refusal of a block, with its reason.
type SimulationError struct{ Reason string }

func (e *SimulationError) Error() string { return "simulation failed: " + e.Reason }

// ErrSimulationTimeout: the simulator did not answer in time. A submission waiting for it is
// answered 504 (mev-boost-relay's "validation request timeout").
var ErrSimulationTimeout = errors.New("mev: simulation timed out")

// DefaultSimulationTimeout is mev-boost-relay's BLOCKSIM_TIMEOUT_MS default.
const DefaultSimulationTimeout = 10 * time.Second

// ExecutionSimulator is a Simulator over an execution client's JSON-RPC API with the flashbots
// builder's validation endpoint: flashbots_validateBuilderSubmissionV4 for Electra, V5 for Fulu,
// with the body mev-boost-relay sends (common/types_spec.go BuilderBlockValidationRequest:
// message, execution_payload, blobs_bundle, execution_requests, signature,
// registered_gas_limit, parent_beacon_block_root).
type ExecutionSimulator struct {
	url    string
	client *http.Client
	// Timeout bounds one simulation.
	timeout time.Duration
}

// NewExecutionSimulator returns a simulator calling url, each call bounded by timeout
// (DefaultSimulationTimeout when not positive).
func NewExecutionSimulator(url string, timeout time.Duration) (*ExecutionSimulator, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("mev: execution node URL %q: want http:// or https://", url)
	}
	if timeout <= 0 {
		timeout = DefaultSimulationTimeout
	}
	return &ExecutionSimulator{url: url, client: &http.Client{}, timeout: timeout}, nil
}

// validationRequest is the params[0] of flashbots_validateBuilderSubmissionV4/V5.
type validationRequest struct {
	Message               *builderapiv1.BidTrace     `json:"message"`
	ExecutionPayload      *deneb.ExecutionPayload    `json:"execution_payload"`
	BlobsBundle           *builderfulu.BlobsBundle   `json:"blobs_bundle"`
	ExecutionRequests     *electra.ExecutionRequests `json:"execution_requests"`
	Signature             string                     `json:"signature"`
	RegisteredGasLimit    uint64                     `json:"registered_gas_limit,string"`
	ParentBeaconBlockRoot string                     `json:"parent_beacon_block_root"`
}

// ValidationMethod is the JSON-RPC method that validates a submission of version v.
func ValidationMethod(v spec.DataVersion) (string, error) {
	switch v {
	case spec.DataVersionElectra:
		return "flashbots_validateBuilderSubmissionV4", nil
	case spec.DataVersionFulu:
		return "flashbots_validateBuilderSubmissionV5", nil
	}
	return "", fmt.Errorf("no block validation method for version %s", v)
}

type rpcRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      string `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type rpcResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
}

// Simulate implements Simulator.
func (x *ExecutionSimulator) Simulate(ctx context.Context, req *SimulationRequest) error {
	s := req.Submission
	method, err := ValidationMethod(s.Version)
	if err != nil {
		return err
	}
	body, err := json.Marshal(rpcRequest{JSONRPC: "2.0", ID: "1", Method: method, Params: []any{&validationRequest{
		Message: s.Trace, ExecutionPayload: s.Payload, BlobsBundle: s.Bundle, ExecutionRequests: s.Requests,
		Signature: fmt.Sprintf("%#x", s.Signature[:]), RegisteredGasLimit: req.RegisteredGasLimit,
		ParentBeaconBlockRoot: fmt.Sprintf("%#x", req.ParentBeaconBlockRoot[:]),
	}}})
	if err != nil {
		return fmt.Errorf("encode validation request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, x.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	// As mev-boost-relay: the simulator (or a prio-load-balancer in front of it) queues by these.
	hr.Header.Set("X-Request-ID", fmt.Sprintf("%d/%#x", s.Trace.Slot, s.Trace.BlockHash[:]))
	if req.HighPriority {
		hr.Header.Set("X-High-Priority", "true")
	}
	resp, err := x.client.Do(hr)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("%w after %s", ErrSimulationTimeout, x.timeout)
		}
		return fmt.Errorf("validation request: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("%w after %s", ErrSimulationTimeout, x.timeout)
		}
		return fmt.Errorf("read validation response: %w", err)
	}
	var res rpcResponse
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("validation response (HTTP %d) is not JSON-RPC: %.200q", resp.StatusCode, raw)
	}
	if res.Error != nil {
		reason := res.Error.Message
		if len(res.Error.Data) > 0 && string(res.Error.Data) != "null" {
			reason += " (" + string(res.Error.Data) + ")"
		}
		return &SimulationError{Reason: reason}
	}
	return nil
}

// simulateLate simulates an optimistically accepted bid after its builder has its answer, and
// demotes the builder when it fails, as mev-boost-relay's processOptimisticBlock: a failed
// request demotes too, except when the block has left the simulator's validation window, which
// is not the builder's fault.
func (r *Relay) simulateLate(req *SimulationRequest) {
	t := req.Submission.Trace
	start := time.Now()
	err := r.cfg.Simulator.Simulate(context.Background(), req)
	r.m.simulationMs.Observe(float64(time.Since(start).Microseconds()) / 1000)
	r.m.simulations.WithLabelValues(simulationResult(err), "optimistic").Inc()
	if err == nil {
		return
	}
	if msg := err.Error(); strings.Contains(msg, "block is too old") || strings.Contains(msg, "outside validation window") {
		r.log.Warn("optimistic block simulation failed outside the validation window: builder not demoted", "slot", t.Slot, "error", err)
		return
	}
	r.demote(context.Background(), t.BuilderPubkey, phase0.Slot(t.Slot), t.BlockHash, fmt.Sprintf("late simulation: %v", err))
}

func simulationResult(err error) string {
	var se *SimulationError
	switch {
	case err == nil:
		return "valid"
	case errors.As(err, &se):
		return "invalid"
	case errors.Is(err, ErrSimulationTimeout):
		return "timeout"
	}
	return "error"
}
