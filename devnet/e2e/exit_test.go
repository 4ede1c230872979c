package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/keys"
)

// A voluntary exit signed by client.Exit (EIP-7044 domain) is accepted by the devnet beacon
// node, which checks its signature, and lands in the exit pool; an exit for a future epoch and
// one for a key the keystores do not hold are refused with an error.
func TestVoluntaryExit(t *testing.T) {
	node, url, keyDir := devnetWith(t, beacon.Config{Validators: 8, SlotTime: slotTime(), GenesisDelay: time.Second,
		KeystoreDir: t.TempDir(), ShardCommitteePeriod: 1})
	// SHARD_COMMITTEE_PERIOD 1: genesis validators may exit from epoch 1.
	waitUntil(t, node.GenesisTime().Add(time.Duration(node.Preset().SlotsPerEpoch)*node.SlotTime()).Add(200*time.Millisecond))

	ctx := context.Background()
	opts := []client.Option{client.WithBeaconNode(url), client.WithKeystores(keyDir, beacon.DefaultKeystorePassword),
		client.WithKDFLimits(keys.InsecureKDFLimits), client.WithLogger(testLogger(t))}
	pk := node.Genesis().Validators[3].Pubkey
	exits, err := client.Exit(ctx, []phase0.BLSPubKey{pk}, nil, opts...)
	if err != nil {
		t.Fatalf("exit of validator 3: %v", err)
	}
	if len(exits) != 1 || exits[0].Message.ValidatorIndex != 3 || exits[0].Message.Epoch != 1 {
		t.Fatalf("exits %+v, want validator 3 at epoch 1", exits)
	}
	pool, err := dial(t, url).VoluntaryExitPool(ctx, &api.VoluntaryExitPoolOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pool.Data) != 1 || pool.Data[0].Message.ValidatorIndex != 3 || pool.Data[0].Signature != exits[0].Signature {
		t.Fatalf("exit pool %+v, want the signed exit of validator 3", pool.Data)
	}

	future := phase0.Epoch(5)
	if _, err := client.Exit(ctx, []phase0.BLSPubKey{node.Genesis().Validators[4].Pubkey}, &future, opts...); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("an exit for a future epoch: %v, want the beacon node's refusal", err)
	} else {
		t.Logf("future exit refused: %v", err)
	}
	if _, err := client.Exit(ctx, []phase0.BLSPubKey{{0xc0}}, nil, opts...); err == nil || !strings.Contains(err.Error(), "no keystore") {
		t.Errorf("exit of an unknown key: %v, want an error naming the missing keystore", err)
	}
	if _, err := client.Exit(ctx, nil, nil, opts...); err == nil {
		t.Error("an exit of no validator was accepted")
	}
}
