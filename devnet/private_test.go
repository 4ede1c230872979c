package devnet

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// privateKeyDir caches the prover's depth-4 keys for the whole test binary: the first test that
// needs them sets them up (single-party, devnet-only), the others load them.
var privateKeyDir struct {
	once sync.Once
	dir  string
	err  error
}

func testKeyDir(t *testing.T) string {
	t.Helper()
	privateKeyDir.once.Do(func() {
		privateKeyDir.dir, privateKeyDir.err = os.MkdirTemp("", "zkv-devnet-test-keys-")
	})
	if privateKeyDir.err != nil {
		t.Fatal(privateKeyDir.err)
	}
	return privateKeyDir.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if privateKeyDir.dir != "" {
		os.RemoveAll(privateKeyDir.dir)
	}
	os.Exit(code)
}

// testPrivateDepth is the registry depth of the tests' private attestations: 16 leaves, room
// for the 16 validators, and the smallest circuit the prover takes.
const testPrivateDepth = 4

// runPrivate runs the end-to-end devnet with the real private attestations: 16
// validators in two clients, one relay and builder that leave some slots without a bid, four
// epochs of the minimal preset (the least that finalizes), validator 5 planted as an
// equivocator, and with restartAt > 0 the pool stopped at that slot and started again a slot
// later on the same database and addresses. It checks what holds whether or not the pool
// restarted, and returns the summary and the private attestations.
func runPrivate(t *testing.T, restartAt uint64) (*Summary, *PrivateAttestations) {
	t.Helper()
	// Full mode holds every slot to 2-second slots; short mode (1-second slots) and the race
	// detector tolerate a few late ones (the private figures are held exact in every mode).
	strict := !testing.Short() && !raceEnabled
	slot := time.Second
	if !testing.Short() {
		slot = 2 * time.Second
	}
	const equivocator = 5
	p, err := NewPrivate(PrivateConfig{Depth: testPrivateDepth, Validators: 16, KeyDir: testKeyDir(t),
		RestartPoolAt: restartAt, RestartDowntime: slot, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	eq := equivocator
	// The genesis delay leaves the validators' services time to register with the pool before
	// it seals epoch 0's root at genesis (a later registration is in the next epoch's tree only,
	// and that epoch 0 proofs fail): 6 s, as the prover keys load first on a loaded machine.
	var out syncBuffer
	n, err := New(Config{Validators: 16, Epochs: 4, SlotTime: slot, Relays: 1, Builders: 1, NoBidShare: 0.3,
		GenesisDelay: 6 * time.Second, Dir: t.TempDir(), Out: &out, Logger: testLogger(), Private: p, Equivocate: &eq})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := n.Run(ctx); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	t.Logf("live view:\n%s", out.String())
	s := n.Summary()
	if s == nil {
		t.Fatal("no summary")
	}
	if s.Stopped != "" || s.LastSlot != 32 {
		t.Fatalf("stopped %q at slot %d, want the end at slot 32", s.Stopped, s.LastSlot)
	}
	if !s.Finalized || s.FinalizedEpoch < 2 {
		t.Errorf("justified %d finalized %d: want epoch 2 finalized after four epochs", s.JustifiedEpoch, s.FinalizedEpoch)
	}
	if s.SlashingViolations != 0 {
		t.Errorf("%d slashing violations: %v", s.SlashingViolations, s.DutyErrors)
	}
	// Every slot proposed, through the builder path when a relay accepted a bid on its parent.
	// In short mode (1-second slots on a shared machine) a few late slots are tolerated, as in
	// TestNetworkFinalizes; a builder block without a bid never is.
	late := 0
	for _, sv := range s.Slots {
		switch {
		case sv.Bids == 0 && sv.Path == "builder":
			t.Errorf("slot %d: no bid on the block's parent, yet a builder block", sv.Slot)
		case sv.Path == "missed", sv.Bids > 0 && sv.Path != "builder":
			if strict {
				t.Errorf("slot %d: %s block with %d bids", sv.Slot, sv.Path, sv.Bids)
			}
			late++
			t.Logf("slot %d: %s block with %d bids (late under load)", sv.Slot, sv.Path, sv.Bids)
		}
	}
	if late > 6 {
		t.Errorf("%d slots late or missed of 32", late)
	}
	if s.Attestations == 0 || s.Aggregates == 0 || s.Blocks.Builder == 0 {
		t.Errorf("%d attestations, %d aggregates, %d builder blocks", s.Attestations, s.Aggregates, s.Blocks.Builder)
	}

	// The private attestations: every attestation proved, every proof answered and verified once
	// by the pool, nothing refused, and the evidence names the planted validator.
	ps := s.Private
	if ps == nil {
		t.Fatal("no private figures in the summary")
	}
	t.Logf("private: %+v", *ps)
	// The validators hand every attestation they signed to the provers, so at least those the
	// beacon node accepted.
	if ps.Attestations < s.Attestations || s.Attestations < 3*16 || ps.ProofsToMake != 0 || ps.ProofsFailed != 0 || ps.ProofsRefused != 0 ||
		ps.ProofsPending != 0 || ps.ProofsDropped != 0 {
		t.Errorf("%d attestations: %d still to prove, %d without a proof, %d refused, %d unanswered, %d given up",
			ps.Attestations, ps.ProofsToMake, ps.ProofsFailed, ps.ProofsRefused, ps.ProofsPending, ps.ProofsDropped)
	}
	// One proof made is the planted second attestation, which the pool answers as an
	// equivocation: every other proof is verified exactly once.
	if ps.ProofsVerified != ps.ProofsMade-1 || ps.Equivocations < 1 {
		t.Errorf("%d proofs made (one planted), %d verified, %d equivocations", ps.ProofsMade, ps.ProofsVerified, ps.Equivocations)
	}
	// The equivocator attests in epoch 0 with both proofs; from the seal after the evidence on
	// its key is revoked, and its later attestations are counted as such, not proved.
	if ps.Attestations != ps.ProofsMade-1+ps.Revoked {
		t.Errorf("%d attestations, %d proofs made (one planted), %d of revoked keys", ps.Attestations, ps.ProofsMade, ps.Revoked)
	}
	if len(ps.Evidence) != 1 || ps.Evidence[0].ValidatorIndex != equivocator || ps.Evidence[0].Epoch != 0 ||
		ps.EquivocationCaught == nil || !*ps.EquivocationCaught {
		t.Errorf("evidence %+v, caught %v: want validator %d in epoch 0", ps.Evidence, ps.EquivocationCaught, equivocator)
	}
	if !s.OK || !strings.Contains(out.String(), "EVIDENCE  epoch 0: validator 5") {
		t.Errorf("summary not OK or no evidence line:\n%s", out.String())
	}
	return s, p
}

// The end-to-end test of the private attestations: see runPrivate.
func TestPrivateAttestations(t *testing.T) {
	if raceEnabled && testing.Short() {
		t.Skip("four epochs with a prover under the race detector on two shared cores miss slots: run without -short")
	}
	s, _ := runPrivate(t, 0)
	if s.Private.PoolRestarts != 0 {
		t.Errorf("%d pool restarts, none asked for", s.Private.PoolRestarts)
	}
}

// The same run with the pool stopped at slot 20 (epoch 2) and started again a slot later on
// the same database, QUIC address and key: the validators keep attesting, resend what the pool
// did not acknowledge, and nothing is lost or counted twice. Every proof of epoch 2, those
// verified before the restart and those after, is in the restarted pool's count of the epoch,
// which it derives from its database.
func TestPrivateAttestationsPoolRestart(t *testing.T) {
	if raceEnabled && testing.Short() {
		t.Skip("four epochs with a prover under the race detector on two shared cores miss slots: run without -short")
	}
	const restartAt = 20
	s, p := runPrivate(t, restartAt)
	if s.Private.PoolRestarts != 1 {
		t.Fatalf("%d pool restarts, want 1", s.Private.PoolRestarts)
	}
	p.poolMu.RLock()
	srv, before := p.run.srv, p.cached.ProofsVerified
	p.poolMu.RUnlock()
	// The pool stopped half-way: it had verified proofs, and verified more once back.
	if before < 2*15 || before >= s.Private.ProofsVerified {
		t.Errorf("the pool verified %d proofs before the restart, %d in all", before, s.Private.ProofsVerified)
	}
	var verified uint64
	for _, c := range srv.Counts() {
		verified += c.Verified
		// 16 validators attest once in epoch 2, the equivocator revoked since its evidence in
		// epoch 0; an attestation the beacon node did not take (a duty failure under load) is
		// not proved.
		if c.Epoch == restartAt/8 && (c.Verified > 15 || c.Verified+uint64(s.DutyFailures) < 15) {
			t.Errorf("epoch 2 (restarted at slot %d): %+v, want the 15 proofs of the unrevoked validators", restartAt, c)
		}
	}
	if verified != uint64(s.Private.ProofsVerified) {
		t.Errorf("the restarted pool counts %d verified proofs, the summary %d", verified, s.Private.ProofsVerified)
	}
}
