package beacontest

import (
	"github.com/attestantio/go-eth2-client/api"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	apiv1fulu "github.com/attestantio/go-eth2-client/api/v1/fulu"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

func signedBlinded(b *apiv1electra.BlindedBeaconBlock, sig phase0.BLSSignature) *apiv1electra.SignedBlindedBeaconBlock {
	return &apiv1electra.SignedBlindedBeaconBlock{Message: b, Signature: sig}
}

func electraContents(p *api.VersionedProposal, sig phase0.BLSSignature) *apiv1electra.SignedBlockContents {
	return &apiv1electra.SignedBlockContents{
		SignedBlock: &electra.SignedBeaconBlock{Message: p.Electra.Block, Signature: sig},
		KZGProofs:   p.Electra.KZGProofs, Blobs: p.Electra.Blobs,
	}
}

func fuluContents(p *api.VersionedProposal, sig phase0.BLSSignature) *apiv1fulu.SignedBlockContents {
	return &apiv1fulu.SignedBlockContents{
		SignedBlock: &electra.SignedBeaconBlock{Message: p.Fulu.Block, Signature: sig},
		KZGProofs:   p.Fulu.KZGProofs, Blobs: p.Fulu.Blobs,
	}
}
