package mev

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"

	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// TraceJSON is a bid trace in the data API's shape (mev-boost-relay BidTraceV2 and
// BidTraceV2WithTimestamp): decimal strings, 0x hex.
type TraceJSON struct {
	Slot                 string `json:"slot"`
	ParentHash           string `json:"parent_hash"`
	BlockHash            string `json:"block_hash"`
	BuilderPubkey        string `json:"builder_pubkey"`
	ProposerPubkey       string `json:"proposer_pubkey"`
	ProposerFeeRecipient string `json:"proposer_fee_recipient"`
	GasLimit             string `json:"gas_limit"`
	GasUsed              string `json:"gas_used"`
	Value                string `json:"value"`
	BlockNumber          string `json:"block_number"`
	NumTx                string `json:"num_tx"`
	Timestamp            string `json:"timestamp,omitempty"`
	TimestampMs          string `json:"timestamp_ms,omitempty"`
	// OptimisticSubmission, in builder_blocks_received only (mev-boost-relay's
	// BidTraceV2WithTimestamp): the bid was accepted before its simulation finished.
	OptimisticSubmission *bool `json:"optimistic_submission,omitempty"`
}

func traceJSON(rec *BidRecord) TraceJSON {
	t := rec.Trace
	j := TraceJSON{
		Slot: strconv.FormatUint(t.Slot, 10), ParentHash: fmt.Sprintf("%#x", t.ParentHash[:]), BlockHash: fmt.Sprintf("%#x", t.BlockHash[:]),
		BuilderPubkey: fmt.Sprintf("%#x", t.BuilderPubkey[:]), ProposerPubkey: fmt.Sprintf("%#x", t.ProposerPubkey[:]),
		ProposerFeeRecipient: fmt.Sprintf("%#x", t.ProposerFeeRecipient[:]), GasLimit: strconv.FormatUint(t.GasLimit, 10),
		GasUsed: strconv.FormatUint(t.GasUsed, 10), Value: t.Value.Dec(), BlockNumber: strconv.FormatUint(rec.BlockNumber, 10),
		NumTx: strconv.FormatUint(rec.NumTx, 10),
	}
	if !rec.ReceivedAt.IsZero() {
		j.Timestamp = strconv.FormatInt(rec.ReceivedAt.Unix(), 10)
		j.TimestampMs = strconv.FormatInt(rec.ReceivedAt.UnixMilli(), 10)
	}
	return j
}

// dataFilter is the query of the data API's bid-trace endpoints.
type dataFilter struct {
	slot, cursor, blockNumber *uint64
	blockHash                 *phase0.Hash32
	proposer, builder         *phase0.BLSPubKey
	limit                     int
	orderByValue              int // 0 by slot descending, 1 value ascending, -1 value descending
}

func parseDataFilter(q url.Values, maxLimit int) (*dataFilter, error) {
	f := &dataFilter{limit: maxLimit}
	u := func(name string) (*uint64, error) {
		s := q.Get(name)
		if s == "" {
			return nil, nil
		}
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, badRequest("invalid %s %q", name, s)
		}
		return &v, nil
	}
	var err error
	if f.slot, err = u("slot"); err != nil {
		return nil, err
	}
	if f.cursor, err = u("cursor"); err != nil {
		return nil, err
	}
	if f.blockNumber, err = u("block_number"); err != nil {
		return nil, err
	}
	if f.slot != nil && f.cursor != nil {
		return nil, badRequest("cannot specify both slot and cursor")
	}
	if l, err := u("limit"); err != nil {
		return nil, err
	} else if l != nil {
		if *l > uint64(maxLimit) {
			return nil, badRequest("maximum limit is %d", maxLimit)
		}
		f.limit = int(*l)
	}
	if s := q.Get("block_hash"); s != "" {
		var h phase0.Hash32
		if hexInto(h[:], s) != nil {
			return nil, badRequest("invalid block_hash %q", s)
		}
		f.blockHash = &h
	}
	for name, dst := range map[string]**phase0.BLSPubKey{"proposer_pubkey": &f.proposer, "builder_pubkey": &f.builder} {
		if s := q.Get(name); s != "" {
			var k phase0.BLSPubKey
			if hexInto(k[:], s) != nil {
				return nil, badRequest("invalid %s %q", name, s)
			}
			*dst = &k
		}
	}
	switch q.Get("order_by") {
	case "":
	case "value":
		f.orderByValue = 1
	case "-value":
		f.orderByValue = -1
	default:
		return nil, badRequest("invalid order_by %q: value or -value", q.Get("order_by"))
	}
	return f, nil
}

func (f *dataFilter) match(rec *BidRecord) bool {
	t := rec.Trace
	return (f.slot == nil || t.Slot == *f.slot) && (f.cursor == nil || t.Slot <= *f.cursor) &&
		(f.blockNumber == nil || rec.BlockNumber == *f.blockNumber) && (f.blockHash == nil || t.BlockHash == *f.blockHash) &&
		(f.proposer == nil || t.ProposerPubkey == *f.proposer) && (f.builder == nil || t.BuilderPubkey == *f.builder)
}

func (f *dataFilter) sortAndLimit(recs []*BidRecord) []TraceJSON {
	slices.SortStableFunc(recs, func(a, b *BidRecord) int {
		switch f.orderByValue {
		case 1:
			return a.Trace.Value.Cmp(b.Trace.Value)
		case -1:
			return b.Trace.Value.Cmp(a.Trace.Value)
		}
		if a.Trace.Slot != b.Trace.Slot {
			if a.Trace.Slot > b.Trace.Slot {
				return -1
			}
			return 1
		}
		return a.ReceivedAt.Compare(b.ReceivedAt)
	})
	out := make([]TraceJSON, 0, min(len(recs), f.limit))
	for _, r := range recs[:min(len(recs), f.limit)] {
		out = append(out, traceJSON(r))
	}
	return out
}

// PayloadsDelivered answers /relay/v1/data/bidtraces/proposer_payload_delivered with
// mev-boost-relay's query parameters: slot, cursor, limit (at most 200), block_hash,
// block_number, proposer_pubkey, builder_pubkey, order_by (value, -value).
func (r *Relay) PayloadsDelivered(ctx context.Context, q url.Values) ([]TraceJSON, error) {
	f, err := parseDataFilter(q, 200)
	if err != nil {
		return nil, err
	}
	var recs []*BidRecord
	err = r.cfg.Store.Deliveries(ctx, func(d *Delivery) bool {
		rec := &BidRecord{Trace: d.Trace, BlockNumber: d.BlockNumber, NumTx: d.NumTx}
		if f.match(rec) {
			recs = append(recs, rec)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return f.sortAndLimit(recs), nil
}

// BlocksReceived answers /relay/v1/data/bidtraces/builder_blocks_received: slot, block_hash,
// block_number or builder_pubkey (at least one), limit (at most 500); oldest first per slot.
func (r *Relay) BlocksReceived(ctx context.Context, q url.Values) ([]TraceJSON, error) {
	f, err := parseDataFilter(q, 500)
	if err != nil {
		return nil, err
	}
	if f.slot == nil && f.blockHash == nil && f.blockNumber == nil && f.builder == nil {
		return nil, badRequest("need a query argument: slot, block_hash, block_number or builder_pubkey")
	}
	if f.cursor != nil || f.orderByValue != 0 {
		return nil, badRequest("cursor and order_by are not parameters of builder_blocks_received")
	}
	var recs []*BidRecord
	var slot *phase0.Slot
	if f.slot != nil {
		s := phase0.Slot(*f.slot)
		slot = &s
	}
	// Bids are written behind their acknowledgement; list every one acknowledged.
	if err := r.storePending(ctx); err != nil {
		return nil, err
	}
	if err := r.cfg.Store.Bids(ctx, slot, func(rec *BidRecord) bool {
		if f.match(rec) {
			recs = append(recs, rec)
		}
		return true
	}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	slices.SortStableFunc(recs, func(a, b *BidRecord) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
	out := make([]TraceJSON, 0, min(len(recs), f.limit))
	for _, rec := range recs[:min(len(recs), f.limit)] {
		j := traceJSON(rec)
		j.OptimisticSubmission = &rec.Optimistic
		out = append(out, j)
	}
	return out, nil
}
