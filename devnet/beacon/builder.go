package beacon

import (
	"context"
	"errors"
	"fmt"
	"time"

	builderclient "github.com/attestantio/go-builder-client"
	builderapi "github.com/attestantio/go-builder-client/api"
	builderhttp "github.com/attestantio/go-builder-client/http"
	builderspec "github.com/attestantio/go-builder-client/spec"
	consensusapi "github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/rs/zerolog"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/devnet/beacon/consensus"
)

// builderClient talks the builder API to one endpoint (a relay, mev-boost or zkv boost), as a
// beacon node configured with a builder does. It uses go-builder-client's HTTP client, so the node
// speaks to builders exactly as other Go software of the ecosystem does.
type builderClient struct {
	url     string
	timeout time.Duration
	svc     builderclient.Service
	// cancel ends the context svc was made with: go-builder-client's New starts a goroutine that
	// waits for it, so a context that never ended would keep one per node for the process's life.
	cancel context.CancelFunc
	// pubkey, when the URL names one (http://0xPUBKEY@host, as mev-boost takes relays), is the
	// only key whose bids are accepted.
	pubkey *phase0.BLSPubKey
}

func newBuilderClient(url string, timeout time.Duration) (*builderClient, error) {
	// The node's life is not a context (New's only bounds deriving the genesis), so the client's
	// ends by close: when Run returns, or Node.Close.
	ctx, cancel := context.WithCancel(context.Background())
	c := &builderClient{url: url, timeout: timeout, cancel: cancel}
	svc, err := builderhttp.New(ctx,
		builderhttp.WithAddress(url), builderhttp.WithTimeout(max(4*time.Second, timeout)), builderhttp.WithLogLevel(zerolog.Disabled))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("builder URL %q: %w", url, err)
	}
	c.svc = svc
	if hs, ok := svc.(*builderhttp.Service); ok {
		c.pubkey = hs.Pubkey()
	}
	return c, nil
}

// close ends the client's context. go-builder-client v0.7.2 frees nothing else on it, so a
// request still in flight finishes.
func (c *builderClient) close() { c.cancel() }

// bid asks for the builder's header for (slot, parent hash, proposer) within the getHeader budget.
// A nil bid without error means the builder has none (204).
func (c *builderClient) bid(ctx context.Context, slot phase0.Slot, parentHash phase0.Hash32, pubkey phase0.BLSPubKey) (*builderspec.VersionedSignedBuilderBid, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	p, ok := c.svc.(builderclient.BuilderBidProvider)
	if !ok {
		return nil, errors.New("builder client cannot fetch bids")
	}
	res, err := p.BuilderBid(ctx, &builderapi.BuilderBidOpts{Slot: slot, ParentHash: parentHash, PubKey: pubkey})
	if err != nil {
		return nil, err
	}
	return res.Data, nil
}

// unblind sends the signed blinded block and returns the full block the builder revealed
// (go-builder-client checks the payload against the signed header).
func (c *builderClient) unblind(ctx context.Context, p *consensusapi.VersionedSignedBlindedProposal) (*consensusapi.VersionedSignedProposal, error) {
	u, ok := c.svc.(builderclient.UnblindedProposalProvider)
	if !ok {
		return nil, errors.New("builder client cannot unblind proposals")
	}
	res, err := u.UnblindProposal(ctx, &builderapi.UnblindProposalOpts{Proposal: p})
	if err != nil {
		return nil, err
	}
	return res.Data, nil
}

// register forwards validator registrations to the builder.
func (c *builderClient) register(ctx context.Context, regs []*builderapi.VersionedSignedValidatorRegistration) error {
	r, ok := c.svc.(builderclient.ValidatorRegistrationsSubmitter)
	if !ok {
		return errors.New("builder client cannot submit registrations")
	}
	return r.SubmitValidatorRegistrations(ctx, &builderapi.SubmitValidatorRegistrationsOpts{Registrations: regs})
}

// builderDomain is DOMAIN_APPLICATION_BUILDER with the genesis fork version and a zero genesis
// validators root (builder-specs).
func builderDomain() [32]byte {
	return consensus.ComputeDomain(consensus.DomainApplicationBuilder, GenesisForkVersion, [32]byte{})
}

// checkRegistration verifies a validator registration's signature under the builder domain.
func checkRegistration(r *apiv1.SignedValidatorRegistration, pk *bls.PublicKey) error {
	if r == nil || r.Message == nil {
		return errors.New("registration incomplete")
	}
	root, err := consensus.SigningRootOf(r.Message, builderDomain())
	if err != nil {
		return err
	}
	sig, err := bls.SignatureFromBytes(r.Signature[:])
	if err != nil {
		return fmt.Errorf("registration signature does not decode: %w", err)
	}
	if !bls.Verify(pk, root[:], sig) {
		return errors.New("invalid registration signature (DOMAIN_APPLICATION_BUILDER, genesis fork version, zero genesis validators root)")
	}
	return nil
}
