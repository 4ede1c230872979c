package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254"

	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
	"github.com/zkvlabs/zkv/transport"
	"github.com/zkvlabs/zkv/transport/frame"
)

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return resp.StatusCode
}

func epochCounts(t *testing.T, tp *testPool, epoch uint64) Counts {
	t.Helper()
	var body struct{ Epochs []Counts }
	getJSON(t, tp.http.URL+"/pool/v1/counts", &body)
	for _, c := range body.Epochs {
		if c.Epoch == epoch {
			return c
		}
	}
	return Counts{Epoch: epoch}
}

// TestBatchAcceptedBadOneNamed sends good proofs of several validators in one batch, one of
// them with a bad proof: the bad one is named and refused, the others accepted and counted;
// resent, they are duplicates counted once.
func TestBatchAcceptedBadOneNamed(t *testing.T) {
	tp := startPool(t, t.TempDir(), 6)
	ctx := ctxT(t)
	var claims []prover.Claim
	var roots [][32]byte
	for i := 0; i < 6; i++ {
		sr := root(fmt.Sprint("attestation ", i))
		claims = append(claims, tp.prove(t, i, testEpoch, sr))
		roots = append(roots, sr)
	}
	// Proof 3 gets another valid point as A: it decodes and its statement is right, only the
	// pairing check fails.
	var a bn254.G1Jac
	a.FromAffine(&claims[3].Proof.A)
	a.Double(&a)
	claims[3].Proof.A.FromJacobian(&a)

	errs, err := tp.client.SubmitProofs(ctx, claims, roots)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range errs {
		if (e != nil) != (i == 3) {
			t.Fatalf("item %d: %v", i, e)
		}
	}
	var se *StatusError
	if !errors.As(errs[3], &se) || se.Status != StatusInvalidProof || !errors.Is(errs[3], prover.ErrInvalidProof) || !errors.Is(errs[3], ErrRefused) {
		t.Fatalf("bad proof: %v", errs[3])
	}
	if c := epochCounts(t, tp, testEpoch); c.Received != 6 || c.Verified != 5 || c.Refused != 1 {
		t.Fatalf("counts %+v", c)
	}

	// Sent again: the five accepted ones are duplicates (not verified again), counted once.
	errs, err = tp.client.SubmitProofs(ctx, claims[:3], roots[:3])
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range errs {
		if !errors.Is(e, ErrDuplicate) || errors.Is(e, ErrRefused) {
			t.Fatalf("resent %d: %v", i, e)
		}
	}
	if c := epochCounts(t, tp, testEpoch); c.Verified != 5 || c.Duplicates != 3 {
		t.Fatalf("counts after resending %+v", c)
	}
}

// TestRefusals: another network, an epoch without a root, a root that is not the sealed one,
// and an x that is not that of the signing root are refused with their reasons.
func TestRefusals(t *testing.T) {
	tp := startPool(t, t.TempDir(), 4)
	ctx := ctxT(t)
	good := tp.prove(t, 0, testEpoch, root("a"))

	otherNet := good
	otherNet.Statement.Network.SetUint64(99)
	noRoot := tp.prove(t, 1, testEpoch+5, root("b")) // epoch 15 is not sealed
	otherRoot := tp.prove(t, 2, testEpoch, root("c"))
	otherRoot.Statement.Root.SetUint64(12345)
	wrongX := tp.prove(t, 3, testEpoch, root("d"))

	claims := []prover.Claim{otherNet, noRoot, otherRoot, wrongX}
	roots := [][32]byte{root("a"), root("b"), root("c"), root("not d")}
	errs, err := tp.client.SubmitProofs(ctx, claims, roots)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		status Status
		reason string
	}{
		{StatusWrongStatement, "network"},
		{StatusUnknownRoot, "no registry root for epoch 15"},
		{StatusUnknownRoot, "is not the registry's root of epoch 10"},
		{StatusWrongStatement, "x is not that of signing root"},
	}
	for i, w := range want {
		var se *StatusError
		if !errors.As(errs[i], &se) || se.Status != w.status || !strings.Contains(se.Reason, w.reason) {
			t.Errorf("item %d: %v, want %v containing %q", i, errs[i], w.status, w.reason)
		}
		if !errors.Is(errs[i], prover.ErrWrongStatement) {
			t.Errorf("item %d: %v does not match prover.ErrWrongStatement", i, errs[i])
		}
	}
	// None was recorded: the good claim of validator 0 is accepted afterwards.
	errs, err = tp.client.SubmitProofs(ctx, []prover.Claim{good}, [][32]byte{root("a")})
	if err != nil || errs[0] != nil {
		t.Fatal(errs, err)
	}
}

// TestEquivocation: two different attestations of one validator in one epoch give evidence
// that checks with the verifying key and the registry's roots alone, names the key, reaches
// subscribers and the HTTP API, and bars the key; a pool reopened on its database keeps the
// nullifiers, the evidence and the epoch's verified and equivocation counts.
func TestEquivocation(t *testing.T) {
	dir := t.TempDir()
	tp := startPool(t, dir, 3)
	ctx := ctxT(t)
	sk := testKey(t, 1)
	first := tp.prove(t, 1, testEpoch, root("vote for A"))
	second := tp.prove(t, 1, testEpoch, root("vote for B"))
	other := tp.prove(t, 2, testEpoch, root("vote for A"))
	third := tp.prove(t, 0, testEpoch, root("vote for A")) // sent only after the restart

	got := make(chan *prover.Evidence, 1)
	subCtx, cancelSub := context.WithCancel(ctx)
	subErr := make(chan error, 1)
	subscribed := make(chan struct{})
	go func() {
		// The pool publishes only after it confirmed the subscription, which Subscribe waits
		// for; the first frame then tells the test the subscription is up.
		close(subscribed)
		subErr <- tp.client.SubscribeEvidence(subCtx, func(ev *prover.Evidence) { got <- ev })
	}()
	<-subscribed
	waitSubscribed(t, tp)

	errs, err := tp.client.SubmitProofs(ctx, []prover.Claim{first, other}, [][32]byte{root("vote for A"), root("vote for A")})
	if err != nil || errs[0] != nil || errs[1] != nil {
		t.Fatal(errs, err)
	}
	errs, err = tp.client.SubmitProofs(ctx, []prover.Claim{second}, [][32]byte{root("vote for B")})
	if err != nil {
		t.Fatal(err)
	}
	var se *StatusError
	if !errors.As(errs[0], &se) || se.Status != StatusEquivocation {
		t.Fatalf("second attestation: %v", errs[0])
	}

	ev := <-got
	cancelSub()
	if err := <-subErr; err != nil {
		t.Fatalf("subscription: %v", err)
	}
	// Anyone with the verifying key and the registry's roots checks it.
	v := &prover.Verifier{Key: mustMaterial(t).keys.VerifyingKey(), Network: testNetwork.ID(), Roots: tp.srv.Registry()}
	if err := ev.Check(v); err != nil {
		t.Fatalf("published evidence does not check: %v", err)
	}
	who, err := tp.srv.Registry().ByIdentity(ev.Identity)
	if err != nil || who.Pubkey != sk.PublicKey().Bytes() {
		t.Fatalf("evidence names %x, %v", who.Pubkey, err)
	}
	// Barred: a new registration of the key is refused, and the next seal drops its leaf.
	r, err := registry.SignAt(mustMaterial(t).ik, sk, testWeight, uint64(time.Now().Unix())+1, tp.srv.Registry().Domain())
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.client.Register(ctx, r); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("registration of a revoked key: %v", err)
	}
	if _, err := tp.srv.Seal(testEpoch + 1); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.client.Member(ctx, sk.PublicKey().Bytes(), testEpoch+1); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("member of a revoked key: %v", err)
	}

	var list struct{ Evidence []EvidenceRecord }
	getJSON(t, tp.http.URL+"/pool/v1/evidence", &list)
	pk := sk.PublicKey().Bytes()
	if len(list.Evidence) != 1 || list.Evidence[0].Pubkey != fmt.Sprintf("%#x", pk[:]) {
		t.Fatalf("evidence list %+v", list)
	}
	id := list.Evidence[0].ID
	if c := epochCounts(t, tp, testEpoch); c.Verified != 2 || c.Equivocations != 1 {
		t.Fatalf("counts %+v", c)
	}

	// Restart on the same database: nullifiers and evidence are kept, and so are the counts
	// derived from them; proofs resent after the restart are duplicates, not verified again.
	tp.stop()
	tp = startPool(t, dir, 0)
	if c := epochCounts(t, tp, testEpoch); c != (Counts{Epoch: testEpoch, Received: 3, Verified: 2, Equivocations: 1}) {
		t.Fatalf("counts after restart, before any proof: %+v", c)
	}
	errs, err = tp.client.SubmitProofs(ctx, []prover.Claim{first, other}, [][32]byte{root("vote for A"), root("vote for A")})
	if err != nil || !errors.Is(errs[0], ErrDuplicate) || !errors.Is(errs[1], ErrDuplicate) {
		t.Fatalf("resent after restart: %v, %v", errs, err)
	}
	// A proof first sent after the restart (made before, against the epoch's root) adds to the
	// stored count.
	errs, err = tp.client.SubmitProofs(ctx, []prover.Claim{third}, [][32]byte{root("vote for A")})
	if err != nil || errs[0] != nil {
		t.Fatalf("new proof after restart: %v, %v", errs, err)
	}
	if c := epochCounts(t, tp, testEpoch); c != (Counts{Epoch: testEpoch, Received: 6, Verified: 3, Duplicates: 2, Equivocations: 1}) {
		t.Fatalf("counts after restart and resend: %+v", c)
	}
	var one EvidenceRecord
	if code := getJSON(t, tp.http.URL+"/pool/v1/evidence/"+id, &one); code != http.StatusOK || one.Evidence == nil {
		t.Fatalf("evidence %s after restart: %d", id, code)
	}
	if err := one.Evidence.Check(v); err != nil {
		t.Fatalf("stored evidence does not check: %v", err)
	}
	var missing map[string]string
	if code := getJSON(t, tp.http.URL+"/pool/v1/evidence/10-"+strings.Repeat("00", 32), &missing); code != http.StatusNotFound {
		t.Fatalf("missing evidence: %d", code)
	}
}

// waitSubscribed waits until the pool has a subscriber on the evidence topic.
func waitSubscribed(t *testing.T, tp *testPool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if n, err := tp.quic.Publish(EvidenceTopic, frame.Frame{Type: 0x3f}); err == nil && n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no subscriber on the evidence topic")
}

// TestMemberAndRegistration: registrations over QUIC, the member's path to the epoch's root,
// and refusals with reasons.
func TestMemberAndRegistration(t *testing.T) {
	tp := startPool(t, t.TempDir(), 2)
	ctx := ctxT(t)
	m := mustMaterial(t)
	sk := testKey(t, 5)
	r, err := registry.Sign(m.ik, sk, testWeight, tp.srv.Registry().Domain())
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.client.Register(ctx, r); err != nil {
		t.Fatal(err)
	}
	bad := r
	bad.Weight++ // the signature no longer covers it
	if err := tp.client.Register(ctx, bad); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("bad registration: %v", err)
	}
	pk := sk.PublicKey().Bytes()
	if _, err := tp.client.Member(ctx, pk, testEpoch+1); err == nil || !strings.Contains(err.Error(), "no registry root") {
		t.Fatalf("member before the seal: %v", err)
	}
	if _, err := tp.srv.Seal(testEpoch + 1); err != nil {
		t.Fatal(err)
	}
	mem, err := tp.client.Member(ctx, pk, testEpoch+1)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := tp.srv.Registry().Root(testEpoch + 1)
	if got := mem.Path.Root(mem.Leaf()); !got.Equal(&want) || mem.Pubkey != pk {
		t.Fatal("member path does not lead to the epoch's root")
	}
	// Epoch 10's root is older than the tree the paths are in.
	if _, err := tp.client.Member(ctx, pk, testEpoch); err == nil || !strings.Contains(err.Error(), "does not lead") {
		t.Fatalf("member of an older epoch: %v", err)
	}
	// The new member proves against the new root and is accepted.
	sr := root("new member")
	c := tp.prove(t, 5, testEpoch+1, sr)
	errs, err := tp.client.SubmitProofs(ctx, []prover.Claim{c}, [][32]byte{sr})
	if err != nil || errs[0] != nil {
		t.Fatal(errs, err)
	}
	var roots struct{ Roots []SealedRoot }
	getJSON(t, tp.http.URL+"/pool/v1/roots", &roots)
	if len(roots.Roots) != 2 || roots.Roots[1].Epoch != testEpoch+1 || roots.Roots[1].Root != prover.HexField(&want) {
		t.Fatalf("roots %+v", roots)
	}
}

// TestMalformedFrames: truncated frames, wrong counts and lengths, bad points get a clear
// refusal (the whole frame, or the one item) and never a panic; the pool goes on.
func TestMalformedFrames(t *testing.T) {
	tp := startPool(t, t.TempDir(), 2)
	ctx := ctxT(t)
	sr := root("fine")
	good := Item{Claim: tp.prove(t, 0, testEpoch, sr), SigningRoot: sr}
	one := EncodeBatch([]Item{good})

	frames := map[string][]byte{
		"empty payload":     {},
		"count only":        {0, 0, 0, 1},
		"truncated item":    one[:len(one)-1],
		"extra byte":        append(append([]byte(nil), one...), 0),
		"zero count":        {0, 0, 0, 0},
		"count too large":   {0xff, 0xff, 0xff, 0xff},
		"count and no item": append([]byte{0, 0, 0, 2}, one[4:]...),
	}
	for name, p := range frames {
		_, err := tp.client.t.Request(ctx, frame.Frame{Type: TypeProofBatch, Payload: p})
		var te *transport.Error
		if !errors.As(err, &te) || te.Code != transport.ErrCodeRequestRejected || !strings.Contains(te.Message, "malformed") {
			t.Errorf("%s: %v", name, err)
		}
	}

	// Items that do not decode are refused one by one; the good one in their batch is taken.
	mutate := func(off int, f func(b []byte)) []byte {
		b := append([]byte(nil), one[4:]...)
		f(b[off:])
		return b
	}
	outside := good
	outside.Claim.Proof.B = twistPointOutsideG2(t)
	items := [][]byte{
		mutate(0, func(b []byte) { b[63] ^= 1 }),                                            // A off the curve
		mutate(0, func(b []byte) { b[0] |= 0x80 }),                                          // A in compressed form
		AppendItem(nil, &outside),                                                           // B outside G2
		mutate(prover.ProofRawSize, func(b []byte) { copy(b, strings.Repeat("\xff", 32)) }), // root above the modulus
		mutate(prover.ProofRawSize+32, func(b []byte) { b[0] = 1 }),                         // epoch above 2^64
		one[4:],
	}
	payload := []byte{0, 0, 0, byte(len(items))}
	for _, it := range items {
		payload = append(payload, it...)
	}
	f, err := tp.client.t.Request(ctx, frame.Frame{Type: TypeProofBatch, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	as, err := DecodeAnswers(f.Payload)
	if err != nil || len(as) != len(items) {
		t.Fatal(as, err)
	}
	for i, a := range as[:len(as)-1] {
		if a.Status != StatusMalformed || a.Reason == "" {
			t.Errorf("item %d: %+v", i, a)
		}
	}
	if as[len(as)-1].Status != StatusAccepted {
		t.Errorf("good item: %+v", as[len(as)-1])
	}
	// Bad member and registration requests.
	for name, req := range map[string]frame.Frame{
		"short member request": {Type: TypeMember, Payload: make([]byte, 10)},
		"short registration":   {Type: TypeRegistration, Payload: make([]byte, 10)},
	} {
		if _, err := tp.client.t.Request(ctx, req); err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func twistPointOutsideG2(t *testing.T) bn254.G2Affine {
	t.Helper()
	_, _, _, g2 := bn254.Generators()
	var b, y2, x3 bn254.E2
	y2.Square(&g2.Y)
	x3.Square(&g2.X).Mul(&x3, &g2.X)
	b.Sub(&y2, &x3)
	for i := uint64(1); i < 1000; i++ {
		var p bn254.G2Affine
		p.X.A0.SetUint64(i)
		p.X.A1.SetUint64(3)
		var rhs bn254.E2
		rhs.Square(&p.X).Mul(&rhs, &p.X).Add(&rhs, &b)
		if rhs.Legendre() != 1 {
			continue
		}
		p.Y.Sqrt(&rhs)
		if p.IsOnCurve() && !p.IsInSubGroup() {
			return p
		}
	}
	t.Fatal("no twist point outside G2")
	return bn254.G2Affine{}
}
