package signer

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/validator/keys"
	"github.com/zkvlabs/zkv/validator/slashing"
)

// Protector is the slashing protection the Signer consults before it signs a block or an
// attestation (package validator/slashing implements it).
type Protector interface {
	CheckAndRecordBlock(ctx context.Context, b slashing.Block) error
	CheckAndRecordAttestations(ctx context.Context, as []slashing.Attestation) []error
}

// ErrUnknownKey: the Signer holds no secret key for the public key asked for.
var ErrUnknownKey = errors.New("signer: no key for this validator")

// Signer signs for a set of validator keys on one network. Blocks and attestations are signed
// only after the Protector approved them (its record is then durable); the other messages carry
// no slashing risk and are signed directly. Safe for concurrent use.
//
// Errors its callers may see: ErrUnknownKey, and from the Protector a *slashing.SlashableError
// (errors.Is slashing.ErrSlashable), slashing.ErrClosed, a context error or a storage error; on
// any error nothing was signed.
type Signer struct {
	net  *Network
	prot Protector
	// mu guards keys: every signing call holds it for reading from the key lookup to the
	// signature (slashing protection's record included), so that RemoveKeys, which takes it for
	// writing, returns only once no call can still sign with a removed key.
	mu   sync.RWMutex
	keys map[phase0.BLSPubKey]*bls.SecretKey
}

// New makes a Signer for the keys on net, guarded by prot. A key's public key is derived from
// its secret when Public is nil (package keys has derived it already when it loaded the key).
func New(net *Network, prot Protector, ks []*keys.Key) (*Signer, error) {
	if net == nil {
		return nil, errors.New("signer: no network")
	}
	if prot == nil {
		return nil, errors.New("signer: no slashing protection")
	}
	s := &Signer{net: net, prot: prot, keys: make(map[phase0.BLSPubKey]*bls.SecretKey, len(ks))}
	for i, k := range ks {
		if k == nil || k.Secret == nil {
			return nil, fmt.Errorf("signer: key %d has no secret", i)
		}
		pub := k.Public
		if pub == nil {
			pub = k.Secret.PublicKey()
		}
		s.keys[phase0.BLSPubKey(pub.Bytes())] = k.Secret
	}
	return s, nil
}

// Protector is the slashing protection the Signer consults.
func (s *Signer) Protector() Protector { return s.prot }

// Network the Signer signs for.
func (s *Signer) Network() *Network { return s.net }

// PublicKeys returns the public keys the Signer holds, in no particular order.
func (s *Signer) PublicKeys() []phase0.BLSPubKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]phase0.BLSPubKey, 0, len(s.keys))
	for pk := range s.keys {
		out = append(out, pk)
	}
	return out
}

func (s *Signer) sign(pk phase0.BLSPubKey, root phase0.Root) (phase0.BLSSignature, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.signLocked(pk, root)
}

func (s *Signer) signLocked(pk phase0.BLSPubKey, root phase0.Root) (phase0.BLSSignature, error) {
	sk, ok := s.keys[pk]
	if !ok {
		return phase0.BLSSignature{}, fmt.Errorf("%w %#x", ErrUnknownKey, pk[:6])
	}
	return phase0.BLSSignature(sk.Sign(root[:]).Bytes()), nil
}

// SignBlock signs the block (or blinded block) of slot whose hash_tree_root is blockRoot, once
// slashing protection has recorded it.
func (s *Signer) SignBlock(ctx context.Context, pk phase0.BLSPubKey, slot phase0.Slot, blockRoot phase0.Root) (phase0.BLSSignature, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.keys[pk]; !ok {
		return phase0.BLSSignature{}, fmt.Errorf("%w %#x", ErrUnknownKey, pk[:6])
	}
	root := s.net.BlockSigningRoot(slot, blockRoot)
	if err := s.prot.CheckAndRecordBlock(ctx, slashing.Block{Pubkey: slashing.Pubkey(pk), Slot: uint64(slot), SigningRoot: slashing.Root(root)}); err != nil {
		return phase0.BLSSignature{}, err
	}
	return s.signLocked(pk, root)
}

// AttestationRequest is one validator's attestation to sign.
type AttestationRequest struct {
	Pubkey phase0.BLSPubKey
	Data   *phase0.AttestationData
}

// SignAttestations signs a slot's attestations: it asks slashing protection about all of them at
// once (one group commit in the Protector) and waits until every answer is in, so that every
// approved record is durable before any signature exists; then it signs the approved ones on
// every core. It returns one signature or error per request, in order.
func (s *Signer) SignAttestations(ctx context.Context, reqs []AttestationRequest) ([]phase0.BLSSignature, []error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sigs := make([]phase0.BLSSignature, len(reqs))
	errs := make([]error, len(reqs))
	roots := make([]phase0.Root, len(reqs))
	var checks []slashing.Attestation
	var at []int // request index of each check
	dataRoots := map[*phase0.AttestationData]phase0.Root{}
	for i, r := range reqs {
		if _, ok := s.keys[r.Pubkey]; !ok {
			errs[i] = fmt.Errorf("%w %#x", ErrUnknownKey, r.Pubkey[:6])
			continue
		}
		root, ok := dataRoots[r.Data]
		if !ok {
			var err error
			if root, err = s.net.AttestationSigningRoot(r.Data); err != nil {
				errs[i] = err
				continue
			}
			dataRoots[r.Data] = root
		}
		roots[i] = root
		checks = append(checks, slashing.Attestation{Pubkey: slashing.Pubkey(r.Pubkey),
			Source: uint64(r.Data.Source.Epoch), Target: uint64(r.Data.Target.Epoch), SigningRoot: slashing.Root(root)})
		at = append(at, i)
	}
	if len(checks) == 0 {
		return sigs, errs
	}
	verdicts := s.prot.CheckAndRecordAttestations(ctx, checks)
	var approved []int
	for j, err := range verdicts {
		if err != nil {
			errs[at[j]] = err
			continue
		}
		approved = append(approved, at[j])
	}
	// A slot's attestations share one signing root: hash it to G2 once.
	msgs := make(map[phase0.Root]*bls.Message, len(dataRoots))
	for _, i := range approved {
		if _, ok := msgs[roots[i]]; !ok {
			msgs[roots[i]] = bls.HashMessage(roots[i][:])
		}
	}
	parallel(len(approved), func(k int) {
		i := approved[k]
		sigs[i] = phase0.BLSSignature(s.keys[reqs[i].Pubkey].SignMessage(msgs[roots[i]]).Bytes())
	})
	return sigs, errs
}

// parallel runs f(0..n-1) on every core.
func parallel(n int, f func(int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for w := 0; w < n; w += per {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				f(i)
			}
		}(w, min(w+per, n))
	}
	wg.Wait()
}

// SignRandao signs the RANDAO reveal of epoch.
func (s *Signer) SignRandao(pk phase0.BLSPubKey, epoch phase0.Epoch) (phase0.BLSSignature, error) {
	return s.sign(pk, s.net.RandaoSigningRoot(epoch))
}

// SignSelectionProof signs the aggregation selection proof of slot.
func (s *Signer) SignSelectionProof(pk phase0.BLSPubKey, slot phase0.Slot) (phase0.BLSSignature, error) {
	return s.sign(pk, s.net.SelectionProofSigningRoot(slot))
}

// SignSelectionProofs signs the aggregation selection proof of slot for each of pks (one
// epoch's attesters of a slot): the slot's signing root is hashed to G2 once, and the keys sign
// on every core. An unknown key fails the whole call.
func (s *Signer) SignSelectionProofs(slot phase0.Slot, pks []phase0.BLSPubKey) ([]phase0.BLSSignature, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sks := make([]*bls.SecretKey, len(pks))
	for i, pk := range pks {
		sk, ok := s.keys[pk]
		if !ok {
			return nil, fmt.Errorf("%w %#x", ErrUnknownKey, pk[:6])
		}
		sks[i] = sk
	}
	root := s.net.SelectionProofSigningRoot(slot)
	msg := bls.HashMessage(root[:])
	out := make([]phase0.BLSSignature, len(pks))
	parallel(len(pks), func(i int) { out[i] = phase0.BLSSignature(sks[i].SignMessage(msg).Bytes()) })
	return out, nil
}

// SignAggregateAndProof signs an AggregateAndProof of slot whose hash_tree_root is msgRoot.
func (s *Signer) SignAggregateAndProof(pk phase0.BLSPubKey, slot phase0.Slot, msgRoot phase0.Root) (phase0.BLSSignature, error) {
	return s.sign(pk, s.net.AggregateAndProofSigningRoot(slot, msgRoot))
}

// SignSyncCommitteeMessage signs blockRoot as the sync-committee message of slot.
func (s *Signer) SignSyncCommitteeMessage(pk phase0.BLSPubKey, slot phase0.Slot, blockRoot phase0.Root) (phase0.BLSSignature, error) {
	return s.sign(pk, s.net.SyncCommitteeMessageSigningRoot(slot, blockRoot))
}

// SignSyncSelectionProof signs the sync aggregator selection data of slot and subcommittee.
func (s *Signer) SignSyncSelectionProof(pk phase0.BLSPubKey, slot phase0.Slot, subcommittee uint64) (phase0.BLSSignature, error) {
	root, err := s.net.SyncSelectionSigningRoot(slot, subcommittee)
	if err != nil {
		return phase0.BLSSignature{}, err
	}
	return s.sign(pk, root)
}

// SignContributionAndProof signs a sync-committee ContributionAndProof.
func (s *Signer) SignContributionAndProof(pk phase0.BLSPubKey, msg *altair.ContributionAndProof) (phase0.BLSSignature, error) {
	root, err := s.net.ContributionAndProofSigningRoot(msg)
	if err != nil {
		return phase0.BLSSignature{}, err
	}
	return s.sign(pk, root)
}

// SignVoluntaryExit signs a voluntary exit (EIP-7044 domain).
func (s *Signer) SignVoluntaryExit(pk phase0.BLSPubKey, exit *phase0.VoluntaryExit) (phase0.BLSSignature, error) {
	root, err := s.net.VoluntaryExitSigningRoot(exit)
	if err != nil {
		return phase0.BLSSignature{}, err
	}
	return s.sign(pk, root)
}

// SignRegistration signs a builder-API validator registration.
func (s *Signer) SignRegistration(reg *apiv1.ValidatorRegistration) (phase0.BLSSignature, error) {
	root, err := s.net.RegistrationSigningRoot(reg)
	if err != nil {
		return phase0.BLSSignature{}, err
	}
	return s.sign(reg.Pubkey, root)
}
