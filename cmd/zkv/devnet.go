package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/beacon/consensus"
)

func init() {
	register(&command{
		name:  "devnet",
		short: "the whole network on this machine: beacon node, builders, relays, boost, validators (make run)",
		run:   runDevnet,
	})
}

var devnetSubcommands = []subcommand{
	{"run", "the whole network in one process, with a live view (the default: zkv devnet [flags])", runDevnetNetwork},
	{"beacon", "run the devnet beacon node alone: a Beacon API simulator that checks what validators send", runDevnetBeacon},
}

func runDevnet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// No subcommand, or flags first (--help too): the whole network (zkv devnet run).
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return runDevnetNetwork(ctx, args, stdout, stderr)
	}
	return dispatchGroup(ctx, "devnet", `
A local proof-of-stake network on 127.0.0.1 for trying zkv and testing clients against.`, devnetSubcommands, args, stdout, stderr)
}

func runDevnetBeacon(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("devnet beacon", "devnet beacon [--validators N] [--slot-time S] [--listen ADDR] [--keystores DIR] [flags]", `
Runs zkv's devnet beacon node: a SIMULATOR of a consensus client that serves the standard Beacon
API (the part validator clients, relays and sidecars use) for a chain of its own, with N
validators whose keys come from a public mnemonic. Point a validator client at the URL it prints,
with the keystores it writes (password in the file next to them).

What it checks, as a real beacon node does: every signature (domains and fork versions of the
consensus specs), committees and proposers (the specs' shuffling and selection), slot windows,
slashable attestations (double and surround votes against everything it has seen), payloads
against the slot's payload attributes. Refusals answer 400 with the reason, and are logged.

What it does not do: there is no peer-to-peer network and no fork choice (blocks must build on
the head), no rewards or penalties (every balance stays 32 ETH), no deposits or withdrawals, and
no EVM (payloads are built and checked, transactions are opaque). Its state_root is a hash of its
own state summary, not an SSZ BeaconState root. Justification and finality follow Casper FFG on
the votes it receives: a devnet whose validators do their duties finalizes, one whose validators
are a third silent does not. The short-epoch preset keeps mainnet's SSZ shapes (sync committee of
512, 64 committees at most) so that every client's mainnet types work unchanged.`, stderr)
	n := fs.Int("validators", 64, "number of genesis validators (keys m/12381/3600/i/0/0 of the mnemonic)")
	slotTime := fs.Duration("slot-time", 2*time.Second, "seconds per slot (whole seconds)")
	listen := fs.String("listen", "127.0.0.1:5052", "address of the Beacon API")
	keystores := fs.String("keystores", ".zkv/devnet", "directory for the validators' keystores (devnet-only KDF) and password.txt; empty writes none")
	preset := fs.String("preset", "minimal", "minimal (8-slot epochs) or mainnet (32-slot epochs)")
	fulu := fs.Int64("fulu-epoch", -1, "epoch at which Fulu starts (-1: not scheduled)")
	builder := fs.String("builder", "", "builder-API URL (a relay or zkv boost) asked for bids at each proposal")
	mnemonic := fs.String("mnemonic", beacon.DefaultMnemonic, "mnemonic of the validator keys (public: devnet only)")
	delay := fs.Duration("genesis-delay", 5*time.Second, "time from start to genesis, for clients to start")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "zkv devnet beacon: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	cfg := beacon.Config{Validators: *n, SlotTime: *slotTime, KeystoreDir: *keystores, BuilderURL: *builder,
		Mnemonic: *mnemonic, GenesisDelay: *delay, Logger: slog.New(slog.NewTextHandler(stderr, nil))}
	switch *preset {
	case "minimal":
		cfg.Preset = consensus.Minimal
	case "mainnet":
		cfg.Preset = consensus.Mainnet
	default:
		fmt.Fprintf(stderr, "zkv devnet beacon: --preset must be minimal or mainnet, not %q\n", *preset)
		return errUsage
	}
	if *fulu >= 0 {
		e := phase0.Epoch(*fulu)
		cfg.FuluEpoch = &e
	}
	if *n < 1 {
		fmt.Fprintf(stderr, "zkv devnet beacon: --validators must be at least 1\n")
		return errUsage
	}
	node, err := beacon.New(ctx, cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	fmt.Fprintf(stdout, "devnet beacon node (simulator): http://%s\n", ln.Addr())
	fmt.Fprintf(stdout, "  validators %d, genesis %s, %v slots, genesis validators root %s\n",
		*n, node.GenesisTime().Format(time.RFC3339), *slotTime, node.GenesisValidatorsRoot())
	if dir, pw := node.Keystores(); dir != "" {
		fmt.Fprintf(stdout, "  keystores %s (password in %s)\n", dir, pw)
	}
	return node.Run(ctx, ln)
}
