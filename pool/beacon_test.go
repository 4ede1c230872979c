package pool

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/prover/registry"
)

// TestBeaconValidatorSet reads the clock, the network and the validator set from the devnet's
// beacon node over the Beacon API, and admits registrations with it.
func TestBeaconValidatorSet(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node, err := beacon.New(ctx, beacon.Config{Validators: 4, SlotTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- node.Run(runCtx, ln) }()
	defer func() { stop(); <-done }()

	b, err := NewBeacon(ctx, "http://"+ln.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := b.Clock()
	if !c.Genesis.Equal(node.GenesisTime()) || c.SlotDuration != time.Second || c.SlotsPerEpoch != 8 {
		t.Fatalf("clock %+v", c)
	}
	if n := b.Network(); n.GenesisValidatorsRoot != node.GenesisValidatorsRoot() || n.GenesisForkVersion != beacon.GenesisForkVersion {
		t.Fatalf("network %+v", n)
	}
	g := node.Genesis()
	bal, active, err := b.Validator(g.Secrets[2].PublicKey().Bytes())
	if err != nil || !active || bal != 32_000_000_000 {
		t.Fatalf("validator 2: %d %v %v", bal, active, err)
	}
	if bal, active, err := b.Validator(testKey(t, 1).PublicKey().Bytes()); err != nil || active || bal != 0 {
		t.Fatalf("unknown key: %d %v %v", bal, active, err)
	}

	m := mustMaterial(t)
	reg, err := registry.Open(registry.NewMemStore(), registry.Config{Depth: testDepth, Network: b.Network(),
		IdentityKey: m.ik.VerifyingKey(), Admit: registry.AdmitValidators(b)})
	if err != nil {
		t.Fatal(err)
	}
	ok, _ := registry.Sign(m.ik, g.Secrets[2], 32_000_000_000, reg.Domain())
	if err := reg.Register(ok); err != nil {
		t.Fatalf("validator 2: %v", err)
	}
	stranger, _ := registry.Sign(m.ik, testKey(t, 1), 32_000_000_000, reg.Domain())
	if err := reg.Register(stranger); !errors.Is(err, registry.ErrRejected) {
		t.Fatalf("a key outside the validator set: %v", err)
	}
}
