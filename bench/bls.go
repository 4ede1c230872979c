package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// errInvalid reports that a benchmark's own valid input failed to verify: a bug, not a figure.
var errInvalid = errors.New("valid input rejected")

// blsInputs are n keys signing messages drawn from nMsgs random 32-byte roots.
type blsInputs struct {
	sks  []*bls.SecretKey
	sets []bls.SignatureSet
}

// blsShared keeps one blsInputs per shape for the process, so that a zkv figure and its blst
// peer work on the same keys, messages and signatures. Inputs are read-only once made.
var blsShared struct {
	mu sync.Mutex
	m  map[[2]int]*blsInputs
}

func signedSets(n, nMsgs int) (*blsInputs, error) {
	blsShared.mu.Lock()
	defer blsShared.mu.Unlock()
	if in, ok := blsShared.m[[2]int{n, nMsgs}]; ok {
		return in, nil
	}
	roots := make([][]byte, nMsgs)
	for i := range roots {
		roots[i] = make([]byte, 32)
		if _, err := rand.Read(roots[i]); err != nil {
			return nil, err
		}
	}
	in := &blsInputs{sks: make([]*bls.SecretKey, n), sets: make([]bls.SignatureSet, n)}
	for i := range in.sets {
		sk, err := bls.GenerateSecretKey()
		if err != nil {
			return nil, err
		}
		m := roots[i%nMsgs]
		in.sks[i] = sk
		in.sets[i] = bls.SignatureSet{PublicKey: sk.PublicKey(), Message: m, Signature: sk.Sign(m)}
	}
	if blsShared.m == nil {
		blsShared.m = map[[2]int]*blsInputs{}
	}
	blsShared.m[[2]int{n, nMsgs}] = in
	return in, nil
}

// blstPeers, set in binaries built with -tags blst (bls_blst.go), returns the blst scenario
// that is the peer of each zkv bls scenario, by the zkv scenario's name.
var blstPeers func() map[string]Scenario

// HasBlst reports whether this binary was built with blst (-tags blst), the bls suite's peer.
func HasBlst() bool { return blstPeers != nil }

// noBlstNote stands in for the peer figures in binaries without blst.
const noBlstNote = "no blst peer in this binary: blst is a cgo library, built in with -tags blst; " +
	"'make bench' builds bin/zkv-blst so and runs the full suite with it"

// BLSScenarios are the BLS hot paths of a validator client and a relay, each followed by its
// blst peer on the same inputs where the binary has blst.
func BLSScenarios() []Scenario {
	batch := func(n, nMsgs int) Scenario {
		return Scenario{
			Name:        batchName(n, nMsgs),
			Description: batchWhat(n, nMsgs),
			Series:      batchSeries(n, nMsgs),
			Unit:        "signature",
			Skip:        batchSkip(n, nMsgs),
			Setup: func(_ context.Context, quick bool) (Prepared, error) {
				in, err := signedSets(n, nMsgs)
				if err != nil {
					return Prepared{}, err
				}
				return Prepared{Op: func() error {
					if !bls.BatchVerify(in.sets) {
						return errInvalid
					}
					return nil
				}, Items: n}, nil
			},
		}
	}
	zkv := []Scenario{
		{
			Name:        "bls/sign",
			Description: "sign a 32-byte signing root (hardened scalar multiplication)",
			Unit:        "signature",
			Latency:     true,
			Setup: func(context.Context, bool) (Prepared, error) {
				in, err := signedSets(1, 1)
				if err != nil {
					return Prepared{}, err
				}
				return Prepared{Op: func() error { in.sks[0].Sign(in.sets[0].Message); return nil }, Items: 1}, nil
			},
		},
		{
			Name:        "bls/verify",
			Description: "verify one signature (2 pairings)",
			Unit:        "signature",
			Latency:     true,
			Setup: func(context.Context, bool) (Prepared, error) {
				in, err := signedSets(1, 1)
				if err != nil {
					return Prepared{}, err
				}
				s := in.sets[0]
				return Prepared{Op: func() error {
					if !bls.Verify(s.PublicKey, s.Message, s.Signature) {
						return errInvalid
					}
					return nil
				}, Items: 1}, nil
			},
		},
		{
			Name:        "bls/aggregate-128",
			Description: "aggregate 128 signatures",
			Unit:        "signature",
			Setup: func(context.Context, bool) (Prepared, error) {
				in, err := signedSets(128, 1)
				if err != nil {
					return Prepared{}, err
				}
				sigs := make([]*bls.Signature, len(in.sets))
				for i := range in.sets {
					sigs[i] = in.sets[i].Signature
				}
				return Prepared{Op: func() error { _, err := bls.Aggregate(sigs); return err }, Items: 128}, nil
			},
		},
	}
	for _, b := range blsBatches {
		zkv = append(zkv, batch(b.n, b.msgs))
	}
	if blstPeers == nil {
		for i := range zkv {
			zkv[i].Note = noBlstNote
		}
		return zkv
	}
	peers := blstPeers()
	var out []Scenario
	for _, s := range zkv {
		p, ok := peers[s.Name]
		if !ok {
			out = append(out, s)
			continue
		}
		s.Peer = p.Name
		out = append(out, s, p)
	}
	return out
}

// blsBatches are the batch verifications the bls suite measures: two series, each a line of
// throughput against batch size in the report. Distinct messages are a relay's or a
// slasher's mix (every signature its own pairing); 16 messages are an epoch's attestations,
// where committees sign the same data and zkv groups by message (one pairing per message).
var blsBatches = []struct{ n, msgs int }{
	{16, 16}, {64, 64}, {256, 256}, {512, 512}, {1024, 1024},
	{64, 16}, {256, 16}, {512, 16}, {1024, 16},
}

// blsQuickBatches are the sizes quick mode keeps: the ends of each series.
var blsQuickBatches = map[[2]int]bool{{16, 16}: true, {512, 512}: true, {64, 16}: true, {512, 16}: true}

func batchName(n, nMsgs int) string { return fmt.Sprintf("bls/batch-verify-%d-over-%d", n, nMsgs) }

func batchSeries(n, nMsgs int) string {
	if n == nMsgs {
		return "batch verify, distinct messages"
	}
	return fmt.Sprintf("batch verify, %d messages", nMsgs)
}

func batchWhat(n, nMsgs int) string {
	if n == nMsgs {
		return fmt.Sprintf("%d signatures over distinct messages, one batch", n)
	}
	return fmt.Sprintf("%d attestation signatures over %d messages, one batch grouped by message", n, nMsgs)
}

func batchSkip(n, nMsgs int) func(bool) string {
	return func(quick bool) string {
		if quick && !blsQuickBatches[[2]int{n, nMsgs}] {
			return "quick mode measures each batch series at its smallest and 512 only"
		}
		return ""
	}
}
