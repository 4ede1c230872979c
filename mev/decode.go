package mev

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	builderdeneb "github.com/attestantio/go-builder-client/api/deneb"
	builderelectra "github.com/attestantio/go-builder-client/api/electra"
	builderfulu "github.com/attestantio/go-builder-client/api/fulu"
	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/klauspost/compress/gzip"

	"github.com/zkvlabs/zkv/pbs"
)

// MaxSubmissionBytes caps a builder submission, compressed or not (mev-boost-relay's 15 MiB).
const MaxSubmissionBytes = 15 << 20

// Submission is a decoded builder submission (builder-specs / mev-boost-relay
// SubmitBlockRequest) of either fork.
type Submission struct {
	Version   spec.DataVersion
	Trace     *builderapiv1.BidTrace
	Payload   *deneb.ExecutionPayload
	Bundle    *builderfulu.BlobsBundle
	Requests  *electra.ExecutionRequests
	Signature phase0.BLSSignature
}

// ReadBody reads at most max bytes of a request body, inflating gzip when encoding says so,
// and refuses more than max before or after inflation (so a small gzip bomb is refused too,
// without inflating more than max+1 bytes).
func ReadBody(r io.Reader, encoding string, max int64) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, refuse(StepDecode, "read body: %v", err)
	}
	if int64(len(raw)) > max {
		return nil, refuse(StepDecode, "body larger than %d bytes", max)
	}
	switch encoding {
	case "", "identity":
		return raw, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, refuse(StepDecode, "gzip: %v", err)
		}
		out, err := io.ReadAll(io.LimitReader(zr, max+1))
		if err != nil {
			return nil, refuse(StepDecode, "gzip: %v", err)
		}
		if int64(len(out)) > max {
			return nil, refuse(StepDecode, "gzip body inflates past %d bytes", max)
		}
		return out, nil
	}
	return nil, refuse(StepDecode, "Content-Encoding %q: gzip or none", encoding)
}

// DecodeSubmission decodes a submission body of version (JSON or SSZ per media) and checks
// that every field a later step reads is present.
func DecodeSubmission(body []byte, media string, version spec.DataVersion) (*Submission, error) {
	s := &Submission{Version: version}
	switch version {
	case spec.DataVersionElectra:
		var req builderelectra.SubmitBlockRequest
		if err := unmarshal(&req, body, media); err != nil {
			return nil, refuse(StepDecode, "electra submission: %v", err)
		}
		s.Trace, s.Payload, s.Requests, s.Signature = req.Message, req.ExecutionPayload, req.ExecutionRequests, req.Signature
		if req.BlobsBundle != nil {
			s.Bundle = &builderfulu.BlobsBundle{Commitments: req.BlobsBundle.Commitments, Proofs: req.BlobsBundle.Proofs, Blobs: req.BlobsBundle.Blobs}
		}
	case spec.DataVersionFulu:
		var req builderfulu.SubmitBlockRequest
		if err := unmarshal(&req, body, media); err != nil {
			return nil, refuse(StepDecode, "fulu submission: %v", err)
		}
		s.Trace, s.Payload, s.Bundle, s.Requests, s.Signature = req.Message, req.ExecutionPayload, req.BlobsBundle, req.ExecutionRequests, req.Signature
	default:
		return nil, refuse(StepDecode, "submission of version %s: electra or fulu", version)
	}
	switch {
	case s.Trace == nil || s.Trace.Value == nil:
		return nil, refuse(StepDecode, "bid trace missing")
	case s.Payload == nil || s.Payload.BaseFeePerGas == nil:
		return nil, refuse(StepDecode, "execution payload missing")
	case s.Requests == nil:
		return nil, refuse(StepDecode, "execution requests missing")
	}
	for i, w := range s.Payload.Withdrawals {
		if w == nil {
			return nil, refuse(StepDecode, "withdrawal %d is null", i)
		}
	}
	if s.Bundle == nil {
		s.Bundle = &builderfulu.BlobsBundle{Commitments: []deneb.KZGCommitment{}, Proofs: []deneb.KZGProof{}, Blobs: []deneb.Blob{}}
	}
	return s, nil
}

type sszJSON interface {
	UnmarshalSSZ([]byte) error
	json.Unmarshaler
}

func unmarshal(v sszJSON, body []byte, media string) error {
	if media == pbs.MediaSSZ {
		return v.UnmarshalSSZ(body)
	}
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("data after the JSON object")
	}
	return nil
}

// Encode encodes s in media (the inverse of DecodeSubmission, for builders and tests).
func (s *Submission) Encode(media string) ([]byte, error) {
	var v interface {
		MarshalSSZ() ([]byte, error)
	}
	switch s.Version {
	case spec.DataVersionElectra:
		var bb *builderdeneb.BlobsBundle
		if s.Bundle != nil {
			bb = &builderdeneb.BlobsBundle{Commitments: s.Bundle.Commitments, Proofs: s.Bundle.Proofs, Blobs: s.Bundle.Blobs}
		}
		v = &builderelectra.SubmitBlockRequest{Message: s.Trace, ExecutionPayload: s.Payload, BlobsBundle: bb, ExecutionRequests: s.Requests, Signature: s.Signature}
	case spec.DataVersionFulu:
		v = &builderfulu.SubmitBlockRequest{Message: s.Trace, ExecutionPayload: s.Payload, BlobsBundle: s.Bundle, ExecutionRequests: s.Requests, Signature: s.Signature}
	default:
		return nil, fmt.Errorf("encode submission of version %s", s.Version)
	}
	if media == pbs.MediaSSZ {
		return v.MarshalSSZ()
	}
	return json.Marshal(v)
}
