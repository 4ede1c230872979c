package pbs

import (
	"errors"
	"fmt"

	builderapi "github.com/attestantio/go-builder-client/api"
	builderdeneb "github.com/attestantio/go-builder-client/api/deneb"
	builderfulu "github.com/attestantio/go-builder-client/api/fulu"
	consensusapi "github.com/attestantio/go-eth2-client/api"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	apiv1fulu "github.com/attestantio/go-eth2-client/api/v1/fulu"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// ErrHeaderMismatch: a blinded block that does not commit to the expected header, or a payload
// that is not the one a header commits to.
var ErrHeaderMismatch = errors.New("pbs: execution payload header mismatch")

// BlindedBlock returns the signed blinded block of an Electra or Fulu proposal, refusing an
// incomplete one.
func BlindedBlock(p *consensusapi.VersionedSignedBlindedProposal) (*apiv1electra.SignedBlindedBeaconBlock, error) {
	if p == nil {
		return nil, errors.New("blinded block missing")
	}
	var b *apiv1electra.SignedBlindedBeaconBlock
	switch p.Version {
	case spec.DataVersionElectra:
		b = p.Electra
	case spec.DataVersionFulu:
		b = p.Fulu
	default:
		return nil, fmt.Errorf("blinded block of version %s: electra or fulu expected", p.Version)
	}
	if b == nil || b.Message == nil || b.Message.Body == nil || b.Message.Body.ExecutionPayloadHeader == nil {
		return nil, errors.New("blinded block incomplete: message, body and execution payload header are required")
	}
	return b, nil
}

// CheckBlindedBlock checks that a signed blinded block commits to header (the header of the bid
// the relay signed): equal hash tree roots, so every field is the bid's.
func CheckBlindedBlock(b *apiv1electra.SignedBlindedBeaconBlock, header *deneb.ExecutionPayloadHeader) error {
	got, err := b.Message.Body.ExecutionPayloadHeader.HashTreeRoot()
	if err != nil {
		return fmt.Errorf("blinded block header root: %w", err)
	}
	want, err := header.HashTreeRoot()
	if err != nil {
		return fmt.Errorf("bid header root: %w", err)
	}
	if got != want {
		return fmt.Errorf("%w: the blinded block's header (block hash %#x) is not the header of the bid (block hash %#x)",
			ErrHeaderMismatch, b.Message.Body.ExecutionPayloadHeader.BlockHash[:], header.BlockHash[:])
	}
	return nil
}

// CheckPayload checks that payload is the one header commits to. An execution payload and its
// header share their hash tree root (the header replaces the transaction and withdrawal lists
// by their roots), so one comparison covers every field.
func CheckPayload(header *deneb.ExecutionPayloadHeader, payload *deneb.ExecutionPayload) error {
	if header == nil || payload == nil {
		return fmt.Errorf("%w: missing", ErrHeaderMismatch)
	}
	h, err := header.HashTreeRoot()
	if err != nil {
		return fmt.Errorf("header root: %w", err)
	}
	p, err := payload.HashTreeRoot()
	if err != nil {
		return fmt.Errorf("payload root: %w", err)
	}
	if h != p {
		return fmt.Errorf("%w: payload %#x does not match header %#x", ErrHeaderMismatch, payload.BlockHash[:], header.BlockHash[:])
	}
	return nil
}

// PayloadResponse is the getPayload answer for a fork: the payload with its blobs bundle.
func PayloadResponse(version spec.DataVersion, payload *deneb.ExecutionPayload, bundle *builderfulu.BlobsBundle) (*builderapi.VersionedSubmitBlindedBlockResponse, error) {
	if bundle == nil {
		bundle = &builderfulu.BlobsBundle{Commitments: []deneb.KZGCommitment{}, Proofs: []deneb.KZGProof{}, Blobs: []deneb.Blob{}}
	}
	r := &builderapi.VersionedSubmitBlindedBlockResponse{Version: version}
	switch version {
	case spec.DataVersionElectra:
		r.Electra = &builderdeneb.ExecutionPayloadAndBlobsBundle{ExecutionPayload: payload, BlobsBundle: &builderdeneb.BlobsBundle{
			Commitments: bundle.Commitments, Proofs: bundle.Proofs, Blobs: bundle.Blobs}}
	case spec.DataVersionFulu:
		r.Fulu = &builderfulu.ExecutionPayloadAndBlobsBundle{ExecutionPayload: payload, BlobsBundle: bundle}
	default:
		return nil, fmt.Errorf("payload of version %s: electra or fulu expected", version)
	}
	return r, nil
}

// Unblind returns the full signed block: the blinded block with the payload in place of its
// header, and the blobs and proofs of the bundle, ready to publish (publishBlockV2).
func Unblind(version spec.DataVersion, b *apiv1electra.SignedBlindedBeaconBlock, payload *deneb.ExecutionPayload, bundle *builderfulu.BlobsBundle) (*consensusapi.VersionedSignedProposal, error) {
	if err := CheckPayload(b.Message.Body.ExecutionPayloadHeader, payload); err != nil {
		return nil, err
	}
	m, bb := b.Message, b.Message.Body
	block := &electra.SignedBeaconBlock{
		Message: &electra.BeaconBlock{Slot: m.Slot, ProposerIndex: m.ProposerIndex, ParentRoot: m.ParentRoot, StateRoot: m.StateRoot,
			Body: &electra.BeaconBlockBody{
				RANDAOReveal: bb.RANDAOReveal, ETH1Data: bb.ETH1Data, Graffiti: bb.Graffiti,
				ProposerSlashings: bb.ProposerSlashings, AttesterSlashings: bb.AttesterSlashings,
				Attestations: bb.Attestations, Deposits: bb.Deposits, VoluntaryExits: bb.VoluntaryExits,
				SyncAggregate: bb.SyncAggregate, ExecutionPayload: payload,
				BLSToExecutionChanges: bb.BLSToExecutionChanges, BlobKZGCommitments: bb.BlobKZGCommitments,
				ExecutionRequests: bb.ExecutionRequests,
			}},
		Signature: b.Signature,
	}
	proofs, blobs := []deneb.KZGProof{}, []deneb.Blob{}
	if bundle != nil {
		proofs, blobs = bundle.Proofs, bundle.Blobs
	}
	out := &consensusapi.VersionedSignedProposal{Version: version}
	switch version {
	case spec.DataVersionElectra:
		out.Electra = &apiv1electra.SignedBlockContents{SignedBlock: block, KZGProofs: proofs, Blobs: blobs}
	case spec.DataVersionFulu:
		out.Fulu = &apiv1fulu.SignedBlockContents{SignedBlock: block, KZGProofs: proofs, Blobs: blobs}
	default:
		return nil, fmt.Errorf("block of version %s: electra or fulu expected", version)
	}
	return out, nil
}

// VerifyProposerSignature checks a blinded block's signature: the proposer's signature of the
// block root under DOMAIN_BEACON_PROPOSER at the block's fork (the blinded and the full block
// share their root, so this is the signature of the block that will be published).
func VerifyProposerSignature(b *apiv1electra.SignedBlindedBeaconBlock, proposer phase0.BLSPubKey, forkVersion phase0.Version, genesisValidatorsRoot phase0.Root) error {
	d, err := ComputeDomain(DomainBeaconProposer, forkVersion, genesisValidatorsRoot)
	if err != nil {
		return err
	}
	return Verify(proposer, b.Message, d, b.Signature)
}
