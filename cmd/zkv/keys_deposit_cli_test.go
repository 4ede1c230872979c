package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkvlabs/zkv/validator/deposit"
)

// zkv keys recover writes the deposit data staking-deposit-cli 2.7.0 wrote for the same mnemonic,
// validator, address and chain (validator/deposit's reference), every field checked again from
// the file: both roots, the signature under the deposit domain.
func TestKeysRecoverDepositData(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	mf := filepath.Join(dir, "mnemonic")
	if err := os.WriteFile(pw, []byte("correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mf, []byte("margin tank lunch prison top episode peanut approve dish seat nominee illness\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "keys")
	runZKV(t, 0, "keys", "recover", "--mnemonic-file", mf, "--dir", out, "--count", "2", "--password-file", pw, "--kdf", "pbkdf2",
		"--genesis-fork-version", "0x20000089", "--withdrawal-address", "0x468c15d616B52FCEf0B932BF89D42157984BE2A5")
	files, _ := filepath.Glob(filepath.Join(out, "deposit_data-*.json"))
	if len(files) != 1 {
		t.Fatalf("%d deposit data files", len(files))
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	ds, err := deposit.Read(b)
	if err != nil || len(ds) != 2 {
		t.Fatalf("deposit data: %v (%d entries)", err, len(ds))
	}
	for _, d := range ds {
		if err := d.Verify(); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{
		"pubkey":               "98db81971df910a5d46314d21320f897060d76fdf137d22f0eb91a8693a4767d2a22730a3aaa955f07d13ad604f968e9",
		"signature":            "a20d736d6807720cb2a2f48526eb3df83162b387b806bdf7d0d08bb31d3d4e4daaf4a11120dc194b188035e9e5c9bdbf00c3be3ca68adec9c4fb2fb59d936337b750ae08a9e7add56fb82526792876066456010a64c5629b7f1f564f9923ff8e",
		"deposit_data_root":    "e6260302845906138ebe075e9977e6086f02fc1c5142590bebdf54579c806bd3",
		"deposit_message_root": "2304faca7c177b307c224757df6e8a955026c613c86045ea569ba5547f8d104c",
	}
	got := map[string]string{"pubkey": ds[0].Pubkey, "signature": ds[0].Signature, "deposit_data_root": ds[0].DepositDataRoot,
		"deposit_message_root": ds[0].DepositMessageRoot}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %s, staking-deposit-cli wrote %s", k, got[k], v)
		}
	}
	if ds[0].NetworkName != "custom" || ds[0].ForkVersion != "20000089" || ds[0].Amount != 32_000_000_000 {
		t.Errorf("deposit 0: %+v", ds[0])
	}
	// The keystores load as before: the deposit file beside them is skipped.
	if n := strings.Count(runZKV(t, 0, "keys", "list", "--dir", out), "m/12381/3600/"); n != 2 {
		t.Fatalf("keys list shows %d keystores", n)
	}

	// 0x02 on hoodi with 100 ETH; 0x00 (no address) on mainnet.
	out2 := filepath.Join(dir, "keys2")
	runZKV(t, 0, "keys", "recover", "--mnemonic-file", mf, "--dir", out2, "--password-file", pw, "--kdf", "pbkdf2",
		"--network", "hoodi", "--withdrawal-address", "0x468c15d616B52FCEf0B932BF89D42157984BE2A5", "--compounding", "--amount", "100")
	files, _ = filepath.Glob(filepath.Join(out2, "deposit_data-*.json"))
	b, _ = os.ReadFile(files[0])
	ds, err = deposit.Read(b)
	if err != nil || len(ds) != 1 || ds[0].Verify() != nil || ds[0].WithdrawalCredentials[:2] != "02" || ds[0].Amount != 100_000_000_000 || ds[0].ForkVersion != "10000910" {
		t.Fatalf("hoodi 0x02 deposit: %v %+v", err, ds)
	}
}

// Bad deposit flags are refused before a mnemonic is made.
func TestKeysNewDepositFlags(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--network", "gnosis"},
		{"--genesis-fork-version", "0x123"},
		{"--withdrawal-address", "468c15d616B52FCEf0B932BF89D42157984BE2A5"},
		{"--compounding"},
		{"--amount", "33", "--withdrawal-address", "0x468c15d616B52FCEf0B932BF89D42157984BE2A5"},
		{"--amount", "0.5"},
		{"--amount", "1.0000000001"},
	} {
		out := runZKV(t, 2, append([]string{"keys", "new", "--dir", dir}, args...)...)
		if strings.Contains(out, "mnemonic (shown once") {
			t.Fatalf("%v: a mnemonic was shown before the flags were refused", args)
		}
	}
}
