package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
	"github.com/zkvlabs/zkv/transport"
	"github.com/zkvlabs/zkv/transport/frame"
)

// Errors of SubmitProofs' per-item results. A duplicate is not a failure (the pool has the
// attestation's proof); callers that count it branch on ErrDuplicate.
var (
	ErrDuplicate = errors.New("pool: duplicate proof")
	ErrRefused   = errors.New("pool: proof refused")
)

// StatusError is the pool's answer to one proof that was not accepted. It matches
// ErrDuplicate for a duplicate and ErrRefused otherwise, and the prover's error where one
// applies (prover.ErrMalformed, prover.ErrWrongStatement for an unknown root or another
// statement, prover.ErrInvalidProof).
type StatusError struct {
	Status Status
	Reason string
}

func (e *StatusError) Error() string {
	if e.Reason == "" {
		return "pool: " + e.Status.String()
	}
	return "pool: " + e.Status.String() + ": " + e.Reason
}

// Unwrap returns the sentinels the status matches.
func (e *StatusError) Unwrap() []error {
	switch e.Status {
	case StatusDuplicate:
		return []error{ErrDuplicate}
	case StatusMalformed:
		return []error{ErrRefused, prover.ErrMalformed}
	case StatusUnknownRoot, StatusWrongStatement:
		return []error{ErrRefused, prover.ErrWrongStatement}
	case StatusInvalidProof:
		return []error{ErrRefused, prover.ErrInvalidProof}
	}
	return []error{ErrRefused}
}

// ClientConfig configures a Client: the pool's QUIC address and key are required.
type ClientConfig struct {
	transport.Config
	Addr   string           // the pool's UDP address, host:port
	Server transport.PeerID // the pool's key, pinned
}

// Client talks to one pool over QUIC. Run keeps its connection; calls made while it is down
// wait for it until their context ends.
//
// Errors its callers may see: a *transport.Error (the pool refused a registration or a
// member request: its Message says why; or a transport failure), the context's error,
// ErrMalformed for an answer that does not decode.
type Client struct {
	t *transport.Client
}

// NewClient returns a client for identity id. It starts nothing.
func NewClient(id *transport.Identity, cfg ClientConfig) (*Client, error) {
	t, err := transport.NewClient(id, transport.ClientConfig{Config: cfg.Config, Addr: cfg.Addr, Server: cfg.Server})
	if err != nil {
		return nil, err
	}
	return &Client{t: t}, nil
}

// Run keeps the connection to the pool until ctx ends (transport.Client.Run).
func (c *Client) Run(ctx context.Context) error { return c.t.Run(ctx) }

// Close stops the client at once.
func (c *Client) Close() error { return c.t.Close() }

// Register sends a registration; nil means the pool queued it for its next seal.
func (c *Client) Register(ctx context.Context, reg registry.Registration) error {
	b := reg.Bytes()
	f, err := c.t.Request(ctx, frame.Frame{Type: TypeRegistration, Payload: b[:]})
	if err != nil {
		return err
	}
	if f.Type != TypeRegistered {
		return fmt.Errorf("%w: answer of type %#x to a registration", ErrMalformed, f.Type)
	}
	return nil
}

// Member returns the key's registry entry with the path to the pool's root of epoch.
func (c *Client) Member(ctx context.Context, pubkey [48]byte, epoch uint64) (registry.Member, error) {
	f, err := c.t.Request(ctx, frame.Frame{Type: TypeMember, Payload: encodeMemberRequest(pubkey, epoch)})
	if err != nil {
		return registry.Member{}, memberRefusal(err)
	}
	if f.Type != TypeMemberAnswer {
		return registry.Member{}, fmt.Errorf("%w: answer of type %#x to a member request", ErrMalformed, f.Type)
	}
	m, err := DecodeMember(f.Payload)
	if err != nil {
		return registry.Member{}, err
	}
	if m.Pubkey != pubkey {
		return registry.Member{}, fmt.Errorf("%w: member answer for another key", ErrMalformed)
	}
	return m, nil
}

// SubmitProofs sends claims with their attestations' signing roots, in requests of at most
// MaxBatch, and returns one error per claim: nil when the pool accepted it, a *StatusError
// otherwise (wrapping ErrDuplicate for a proof the pool has already, which the caller may
// forget as well). Every answered item is final: an accepted one's nullifier is durable at
// the pool. The second result is a transport failure; the items not answered before it
// should be sent again.
func (c *Client) SubmitProofs(ctx context.Context, claims []prover.Claim, signingRoots [][32]byte) ([]error, error) {
	if len(claims) != len(signingRoots) {
		return nil, fmt.Errorf("pool: %d claims with %d signing roots", len(claims), len(signingRoots))
	}
	out := make([]error, len(claims))
	for start := 0; start < len(claims); start += MaxBatch {
		end := min(start+MaxBatch, len(claims))
		items := make([]Item, end-start)
		for i := range items {
			items[i] = Item{Claim: claims[start+i], SigningRoot: signingRoots[start+i]}
		}
		f, err := c.t.Request(ctx, frame.Frame{Type: TypeProofBatch, Payload: EncodeBatch(items)})
		if err != nil {
			return out, err
		}
		if f.Type != TypeBatchAnswer {
			return out, fmt.Errorf("%w: answer of type %#x to a proof batch", ErrMalformed, f.Type)
		}
		as, err := DecodeAnswers(f.Payload)
		if err != nil {
			return out, err
		}
		if len(as) != len(items) {
			return out, fmt.Errorf("%w: %d answers for %d proofs", ErrMalformed, len(as), len(items))
		}
		for i, a := range as {
			if a.Status != StatusAccepted {
				out[start+i] = &StatusError{Status: a.Status, Reason: a.Reason}
			}
		}
	}
	return out, nil
}

// SubscribeEvidence calls fn with each piece of evidence the pool publishes from now on,
// until ctx ends (it then returns nil) or the subscription ends (it returns why; subscribe
// again after a reconnect). Frames of other types on the topic are skipped. fn runs on the calling goroutine. Evidence is passed as the pool
// sent it: check it (prover.Evidence.Check) before acting on it.
func (c *Client) SubscribeEvidence(ctx context.Context, fn func(*prover.Evidence)) error {
	sub, err := c.t.Subscribe(ctx, EvidenceTopic)
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		f, err := sub.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if f.Type != TypeEvidence {
			continue // a frame type of a newer pool: not evidence this client knows how to read
		}
		var ev prover.Evidence
		if err := json.Unmarshal(f.Payload, &ev); err != nil {
			return fmt.Errorf("%w: evidence: %w", ErrMalformed, err)
		}
		fn(&ev)
	}
}

// memberRefusal gives a member request's refusal back its sentinel (the wire carries the
// message only), so that a caller can tell "not sealed yet, ask again" (ErrNoRoot) from
// refusals that asking again cannot change (ErrRevokedMember, ErrPathNotToRoot).
func memberRefusal(err error) error {
	var te *transport.Error
	if !errors.As(err, &te) || !te.Remote || te.Code != transport.ErrCodeRequestRejected {
		return err
	}
	for _, s := range []error{ErrNoRoot, ErrRevokedMember, ErrPathNotToRoot} {
		if strings.HasPrefix(te.Message, s.Error()) {
			return fmt.Errorf("%w (%w)", s, err)
		}
	}
	return err
}
