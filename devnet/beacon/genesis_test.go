package beacon_test

import (
	"context"
	"testing"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/validator/keys"
)

// The devnet's keys are exactly those `zkv keys recover` derives from the mnemonic
// (m/12381/3600/i/0/0), so the keystores it writes serve any EIP-2335 client.
func TestGenesisKeysAreEIP2334SigningKeys(t *testing.T) {
	g, err := beacon.DeriveGenesis(context.Background(), beacon.DefaultMnemonic, 5)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := keys.MnemonicSeed(beacon.DefaultMnemonic, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range g.Validators {
		sk, err := keys.DerivePath(seed, keys.SigningPath(uint32(i)))
		if err != nil {
			t.Fatal(err)
		}
		if !sk.PublicKey().Equal(g.Secrets[i].PublicKey()) || sk.PublicKey().Bytes() != g.Validators[i].Pubkey {
			t.Fatalf("validator %d: key differs from m/12381/3600/%d/0/0", i, i)
		}
	}
	g2, err := beacon.DeriveGenesis(context.Background(), beacon.DefaultMnemonic, 5)
	if err != nil {
		t.Fatal(err)
	}
	if g.GenesisValidatorsRoot != g2.GenesisValidatorsRoot || g.GenesisValidatorsRoot == [32]byte{} {
		t.Fatal("genesis validators root is not deterministic")
	}
}

// Keystores are written once, load with the password file, and a second start reuses them.
func TestKeystores(t *testing.T) {
	dir := t.TempDir()
	g, err := beacon.DeriveGenesis(context.Background(), beacon.DefaultMnemonic, 3)
	if err != nil {
		t.Fatal(err)
	}
	kd, pw, err := beacon.WriteKeystores(context.Background(), dir, beacon.DefaultMnemonic, g)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := keys.LoadDir(context.Background(), kd, keys.LoadOptions{Password: beacon.DefaultKeystorePassword, Limits: keys.InsecureKDFLimits})
	if err != nil {
		t.Fatalf("load devnet keystores: %v", err)
	}
	if len(loaded) != 3 || pw == "" {
		t.Fatalf("loaded %d keystores, password file %q", len(loaded), pw)
	}
	if _, _, err := beacon.WriteKeystores(context.Background(), dir, beacon.DefaultMnemonic, g); err != nil {
		t.Fatalf("second start with the same keys: %v", err)
	}
	other, _ := beacon.DeriveGenesis(context.Background(), beacon.DefaultMnemonic, 4)
	if _, _, err := beacon.WriteKeystores(context.Background(), dir, beacon.DefaultMnemonic, other); err == nil {
		t.Fatal("a directory with another validator count was reused")
	}
}
