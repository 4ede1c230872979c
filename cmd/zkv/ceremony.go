package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/zkvlabs/zkv/prover"
)

var ceremonySubcommands = []subcommand{
	{"init", "start a transcript: the initial powers of tau for the chosen depths", runCeremonyInit},
	{"contribute", "add a contribution (system randomness and, optionally, your own entropy)", runCeremonyContribute},
	{"verify", "check the whole transcript and print every record's hash", runCeremonyVerify},
	{"finalize", "apply a public random beacon: seal phase 1, or seal phase 2 and write the keys", runCeremonyFinalize},
}

func runProverCeremony(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatchGroup(ctx, "prover ceremony", `
A multi-party Groth16 setup (the protocol of eprint 2017/1050, gnark's mpcsetup) for the
attestation circuit of each chosen depth and the identity circuit of registrations. Its keys
are sound if one contributor of each phase kept their randomness secret.

  1. init        once, by the coordinator
  2. contribute  by each party of phase 1, in turn, on the latest transcript
  3. finalize    with a beacon drawn after the last phase-1 contribution: seals phase 1
  4. contribute  by each party of phase 2, in turn
  5. finalize    with a second, later beacon: seals phase 2 and writes the keys
  verify         by anyone, any time: checks everything and prints every record's hash

A beacon is a public value nobody could know in advance: a future block hash, a drand round.`,
		ceremonySubcommands, args, stdout, stderr)
}

func ceremonyDirFlag(fs *flag.FlagSet) *string {
	return fs.String("dir", "", "the transcript directory (required)")
}

func needDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("--dir is required: the ceremony's transcript directory")
	}
	return nil
}

func printRecord(w io.Writer, r prover.CeremonyRecord) {
	fmt.Fprintf(w, "phase %d  %-16s %-12s #%04d  %x  %d bytes\n", r.Phase, r.Circuit, r.Kind, r.Index, r.Hash, r.Bytes)
}

func runCeremonyInit(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prover ceremony init", "prover ceremony init --dir DIR [--depths 20[,D...]]", `
Starts a ceremony transcript in DIR for the attestation circuit of each depth and the identity
circuit: writes the initial powers of tau (phase1/0000.zkvc), sized for the largest of them.
The record holds no secret; anyone recomputes it.`, stderr)
	dir := ceremonyDirFlag(fs)
	depths := fs.String("depths", strconv.Itoa(prover.DefaultDepth), "comma-separated registry depths the keys are for (even, 2 to 32)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "ceremony init", stderr); err != nil {
		return err
	}
	if err := needDir(*dir); err != nil {
		return err
	}
	var ds []int
	for _, f := range strings.Split(*depths, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("--depths %q: %q is not a number", *depths, f)
		}
		ds = append(ds, d)
	}
	start := time.Now()
	rec, err := prover.InitCeremony(*dir, ds)
	if err != nil {
		return err
	}
	printRecord(stdout, rec)
	fmt.Fprintf(stdout, "ceremony started in %s in %v; next: 'zkv prover ceremony contribute --dir %s'\n", *dir, time.Since(start).Round(time.Millisecond), *dir)
	return nil
}

func runCeremonyContribute(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prover ceremony contribute", "prover ceremony contribute --dir DIR [--entropy TEXT | --entropy-file FILE]", `
Checks the transcript in DIR and adds one contribution: to phase 1 while it is open, to
phase 2 of every circuit after that. The secrets come from the system's randomness; with
--entropy or --entropy-file, your own entropy (dice rolls, keyboard noise) is mixed in, so
that the contribution is secret even if the system's randomness is not. Nothing of the
secrets is kept. Prints the hash of each record written: keep it, and find it in 'verify'.`, stderr)
	dir := ceremonyDirFlag(fs)
	entropy := fs.String("entropy", "", "your own entropy, mixed into the system's randomness")
	entropyFile := fs.String("entropy-file", "", "a file whose content is your own entropy")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "ceremony contribute", stderr); err != nil {
		return err
	}
	if err := needDir(*dir); err != nil {
		return err
	}
	e := []byte(*entropy)
	if *entropyFile != "" {
		if *entropy != "" {
			return fmt.Errorf("give --entropy or --entropy-file, not both")
		}
		b, err := os.ReadFile(*entropyFile)
		if err != nil {
			return err
		}
		e = b
	}
	start := time.Now()
	recs, err := prover.ContributeCeremony(*dir, e)
	if err != nil {
		return err
	}
	for _, r := range recs {
		printRecord(stdout, r)
	}
	fmt.Fprintf(stdout, "contributed in %v\n", time.Since(start).Round(time.Millisecond))
	return nil
}

func runCeremonyVerify(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prover ceremony verify", "prover ceremony verify --dir DIR", `
Checks the transcript in DIR from its first record: every record's hash and link to its
predecessor, every contribution's proof of correct contribution, the initial records and
the beacons by recomputing them. Prints every record with its hash, so that contributors
find theirs. Exits 1 on the first record that fails, naming it.`, stderr)
	dir := ceremonyDirFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "ceremony verify", stderr); err != nil {
		return err
	}
	if err := needDir(*dir); err != nil {
		return err
	}
	start := time.Now()
	t, err := prover.VerifyCeremony(*dir)
	if err != nil {
		return err
	}
	for _, r := range t.Records {
		printRecord(stdout, r)
	}
	state := map[int]string{
		1: "phase 1 open",
		2: "phase 1 sealed, phase 2 open",
		3: "finalized: the keys are fixed",
	}[t.Phase]
	fmt.Fprintf(stdout, "transcript OK (depths %v, powers of tau of %d): %s; %d contributions to phase 1, %d to phase 2; verified in %v\n",
		t.Depths, t.DomainSize, state, t.Contributions(1), t.Contributions(2), time.Since(start).Round(time.Millisecond))
	for _, c := range t.Circuits() {
		if h, ok := t.Final[c]; ok {
			fmt.Fprintf(stdout, "keys of %s: transcript hash %x\n", c, h)
		}
	}
	return nil
}

func runCeremonyFinalize(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prover ceremony finalize", "prover ceremony finalize --dir DIR --beacon HEX [--cache-dir DIR]", `
Applies a public random beacon (hex: a block hash of a block produced after the phase's
last contribution was published, a drand round) to the transcript in DIR, after checking it.
While phase 1 is open, seals it and starts phase 2 of every circuit: contributions go to
phase 2 next, and a second, later beacon finalizes it. While phase 2 is open, seals it and
writes the proving and verifying keys into --cache-dir, marked as ceremony keys with their
transcript hash: 'zkv prover prove', 'verify', 'export' and 'register' then use them.`, stderr)
	dir := ceremonyDirFlag(fs)
	beaconHex := fs.String("beacon", "", "the beacon value as hex (required)")
	cacheDir := fs.String("cache-dir", defaultKeyCacheDir(), "directory of the key cache the keys are written to (phase 2)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "ceremony finalize", stderr); err != nil {
		return err
	}
	if err := needDir(*dir); err != nil {
		return err
	}
	beacon, err := hex.DecodeString(strings.TrimPrefix(*beaconHex, "0x"))
	if err != nil || len(beacon) == 0 {
		return fmt.Errorf("--beacon %q: want a public random value as hex (a future block hash)", *beaconHex)
	}
	start := time.Now()
	t, keys, err := prover.FinalizeCeremony(*dir, beacon, *cacheDir)
	if err != nil {
		return err
	}
	if keys == nil {
		fmt.Fprintf(stdout, "phase 1 sealed in %v with beacon %x; phase 2 of %d circuits begins: contribute again, then finalize with a later beacon\n",
			time.Since(start).Round(time.Millisecond), beacon, len(t.Circuits()))
		return nil
	}
	for _, k := range keys.Attestation {
		fmt.Fprintf(stdout, "keys of attestation-d%d: transcript hash %x\n", k.Depth(), k.Origin().Transcript)
	}
	fmt.Fprintf(stdout, "keys of identity: transcript hash %x\n", keys.Identity.Origin().Transcript)
	for _, p := range keys.Paths {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	fmt.Fprintf(stdout, "ceremony finalized in %v with beacon %x\n", time.Since(start).Round(time.Millisecond), beacon)
	return nil
}
