//go:build blst

package bench

import (
	"bytes"
	"context"
	"testing"
	"time"

	blst "github.com/supranational/blst/bindings/go"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// blst and zkv make the same signature bytes for the same key and message, and the same
// aggregate: the peer does the same work, not merely similar work.
func TestBlstAgreesWithZKV(t *testing.T) {
	zin, err := signedSets(128, 16)
	if err != nil {
		t.Fatal(err)
	}
	in, err := toBlst(zin)
	if err != nil {
		t.Fatal(err)
	}
	sigs := make([]*bls.Signature, len(zin.sets))
	for i, s := range zin.sets {
		want := s.Signature.Bytes()
		got := new(blst.P2Affine).Sign(in.sks[i], in.msgs[i], bls.DST).Compress()
		if !bytes.Equal(got, want[:]) {
			t.Fatalf("signature %d: blst %x, zkv %x", i, got, want)
		}
		if !in.sigs[i].Verify(true, in.pks[i], true, in.msgs[i], bls.DST) {
			t.Fatalf("blst refuses zkv's signature %d", i)
		}
		sigs[i] = s.Signature
	}
	agg, err := bls.Aggregate(sigs)
	if err != nil {
		t.Fatal(err)
	}
	var bagg blst.P2Aggregate
	if !bagg.Aggregate(in.sigs, true) {
		t.Fatal("blst aggregate failed")
	}
	if want := agg.Bytes(); !bytes.Equal(bagg.ToAffine().Compress(), want[:]) {
		t.Fatal("blst's aggregate differs from zkv's")
	}

	// The grouped batch peer accepts the valid batch and refuses one with two signatures
	// swapped between sets of different messages.
	g := groupByMessage(in)
	if len(g.msgs) != 16 || !g.verify() {
		t.Fatalf("grouped batch of %d messages refused", len(g.msgs))
	}
	bad := *in
	bad.sigs = append([]*blst.P2Affine(nil), in.sigs...)
	bad.sigs[0], bad.sigs[1] = bad.sigs[1], bad.sigs[0]
	if groupByMessage(&bad).verify() {
		t.Fatal("grouped batch with swapped signatures accepted")
	}
}

// With the tag, every zkv bls figure has its blst peer from the same run.
func TestBLSSuiteHasBlstPeers(t *testing.T) {
	sc := BLSScenarios()
	if want := 2 * (3 + len(blsBatches)); len(sc) != want {
		t.Fatalf("%d bls scenarios, want %d: sign, verify, aggregate and the batches, and their peers", len(sc), want)
	}
	rep, err := Run(context.Background(), sc, Options{Quick: true, Duration: time.Millisecond, Runs: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		blstFigure := len(r.Name) > 5 && r.Name[len(r.Name)-5:] == "-blst"
		if blstFigure != (r.Peer == nil) || r.Note != "" {
			t.Fatalf("%s: peer %+v, note %q", r.Name, r.Peer, r.Note)
		}
		if !blstFigure && r.Peer.Name != r.Name+"-blst" {
			t.Fatalf("%s: peer %s", r.Name, r.Peer.Name)
		}
	}
}
