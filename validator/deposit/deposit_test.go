package deposit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/validator/keys"
	"github.com/zkvlabs/zkv/validator/signer"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// staking-deposit-cli's tests/test_utils/test_ssz.py: compute_deposit_domain(0x12121212) and
// compute_signing_root(DepositMessage(0x12*48, 0x12*32, 100), 0x12*32).
func TestDomainAndSigningRootVectors(t *testing.T) {
	d := Domain(phase0.Version{0x12, 0x12, 0x12, 0x12})
	if got := hex.EncodeToString(d[:]); got != "030000000d66608af557f4fadbfce248ac37f6e7639ce371100c43d15aad05cb" {
		t.Fatalf("deposit domain %s", got)
	}
	pk := phase0.BLSPubKey{}
	for i := range pk {
		pk[i] = 0x12
	}
	wc := make([]byte, 32)
	var dom phase0.Domain
	for i := range wc {
		wc[i], dom[i] = 0x12, 0x12
	}
	msg := &phase0.DepositMessage{PublicKey: pk, WithdrawalCredentials: wc, Amount: 100}
	mr, err := msg.HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	root := signer.SigningRoot(mr, dom)
	if got := hex.EncodeToString(root[:]); got != "67a3330ff87bdb46bb7b80ca7a641e398d6ac4e87a6856527cacc829fb61896f" {
		t.Fatalf("signing root %s", got)
	}
}

// refMnemonic's validator 0 with 0x01 credentials for 0x468c15d6…e2a5 on a chain of genesis fork
// version 0x20000089, as staking-deposit-cli 2.7.0 wrote it (a devnet README in a public
// repository, whose deposit data was accepted by its chain). BLS signatures are deterministic,
// so every byte must match.
const refMnemonic = "margin tank lunch prison top episode peanut approve dish seat nominee illness"

var refDeposit = Data{
	Pubkey:                "98db81971df910a5d46314d21320f897060d76fdf137d22f0eb91a8693a4767d2a22730a3aaa955f07d13ad604f968e9",
	WithdrawalCredentials: "010000000000000000000000468c15d616b52fcef0b932bf89d42157984be2a5",
	Amount:                32000000000,
	Signature:             "a20d736d6807720cb2a2f48526eb3df83162b387b806bdf7d0d08bb31d3d4e4daaf4a11120dc194b188035e9e5c9bdbf00c3be3ca68adec9c4fb2fb59d936337b750ae08a9e7add56fb82526792876066456010a64c5629b7f1f564f9923ff8e",
	DepositMessageRoot:    "2304faca7c177b307c224757df6e8a955026c613c86045ea569ba5547f8d104c",
	DepositDataRoot:       "e6260302845906138ebe075e9977e6086f02fc1c5142590bebdf54579c806bd3",
	ForkVersion:           "20000089",
	NetworkName:           "custom",
	DepositCLIVersion:     "2.7.0",
}

func refKey(t *testing.T) *bls.SecretKey {
	t.Helper()
	seed, err := keys.MnemonicSeed(refMnemonic, "")
	if err != nil {
		t.Fatal(err)
	}
	sk, err := keys.DerivePath(seed, keys.SigningPath(0))
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func TestNewMatchesStakingDepositCLI(t *testing.T) {
	var addr [20]byte
	copy(addr[:], unhex(t, "468c15d616b52fcef0b932bf89d42157984be2a5"))
	wc, err := AddressCredentials(ETH1AddressWithdrawalPrefix, addr)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(refKey(t), wc, 32*GweiPerETH, Network{"custom", phase0.Version{0x20, 0x00, 0x00, 0x89}})
	if err != nil {
		t.Fatal(err)
	}
	if *d != refDeposit {
		t.Fatalf("deposit data differs from staking-deposit-cli's:\n got %+v\nwant %+v", *d, refDeposit)
	}
	ref := refDeposit
	if err := ref.Verify(); err != nil {
		t.Fatalf("reference deposit: %v", err)
	}
}

// chunkRoot hashes two 32-byte chunks.
func pair(a, b []byte) []byte {
	h := sha256.Sum256(append(append([]byte{}, a...), b...))
	return h[:]
}

// sszRoots computes deposit_message_root and deposit_data_root by hand from the SSZ rules
// (ssz/simple-serialize.md "Merkleization"), without go-eth2-client, so that a mistake shared by
// New and Verify does not pass.
func sszRoots(pk, wc []byte, amount uint64, sig []byte) (msgRoot, dataRoot []byte) {
	zero := make([]byte, 32)
	pkRoot := pair(pk[:32], append(append([]byte{}, pk[32:]...), make([]byte, 16)...)) // Bytes48: two chunks
	amt := make([]byte, 32)
	binary.LittleEndian.PutUint64(amt, amount)
	msgRoot = pair(pair(pkRoot, wc), pair(amt, zero)) // three fields padded to four
	sigRoot := pair(pair(sig[:32], sig[32:64]), pair(sig[64:96], zero))
	dataRoot = pair(pair(pkRoot, wc), pair(amt, sigRoot))
	return msgRoot, dataRoot
}

func TestRootsBySSZRules(t *testing.T) {
	m, d := sszRoots(unhex(t, refDeposit.Pubkey), unhex(t, refDeposit.WithdrawalCredentials), refDeposit.Amount, unhex(t, refDeposit.Signature))
	if hex.EncodeToString(m) != refDeposit.DepositMessageRoot || hex.EncodeToString(d) != refDeposit.DepositDataRoot {
		t.Fatalf("hand SSZ roots %x %x differ from the reference", m, d)
	}
}

func TestWriteReadVerify(t *testing.T) {
	dir := t.TempDir()
	sk := refKey(t)
	var ds []*Data
	var addr [20]byte
	addr[19] = 0xaa
	wc2, _ := AddressCredentials(CompoundingWithdrawalPrefix, addr)
	d, err := New(sk, wc2, 100*GweiPerETH, Hoodi)
	if err != nil {
		t.Fatal(err)
	}
	ds = append(ds, d)
	wk, _ := bls.SecretKeyFromBytes(unhex(t, strings.Repeat("11", 32)))
	d0, err := New(sk, BLSCredentials(wk.PublicKey()), 32*GweiPerETH, Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	ds = append(ds, d0)
	now := time.Unix(1700000000, 0)
	path, err := Write(dir, ds, now)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "deposit_data-1700000000.json" {
		t.Fatalf("file name %s", path)
	}
	if _, err := Write(dir, ds, now); err == nil {
		t.Fatal("a second write replaced the file")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Read(b)
	if err != nil || len(back) != 2 {
		t.Fatalf("read back: %v (%d)", err, len(back))
	}
	for _, d := range back {
		if err := d.Verify(); err != nil {
			t.Fatal(err)
		}
		m, r := sszRoots(unhex(t, d.Pubkey), unhex(t, d.WithdrawalCredentials), d.Amount, unhex(t, d.Signature))
		if hex.EncodeToString(m) != d.DepositMessageRoot || hex.EncodeToString(r) != d.DepositDataRoot {
			t.Fatal("roots differ from the SSZ rules")
		}
	}
	if back[0].ForkVersion != "10000910" || back[0].NetworkName != "hoodi" || back[0].WithdrawalCredentials[:2] != "02" {
		t.Fatalf("hoodi 0x02 deposit: %+v", back[0])
	}
	wpk := wk.PublicKey().Bytes()
	h := sha256.Sum256(wpk[:])
	if back[1].WithdrawalCredentials != "00"+hex.EncodeToString(h[1:]) {
		t.Fatalf("0x00 credentials %s", back[1].WithdrawalCredentials)
	}

	// A deposit signed under another domain, or any field changed, fails Verify.
	bad := []func(d *Data){
		func(d *Data) { d.ForkVersion = "00000000" },
		func(d *Data) { d.Amount = 31 * GweiPerETH },
		func(d *Data) { d.Signature = back[1].Signature },
		func(d *Data) { d.DepositDataRoot = strings.Repeat("00", 32) },
		func(d *Data) { d.Pubkey = "zz" },
	}
	for i, f := range bad {
		c := *back[0]
		f(&c)
		if err := c.Verify(); err == nil {
			t.Errorf("tampered deposit %d verified", i)
		}
	}
	// The deposit domain uses no genesis validators root: one made with a non-zero root must fail.
	msgRoot := unhex(t, back[0].DepositMessageRoot)
	wrong := signer.SigningRoot(phase0.Root(msgRoot), signer.ComputeDomain(signer.DomainDeposit, Hoodi.ForkVersion, phase0.Root{1}))
	c := *back[0]
	s := sk.Sign(wrong[:]).Bytes()
	c.Signature = hex.EncodeToString(s[:])
	_, r := sszRoots(unhex(t, c.Pubkey), unhex(t, c.WithdrawalCredentials), c.Amount, s[:])
	c.DepositDataRoot = hex.EncodeToString(r)
	if err := c.Verify(); err == nil {
		t.Fatal("a deposit signed with a genesis validators root verified")
	}
}

func TestCheckAmount(t *testing.T) {
	var addr [20]byte
	wc1, _ := AddressCredentials(ETH1AddressWithdrawalPrefix, addr)
	wc2, _ := AddressCredentials(CompoundingWithdrawalPrefix, addr)
	for _, c := range []struct {
		amount uint64
		wc     [32]byte
		ok     bool
	}{
		{32 * GweiPerETH, wc1, true},
		{1 * GweiPerETH, wc1, true},
		{GweiPerETH - 1, wc1, false},
		{33 * GweiPerETH, wc1, false},
		{2048 * GweiPerETH, wc2, true},
		{2049 * GweiPerETH, wc2, false},
		{32 * GweiPerETH, [32]byte{0x03}, false},
	} {
		if err := CheckAmount(c.amount, c.wc); (err == nil) != c.ok {
			t.Errorf("amount %d prefix %#x: %v", c.amount, c.wc[0], err)
		}
	}
	if _, err := AddressCredentials(BLSWithdrawalPrefix, addr); err == nil {
		t.Fatal("0x00 credentials with an address")
	}
	if _, err := Read([]byte(`{"pubkey":1}`)); err == nil {
		t.Fatal("an object read as a deposit list")
	}
}
