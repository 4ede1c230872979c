package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/validator/deposit"
	"github.com/zkvlabs/zkv/validator/keys"
)

const depositAbout = `Beside the keystores it writes deposit_data-<unix time>.json, the file the staking launchpad
reads (as the staking deposit CLI writes it): each validator's deposit message (pubkey,
withdrawal credentials, amount) signed under the deposit domain of the network's genesis fork
version (--network mainnet, hoodi, sepolia or devnet, or --genesis-fork-version for another
chain), with its deposit_message_root and deposit_data_root. With --withdrawal-address the
withdrawal credentials are 0x01 (or 0x02 with --compounding, which allows up to 2048 ETH a
validator); without it they are 0x00, the hash of the EIP-2334 withdrawal key m/12381/3600/i/0
derived from the same mnemonic (changing them to an address later needs that mnemonic).
--amount is in ETH (default 32).`

// depositFlags are the deposit data flags of keys new and keys recover.
type depositFlags struct {
	network, forkVersion, address, amount *string
	compounding                           *bool
}

func addDepositFlags(fs *flag.FlagSet) depositFlags {
	return depositFlags{
		network:     fs.String("network", "mainnet", "network of the deposit data: mainnet, hoodi, sepolia or devnet"),
		forkVersion: fs.String("genesis-fork-version", "", "genesis fork version of another chain (4 bytes of hex; network_name is then \"custom\")"),
		address:     fs.String("withdrawal-address", "", "execution address for 0x01 (or, with --compounding, 0x02) withdrawal credentials; none: 0x00 BLS credentials"),
		compounding: fs.Bool("compounding", false, "0x02 compounding withdrawal credentials (EIP-7251; needs --withdrawal-address)"),
		amount:      fs.String("amount", "32", "ETH to deposit for each validator (at least 1; at most 32, or 2048 with --compounding)"),
	}
}

// depositOptions are the checked deposit flags.
type depositOptions struct {
	net     deposit.Network
	address *[20]byte
	prefix  byte
	amount  uint64 // gwei
}

// options checks the flags before any mnemonic is made or key derived.
func (f depositFlags) options() (depositOptions, error) {
	var o depositOptions
	switch *f.network {
	case "mainnet":
		o.net = deposit.Mainnet
	case "hoodi":
		o.net = deposit.Hoodi
	case "sepolia":
		o.net = deposit.Sepolia
	case "devnet":
		o.net = deposit.Network{Name: "devnet", ForkVersion: beacon.GenesisForkVersion}
	default:
		return o, fmt.Errorf("--network %q: want mainnet, hoodi, sepolia or devnet (or --genesis-fork-version)", *f.network)
	}
	if *f.forkVersion != "" {
		b, err := hex.DecodeString(strings.TrimPrefix(*f.forkVersion, "0x"))
		if err != nil || len(b) != 4 {
			return o, fmt.Errorf("--genesis-fork-version %q: want 4 bytes of hex", *f.forkVersion)
		}
		o.net = deposit.Network{Name: "custom", ForkVersion: phase0.Version(b)}
	}
	o.prefix = deposit.BLSWithdrawalPrefix
	if *f.address != "" {
		b, err := hex.DecodeString(strings.TrimPrefix(*f.address, "0x"))
		if err != nil || len(b) != 20 || !strings.HasPrefix(*f.address, "0x") {
			return o, fmt.Errorf("--withdrawal-address %q: want 0x and 20 bytes of hex", *f.address)
		}
		o.address = (*[20]byte)(b)
		o.prefix = deposit.ETH1AddressWithdrawalPrefix
		if *f.compounding {
			o.prefix = deposit.CompoundingWithdrawalPrefix
		}
	} else if *f.compounding {
		return o, errors.New("--compounding needs --withdrawal-address: 0x02 credentials name an execution address")
	}
	amount, err := ethToGwei(*f.amount)
	if err != nil {
		return o, fmt.Errorf("--amount: %w", err)
	}
	o.amount = amount
	if err := deposit.CheckAmount(amount, [32]byte{o.prefix}); err != nil {
		return o, fmt.Errorf("--amount %s: %w", *f.amount, err)
	}
	return o, nil
}

// ethToGwei parses a decimal ETH amount ("32", "0.5") into gwei; a fraction of a gwei is an
// error, not rounded.
func ethToGwei(s string) (uint64, error) {
	whole, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	if whole == "" && frac == "" || len(frac) > 9 || strings.HasPrefix(whole, "-") || strings.HasPrefix(whole, "+") {
		return 0, fmt.Errorf("%q is not an amount of ETH with at most 9 decimals", s)
	}
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseUint(whole, 10, 64)
	if err != nil || w > 1<<34 {
		return 0, fmt.Errorf("%q is not an amount of ETH", s)
	}
	var f uint64
	if frac != "" {
		if f, err = strconv.ParseUint(frac+strings.Repeat("0", 9-len(frac)), 10, 64); err != nil {
			return 0, fmt.Errorf("%q is not an amount of ETH", s)
		}
	}
	return w*deposit.GweiPerETH + f, nil
}

// writeDepositData derives the signing keys (and, for 0x00 credentials, the withdrawal keys) of
// validators start .. start+count-1 from the mnemonic again and writes their deposit data into
// dir.
func writeDepositData(dir, mnemonic, passphrase string, start uint32, count int, o depositOptions) (string, error) {
	seed, err := keys.MnemonicSeed(mnemonic, passphrase)
	if err != nil {
		return "", err
	}
	defer clear(seed)
	ds := make([]*deposit.Data, 0, count)
	for i := start; i < start+uint32(count); i++ {
		sk, err := keys.DerivePath(seed, keys.SigningPath(i))
		if err != nil {
			return "", err
		}
		var wc [32]byte
		if o.address != nil {
			wc, err = deposit.AddressCredentials(o.prefix, *o.address)
		} else {
			// EIP-2334: the withdrawal key of validator i is m/12381/3600/i/0.
			wk, werr := keys.DerivePath(seed, keys.WithdrawalPath(i))
			if werr != nil {
				sk.Zeroize()
				return "", werr
			}
			wc = deposit.BLSCredentials(wk.PublicKey())
			wk.Zeroize()
		}
		if err != nil {
			sk.Zeroize()
			return "", err
		}
		d, err := deposit.New(sk, wc, o.amount, o.net)
		sk.Zeroize()
		if err != nil {
			return "", err
		}
		ds = append(ds, d)
	}
	return deposit.Write(dir, ds, time.Now())
}
