package e2e_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/validator/client"
)

// Keys imported through the keymanager API while the client runs get the doppelganger watch
// too: validator 5 (run nowhere else) signs only after a whole watched epoch, and validator 6,
// which another client is running, is never used: it is dropped and its keystore deleted.
func TestKeymanagerImportWatched(t *testing.T) {
	if testing.Short() && raceEnabled {
		t.Skip("three epochs of 2 s slots under the race detector")
	}
	node, url, allKeys := devnetWith(t, beacon.Config{Validators: 8, SlotTime: slotTime(), GenesisDelay: 2 * time.Second, KeystoreDir: t.TempDir()})
	var other reports
	startValidatorWith(t, url, keySubset(t, allKeys, 6, 7), t.TempDir(), &other, client.WithDoppelganger(0))
	keyDir := keySubset(t, allKeys, 0, 4)
	c := startKeymanaged(t, url, keyDir, t.TempDir(), filepath.Join(t.TempDir(), "token"), client.WithDoppelganger(1))

	st := statuses(t, c.must(t, 200, "POST", "/eth/v1/keystores", map[string]any{
		"keystores": []string{keystoreOf(t, allKeys, 5), keystoreOf(t, allKeys, 6)},
		"passwords": []string{beacon.DefaultKeystorePassword, beacon.DefaultKeystorePassword}}))
	if len(st.Data) != 2 || st.Data[0].Status != "imported" || st.Data[1].Status != "imported" {
		t.Fatalf("import statuses %+v", st.Data)
	}
	spe := node.Preset().SlotsPerEpoch
	imported := phase0.Epoch(uint64(node.CurrentSlot()) / spe)
	// The watch judges epoch imported+1; the keys sign from imported+2 on. The liveness endpoint
	// answers for the current and previous epoch: each epoch is asked once it is over.
	bn := dial(t, url)
	for _, tc := range []struct {
		epoch phase0.Epoch
		want  map[phase0.ValidatorIndex]bool
	}{
		{imported + 1, map[phase0.ValidatorIndex]bool{5: false, 6: true}}, // watched: 5 silent; 6 is the other client's
		{imported + 2, map[phase0.ValidatorIndex]bool{5: true, 6: true}},  // 5 signs here now; 6 only there
	} {
		waitUntil(t, node.GenesisTime().Add(time.Duration(uint64(tc.epoch+1)*spe)*node.SlotTime()+node.SlotTime()/2))
		live, err := bn.ValidatorLiveness(context.Background(), &api.ValidatorLivenessOpts{Epoch: tc.epoch, Indices: []phase0.ValidatorIndex{5, 6}})
		if err != nil || len(live.Data) != 2 {
			t.Fatalf("liveness of epoch %d: %v", tc.epoch, err)
		}
		for _, l := range live.Data {
			if l.IsLive != tc.want[l.Index] {
				t.Errorf("epoch %d (keys imported in %d): validator %d live %v, want %v", tc.epoch, imported, l.Index, l.IsLive, tc.want[l.Index])
			}
		}
	}
	held, err := c.svc.HeldKeys()
	if err != nil {
		t.Fatal(err)
	}
	gen := node.Genesis()
	var has5, has6 bool
	for _, k := range held {
		has5 = has5 || k.Pubkey == gen.Validators[5].Pubkey
		has6 = has6 || k.Pubkey == gen.Validators[6].Pubkey
	}
	if !has5 || has6 {
		t.Errorf("held keys: validator 5 %v (want true), validator 6 %v (want false: live elsewhere)", has5, has6)
	}
	if m, _ := filepath.Glob(filepath.Join(keyDir, "keystore-m_12381_3600_6_0_0-*.json")); len(m) != 0 {
		t.Errorf("validator 6's keystore is still in the client's directory: %v", m)
	}
}
