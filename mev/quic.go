package mev

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/pbs"
	"github.com/zkvlabs/zkv/transport"
	"github.com/zkvlabs/zkv/transport/frame"
)

// Frame types of the relay's QUIC door (transport protocol "zkv/1"; 0x01-0xef are the
// application's). The frame's Fork is the payload's go-eth2-client spec.DataVersion.
const (
	// TypeSubmission is a builder submission request: one flags byte (bit 0: cancellations,
	// as ?cancellations=1 over HTTP), then the SSZ SubmitBlockRequest of the frame's fork
	// (0: the fork of the current slot). The relay answers TypeSubmitted, or an error frame
	// (transport.ErrCodeRequestRejected) whose message is the refusal HTTP gives, word for word.
	TypeSubmission frame.Type = 0x20
	// TypeSubmitted accepts a submission: the slot (uint64, little-endian) and one byte, 1 when
	// the bid became its auction's top bid.
	TypeSubmitted frame.Type = 0x21
	// TypeTopBid, on TopBidTopic, is a new top bid of an auction (slot, parent, proposer): the
	// relay-signed builder-specs SignedBuilderBid in SSZ, as getHeader serves it. The auction is
	// in the bid: the header's parent hash and timestamp (the slot), and the proposer is the
	// slot's.
	TypeTopBid frame.Type = 0x22
)

// TopBidTopic is the topic proposers and builders subscribe to for TypeTopBid frames.
const TopBidTopic = "relay/top_bids"

// submittedSize is the payload size of a TypeSubmitted frame.
const submittedSize = 9

// topBidPublisher publishes an auction's new top bids; one at a time, so that a subscriber
// never sees an older top bid after a newer one of the same auction.
type topBidPublisher struct {
	mu      sync.Mutex
	publish func(frame.Frame) error
}

// QUICServer returns a transport server for the relay's QUIC door: TypeSubmission requests,
// checked by the same code as POST /relay/v1/builder/blocks, and the TopBidTopic stream. cfg
// gives the identity's allow-list (Peers: the builders and proposers pinned by key) and the
// transport knobs; its Requests and Topics are the relay's. Call it once, before Run; the
// caller listens and runs the server.
func (r *Relay) QUICServer(id *transport.Identity, cfg transport.ServerConfig) (*transport.Server, error) {
	if cfg.MaxRequestSize == 0 {
		cfg.MaxRequestSize = int(r.cfg.MaxBodyBytes) + 1
	}
	cfg.Requests = map[frame.Type]transport.RequestHandler{TypeSubmission: r.handleQUICSubmission}
	cfg.Topics = []string{TopBidTopic}
	srv, err := transport.NewServer(id, cfg)
	if err != nil {
		return nil, fmt.Errorf("mev: QUIC server: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.top != nil {
		return nil, errors.New("mev: the relay already has a QUIC server")
	}
	r.top = &topBidPublisher{publish: func(f frame.Frame) error { _, err := srv.Publish(TopBidTopic, f); return err }}
	return srv, nil
}

// handleQUICSubmission is the QUIC door of SubmitBlock.
func (r *Relay) handleQUICSubmission(ctx context.Context, _ transport.PeerID, req frame.Frame) (frame.Frame, error) {
	if len(req.Payload) == 0 {
		return frame.Frame{}, refuse(StepDecode, "empty submission frame: want a flags byte and the SSZ submission")
	}
	flags := req.Payload[0]
	if flags&^1 != 0 {
		return frame.Frame{}, refuse(StepDecode, "submission flags %#x: only bit 0 (cancellations) is defined", flags)
	}
	res, err := r.SubmitBlock(ctx, req.Payload[1:], SubmitOpts{Media: pbs.MediaSSZ, Version: spec.DataVersion(req.Fork), Cancellations: flags&1 != 0})
	if err != nil {
		// The error frame carries err's text: the refusal HTTP writes in its message field.
		return frame.Frame{}, err
	}
	p := binary.LittleEndian.AppendUint64(make([]byte, 0, submittedSize), uint64(res.Slot))
	if res.Top {
		p = append(p, 1)
	} else {
		p = append(p, 0)
	}
	return frame.Frame{Type: TypeSubmitted, Fork: req.Fork, Payload: p}, nil
}

// SubmissionFrame encodes s as a TypeSubmission request (the builder's side of the QUIC door).
func SubmissionFrame(s *Submission, cancellations bool) (frame.Frame, error) {
	b, err := s.Encode(pbs.MediaSSZ)
	if err != nil {
		return frame.Frame{}, err
	}
	p := make([]byte, 1, 1+len(b))
	if cancellations {
		p[0] = 1
	}
	return frame.Frame{Type: TypeSubmission, Fork: frame.Fork(s.Version), Payload: append(p, b...)}, nil
}

// ParseSubmitted decodes the relay's answer to a TypeSubmission request.
func ParseSubmitted(f frame.Frame) (slot phase0.Slot, top bool, err error) {
	if f.Type != TypeSubmitted || len(f.Payload) != submittedSize || f.Payload[8] > 1 {
		return 0, false, fmt.Errorf("mev: not a submission answer: type %#x, %d bytes", f.Type, len(f.Payload))
	}
	return phase0.Slot(binary.LittleEndian.Uint64(f.Payload)), f.Payload[8] == 1, nil
}

// publishTop signs b, the new top bid of the auction key, and publishes it on TopBidTopic,
// unless a later bid has taken its place meanwhile. A failure is logged: the bid stands.
func (r *Relay) publishTop(key auctionKey, b *bid) {
	r.mu.Lock()
	p := r.top
	r.mu.Unlock()
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r.mu.Lock()
	au := r.auctions[key]
	current := au != nil && au.top == b
	r.mu.Unlock()
	if !current {
		return
	}
	signed, err := b.sign(r.cfg.SecretKey, r.pubkey, r.domain)
	if err == nil {
		var ssz []byte
		if ssz, err = signedBid(signed).MarshalSSZ(); err == nil {
			err = p.publish(frame.Frame{Type: TypeTopBid, Fork: frame.Fork(signed.Version), Payload: ssz})
		}
	}
	if err != nil {
		r.log.Warn("top bid not published", "slot", key.slot, "error", err)
	}
}
