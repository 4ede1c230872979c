package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	builderfulu "github.com/attestantio/go-builder-client/api/fulu"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
	"github.com/klauspost/compress/gzip"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/mev"
	"github.com/zkvlabs/zkv/pbs"
)

// Every check of the submission pipeline refuses with 400 and names itself; each case breaks
// exactly one thing of an otherwise valid submission (which the first row shows is accepted).
func TestSubmissionChecks(t *testing.T) {
	h := newHarness(t)
	h.registerThroughNode()
	a := h.at(1, 0)
	idx, pk := h.proposer(1)
	_, otherPK := h.proposer(2)
	fee := feeRecipient(idx)
	tag := byte(0)
	fresh := func() *mev.Submission { tag++; return h.builder.build(a, pk, fee, 1_000_000+uint64(tag), tag) }
	resign := h.builder.resign

	cases := []struct {
		name string
		step string // the message's prefix; "" for accepted
		mod  func(s *mev.Submission)
	}{
		{"valid", "", func(*mev.Submission) {}},
		{"fulu body for an electra slot", "fork", func(s *mev.Submission) { s.Version = spec.DataVersionFulu }},
		{"past slot", "slot", func(s *mev.Submission) { s.Trace.Slot = 0; resign(s) }},
		{"slot too far ahead", "slot", func(s *mev.Submission) { s.Trace.Slot = 5; resign(s) }},
		{"timestamp", "timestamp", func(s *mev.Submission) { s.Payload.Timestamp++ }},
		{"other proposer", "proposer", func(s *mev.Submission) { s.Trace.ProposerPubkey = otherPK; resign(s) }},
		{"fee recipient not registered", "proposer", func(s *mev.Submission) { s.Trace.ProposerFeeRecipient[19] ^= 1; resign(s) }},
		{"trace block hash", "bid trace", func(s *mev.Submission) { s.Trace.BlockHash[0] ^= 1; resign(s) }},
		{"trace parent hash", "bid trace", func(s *mev.Submission) { s.Trace.ParentHash[0] ^= 1; resign(s) }},
		{"trace gas limit", "bid trace", func(s *mev.Submission) { s.Trace.GasLimit++; resign(s) }},
		{"trace gas used", "bid trace", func(s *mev.Submission) { s.Trace.GasUsed++; resign(s) }},
		{"zero value", "bid trace", func(s *mev.Submission) { s.Trace.Value = uint256.NewInt(0); resign(s) }},
		{"blobs bundle lengths", "bid trace", func(s *mev.Submission) { s.Bundle = &builderfulu.BlobsBundle{Blobs: make([]deneb.Blob, 1)} }},
		{"unknown parent", "payload attributes", func(s *mev.Submission) {
			s.Payload.ParentHash[0] ^= 1
			s.Trace.ParentHash = s.Payload.ParentHash
			resign(s)
		}},
		{"withdrawals", "payload attributes", func(s *mev.Submission) {
			s.Payload.Withdrawals = append(s.Payload.Withdrawals, &capella.Withdrawal{Index: 1, Amount: 1})
		}},
		{"prev_randao", "payload attributes", func(s *mev.Submission) { s.Payload.PrevRandao[0] ^= 1 }},
		{"block hash does not commit to the payload", "payload attributes", func(s *mev.Submission) { s.Payload.ExtraData = []byte("other") }},
		{"signature of another key", "signature", func(s *mev.Submission) {
			sk, _ := bls.GenerateSecretKey()
			s.Signature, _ = pbs.Sign(sk, s.Trace, pbs.BuilderDomain(phase0.Version{0x10, 0, 0, 0x7a}))
		}},
		{"signature under another domain", "signature", func(s *mev.Submission) {
			s.Signature, _ = pbs.Sign(h.builder.sk, s.Trace, pbs.BuilderDomain(phase0.Version{}))
		}},
		{"signature not a point", "signature", func(s *mev.Submission) { s.Signature[5] ^= 0xff }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := fresh()
			c.mod(s)
			code, msg := h.builder.post(s, pbs.MediaSSZ, "?cancellations=1", func(r *http.Request) { r.Header.Set("Eth-Consensus-Version", s.Version.String()) })
			if c.step == "" {
				if code != http.StatusOK {
					t.Fatalf("valid submission refused: %d %s", code, msg)
				}
				return
			}
			var e struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if code != http.StatusBadRequest || json.Unmarshal([]byte(msg), &e) != nil || !strings.HasPrefix(e.Message, c.step+":") {
				t.Fatalf("got %d %s, want 400 from the %q check", code, msg, c.step)
			}
		})
	}

	// The refusals are counted by check.
	resp, err := http.Get(h.plainRelayURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`zkv_relay_submissions_total{result="accepted"} 1`, `zkv_relay_submissions_total{result="bid_trace"} 6`,
		`zkv_relay_submissions_total{result="signature"} 3`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// The parent beacon block root: a payload built on another beacon parent hashes differently.
	t.Run("parent beacon block root", func(t *testing.T) {
		b := *a
		b.ParentBeaconBlockRoot[0] ^= 1
		s := h.builder.build(&b, pk, fee, 5, 99)
		if code, msg := h.builder.post(s, pbs.MediaSSZ, "", nil); code != http.StatusBadRequest || !strings.Contains(msg, "parent beacon block root") {
			t.Fatalf("got %d %s", code, msg)
		}
	})
}

// Bodies that do not decode, are too large, inflate too far, or are of another fork.
func TestSubmissionBodies(t *testing.T) {
	h := newHarness(t)
	h.registerThroughNode()
	a := h.at(1, 0)
	idx, pk := h.proposer(1)
	good := h.builder.build(a, pk, feeRecipient(idx), 1_000, 1)
	ssz, _ := good.Encode(pbs.MediaSSZ)
	js, _ := good.Encode(pbs.MediaJSON)
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		_, _ = w.Write(b)
		_ = w.Close()
		return buf.Bytes()
	}
	bomb := gz(make([]byte, mev.MaxSubmissionBytes+1)) // about 16 KiB that inflate past the cap
	if len(bomb) > 1<<20 {
		t.Fatalf("bomb of %d bytes", len(bomb))
	}
	gzipped := func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }
	cases := []struct {
		name        string
		body        []byte
		media       string
		mod         func(*http.Request)
		code        int
		msgContains string
	}{
		{"ssz", ssz, pbs.MediaSSZ, nil, 200, ""},
		{"json", js, pbs.MediaJSON, nil, 200, ""},
		{"gzip ssz", gz(ssz), pbs.MediaSSZ, gzipped, 200, ""},
		{"truncated ssz", ssz[:len(ssz)-10], pbs.MediaSSZ, nil, 400, "decode"},
		{"empty", nil, pbs.MediaSSZ, nil, 400, "decode"},
		{"json garbage", []byte(`{"message":`), pbs.MediaJSON, nil, 400, "decode"},
		{"json without payload", []byte(`{"message":{}}`), pbs.MediaJSON, nil, 400, "decode"},
		{"json trailing data", append(append([]byte{}, js...), []byte(`{}`)...), pbs.MediaJSON, nil, 400, "decode"},
		{"oversized", make([]byte, mev.MaxSubmissionBytes+1), pbs.MediaSSZ, nil, 400, "larger than"},
		{"gzip bomb", bomb, pbs.MediaSSZ, gzipped, 400, "inflates past"},
		{"not gzip", ssz, pbs.MediaSSZ, gzipped, 400, "gzip"},
		{"unknown encoding", ssz, pbs.MediaSSZ, func(r *http.Request) { r.Header.Set("Content-Encoding", "br") }, 400, "Content-Encoding"},
		{"unknown version", ssz, pbs.MediaSSZ, func(r *http.Request) { r.Header.Set("Eth-Consensus-Version", "deneb") }, 400, "decode"},
		{"electra body as fulu", ssz, pbs.MediaSSZ, func(r *http.Request) { r.Header.Set("Eth-Consensus-Version", "fulu") }, 400, ""},
		{"text/plain", ssz, "text/plain", nil, 415, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, msg := h.builder.postRaw(c.body, c.media, "?cancellations=1", c.mod)
			if code != c.code || !strings.Contains(msg, c.msgContains) {
				t.Fatalf("got %d %s, want %d containing %q", code, msg, c.code, c.msgContains)
			}
		})
	}
}

// The auction: bids without cancellations raise a floor that later bids must beat and cannot
// withdraw; with cancellations a builder lowers its own bid; the top bid is what getHeader
// serves; after delivery no submission is taken for the slot.
func TestAuction(t *testing.T) {
	h := newHarness(t)
	h.registerThroughNode()
	a := h.at(1, 0)
	idx, pk := h.proposer(1)
	fee := feeRecipient(idx)
	post := func(value uint64, tag byte, query string) (*mev.Submission, int, string) {
		s := h.builder.build(a, pk, fee, value, tag)
		code, msg := h.builder.post(s, pbs.MediaSSZ, query, nil)
		return s, code, msg
	}
	top := func() uint64 {
		t.Helper()
		bid, err := h.getHeader(1, a.ParentBlockHash, pk)
		if err != nil || bid == nil || bid.Electra == nil {
			t.Fatalf("getHeader: %v %v", bid, err)
		}
		return bid.Electra.Message.Value.Uint64()
	}
	if _, code, msg := post(20, 1, "?cancellations=1"); code != 200 {
		t.Fatalf("%d %s", code, msg)
	}
	if got := top(); got != 20 {
		t.Fatalf("top %d, want 20", got)
	}
	if _, code, msg := post(15, 2, "?cancellations=1"); code != 200 {
		t.Fatalf("%d %s", code, msg)
	}
	if got := top(); got != 15 {
		t.Fatalf("after a cancellation the top is %d, want 15", got)
	}
	if _, code, msg := post(12, 3, ""); code != 200 {
		t.Fatalf("%d %s", code, msg)
	}
	if _, code, msg := post(11, 4, ""); code != 400 || !strings.Contains(msg, "bid floor:") {
		t.Fatalf("below the floor without cancellations: %d %s", code, msg)
	}
	if _, code, msg := post(5, 5, "?cancellations=1"); code != 200 {
		t.Fatalf("%d %s", code, msg)
	}
	if got := top(); got != 12 {
		t.Fatalf("the floor bid must stay: top %d, want 12", got)
	}
	if _, err := h.unblind(h.blindedProposal(1, 1), false); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	if _, code, msg := post(100, 6, "?cancellations=1"); code != 400 || !strings.Contains(msg, "delivered:") {
		t.Fatalf("after delivery: %d %s", code, msg)
	}
	// builder_blocks_received lists the accepted bids of the slot.
	resp, err := http.Get(h.plainRelayURL() + "/relay/v1/data/bidtraces/builder_blocks_received?slot=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []mev.TraceJSON
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got) != 4 {
		t.Fatalf("builder_blocks_received: %v, %d entries, want 4", err, len(got))
	}
}
