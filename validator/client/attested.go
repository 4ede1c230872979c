package client

import (
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/validator/signer"
)

// SignedAttestation is one attestation the client signed, as an AttestationHook sees it.
type SignedAttestation struct {
	Pubkey      phase0.BLSPubKey
	Data        *phase0.AttestationData // shared by the slot's attestations: read only
	Domain      phase0.Domain           // get_domain(DOMAIN_BEACON_ATTESTER, target epoch)
	SigningRoot phase0.Root             // compute_signing_root(Data, Domain), what was signed
}

// AttestationHook receives the attestations of each slot once they are signed and published
// (private attestations prove them). Attested is called from the slot's goroutine and must
// return at once: it hands the work to its own goroutines and never delays a duty.
type AttestationHook interface {
	Attested(atts []SignedAttestation)
}

// WithAttestationHook calls h with every slot's signed attestations.
func WithAttestationHook(h AttestationHook) Option { return func(o *options) { o.hook = h } }

// WithDB uses an open database for slashing protection instead of opening WithDatabase's
// directory, so that other parts of the process (the private attestations' prover cache) share
// the one database a process may hold. The caller runs and closes it, after Run returns.
func WithDB(d *db.DB) Option { return func(o *options) { o.db = d } }

// attested hands the signed attestations of one slot to the hook.
func (s *Service) attested(data *phase0.AttestationData, pks []phase0.BLSPubKey) {
	if s.o.hook == nil || len(pks) == 0 {
		return
	}
	root, err := s.net.AttestationSigningRoot(data)
	if err != nil {
		s.log.Warn("attestation hook: signing root", "slot", data.Slot, "error", err)
		return
	}
	domain := s.net.Domain(signer.DomainBeaconAttester, data.Target.Epoch)
	atts := make([]SignedAttestation, len(pks))
	for i, pk := range pks {
		atts[i] = SignedAttestation{Pubkey: pk, Data: data, Domain: domain, SigningRoot: root}
	}
	s.o.hook.Attested(atts)
}
