package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
)

func init() {
	register(&command{
		name:  "prover",
		short: "private attestation proofs on their own: setup, register, seal, prove, verify, export",
		run:   runProver,
	})
}

var proverSubcommands = []subcommand{
	{"setup", "compile the circuit and create or load its keys (a devnet setup when none are cached)", runProverSetup},
	{"ceremony", "multi-party key ceremony for production keys: init, contribute, verify, finalize", runProverCeremony},
	{"register", "sign a validator's registration and queue it in a registry", runProverRegister},
	{"seal", "apply queued registrations and fix the registry root of an epoch", runProverSeal},
	{"prove", "prove one attestation from a witness spec or a BLS key and a registry", runProverProve},
	{"verify", "verify proofs as attestations of a registry and network (batched)", runProverVerify},
	{"export", "write the Solidity verifier and the snarkjs verification key", runProverExport},
}

func runProver(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatchGroup(ctx, "prover", `
Private attestation proofs without the rest of zkv: a Groth16 circuit over BN254 proving that
some validator of a registry attested (root, epoch, x, y, nullifier, minimum weight public;
the validator secret; bound to the network). Keys come from 'zkv prover ceremony' (a
multi-party setup, for production) or from 'zkv prover setup' (single-party, devnets only).`, proverSubcommands, args, stdout, stderr)
}

// keyFlags are the flags that select the keys.
type keyFlags struct {
	depth    *int
	cacheDir *string
}

func addKeyFlags(fs *flag.FlagSet) keyFlags {
	return keyFlags{
		depth:    fs.Int("depth", prover.DefaultDepth, "registry depth (even, 2 to 32): the tree holds 2^depth validators"),
		cacheDir: fs.String("cache-dir", defaultKeyCacheDir(), "directory of the key cache (only 'zkv prover setup' makes keys; the other commands read them)"),
	}
}

func defaultKeyCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "zkv", "keys")
	}
	return filepath.Join(os.TempDir(), "zkv-keys")
}

// load makes or reads the keys: only setup makes them (create), so that prove, verify and
// export never use a setup other than the one the proofs and their verifiers share.
func (k keyFlags) load(stderr io.Writer, create bool) (*prover.Keys, error) {
	keys, info, err := prover.LoadKeys(prover.KeyConfig{Depth: *k.depth, CacheDir: *k.cacheDir, CacheOnly: !create})
	if errors.Is(err, prover.ErrNoKeys) {
		return nil, fmt.Errorf("%w\nrun 'zkv prover setup --depth %d --cache-dir %s' first (or copy the keys of the network's setup there)", err, *k.depth, *k.cacheDir)
	}
	if err != nil {
		return nil, err
	}
	printKeyInfo(stderr, keys, info)
	return keys, nil
}

func printKeyInfo(w io.Writer, keys *prover.Keys, info prover.KeyInfo) {
	fmt.Fprintf(w, "circuit: depth %d, %d constraints, compiled in %v\n", keys.Depth(), info.Constraints, info.Compile.Round(time.Millisecond))
	switch {
	case info.FromCache:
		fmt.Fprintf(w, "keys: loaded from %s in %v\n", info.Path, info.Load.Round(100*time.Microsecond))
	case info.CacheError != nil:
		fmt.Fprintf(w, "keys: cache unusable (%v); new setup in %v, written to %s\n", info.CacheError, info.Setup.Round(time.Millisecond), info.Path)
	case info.Path != "":
		fmt.Fprintf(w, "keys: new setup in %v, written to %s\n", info.Setup.Round(time.Millisecond), info.Path)
	default:
		fmt.Fprintf(w, "keys: new setup in %v, not cached\n", info.Setup.Round(time.Millisecond))
	}
	if o := keys.Origin(); o.Ceremony {
		fmt.Fprintf(w, "keys: from a multi-party ceremony, transcript hash %x\n", o.Transcript)
		return
	}
	fmt.Fprintf(w, "WARNING: %s\n", prover.DevnetWarning)
}

func noArgs(fs *flag.FlagSet, name string, stderr io.Writer) error {
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "zkv prover %s: unexpected argument %q\n", name, fs.Arg(0))
		return errUsage
	}
	return nil
}

func runProverSetup(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prover setup", "prover setup [--depth N] [--cache-dir DIR]", `
Compiles the circuit for a registry depth and makes its Groth16 keys, and those of the
identity proof that registrations carry: from the cache when a valid cache file exists,
otherwise by a single-party setup (DEVNET ONLY: whoever runs it can forge proofs) whose
result is cached. Cache files are named by gnark version, circuit hash,
depth and architecture and carry a checksum; a damaged file is reported and regenerated.
This is the devnet path: production keys come from 'zkv prover ceremony', whose finalize
writes them into the same cache (setup then loads them and makes none).`, stderr)
	kf := addKeyFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "setup", stderr); err != nil {
		return err
	}
	keys, err := kf.load(stdout, true)
	if err != nil {
		return err
	}
	h := keys.CircuitHash()
	fmt.Fprintf(stdout, "circuit hash: %x\n", h)
	// Registrations carry a proof of knowledge of the identity's secret, with keys of their own.
	start := time.Now()
	ik, err := prover.LoadIdentityKeys(*kf.cacheDir, false)
	if err != nil {
		return err
	}
	origin := "devnet only as well"
	if o := ik.Origin(); o.Ceremony {
		origin = fmt.Sprintf("from a multi-party ceremony, transcript hash %x", o.Transcript)
	}
	fmt.Fprintf(stdout, "identity proof keys: %d constraints, ready in %v (%s)\n", ik.Constraints(), time.Since(start).Round(time.Millisecond), origin)
	return nil
}

// registryFlags open a registry: in a file of its own, or in a zkv database directory.
type registryFlags struct {
	path  *string
	dbDir *string
	depth *int
	net   networkFlags
}

// networkFlags name the network: the registration domain and the identifier every proof is
// bound to.
type networkFlags struct {
	forkVersion   *string
	validatorRoot *string
}

func addNetworkFlags(fs *flag.FlagSet) networkFlags {
	return networkFlags{
		forkVersion:   fs.String("genesis-fork-version", "0x00000000", "the network's genesis fork version"),
		validatorRoot: fs.String("genesis-validators-root", "0x"+strings.Repeat("00", 32), "the network's genesis validators root (32 bytes of hex)"),
	}
}

func (f networkFlags) network() (prover.Network, error) {
	var n prover.Network
	fv, err := hex.DecodeString(strings.TrimPrefix(*f.forkVersion, "0x"))
	if err != nil || len(fv) != 4 {
		return n, fmt.Errorf("--genesis-fork-version %q: want 4 bytes of hex", *f.forkVersion)
	}
	copy(n.GenesisForkVersion[:], fv)
	if n.GenesisValidatorsRoot, err = prover.Hex32(*f.validatorRoot); err != nil {
		return n, fmt.Errorf("--genesis-validators-root: %w", err)
	}
	return n, nil
}

func addRegistryFlags(fs *flag.FlagSet) registryFlags {
	return registryFlags{
		path:  fs.String("registry", "", "registry file (created if missing)"),
		dbDir: fs.String("db", "", "zkv database directory to keep the registry in, instead of --registry (created if missing)"),
		depth: fs.Int("depth", prover.DefaultDepth, "registry depth (even, 2 to 32)"),
		net:   addNetworkFlags(fs),
	}
}

func (f registryFlags) given() bool { return *f.path != "" || *f.dbDir != "" }

// open returns the registry and what to close when done with it. A registry opened without
// an identity key (nil) takes no registrations.
func (f registryFlags) open(ik *prover.IdentityVerifyingKey) (*registry.Registry, io.Closer, error) {
	if *f.path != "" && *f.dbDir != "" {
		return nil, nil, fmt.Errorf("give --registry or --db, not both")
	}
	if !f.given() {
		return nil, nil, fmt.Errorf("--registry FILE or --db DIR is required")
	}
	network, err := f.net.network()
	if err != nil {
		return nil, nil, err
	}
	var (
		st     registry.Store
		closer io.Closer
	)
	if *f.dbDir != "" {
		d, err := db.Open(db.Config{Dir: *f.dbDir})
		if err != nil {
			return nil, nil, err
		}
		st, closer = d.KV(db.Registrations), d
	} else {
		fst, err := registry.OpenFileStore(*f.path)
		if err != nil {
			return nil, nil, err
		}
		st, closer = fst, fst
	}
	r, err := registry.Open(st, registry.Config{Depth: *f.depth, Network: network, IdentityKey: ik})
	if err != nil {
		closer.Close()
		return nil, nil, err
	}
	return r, closer, nil
}

func readBLSSecret(path string) (*bls.SecretKey, error) {
	if path == "" {
		return nil, fmt.Errorf("--bls-secret-file is required")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raw, err := prover.Hex32(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("BLS secret in %s: %w", path, err)
	}
	return bls.SecretKeyFromBytes(raw[:])
}

func runProverRegister(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prover register", "prover register (--registry FILE | --db DIR) --bls-secret-file FILE --weight GWEI [--timestamp UNIX] [--cache-dir DIR]", `
Signs the registration of the validator whose BLS secret key (32 bytes of hex) is in
--bls-secret-file: its public key, its identity commitment (derived from the BLS key), its
weight and the time of signing, under the zkv registration domain of the network (its
genesis fork version and genesis validators root), with a proof of knowledge of the
identity's secret bound to the key and the network (keys from 'zkv prover setup' in
--cache-dir). The registry checks the signature and the proof and
queues the registration; 'zkv prover seal' puts it in the tree. A key's identity is fixed by
its first registration; later ones change its weight only, and need a later timestamp than
the key's last registration: an old registration cannot be replayed, and the same one is not
taken twice.`, stderr)
	rf := addRegistryFlags(fs)
	secretFile := fs.String("bls-secret-file", "", "file holding the validator's BLS secret key as hex")
	weight := fs.Uint64("weight", 32_000_000_000, "weight: the effective balance in gwei")
	timestamp := fs.Uint64("timestamp", 0, "the registration's time in Unix seconds (0: now)")
	cacheDir := fs.String("cache-dir", defaultKeyCacheDir(), "directory of the key cache, holding the identity proof keys of 'zkv prover setup'")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "register", stderr); err != nil {
		return err
	}
	if *timestamp == 0 {
		*timestamp = uint64(time.Now().Unix())
	}
	sk, err := readBLSSecret(*secretFile)
	if err != nil {
		return err
	}
	ik, err := prover.LoadIdentityKeys(*cacheDir, true)
	if errors.Is(err, prover.ErrNoKeys) {
		return fmt.Errorf("%w\nrun 'zkv prover setup --cache-dir %s' first (or copy the keys of the network's setup there)", err, *cacheDir)
	}
	if err != nil {
		return err
	}
	r, st, err := rf.open(ik.VerifyingKey())
	if err != nil {
		return err
	}
	defer st.Close()
	reg, err := registry.SignAt(ik, sk, *weight, *timestamp, r.Domain())
	if err != nil {
		return err
	}
	if err := r.Register(reg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "queued registration of %x (identity %s, weight %d, timestamp %d); %d pending\n",
		reg.Pubkey, prover.HexField(&reg.Identity), reg.Weight, reg.Timestamp, r.Pending())
	return nil
}

func runProverSeal(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prover seal", "prover seal (--registry FILE | --db DIR) --epoch N", `
Applies the queued registrations of a registry and fixes the resulting root as the root
of an epoch (later than the last sealed one). Proofs of that epoch prove membership under
this root, as do proofs of the epochs up to the next seal once it is made: the registry
answers no root for an epoch after the last sealed one, since its root could still change.`, stderr)
	rf := addRegistryFlags(fs)
	epoch := fs.Uint64("epoch", 0, "the epoch the root is for")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "seal", stderr); err != nil {
		return err
	}
	r, st, err := rf.open(nil)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := r.Seal(*epoch)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "epoch %d: root %s, %d validators\n", s.Epoch, prover.HexField(&s.Root), s.Leaves)
	return nil
}

func runProverProve(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prover prove", "prover prove (--spec FILE | (--registry FILE | --db DIR) --bls-secret-file FILE --epoch N --signing-root HEX) [--out FILE]", `
Proves one attestation and writes the proof as snarkjs-compatible JSON (pi_a, pi_b, pi_c and
the public signals [root, epoch, x, y, nullifier, minWeight, network] as decimal strings).

The witness comes either from a JSON spec (--spec: secret or blsSecret, weight, index,
siblings, root, epoch, signingRoot, minWeight, network; hex for field elements) or from a BLS
secret key and a registry (the validator's sealed leaf and the root of --epoch, which must be
sealed; the network from the registry's flags).`, stderr)
	kf := addKeyFlags(fs)
	spec := fs.String("spec", "", "witness spec JSON file")
	regPath := fs.String("registry", "", "registry file (instead of --spec)")
	dbDir := fs.String("db", "", "zkv database directory holding the registry (instead of --spec)")
	nf := addNetworkFlags(fs)
	secretFile := fs.String("bls-secret-file", "", "with a registry: file holding the validator's BLS secret key as hex")
	epoch := fs.Uint64("epoch", 0, "with a registry: the attestation's epoch")
	signingRoot := fs.String("signing-root", "", "with a registry: the attestation's signing root (32 bytes of hex)")
	minWeight := fs.Uint64("min-weight", 0, "with a registry: the weight the proof shows the validator has at least")
	out := fs.String("out", "", "write the proof JSON here instead of standard output")
	publicOut := fs.String("public", "", "also write the public signals alone (snarkjs public.json) here")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "prove", stderr); err != nil {
		return err
	}
	rf := registryFlags{path: regPath, dbDir: dbDir, depth: kf.depth, net: nf}
	var req prover.Request
	switch {
	case *spec != "" && rf.given():
		return fmt.Errorf("give --spec or a registry (--registry or --db), not both")
	case *spec != "":
		b, err := os.ReadFile(*spec)
		if err != nil {
			return err
		}
		var s prover.RequestSpec
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("spec %s: %w", *spec, err)
		}
		if req, err = s.Request(); err != nil {
			return fmt.Errorf("spec %s: %w", *spec, err)
		}
	case rf.given():
		sk, err := readBLSSecret(*secretFile)
		if err != nil {
			return err
		}
		sr, err := prover.Hex32(*signingRoot)
		if err != nil {
			return fmt.Errorf("--signing-root: %w", err)
		}
		r, st, err := rf.open(nil)
		if err != nil {
			return err
		}
		defer st.Close()
		m, err := r.Member(sk.PublicKey().Bytes())
		if err != nil {
			return err
		}
		root, err := r.Root(*epoch)
		if err != nil {
			return err
		}
		req = prover.Request{
			Secret: prover.SecretFromBLS(sk), Weight: m.Weight, Path: m.Path, Root: root,
			Epoch: *epoch, SigningRoot: sr, MinWeight: *minWeight, Network: r.Network().ID(),
		}
	default:
		return fmt.Errorf("give --spec, --registry FILE or --db DIR")
	}

	keys, err := kf.load(stderr, false)
	if err != nil {
		return err
	}
	// One proof: gnark's prover on every core is quicker here than preparing zkv's throughput
	// prover (its tables take longer to build than one proof takes).
	start := time.Now()
	proof, st, err := keys.ProveStock(&req)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "proved in %v; nullifier %s\n", time.Since(start).Round(time.Millisecond), prover.HexField(&st.Nullifier))
	if err := writeJSON(*out, stdout, proof.Snarkjs(&st)); err != nil {
		return err
	}
	if *publicOut != "" {
		return writeJSON(*publicOut, nil, prover.PublicSignals(&st))
	}
	return nil
}

func writeJSON(path string, stdout io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "" {
		_, err := stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// hexList is a repeatable flag of 32-byte hex values.
type hexList [][32]byte

func (l *hexList) String() string { return fmt.Sprint(len(*l), " values") }

func (l *hexList) Set(v string) error {
	b, err := prover.Hex32(v)
	if err != nil {
		return err
	}
	*l = append(*l, b)
	return nil
}

func runProverVerify(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prover verify", "prover verify [--vk FILE | --depth N --cache-dir DIR] ((--registry FILE | --db DIR) [--signing-root HEX]... | --pairing-only) [--public FILE] PROOF.json...", `
Verifies proofs written by 'zkv prover prove' (or any snarkjs proof.json of this circuit, with
its public signals in a publicSignals field or in --public) as attestations of a registry:
each proof's network must be the registry's (--genesis-fork-version, --genesis-validators-root),
its root the registry's sealed root of its epoch, its minimum weight at least --min-weight and,
with --signing-root (once per proof, in order), its x that of the attestation's signing root.
Several proofs are verified together by batch verification, and a failing batch is bisected
to name the bad proofs. Valid proofs of one epoch sharing a nullifier for different
attestations are reported as an equivocation with the identity commitment they reveal.
--pairing-only checks the Groth16 pairing alone, which any proof against any registry of its
own passes. Exits 1 if any proof is invalid.`, stderr)
	kf := addKeyFlags(fs)
	vkPath := fs.String("vk", "", "snarkjs verification key JSON (from 'zkv prover export --snarkjs') instead of the key cache")
	public := fs.String("public", "", "public signals JSON (snarkjs public.json), for a single proof without publicSignals")
	regPath := fs.String("registry", "", "registry file whose sealed roots the proofs must use")
	dbDir := fs.String("db", "", "zkv database directory holding the registry (instead of --registry)")
	nf := addNetworkFlags(fs)
	var signingRoots hexList
	fs.Var(&signingRoots, "signing-root", "the signing root of the attestation a proof is for (32 bytes of hex); once per proof, in order")
	minWeight := fs.Uint64("min-weight", 0, "the least minimum weight a proof must show")
	pairingOnly := fs.Bool("pairing-only", false, "check the pairing alone: not the registry root, the network or the attestation")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "zkv prover verify: no proof files given")
		return errUsage
	}
	if *public != "" && fs.NArg() != 1 {
		return fmt.Errorf("--public applies to a single proof")
	}
	rf := registryFlags{path: regPath, dbDir: dbDir, depth: kf.depth, net: nf}
	switch {
	case *pairingOnly && (rf.given() || len(signingRoots) > 0 || *minWeight > 0):
		return fmt.Errorf("--pairing-only checks no registry, signing root or weight: give one or the other")
	case !*pairingOnly && !rf.given():
		return fmt.Errorf("give the registry the proofs are of (--registry FILE or --db DIR), or --pairing-only for the bare pairing check")
	case len(signingRoots) > 0 && len(signingRoots) != fs.NArg():
		return fmt.Errorf("%d --signing-root for %d proofs: give one per proof, in order", len(signingRoots), fs.NArg())
	}
	var vk *prover.VerifyingKey
	if *vkPath != "" {
		b, err := os.ReadFile(*vkPath)
		if err != nil {
			return err
		}
		var sv prover.SnarkjsVerifyingKey
		if err := json.Unmarshal(b, &sv); err != nil {
			return fmt.Errorf("verifying key %s: %w", *vkPath, err)
		}
		if vk, err = prover.VerifyingKeyFromSnarkjs(&sv); err != nil {
			return fmt.Errorf("verifying key %s: %w", *vkPath, err)
		}
	} else {
		keys, err := kf.load(stderr, false)
		if err != nil {
			return err
		}
		vk = keys.VerifyingKey()
	}
	var signals []string
	if *public != "" {
		b, err := os.ReadFile(*public)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &signals); err != nil {
			return fmt.Errorf("public signals %s: %w", *public, err)
		}
	}
	claims := make([]prover.Claim, fs.NArg())
	for i, path := range fs.Args() {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var sp prover.SnarkjsProof
		if err := json.Unmarshal(b, &sp); err != nil {
			return fmt.Errorf("proof %s: %w", path, err)
		}
		if claims[i], err = prover.ClaimFromSnarkjs(&sp, signals); err != nil {
			return fmt.Errorf("proof %s: %w", path, err)
		}
	}
	start := time.Now()
	var bad []int
	reasons := map[int]error{}
	if *pairingOnly {
		var err error
		if bad, err = vk.FindInvalid(claims); err != nil {
			return err
		}
		for _, i := range bad {
			reasons[i] = prover.ErrInvalidProof
		}
	} else {
		r, st, err := rf.open(nil)
		if err != nil {
			return err
		}
		defer st.Close()
		v := &prover.Verifier{Key: vk, Network: r.Network().ID(), Roots: r, MinWeight: *minWeight}
		var srs []*[32]byte
		for i := range signingRoots {
			srs = append(srs, &signingRoots[i])
		}
		if bad, reasons, err = v.FindInvalid(claims, srs); err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	valid := make([]prover.Claim, 0, len(claims))
	validIdx := make([]int, 0, len(claims))
	for i, path := range fs.Args() {
		verdict := "OK"
		if *pairingOnly {
			verdict = "OK (pairing only: registry root, network and attestation not checked)"
		}
		if err, isBad := reasons[i]; isBad {
			verdict = "INVALID: " + err.Error()
		} else {
			valid = append(valid, claims[i])
			validIdx = append(validIdx, i)
		}
		fmt.Fprintf(stdout, "%s: %s (epoch %d, nullifier %s)\n", path, verdict, claims[i].Statement.Epoch, prover.HexField(&claims[i].Statement.Nullifier))
	}
	noun := "proofs"
	if len(claims) == 1 {
		noun = "proof"
	}
	fmt.Fprintf(stderr, "verified %d %s in %v\n", len(claims), noun, elapsed.Round(time.Microsecond))
	// Two valid proofs of one epoch with one nullifier and different messages reveal their
	// validator; grouping by (network, epoch, nullifier) finds them without comparing every
	// pair of proofs.
	for _, e := range prover.FindEquivocations(valid) {
		fmt.Fprintf(stdout, "EQUIVOCATION: %s and %s: identity %s\n", fs.Arg(validIdx[e.First]), fs.Arg(validIdx[e.Second]), prover.HexField(&e.Identity))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d of %d proofs invalid: %w", len(bad), len(claims), prover.ErrInvalidProof)
	}
	return nil
}

func runProverExport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("prover export", "prover export [--depth N --cache-dir DIR] [--solidity FILE] [--snarkjs FILE]", `
Writes the verifying key for other verifiers: gnark's Solidity verifier contract (its
verifyProof takes the 256-byte EIP-197 proof and the six public inputs) and snarkjs's
verification_key.json ('snarkjs groth16 verify vk.json public.json proof.json' accepts zkv's
proofs). The public inputs are values of zkv's Poseidon2 hashes (gnark's parameters, not
circom's Poseidon): other tools check the proof, only zkv recomputes the hashes.`, stderr)
	kf := addKeyFlags(fs)
	sol := fs.String("solidity", "", "write the Solidity verifier here")
	snark := fs.String("snarkjs", "", "write the snarkjs verification key JSON here")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "export", stderr); err != nil {
		return err
	}
	if *sol == "" && *snark == "" {
		fmt.Fprintln(stderr, "zkv prover export: give --solidity, --snarkjs or both")
		return errUsage
	}
	keys, err := kf.load(stderr, false)
	if err != nil {
		return err
	}
	vk := keys.VerifyingKey()
	if *sol != "" {
		f, err := os.Create(*sol)
		if err != nil {
			return err
		}
		if err := vk.ExportSolidity(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", *sol)
	}
	if *snark != "" {
		if err := writeJSON(*snark, nil, vk.Snarkjs()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", *snark)
	}
	return nil
}
