// Package deposit makes the deposit data of new validators: the DepositMessage signed under the
// deposit domain, its roots, and the deposit_data-<time>.json file in the format the staking
// deposit CLI (ethereum/staking-deposit-cli, ethstaker-deposit-cli) writes and the staking
// launchpad reads. It owns the withdrawal credentials, the amounts a deposit may carry and the
// file; keys come from validator/keys, BLS from crypto/bls.
package deposit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/validator/keys"
	"github.com/zkvlabs/zkv/validator/signer"
)

// Amounts in gwei (phase0 and electra beacon-chain.md, "Gwei values").
const (
	GweiPerETH = 1_000_000_000
	// MinDepositAmount is MIN_DEPOSIT_AMOUNT: 1 ETH.
	MinDepositAmount = 1 * GweiPerETH
	// MaxEffectiveBalance is MAX_EFFECTIVE_BALANCE, the most a 0x00 or 0x01 validator counts:
	// more would sit idle until withdrawn.
	MaxEffectiveBalance = 32 * GweiPerETH
	// MaxEffectiveBalanceElectra is MAX_EFFECTIVE_BALANCE_ELECTRA, the most a compounding
	// (0x02) validator counts (EIP-7251).
	MaxEffectiveBalanceElectra = 2048 * GweiPerETH
)

// Withdrawal credential prefixes (phase0, capella and electra beacon-chain.md).
const (
	BLSWithdrawalPrefix         = 0x00
	ETH1AddressWithdrawalPrefix = 0x01
	CompoundingWithdrawalPrefix = 0x02
)

// CLIVersion is written as deposit_cli_version: the staking launchpad refuses files whose
// version is older than the format it knows, and zkv writes the format of staking-deposit-cli
// 2.7.0 (the fields below, hex without 0x, amount as a JSON number).
const CLIVersion = "2.7.0"

// Network is the chain a deposit is for: its name in the file and its GENESIS_FORK_VERSION.
type Network struct {
	Name        string
	ForkVersion phase0.Version
}

// The public networks (their config.yaml GENESIS_FORK_VERSION).
var (
	Mainnet = Network{"mainnet", phase0.Version{0x00, 0x00, 0x00, 0x00}}
	Hoodi   = Network{"hoodi", phase0.Version{0x10, 0x00, 0x09, 0x10}}
	Sepolia = Network{"sepolia", phase0.Version{0x90, 0x00, 0x00, 0x69}}
)

// Domain is the deposit domain: compute_domain(DOMAIN_DEPOSIT, fork_version, zero root). The
// consensus specs (phase0 beacon-chain.md, "Deposits": "Fork-agnostic domain since deposits are
// valid across forks") sign deposits with the genesis fork version and no genesis validators
// root, so that a deposit made before genesis, or years after, verifies the same.
func Domain(forkVersion phase0.Version) phase0.Domain {
	return signer.ComputeDomain(signer.DomainDeposit, forkVersion, phase0.Root{})
}

// ErrWithdrawalAddress: a 0x01 or 0x02 credential needs an execution address, a 0x00 none.
var ErrWithdrawalAddress = errors.New("deposit: withdrawal credentials")

// AddressCredentials is the 0x01 or 0x02 withdrawal credential of an execution address:
// prefix || 11 zero bytes || address (capella and electra beacon-chain.md).
func AddressCredentials(prefix byte, addr [20]byte) ([32]byte, error) {
	var wc [32]byte
	if prefix != ETH1AddressWithdrawalPrefix && prefix != CompoundingWithdrawalPrefix {
		return wc, fmt.Errorf("%w: prefix %#02x takes no address (want 0x01 or 0x02)", ErrWithdrawalAddress, prefix)
	}
	wc[0] = prefix
	copy(wc[12:], addr[:])
	return wc, nil
}

// BLSCredentials is the 0x00 withdrawal credential of a BLS withdrawal key: 0x00 ||
// SHA-256(pubkey)[1:] (phase0 beacon-chain.md, "BLS_WITHDRAWAL_PREFIX"). The key is the
// EIP-2334 withdrawal key m/12381/3600/i/0 of the validator's mnemonic; funds under it move
// only after a BLS-to-execution change signed with that key.
func BLSCredentials(withdrawalKey *bls.PublicKey) [32]byte {
	pk := withdrawalKey.Bytes()
	wc := sha256.Sum256(pk[:])
	wc[0] = BLSWithdrawalPrefix
	return wc
}

// CheckAmount refuses an amount the deposit contract or the beacon chain would not use as
// meant: below MIN_DEPOSIT_AMOUNT, not a whole number of gwei (the caller's unit), or above the
// most the credential type lets a validator count (32 ETH for 0x00 and 0x01, 2048 ETH for 0x02).
func CheckAmount(amount uint64, wc [32]byte) error {
	maxAmount := uint64(MaxEffectiveBalance)
	if wc[0] == CompoundingWithdrawalPrefix {
		maxAmount = MaxEffectiveBalanceElectra
	}
	switch {
	case wc[0] > CompoundingWithdrawalPrefix:
		return fmt.Errorf("%w: unknown prefix %#02x", ErrWithdrawalAddress, wc[0])
	case amount < MinDepositAmount:
		return fmt.Errorf("deposit: amount %d gwei is below the minimum deposit of 1 ETH", amount)
	case amount > maxAmount:
		return fmt.Errorf("deposit: amount %d gwei is above %d ETH, the most a validator with %#02x credentials counts (0x02 compounding credentials allow up to 2048 ETH)",
			amount, maxAmount/GweiPerETH, wc[0])
	}
	return nil
}

// Data is one deposit as the staking deposit CLI writes it: byte fields as hex without 0x,
// the amount in gwei as a JSON number.
type Data struct {
	Pubkey                string `json:"pubkey"`
	WithdrawalCredentials string `json:"withdrawal_credentials"`
	Amount                uint64 `json:"amount"`
	Signature             string `json:"signature"`
	DepositMessageRoot    string `json:"deposit_message_root"`
	DepositDataRoot       string `json:"deposit_data_root"`
	ForkVersion           string `json:"fork_version"`
	NetworkName           string `json:"network_name"`
	DepositCLIVersion     string `json:"deposit_cli_version"`
}

// New signs the deposit of sk's validator: the DepositMessage (pubkey, withdrawal credentials,
// amount) signed under Domain(net.ForkVersion) (phase0 beacon-chain.md "Deposits";
// validator.md "Submit deposit"), with deposit_message_root = hash_tree_root(DepositMessage) and
// deposit_data_root = hash_tree_root(DepositData), the root the deposit contract checks.
func New(sk *bls.SecretKey, wc [32]byte, amount uint64, net Network) (*Data, error) {
	if sk == nil {
		return nil, errors.New("deposit: no secret key")
	}
	if err := CheckAmount(amount, wc); err != nil {
		return nil, err
	}
	pk := sk.PublicKey().Bytes()
	msg := &phase0.DepositMessage{PublicKey: phase0.BLSPubKey(pk), WithdrawalCredentials: wc[:], Amount: phase0.Gwei(amount)}
	msgRoot, err := msg.HashTreeRoot()
	if err != nil {
		return nil, fmt.Errorf("deposit: message root: %w", err)
	}
	root := signer.SigningRoot(msgRoot, Domain(net.ForkVersion))
	sig := sk.Sign(root[:]).Bytes()
	dd := &phase0.DepositData{PublicKey: msg.PublicKey, WithdrawalCredentials: wc[:], Amount: msg.Amount, Signature: phase0.BLSSignature(sig)}
	ddRoot, err := dd.HashTreeRoot()
	if err != nil {
		return nil, fmt.Errorf("deposit: data root: %w", err)
	}
	return &Data{
		Pubkey: hex.EncodeToString(pk[:]), WithdrawalCredentials: hex.EncodeToString(wc[:]), Amount: amount,
		Signature: hex.EncodeToString(sig[:]), DepositMessageRoot: hex.EncodeToString(msgRoot[:]),
		DepositDataRoot: hex.EncodeToString(ddRoot[:]), ForkVersion: hex.EncodeToString(net.ForkVersion[:]),
		NetworkName: net.Name, DepositCLIVersion: CLIVersion,
	}, nil
}

// Verify checks d as the deposit contract and the beacon chain would: both roots recomputed from
// the fields, the amount, and the signature against the pubkey under the deposit domain of
// d's fork version (phase0 beacon-chain.md, "apply_deposit": a deposit with a bad signature
// creates no validator, and its ether is lost).
func (d *Data) Verify() error {
	pkb, err := hexBytes("pubkey", d.Pubkey, 48)
	if err != nil {
		return err
	}
	wc, err := hexBytes("withdrawal_credentials", d.WithdrawalCredentials, 32)
	if err != nil {
		return err
	}
	sigb, err := hexBytes("signature", d.Signature, 96)
	if err != nil {
		return err
	}
	fv, err := hexBytes("fork_version", d.ForkVersion, 4)
	if err != nil {
		return err
	}
	if err := CheckAmount(d.Amount, [32]byte(wc)); err != nil {
		return err
	}
	msg := &phase0.DepositMessage{PublicKey: phase0.BLSPubKey(pkb), WithdrawalCredentials: wc, Amount: phase0.Gwei(d.Amount)}
	msgRoot, err := msg.HashTreeRoot()
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(msgRoot[:]); got != strings.ToLower(d.DepositMessageRoot) {
		return fmt.Errorf("deposit %s: deposit_message_root %s, computed %s", d.Pubkey, d.DepositMessageRoot, got)
	}
	dd := &phase0.DepositData{PublicKey: msg.PublicKey, WithdrawalCredentials: wc, Amount: msg.Amount, Signature: phase0.BLSSignature(sigb)}
	ddRoot, err := dd.HashTreeRoot()
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(ddRoot[:]); got != strings.ToLower(d.DepositDataRoot) {
		return fmt.Errorf("deposit %s: deposit_data_root %s, computed %s", d.Pubkey, d.DepositDataRoot, got)
	}
	pk, err := bls.PublicKeyFromBytes(pkb)
	if err != nil {
		return fmt.Errorf("deposit: pubkey: %w", err)
	}
	sig, err := bls.SignatureFromBytes(sigb)
	if err != nil {
		return fmt.Errorf("deposit: signature: %w", err)
	}
	root := signer.SigningRoot(msgRoot, Domain(phase0.Version(fv)))
	if !bls.Verify(pk, root[:], sig) {
		return fmt.Errorf("deposit %s: the signature does not verify under the deposit domain of fork version %s", d.Pubkey, d.ForkVersion)
	}
	return nil
}

func hexBytes(field, s string, n int) ([]byte, error) {
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(b) != n {
		return nil, fmt.Errorf("deposit: %s %q: want %d bytes of hex", field, s, n)
	}
	return b, nil
}

// FileName is the name the staking deposit CLI gives a deposit file made at t.
func FileName(t time.Time) string { return fmt.Sprintf("deposit_data-%d.json", t.Unix()) }

// Write writes ds as dir/deposit_data-<unix time of now>.json (mode 0600, atomically, never
// replacing a file) and returns its path.
func Write(dir string, ds []*Data, now time.Time) (string, error) {
	if len(ds) == 0 {
		return "", errors.New("deposit: no deposits to write")
	}
	b, err := json.MarshalIndent(ds, "", "  ")
	if err != nil {
		return "", err
	}
	return keys.WriteFileAtomic(dir, FileName(now), append(b, '\n'))
}

// Read parses a deposit data file (it does not verify it: Verify does).
func Read(b []byte) ([]*Data, error) {
	var ds []*Data
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ds); err != nil {
		return nil, fmt.Errorf("deposit: %w", err)
	}
	return ds, nil
}
