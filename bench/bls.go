package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// errInvalid reports that a benchmark's own valid input failed to verify: a bug, not a figure.
var errInvalid = errors.New("valid input rejected")

// signedSets makes n keys signing messages drawn from nMsgs random 32-byte roots.
func signedSets(n, nMsgs int) ([]*bls.SecretKey, []bls.SignatureSet, error) {
	roots := make([][]byte, nMsgs)
	for i := range roots {
		roots[i] = make([]byte, 32)
		if _, err := rand.Read(roots[i]); err != nil {
			return nil, nil, err
		}
	}
	sks := make([]*bls.SecretKey, n)
	sets := make([]bls.SignatureSet, n)
	for i := range sets {
		sk, err := bls.GenerateSecretKey()
		if err != nil {
			return nil, nil, err
		}
		m := roots[i%nMsgs]
		sks[i] = sk
		sets[i] = bls.SignatureSet{PublicKey: sk.PublicKey(), Message: m, Signature: sk.Sign(m)}
	}
	return sks, sets, nil
}

// BLSScenarios are the BLS hot paths of a validator client and a relay.
func BLSScenarios() []Scenario {
	batch := func(n, nMsgs int, what string) Scenario {
		return Scenario{
			Name:        fmt.Sprintf("bls/batch-verify-%d-over-%d", n, nMsgs),
			Description: what,
			Unit:        "signature",
			Setup: func(_ context.Context, quick bool) (Prepared, error) {
				_, sets, err := signedSets(n, nMsgs)
				if err != nil {
					return Prepared{}, err
				}
				return Prepared{Op: func() error {
					if !bls.BatchVerify(sets) {
						return errInvalid
					}
					return nil
				}, Items: n}, nil
			},
		}
	}
	return []Scenario{
		{
			Name:        "bls/sign",
			Description: "sign a 32-byte signing root (hardened scalar multiplication)",
			Unit:        "signature",
			Latency:     true,
			Setup: func(context.Context, bool) (Prepared, error) {
				sks, sets, err := signedSets(1, 1)
				if err != nil {
					return Prepared{}, err
				}
				return Prepared{Op: func() error { sks[0].Sign(sets[0].Message); return nil }, Items: 1}, nil
			},
		},
		{
			Name:        "bls/verify",
			Description: "verify one signature (2 pairings)",
			Unit:        "signature",
			Latency:     true,
			Setup: func(context.Context, bool) (Prepared, error) {
				_, sets, err := signedSets(1, 1)
				if err != nil {
					return Prepared{}, err
				}
				s := sets[0]
				return Prepared{Op: func() error {
					if !bls.Verify(s.PublicKey, s.Message, s.Signature) {
						return errInvalid
					}
					return nil
				}, Items: 1}, nil
			},
		},
		batch(512, 512, "512 signatures over distinct messages, one batch"),
		batch(512, 16, "512 attestation signatures over 16 messages (grouped)"),
		{
			Name:        "bls/aggregate-128",
			Description: "aggregate 128 signatures",
			Unit:        "signature",
			Setup: func(context.Context, bool) (Prepared, error) {
				_, sets, err := signedSets(128, 1)
				if err != nil {
					return Prepared{}, err
				}
				sigs := make([]*bls.Signature, len(sets))
				for i := range sets {
					sigs[i] = sets[i].Signature
				}
				return Prepared{Op: func() error { _, err := bls.Aggregate(sigs); return err }, Items: 128}, nil
			},
		},
	}
}
