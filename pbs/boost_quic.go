package pbs

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	builderspec "github.com/attestantio/go-builder-client/spec"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/transport"
	"github.com/zkvlabs/zkv/transport/frame"
)

// The relay's top-bid stream, as mev/quic.go defines it (TypeTopBid and TopBidTopic there;
// pbs sits below mev and cannot import it, and devnet/e2e checks the two agree): on the topic
// relay/top_bids, frames of type 0x22 whose fork byte is the go-eth2-client spec.DataVersion
// and whose payload is the relay-signed SSZ SignedBuilderBid, as getHeader serves it.
const (
	TopBidFrameType frame.Type = 0x22
	TopBidTopic                = "relay/top_bids"
)

// maxStreamedAuctions bounds the bids a stream keeps: the oldest auctions go first.
const maxStreamedAuctions = 64

// Resubscription back-off bounds after a stream ends (the client redials on its own).
const (
	minResubscribe = 100 * time.Millisecond
	maxResubscribe = 5 * time.Second
)

// streamKey is an auction as a streamed bid names it: the execution timestamp of its slot and
// the parent hash. The relay runs one auction per (slot, parent, proposer) and publishes only
// its slot's proposer's, so (timestamp, parent) picks it.
type streamKey struct {
	timestamp uint64
	parent    phase0.Hash32
}

// bidStream holds the latest top bid per auction a relay streamed, while the subscription is
// live: a gap in the stream could hide a newer top bid, so the bids are dropped when it ends
// and getHeader asks that relay over HTTP until new ones arrive.
type bidStream struct {
	mu     sync.Mutex
	live   bool
	bids   map[streamKey]*builderspec.VersionedSignedBuilderBid
	cancel context.CancelFunc
}

func newBidStream() *bidStream {
	return &bidStream{bids: map[streamKey]*builderspec.VersionedSignedBuilderBid{}}
}

func (s *bidStream) get(k streamKey) *builderspec.VersionedSignedBuilderBid {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.live {
		return nil
	}
	return s.bids[k]
}

func (s *bidStream) put(k streamKey, bid *builderspec.VersionedSignedBuilderBid) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.live {
		return
	}
	s.bids[k] = bid
	for len(s.bids) > maxStreamedAuctions {
		oldest := k
		for o := range s.bids {
			if o.timestamp < oldest.timestamp {
				oldest = o
			}
		}
		delete(s.bids, oldest)
	}
}

func (s *bidStream) setLive(live bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = live
	clear(s.bids)
}

func (s *bidStream) isLive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

func (s *bidStream) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
}

// Run subscribes to the top-bid stream of every relay with a QUIC door (and of those a later
// SetRelayConfig adds) until ctx ends, then waits for the subscriptions to end. getHeader
// works without Run, over HTTP only.
func (b *Boost) Run(ctx context.Context) error {
	b.mu.Lock()
	if b.runCtx != nil {
		b.mu.Unlock()
		return errors.New("pbs: Boost.Run called twice")
	}
	b.runCtx = ctx
	for _, r := range b.state.Load().all {
		if r.stream != nil && b.cfg.GenesisTime.IsZero() {
			b.log.Warn("relay streams its top bids but the boost has no genesis time to read their slots: HTTP only", "relay", r.URL)
		}
		b.startStreamLocked(r)
	}
	b.mu.Unlock()
	<-ctx.Done()
	// runCtx stays set (and done): no stream starts after this, and Run does not run twice.
	b.mu.Lock() // a stream started under the lock before ctx ended has joined the group by now
	b.mu.Unlock()
	b.streams.Wait()
	return nil
}

// startStreamLocked starts r's subscription in Run's context; b.mu is held.
func (b *Boost) startStreamLocked(r *relay) {
	if r.stream == nil || b.runCtx == nil || b.runCtx.Err() != nil {
		return
	}
	ctx, cancel := context.WithCancel(b.runCtx)
	r.stream.mu.Lock()
	r.stream.cancel = cancel
	r.stream.mu.Unlock()
	b.streams.Go(func() {
		defer cancel()
		b.streamRelay(ctx, r)
	})
}

// streamRelay keeps a subscription to r's top-bid stream until ctx ends, subscribing again
// with back-off when it ends.
func (b *Boost) streamRelay(ctx context.Context, r *relay) {
	log := b.log.With("relay", r.URL, "quic", r.QUICAddr)
	c, err := transport.NewClient(b.cfg.Identity, transport.ClientConfig{Config: transport.Config{Logger: b.log, MaxBackoff: maxResubscribe},
		Addr: r.QUICAddr, Server: r.QUICPeer})
	if err != nil {
		log.Error("relay's QUIC stream not started", "error", err)
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.Run(ctx) })
	defer wg.Wait()
	wait := minResubscribe
	for ctx.Err() == nil {
		sub, err := c.Subscribe(ctx, TopBidTopic)
		if err != nil {
			if ctx.Err() == nil {
				log.Debug("top-bid subscription failed", "error", err)
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
				wait = min(2*wait, maxResubscribe)
			}
			continue
		}
		wait = minResubscribe
		r.stream.setLive(true)
		b.m.streamUp.WithLabelValues(r.name).Set(1)
		log.Info("subscribed to the relay's top-bid stream")
		for {
			f, err := sub.Next()
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("top-bid stream ended; HTTP until it is back", "error", err)
				}
				break
			}
			b.acceptStreamed(r, f)
		}
		_ = sub.Close()
		r.stream.setLive(false)
		b.m.streamUp.WithLabelValues(r.name).Set(0)
	}
}

// acceptStreamed checks a streamed top bid as an HTTP one is checked (the relay's key, the
// builder-domain signature, a non-zero value and block hash; the parent hash and min-bid at
// getHeader) and keeps it for its auction. The signature is verified here, off getHeader's path.
func (b *Boost) acceptStreamed(r *relay, f frame.Frame) {
	result := "accepted"
	defer func() { b.m.streamedBids.WithLabelValues(r.name, result).Inc() }()
	if f.Type != TopBidFrameType {
		result = "refused"
		b.log.Debug("unknown frame on the top-bid stream", "relay", r.URL, "type", f.Type)
		return
	}
	bid, err := sszBid(spec.DataVersion(f.Fork), bytes.Clone(f.Payload))
	var parent phase0.Hash32
	var ts uint64
	if err == nil {
		parent, err = bid.ParentHash()
	}
	if err == nil {
		ts, err = bid.Timestamp()
	}
	if err == nil {
		_, err = b.checkBid(r, bid, parent)
	}
	if err != nil {
		result = "refused"
		b.log.Warn("streamed bid refused", "relay", r.URL, "error", err)
		return
	}
	r.stream.put(streamKey{timestamp: ts, parent: parent}, bid)
}
