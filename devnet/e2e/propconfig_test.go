package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/propconfig"
)

// Per-validator proposer settings reach the chain: against the devnet beacon node, the even
// validators have their own fee recipient (..0i+1) and graffiti ("zkv-v<i>"), the odd ones take
// the default section's; every block from slot 3 on (the fee recipients are prepared at the
// start of epoch 0, while slot 1 may already be building) carries its proposer's.
func TestProposerConfigOnDevnet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a devnet for 10 slots")
	}
	const validators = 8
	node, url, keyDir := devnet(t, validators)
	ctx := context.Background()
	c := dial(t, url)
	indices := make([]phase0.ValidatorIndex, validators)
	for i := range indices {
		indices[i] = phase0.ValidatorIndex(i)
	}
	vals, err := c.Validators(ctx, &api.ValidatorsOpts{State: "head", Indices: indices})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("default:\n  fee_recipient: \"0x00000000000000000000000000000000000000dd\"\n  graffiti: \"default\"\n")
	for idx, v := range vals.Data {
		if idx%2 == 0 {
			fmt.Fprintf(&b, "\"%#x\":\n  fee_recipient: \"0x%038x%02x\"\n  graffiti: \"zkv-v%d\"\n", v.Validator.PublicKey, 0, idx+1, idx)
		}
	}
	cfg, err := propconfig.Parse([]byte(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	var rep reports
	startValidatorWith(t, url, keyDir, t.TempDir(), &rep, client.WithDoppelganger(0), client.WithProposerConfig(cfg),
		client.WithGraffiti([32]byte{'f', 'l', 'a', 'g'}))

	const end = 10
	waitUntil(t, node.GenesisTime().Add(end*node.SlotTime()+300*time.Millisecond))
	checked := 0
	for s := phase0.Slot(3); s < end; s++ {
		blk, err := c.SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: fmt.Sprint(s)})
		if err != nil || blk.Data == nil {
			t.Errorf("slot %d: no block: %v", s, err)
			continue
		}
		idx, _ := blk.Data.ProposerIndex()
		g, _ := blk.Data.Graffiti()
		p, err := blk.Data.ExecutionPayload()
		if err != nil {
			t.Fatalf("slot %d payload: %v", s, err)
		}
		fr, _ := p.FeeRecipient()
		wantG, wantFR := "default", byte(0xdd)
		if idx%2 == 0 {
			wantG, wantFR = fmt.Sprintf("zkv-v%d", idx), byte(idx+1)
		}
		if got := strings.TrimRight(string(g[:]), "\x00"); got != wantG || fr[19] != wantFR || fr[0] != 0 {
			t.Errorf("slot %d proposer %d: graffiti %q fee recipient %#x, want %q and ..%02x", s, idx, got, fr, wantG, wantFR)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no block checked")
	}
}
