package client

import (
	"context"
	"errors"
	"strings"
	"testing"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/validator/signer"
)

// New refuses a missing dependency with an error that names it, one row per dependency.
func TestNewChecksDependencies(t *testing.T) {
	full := []Option{WithBeaconNode("http://127.0.0.1:1"), WithKeystores("/k", "pw"), WithDatabase("/db")}
	cases := []struct {
		name string
		opts []Option
		want string
	}{
		{"no beacon node", []Option{WithKeystores("/k", "pw"), WithDatabase("/db")}, "no beacon node"},
		{"empty beacon node list", []Option{WithBeaconNodes(), WithKeystores("/k", "pw"), WithDatabase("/db")}, "no beacon node"},
		{"empty beacon node URL", append(full[:3:3], WithBeaconNodes("http://x", "")), "empty beacon node URL"},
		{"no keystores", []Option{WithBeaconNode("http://x"), WithDatabase("/db")}, "no keystore directory"},
		{"no password", []Option{WithBeaconNode("http://x"), WithKeystores("/k", ""), WithDatabase("/db")}, "no keystore password"},
		{"no database", []Option{WithBeaconNode("http://x"), WithKeystores("/k", "pw")}, "no slashing protection database"},
		{"zero timeout", append(full[:3:3], WithTimeout(0)), "timeout"},
		{"negative grace", append(full[:3:3], WithShutdownGrace(-1)), "grace"},
		{"zero gas limit", append(full[:3:3], WithGasLimit(0)), "gas limit"},
		{"negative doppelganger epochs", append(full[:3:3], WithDoppelganger(-1)), "doppelganger"},
	}
	for _, c := range cases {
		_, err := New(context.Background(), c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error about %q", c.name, err, c.want)
		}
	}
	if _, err := New(context.Background(), full...); err != nil {
		t.Fatalf("all dependencies: %v", err)
	}
}

// Once a blinded block was signed for a slot, no local block may be signed for it; a blinded
// block again (the same one, slashing protection decides) and other slots are unaffected.
func TestNoLocalBlockAfterBlinded(t *testing.T) {
	s, err := New(context.Background(), WithBeaconNode("http://x"), WithKeystores("/k", "pw"), WithDatabase("/db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.claimProposal(7, false); err != nil {
		t.Fatalf("local block first: %v", err)
	}
	if err := s.claimProposal(8, true); err != nil {
		t.Fatalf("blinded block: %v", err)
	}
	if err := s.claimProposal(8, false); !errors.Is(err, ErrLocalAfterBlinded) {
		t.Fatalf("local after blinded: %v, want ErrLocalAfterBlinded", err)
	}
	if err := s.claimProposal(8, true); err != nil {
		t.Fatalf("blinded again: %v", err)
	}
	if err := s.claimProposal(9, false); err != nil {
		t.Fatalf("local block of the next slot: %v", err)
	}
}

// A head event whose dependent roots differ from those of the held duties asks for a refetch
// (a reorg changed the duties); one that matches does not; the slot's head signal fires once.
func TestHeadEventDependentRoots(t *testing.T) {
	s, err := New(context.Background(), WithBeaconNode("http://x"), WithKeystores("/k", "pw"), WithDatabase("/db"))
	if err != nil {
		t.Fatal(err)
	}
	if s.net, err = signer.NewNetwork(signer.NetworkConfig{SlotsPerEpoch: 8, Forks: []signer.Fork{{Epoch: 0, Version: phase0.Version{1}}}}); err != nil {
		t.Fatal(err)
	}
	a, b, c := phase0.Root{0xa}, phase0.Root{0xb}, phase0.Root{0xc}
	s.duties[2] = &epochDuties{attesterDep: a, proposerDep: b}
	s.duties[3] = &epochDuties{attesterDep: b}
	pending := func() bool {
		select {
		case <-s.refetch:
			return true
		default:
			return false
		}
	}
	s.onHead(context.Background(), &apiv1.HeadEvent{Slot: 17, Block: c, PreviousDutyDependentRoot: a, CurrentDutyDependentRoot: b})
	if pending() {
		t.Fatal("matching dependent roots asked for a refetch")
	}
	select {
	case <-s.heads[17].ch:
	default:
		t.Fatal("the head signal of slot 17 did not fire")
	}
	if s.heads[17].root != c {
		t.Fatalf("head root %#x, want %#x", s.heads[17].root, c)
	}
	s.onHead(context.Background(), &apiv1.HeadEvent{Slot: 18, PreviousDutyDependentRoot: a, CurrentDutyDependentRoot: c})
	if !pending() {
		t.Fatal("a changed current_duty_dependent_root did not ask for a refetch")
	}
	s.onHead(context.Background(), &apiv1.HeadEvent{Slot: 19, PreviousDutyDependentRoot: c, CurrentDutyDependentRoot: b})
	if !pending() {
		t.Fatal("a changed previous_duty_dependent_root did not ask for a refetch")
	}
	s.onHead(context.Background(), &apiv1.HeadEvent{Slot: 19, Block: a, PreviousDutyDependentRoot: a, CurrentDutyDependentRoot: b})
	if s.heads[19].root != (phase0.Root{}) {
		t.Fatal("a second head event of a slot replaced the first")
	}
}

// is_aggregator: with committees smaller than TARGET_AGGREGATORS_PER_COMMITTEE every member
// aggregates; with larger ones about target of them do.
func TestIsAggregator(t *testing.T) {
	var proof phase0.BLSSignature
	selected := 0
	for i := range 1024 {
		proof[0], proof[1] = byte(i), byte(i>>8)
		if !isAggregator(15, 16, proof) {
			t.Fatalf("committee of 15: proof %d not an aggregator", i)
		}
		if isAggregator(1024, 16, proof) {
			selected++
		}
	}
	if selected < 2 || selected > 40 { // 1024 draws at 1/64: 16 expected
		t.Fatalf("committee of 1024: %d of 1024 proofs selected, want about 16", selected)
	}
}
