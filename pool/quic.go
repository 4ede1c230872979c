package pool

import (
	"context"
	"fmt"

	"github.com/zkvlabs/zkv/prover/registry"
	"github.com/zkvlabs/zkv/transport"
	"github.com/zkvlabs/zkv/transport/frame"
)

// QUICServer returns a transport server that serves the pool's requests (TypeProofBatch,
// TypeRegistration, TypeMember) and the EvidenceTopic subscription, with cfg's allow-list and
// knobs. The pool publishes new evidence on it. Listen and Run it next to Server.Run.
func (s *Server) QUICServer(id *transport.Identity, cfg transport.ServerConfig) (*transport.Server, error) {
	cfg.Requests = map[frame.Type]transport.RequestHandler{
		TypeProofBatch:   s.handleBatch,
		TypeRegistration: s.handleRegistration,
		TypeMember:       s.handleMember,
	}
	cfg.Topics = append(cfg.Topics, EvidenceTopic)
	q, err := transport.NewServer(id, cfg)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.quic = q
	s.mu.Unlock()
	return q, nil
}

// refused is an error the peer reads in the transport's error frame.
func refused(err error) error {
	return &transport.Error{Code: transport.ErrCodeRequestRejected, Message: err.Error()}
}

func (s *Server) handleBatch(ctx context.Context, _ transport.PeerID, req frame.Frame) (frame.Frame, error) {
	items, errs, err := DecodeBatch(req.Payload)
	if err != nil {
		s.m.proofs.WithLabelValues("malformed_frame").Inc()
		return frame.Frame{}, refused(err)
	}
	as, err := s.Submit(ctx, items, errs)
	if err != nil {
		return frame.Frame{}, err
	}
	return frame.Frame{Type: TypeBatchAnswer, Payload: EncodeAnswers(as)}, nil
}

func (s *Server) handleRegistration(_ context.Context, _ transport.PeerID, req frame.Frame) (frame.Frame, error) {
	reg, err := registry.RegistrationFromBytes(req.Payload)
	if err != nil {
		return frame.Frame{}, refused(fmt.Errorf("%w: registration: %w", ErrMalformed, err))
	}
	if err := s.Register(reg); err != nil {
		return frame.Frame{}, refused(err)
	}
	return frame.Frame{Type: TypeRegistered}, nil
}

func (s *Server) handleMember(_ context.Context, _ transport.PeerID, req frame.Frame) (frame.Frame, error) {
	pk, epoch, err := decodeMemberRequest(req.Payload)
	if err != nil {
		return frame.Frame{}, refused(err)
	}
	m, err := s.Member(pk, epoch)
	if err != nil {
		return frame.Frame{}, refused(err)
	}
	return frame.Frame{Type: TypeMemberAnswer, Payload: EncodeMember(&m)}, nil
}

func evidenceFrame(js []byte) frame.Frame {
	return frame.Frame{Type: TypeEvidence, Payload: js}
}
