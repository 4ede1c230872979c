package mev

import (
	"context"
	"sync"

	builderelectra "github.com/attestantio/go-builder-client/api/electra"
	builderspec "github.com/attestantio/go-builder-client/spec"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/pbs"
)

// auctionKey identifies an auction: builder-specs getHeader's (slot, parent_hash, pubkey).
type auctionKey struct {
	slot     phase0.Slot
	parent   phase0.Hash32
	proposer phase0.BLSPubKey
}

// bid is an accepted submission as the auction holds it. Its relay-signed form is made once,
// by the first getHeader that serves it.
type bid struct {
	version  spec.DataVersion
	rec      *BidRecord
	header   *deneb.ExecutionPayloadHeader
	blobs    []deneb.KZGCommitment
	requests *electra.ExecutionRequests
	value    *uint256.Int
	seq      uint64 // arrival order

	once   sync.Once
	signed *builderspec.VersionedSignedBuilderBid
	err    error

	storeMu sync.Mutex
	payload *Payload // until the Store holds it (bid.store), then nil
	served  bool     // the Store records its header as served (markServed); guarded by storeMu
}

// markServed records durably, once, that b's header was served for the auction key.
func (b *bid) markServed(ctx context.Context, s Store, key auctionKey) error {
	b.storeMu.Lock()
	defer b.storeMu.Unlock()
	if b.served {
		return nil
	}
	if err := s.PutServed(ctx, key.slot, key.parent, key.proposer, b.header.BlockHash); err != nil {
		return err
	}
	b.served = true
	return nil
}

// sign returns the relay's signed builder bid for b (builder-specs BuilderBid under
// DOMAIN_APPLICATION_BUILDER), signing at most once.
func (b *bid) sign(sk *bls.SecretKey, pk phase0.BLSPubKey, domain phase0.Domain) (*builderspec.VersionedSignedBuilderBid, error) {
	b.once.Do(func() {
		m := &builderelectra.BuilderBid{Header: b.header, BlobKZGCommitments: b.blobs, ExecutionRequests: b.requests, Value: b.value, Pubkey: pk}
		sig, err := pbs.Sign(sk, m, domain)
		if err != nil {
			b.err = err
			return
		}
		sb := &builderelectra.SignedBuilderBid{Message: m, Signature: sig}
		b.signed = &builderspec.VersionedSignedBuilderBid{Version: b.version}
		if b.version == spec.DataVersionFulu {
			b.signed.Fulu = sb
		} else {
			b.signed.Electra = sb
		}
	})
	return b.signed, b.err
}

// auction holds one (slot, parent, proposer)'s bids as mev-boost-relay does: each builder's
// latest bid (with cancellations a builder may lower it), and a floor, the best bid submitted
// without cancellations, which no later bid can withdraw. The top bid is the best of the floor
// and the builders' latest bids; ties go to the earlier bid.
type auction struct {
	latest map[phase0.BLSPubKey]*bid
	floor  *bid
	top    *bid
}

func newAuction() *auction { return &auction{latest: map[phase0.BLSPubKey]*bid{}} }

// floorValue is the value a non-cancellable bid must exceed (nil when there is no floor).
func (a *auction) floorValue() *uint256.Int {
	if a.floor == nil {
		return nil
	}
	return a.floor.value
}

// add records b and reports whether it is now the top bid.
func (a *auction) add(b *bid, cancellable bool) bool {
	a.latest[b.rec.Trace.BuilderPubkey] = b
	if !cancellable && (a.floor == nil || b.value.Gt(a.floor.value)) {
		a.floor = b
	}
	top := a.floor
	for _, x := range a.latest {
		if top == nil || x.value.Gt(top.value) || (x.value.Eq(top.value) && x.seq < top.seq) {
			top = x
		}
	}
	a.top = top
	return top == b
}
