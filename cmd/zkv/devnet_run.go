package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/zkvlabs/zkv/devnet"
)

func runDevnetNetwork(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("devnet", "devnet [run] [--validators N] [--epochs E | --slots S] [--slot-time 2s] [--relays 1|2] [--json FILE] [--dir DIR]", `
Runs the whole zkv system on this machine, in one process, every part talking to the others over
its real protocol on 127.0.0.1, and shows it working slot by slot. This is what 'make run' does.

The parts: the devnet beacon node (a simulator of a consensus client: 'zkv devnet beacon --help'
says what it checks and what it leaves out) with the minimal preset's 8-slot epochs; one or two
simulated block builders that bid for every slot but a share of them at one or two zkv relays
(each with its own badger database); 'zkv boost' in front of the relays, as the beacon node's
builder; and the validator keys (from the devnet's public mnemonic) split across two zkv
validator clients, each with its own slashing-protection database, talking to the beacon node
only through the standard Beacon API.

The live view writes one line per slot, late in the slot:

  slot   12  epoch   1  proposer    0  builder 0.0700 ETH relay-1 builder-2  attested   2/2 ...

  proposer      the validator that proposed the slot's block
  builder ...   the block's payload came from a builder through boost and a relay: the winning
                bid's value, the relay that delivered it, the builder that built it
  local (n bids) the beacon node built the payload itself (no bid, or the bid came too late)
  missed        no block for the slot
  attested a/b  attestations the beacon node accepted for the slot, of the validators' duties
  included      votes included in the slot's block (mostly the previous slot's attestations)
  aggregates    aggregate-and-proofs accepted for the slot
  justified, finalized   the Casper FFG checkpoints at the head: the chain first finalizes at
                the start of epoch 4 (epoch 2 finalized), so runs shorter than 4 epochs do not

At the end (or on Ctrl-C, with the slots so far) it writes a summary: blocks by path, each
builder's bids, participation, duty failures, slashing-protection violations, the finalized
epoch. It exits 0 only if the chain finalized with no slashing-protection violation.

--json FILE writes the summary as JSON: validators, slot_time_seconds, relays, last_slot, stopped
("interrupted" after Ctrl-C), duration_seconds, blocks {builder, local, missed}, builders [{name,
pubkey, slots, skipped, bids, outbid, refused, won}], attestations, attestations_failed,
attester_duties, participation, attestations_included, aggregates, sync_messages, duty_failures,
slashing_violations, duty_errors, justified_epoch, finalized_epoch, finalized, node (the beacon
node's own counters: blocks_builder, blocks_local, attestations_accepted, requests_refused),
equivocate, private (the pool's and the provers' counts: proofs_verified, proofs_refused,
duplicates, equivocations, attestations, proofs_made, proofs_failed, proofs_to_make, attestations_revoked, proofs_pending, proofs_dropped, pool_restarts, evidence
[{epoch, validator_index, pubkey}], proofs_per_second, equivocation_caught; null with
--private=false), ok, and slots (each slot's line as an object).

Private attestations (on unless --private=false): each validator client also proves, for every
attestation it signs, that some registered validator attested (a Groth16 proof over BN254, made
in the background on every core), and sends the proofs over QUIC to a private-attestation pool
('zkv pool'), which registers the validators' ZK identities, seals a registry root per epoch,
batch-verifies the proofs and records one nullifier per validator and epoch. The slot line then
shows 'proofs N' (verified by the pool so far). --equivocate N plants a double vote: validator N
proves a second, different attestation in one epoch (only the proof: its BLS attestation is
signed once, under slashing protection), and the pool must name it from the two proofs alone:
an EVIDENCE line appears, and the run is OK only if the evidence names validator N. The prover's
keys come from a single-party setup made on first use (devnet only) and cached in --prover-keys.
--restart-pool-at SLOT stops the pool at the start of that slot and starts it again a slot later
on the same database, QUIC address and key, while the validators keep attesting and hold the
proofs it has not acknowledged; the pool counts each epoch's verified proofs from its database,
so nothing is lost or counted twice (the summary adds pool_restarts).

With private attestations the run is OK only if, in addition, every attestation got a proof, the
pool verified every proof and refused none.

Other subcommands: 'zkv devnet beacon' runs the beacon node alone.`, stderr)
	validators := fs.Int("validators", devnet.DefaultValidators, "number of validators, split across two validator clients")
	epochs := fs.Int("epochs", devnet.DefaultEpochs, "run length in epochs of 8 slots (the chain first finalizes after 4)")
	slots := fs.Int("slots", 0, "run length in slots (overrides --epochs)")
	slotTime := fs.Duration("slot-time", devnet.DefaultSlotTime, "seconds per slot (whole seconds)")
	relays := fs.Int("relays", 1, "number of zkv relays, 1 or 2")
	builders := fs.Int("builders", 2, "number of simulated builders, 1 or 2 (each bids at every relay)")
	noBid := fs.Float64("no-bid-share", devnet.DefaultNoBidShare, "share of slots each builder leaves without a bid, 0 to 1")
	equivocate := fs.Int("equivocate", -1, "validator that proves two different attestations in one epoch, for the pool to catch; -1: none")
	privateOn := fs.Bool("private", true, "private attestations: proofs from the validators to a pool (false: none)")
	proverKeys := fs.String("prover-keys", defaultDevnetKeyDir(), "cache of the prover's devnet keys (single-party setup, made on first use); empty: in memory")
	restartPoolAt := fs.Uint64("restart-pool-at", 0, "stop the pool at the start of this slot and start it again a slot later on the same database and address (0: never); the validators resend what it did not acknowledge")
	jsonFile := fs.String("json", "", "write the closing summary as JSON to this file")
	dir := fs.String("dir", "", "data directory (keystores, databases); default a temporary directory removed at the end")
	logLevel := fs.String("log-level", "error", "log level of the parts' logs on stderr: debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "zkv devnet: "+format+"\n", a...)
		return errUsage
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageErr("--log-level must be debug, info, warn or error, not %q", *logLevel)
	}
	switch {
	case *validators < 1:
		return usageErr("--validators must be at least 1")
	case *epochs < 1:
		return usageErr("--epochs must be at least 1")
	case *slots < 0:
		return usageErr("--slots must not be negative")
	case *relays != 1 && *relays != 2:
		return usageErr("--relays must be 1 or 2")
	case *builders != 1 && *builders != 2:
		return usageErr("--builders must be 1 or 2")
	case *noBid < 0 || *noBid > 1:
		return usageErr("--no-bid-share must be between 0 and 1")
	case *slotTime < time.Second || *slotTime%time.Second != 0:
		return usageErr("--slot-time must be a whole number of seconds, at least 1s")
	case *restartPoolAt > 0 && !*privateOn:
		return usageErr("--restart-pool-at needs the private attestations (--private)")
	case *equivocate < -1 || *equivocate >= *validators:
		return usageErr("--equivocate must be -1 (none) or a validator index below %d", *validators)
	}
	cfg := devnet.Config{Validators: *validators, Epochs: *epochs, Slots: *slots, SlotTime: *slotTime, Relays: *relays,
		Builders: *builders, NoBidShare: *noBid, Dir: *dir, Out: stdout, Terminal: isTerminal(stdout),
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))}
	if *noBid == 0 {
		cfg.NoBidShare = -1 // Config's zero means the default
	}
	if *equivocate >= 0 {
		if !*privateOn {
			return usageErr("--equivocate needs the private attestations (--private)")
		}
		cfg.Equivocate = equivocate
	}
	if *privateOn {
		fmt.Fprintf(stdout, "zkv devnet: prover keys (devnet-only single-party setup) from %s\n", orMemory(*proverKeys))
		p, err := devnet.NewPrivate(devnet.PrivateConfig{Validators: *validators, KeyDir: *proverKeys, Logger: cfg.Logger,
			RestartPoolAt: *restartPoolAt, RestartDowntime: *slotTime})
		if err != nil {
			return err
		}
		cfg.Private = p
	}
	n, err := devnet.New(cfg)
	if err != nil {
		return err
	}
	runErr := n.Run(ctx)
	sum := n.Summary()
	if sum != nil && *jsonFile != "" {
		b, err := json.MarshalIndent(sum, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonFile, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	switch {
	case runErr != nil:
		return runErr
	case sum == nil:
		return errors.New("devnet: no summary")
	case !sum.OK && sum.Private != nil:
		p := sum.Private
		caught := "none planted"
		if p.EquivocationCaught != nil {
			caught = fmt.Sprint(*p.EquivocationCaught)
		}
		return fmt.Errorf("devnet: not OK: finalized epoch %d, %d slashing-protection violations; proofs: %d verified, %d refused, %d attestations without a proof, %d still to prove, %d unanswered, %d given up; equivocation caught: %s",
			sum.FinalizedEpoch, sum.SlashingViolations, p.ProofsVerified, p.ProofsRefused, p.ProofsFailed, p.ProofsToMake, p.ProofsPending, p.ProofsDropped, caught)
	case !sum.OK:
		return fmt.Errorf("devnet: not OK: finalized epoch %d, %d slashing-protection violations", sum.FinalizedEpoch, sum.SlashingViolations)
	}
	return nil
}

// defaultDevnetKeyDir is where the devnet's prover keys are cached between runs: the user's
// cache directory, or none (in memory) where there is none.
func defaultDevnetKeyDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "zkv", "devnet-prover-keys")
}

func orMemory(dir string) string {
	if dir == "" {
		return "memory (made again on each run)"
	}
	return dir
}
