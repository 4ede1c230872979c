package mev

import (
	"bytes"
	"errors"
	"testing"

	builderfulu "github.com/attestantio/go-builder-client/api/fulu"
	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
	"github.com/klauspost/compress/gzip"

	"github.com/zkvlabs/zkv/pbs"
)

func testSubmission(v spec.DataVersion, blobs int) *Submission {
	p := &deneb.ExecutionPayload{ParentHash: phase0.Hash32{1}, FeeRecipient: bellatrix.ExecutionAddress{2}, BlockNumber: 3,
		GasLimit: 36_000_000, GasUsed: 21_000, Timestamp: 9, ExtraData: []byte("b"), BaseFeePerGas: uint256.NewInt(7),
		BlockHash: phase0.Hash32{4}, Transactions: []bellatrix.Transaction{{2, 0xc0}}, Withdrawals: []*capella.Withdrawal{{Index: 1, Amount: 2}}}
	b := &builderfulu.BlobsBundle{Commitments: make([]deneb.KZGCommitment, blobs), Proofs: make([]deneb.KZGProof, blobs), Blobs: make([]deneb.Blob, blobs)}
	return &Submission{Version: v, Payload: p, Bundle: b, Signature: phase0.BLSSignature{0xc0},
		Requests: &electra.ExecutionRequests{Deposits: []*electra.DepositRequest{}, Withdrawals: []*electra.WithdrawalRequest{}, Consolidations: []*electra.ConsolidationRequest{}},
		Trace:    &builderapiv1.BidTrace{Slot: 5, ParentHash: p.ParentHash, BlockHash: p.BlockHash, GasLimit: p.GasLimit, GasUsed: p.GasUsed, Value: uint256.NewInt(10)}}
}

func TestSubmissionRoundTrip(t *testing.T) {
	for _, v := range []spec.DataVersion{spec.DataVersionElectra, spec.DataVersionFulu} {
		for _, media := range []string{pbs.MediaJSON, pbs.MediaSSZ} {
			s := testSubmission(v, 1)
			body, err := s.Encode(media)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeSubmission(body, media, v)
			if err != nil {
				t.Fatalf("%s %s: %v", v, media, err)
			}
			a, _ := s.Payload.HashTreeRoot()
			b, _ := got.Payload.HashTreeRoot()
			if a != b || *got.Trace.Value != *s.Trace.Value || got.Trace.BlockHash != s.Trace.BlockHash || len(got.Bundle.Blobs) != 1 {
				t.Fatalf("%s %s: round trip changed the submission", v, media)
			}
		}
	}
	// Missing parts are refused at the decode step.
	var se *SubmissionError
	if _, err := DecodeSubmission([]byte(`{"message":null}`), pbs.MediaJSON, spec.DataVersionElectra); !errors.As(err, &se) || se.Step != StepDecode {
		t.Fatalf("incomplete JSON: %v", err)
	}
	if _, err := DecodeSubmission([]byte{1, 2, 3}, pbs.MediaSSZ, spec.DataVersionDeneb); err == nil {
		t.Fatal("a deneb submission is accepted")
	}
}

func TestReadBody(t *testing.T) {
	var zipped bytes.Buffer
	w := gzip.NewWriter(&zipped)
	_, _ = w.Write(bytes.Repeat([]byte{7}, 1000))
	_ = w.Close()
	if b, err := ReadBody(bytes.NewReader(zipped.Bytes()), "gzip", 1000); err != nil || len(b) != 1000 {
		t.Fatalf("gzip at the cap: %d %v", len(b), err)
	}
	if _, err := ReadBody(bytes.NewReader(zipped.Bytes()), "gzip", 999); err == nil {
		t.Fatal("gzip inflating past the cap accepted")
	}
	if _, err := ReadBody(bytes.NewReader(make([]byte, 11)), "", 10); err == nil {
		t.Fatal("body past the cap accepted")
	}
	if _, err := ReadBody(bytes.NewReader([]byte("x")), "deflate", 10); err == nil {
		t.Fatal("unknown encoding accepted")
	}
}

// FuzzDecodeSubmission: any body, either media and fork, decodes or is refused at the decode
// step without a panic; what decodes re-encodes to a body that decodes to the same payload.
func FuzzDecodeSubmission(f *testing.F) {
	for i, v := range []spec.DataVersion{spec.DataVersionElectra, spec.DataVersionFulu} {
		for j, media := range []string{pbs.MediaJSON, pbs.MediaSSZ} {
			b, err := testSubmission(v, 0).Encode(media)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b, uint8(i), uint8(j))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, fork, m uint8) {
		v := []spec.DataVersion{spec.DataVersionElectra, spec.DataVersionFulu}[fork%2]
		media := []string{pbs.MediaJSON, pbs.MediaSSZ}[m%2]
		s, err := DecodeSubmission(body, media, v)
		if err != nil {
			var se *SubmissionError
			if !errors.As(err, &se) || se.Step != StepDecode {
				t.Fatalf("refusal outside the decode step: %v", err)
			}
			return
		}
		again, err := s.Encode(media)
		if err != nil {
			return // decodable but not encodable (e.g. lists over their limits in JSON)
		}
		s2, err := DecodeSubmission(again, media, v)
		if err != nil {
			t.Fatalf("re-encoded submission does not decode: %v", err)
		}
		a, errA := s.Payload.HashTreeRoot()
		b, errB := s2.Payload.HashTreeRoot()
		if errA == nil && errB == nil && a != b {
			t.Fatal("round trip changed the payload")
		}
	})
}

// FuzzReadBody: any gzip stream is inflated to at most the cap or refused.
func FuzzReadBody(f *testing.F) {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(make([]byte, 5000))
	_ = w.Close()
	f.Add(buf.Bytes())
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := ReadBody(bytes.NewReader(body), "gzip", 4096)
		if err == nil && len(out) > 4096 {
			t.Fatalf("%d bytes past the cap", len(out))
		}
	})
}
