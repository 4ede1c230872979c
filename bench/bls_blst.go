//go:build blst

package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	blst "github.com/supranational/blst/bindings/go"

	"github.com/zkvlabs/zkv/crypto/bls"
)

func init() { blstPeers = blstScenarios }

// blstInputs are a blsInputs in blst's types: the same keys, messages and signatures, decoded
// once (with their subgroup checks) outside the timed region, as zkv's are.
type blstInputs struct {
	sks  []*blst.SecretKey
	pks  []*blst.P1Affine
	msgs []blst.Message
	sigs []*blst.P2Affine
}

func toBlst(in *blsInputs) (*blstInputs, error) {
	out := &blstInputs{}
	for i, s := range in.sets {
		skb, pkb, sigb := in.sks[i].Bytes(), s.PublicKey.Bytes(), s.Signature.Bytes()
		sk := new(blst.SecretKey).Deserialize(skb[:])
		pk := new(blst.P1Affine).Uncompress(pkb[:])
		sig := new(blst.P2Affine).Uncompress(sigb[:])
		if sk == nil || pk == nil || !pk.KeyValidate() || sig == nil || !sig.SigValidate(false) {
			return nil, fmt.Errorf("blst refuses zkv's key or signature %d", i)
		}
		out.sks, out.pks, out.msgs, out.sigs = append(out.sks, sk), append(out.pks, pk), append(out.msgs, s.Message), append(out.sigs, sig)
	}
	return out, nil
}

// blstRand draws a non-zero 64-bit weight, as zkv's batch verification does.
func blstRand(s *blst.Scalar) {
	var b [32]byte
	for binary.LittleEndian.Uint64(b[:8]) == 0 {
		if _, err := rand.Read(b[:8]); err != nil {
			panic("bench: crypto/rand failed: " + err.Error())
		}
	}
	s.FromLEndian(b[:])
}

// blstScenarios are blst doing the work of each zkv bls scenario on the same inputs (blst
// with the same cores: its worker count follows GOMAXPROCS).
func blstScenarios() map[string]Scenario {
	peer := func(of, what string, latency bool, n, nMsgs, items int, op func(in *blstInputs) (func() error, error)) Scenario {
		return Scenario{
			Name:        of + "-blst",
			Description: "blst: " + what,
			Unit:        "signature",
			Latency:     latency,
			Setup: func(context.Context, bool) (Prepared, error) {
				blst.SetMaxProcs(runtime.GOMAXPROCS(0))
				zin, err := signedSets(n, nMsgs)
				if err != nil {
					return Prepared{}, err
				}
				in, err := toBlst(zin)
				if err != nil {
					return Prepared{}, err
				}
				f, err := op(in)
				if err != nil {
					return Prepared{}, err
				}
				return Prepared{Op: f, Items: items}, nil
			},
		}
	}
	valid := func(ok bool) error {
		if !ok {
			return errInvalid
		}
		return nil
	}
	out := map[string]Scenario{}
	for _, s := range []Scenario{
		peer("bls/sign", "sign a 32-byte signing root", true, 1, 1, 1, func(in *blstInputs) (func() error, error) {
			return func() error { new(blst.P2Affine).Sign(in.sks[0], in.msgs[0], bls.DST); return nil }, nil
		}),
		peer("bls/verify", "verify one signature", true, 1, 1, 1, func(in *blstInputs) (func() error, error) {
			return func() error { return valid(in.sigs[0].Verify(false, in.pks[0], false, in.msgs[0], bls.DST)) }, nil
		}),
		peer("bls/aggregate-128", "aggregate 128 signatures", false, 128, 1, 128, func(in *blstInputs) (func() error, error) {
			return func() error {
				var agg blst.P2Aggregate
				if !agg.Aggregate(in.sigs, false) {
					return errInvalid
				}
				agg.ToAffine()
				return nil
			}, nil
		}),
	} {
		out[s.Name[:len(s.Name)-len("-blst")]] = s
	}
	for _, b := range blsBatches {
		var p Scenario
		if b.n == b.msgs {
			p = peer(batchName(b.n, b.msgs), fmt.Sprintf("%d signatures over distinct messages, one MultipleAggregateVerify with 64-bit weights", b.n),
				false, b.n, b.msgs, b.n, func(in *blstInputs) (func() error, error) {
					return func() error {
						return valid(new(blst.P2Affine).MultipleAggregateVerify(in.sigs, false, in.pks, false, in.msgs, bls.DST, blstRand, 64))
					}, nil
				})
		} else {
			p = peer(batchName(b.n, b.msgs), fmt.Sprintf("%d signatures over %d messages grouped by message as zkv does: per message ", b.n, b.msgs)+
				"the 64-bit-weighted sum of its keys (blst's multi-scalar multiplication) and one Miller loop, one weighted sum "+
				"of all signatures, one final exponentiation (blst's pairing API)",
				false, b.n, b.msgs, b.n, func(in *blstInputs) (func() error, error) {
					g := groupByMessage(in)
					return func() error { return valid(g.verify()) }, nil
				})
		}
		p.Series, p.Skip = "blst "+batchSeries(b.n, b.msgs), batchSkip(b.n, b.msgs)
		out[batchName(b.n, b.msgs)] = p
	}
	return out
}

// blstGroups are signature sets ordered by message: group i holds sets start[i]..start[i+1].
type blstGroups struct {
	msgs  []blst.Message
	start []int
	pks   []*blst.P1Affine
	sigs  []*blst.P2Affine
}

func groupByMessage(in *blstInputs) *blstGroups {
	byMsg := map[string][]int{}
	var order []string
	for i, m := range in.msgs {
		if byMsg[string(m)] == nil {
			order = append(order, string(m))
		}
		byMsg[string(m)] = append(byMsg[string(m)], i)
	}
	g := &blstGroups{}
	for _, m := range order {
		g.msgs = append(g.msgs, blst.Message(m))
		g.start = append(g.start, len(g.pks))
		for _, i := range byMsg[m] {
			g.pks, g.sigs = append(g.pks, in.pks[i]), append(g.sigs, in.sigs[i])
		}
	}
	g.start = append(g.start, len(g.pks))
	return g
}

// verify checks prod_m e(sum r_i pk_i, H(m)) == e(G1, sum r_i sig_i) with fresh random
// non-zero 64-bit r_i: the message groups are spread over GOMAXPROCS workers, each with its own
// pairing context, merged for the final exponentiation.
func (g *blstGroups) verify() bool {
	const nbytes = 8
	scalars := make([]byte, nbytes*len(g.pks))
	if _, err := rand.Read(scalars); err != nil {
		panic("bench: crypto/rand failed: " + err.Error())
	}
	for i := range len(g.pks) {
		for binary.LittleEndian.Uint64(scalars[nbytes*i:]) == 0 {
			if _, err := rand.Read(scalars[nbytes*i : nbytes*(i+1)]); err != nil {
				panic("bench: crypto/rand failed: " + err.Error())
			}
		}
	}
	sig := blst.P2AffinesMult(g.sigs, scalars, 64)
	if sig == nil {
		return false
	}
	workers := min(runtime.GOMAXPROCS(0), len(g.msgs))
	ctxs := make([]blst.Pairing, workers)
	var next atomic.Int32
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := blst.PairingCtx(true, bls.DST)
			if w == 0 && blst.PairingAggregatePkInG1(ctx, nil, false, sig.ToAffine(), false, nil) != 0 {
				failed.Store(true)
			}
			for {
				i := int(next.Add(1)) - 1
				if i >= len(g.msgs) || failed.Load() {
					break
				}
				lo, hi := g.start[i], g.start[i+1]
				pk := blst.P1AffinesMult(g.pks[lo:hi], scalars[nbytes*lo:nbytes*hi], 64)
				// 0 is blst's BLST_SUCCESS.
				if pk == nil || blst.PairingAggregatePkInG1(ctx, pk.ToAffine(), false, nil, false, g.msgs[i]) != 0 {
					failed.Store(true)
					break
				}
			}
			blst.PairingCommit(ctx)
			ctxs[w] = ctx
		}()
	}
	wg.Wait()
	if failed.Load() {
		return false
	}
	for _, c := range ctxs[1:] {
		if blst.PairingMerge(ctxs[0], c) != 0 {
			return false
		}
	}
	return blst.PairingFinalVerify(ctxs[0])
}
