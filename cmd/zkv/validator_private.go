package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	eth2client "github.com/attestantio/go-eth2-client"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/pool"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/transport"
	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/keys"
	"github.com/zkvlabs/zkv/validator/private"
)

const privateAbout = `
Private attestations: with --pool ADDR@KEY (repeatable or comma-separated) each attestation the
client signs also yields, in the background, a zero-knowledge proof that some registered
validator attested (without saying which), sent to the pools over QUIC: 'zkv pool' prints its
ADDR and KEY, and must pin this client's key (printed at start, from --quic-key). The client
registers each key's ZK identity (derived from its BLS key) with the pools, which seal a
registry root per epoch. --prover-keys is the directory of the prover's keys, the same ones
the pools verify with ('zkv prover setup' for a devnet, or a ceremony's keys). The prover's
per-validator cache is kept in --db, so a restart proves at the steady rate at once. Proving
never delays an attestation; a pool that is down gets the epoch's proofs when it is back.
`

// privateFlags are zkv validator's private-attestation flags.
type privateFlags struct {
	pools      stringList
	proverKeys *string
	depth      *int
	quicKey    *string
	minWeight  *uint64
	targets    []poolTarget // parsed by check
}

// stringList is a repeatable flag whose values may also be comma-separated.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func addPrivateFlags(fs *flag.FlagSet) *privateFlags {
	p := &privateFlags{}
	fs.Var(&p.pools, "pool", "private-attestation pool ADDR@KEY (QUIC address and the pool's key), repeatable; none: no private attestations")
	p.proverKeys = fs.String("prover-keys", "", "directory of the prover's keys (required with --pool)")
	p.depth = fs.Int("registry-depth", prover.DefaultDepth, "the pools' registry depth (the circuit's)")
	p.quicKey = fs.String("quic-key", "", "this client's QUIC key file (created 0600 if missing; default DB/quic.key); the pools pin its key")
	p.minWeight = fs.Uint64("min-weight", 0, "minimum weight (gwei) each proof shows; 0 shows nothing")
	return p
}

// privateSetup is what runValidator needs to run private attestations beside the client.
type privateSetup struct {
	svc     *private.Service
	clients []*pool.Client
	db      *db.DB
}

// check checks the flags (usageErr prints and returns errUsage) and parses the pools.
func (p *privateFlags) check(usageErr func(string, ...any) error) error {
	if len(p.pools) == 0 {
		if *p.proverKeys != "" {
			return usageErr("--prover-keys without --pool: the proofs would go nowhere")
		}
		return nil
	}
	if *p.proverKeys == "" {
		return usageErr("--pool needs --prover-keys (the prover's keys, the same the pools verify with)")
	}
	if err := prover.CheckDepth(*p.depth); err != nil {
		return usageErr("--registry-depth: %v", err)
	}
	for _, s := range p.pools {
		addr, key, ok := strings.Cut(s, "@")
		if !ok || addr == "" {
			return usageErr("--pool %q: want ADDR@KEY ('zkv pool' prints both)", s)
		}
		id, err := transport.ParsePeerID(key)
		if err != nil {
			return usageErr("--pool %q: %v", s, err)
		}
		p.targets = append(p.targets, poolTarget{addr, id})
	}
	return nil
}

type poolTarget struct {
	addr string
	id   transport.PeerID
}

// setup loads the prover and the keys, opens the database the client then shares, and
// connects to the pools. It returns nil when no pool is set.
func (p *privateFlags) setup(ctx context.Context, beaconURL, dbDir, keystores, password string, limits keys.KDFLimits, log *slog.Logger, stdout io.Writer) (*privateSetup, error) {
	if len(p.targets) == 0 {
		return nil, nil
	}
	pk, _, err := prover.LoadKeys(prover.KeyConfig{Depth: *p.depth, CacheDir: *p.proverKeys, CacheOnly: true})
	if errors.Is(err, prover.ErrNoKeys) {
		return nil, fmt.Errorf("%w\nthe prover's keys for depth %d are not in %s ('zkv prover setup --depth %d --cache-dir %s' makes devnet keys)", err, *p.depth, *p.proverKeys, *p.depth, *p.proverKeys)
	}
	if err != nil {
		return nil, err
	}
	ik, err := prover.LoadIdentityKeys(*p.proverKeys, true)
	if err != nil {
		return nil, fmt.Errorf("identity proof keys: %w", err)
	}
	prv, err := prover.NewProver(pk, prover.ProverConfig{})
	if err != nil {
		return nil, err
	}
	// The client decrypts the keystores again; the ZK identities need the secret keys here.
	ks, err := keys.LoadDir(ctx, keystores, keys.LoadOptions{Password: password, Limits: limits, Logger: log})
	if err != nil {
		return nil, err
	}
	sks := make([]*bls.SecretKey, len(ks))
	for i, k := range ks {
		sks[i] = k.Secret
	}
	bnSvc, err := eth2http.New(ctx, eth2http.WithAddress(strings.Split(beaconURL, ",")[0]), eth2http.WithLogLevel(zerolog.Disabled), eth2http.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("beacon node: %w", err)
	}
	network, err := private.NetworkOf(ctx, bnSvc.(eth2client.GenesisProvider))
	if err != nil {
		return nil, err
	}
	keyFile := *p.quicKey
	if keyFile == "" {
		keyFile = filepath.Join(dbDir, "quic.key")
	}
	d, err := db.Open(db.Config{Dir: dbDir, Logger: log})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		d.Close()
		return nil, err
	}
	id, err := transport.LoadOrCreateIdentity(keyFile)
	if err != nil {
		d.Close()
		return nil, err
	}
	fmt.Fprintf(stdout, "validator quic key %s (pools pin it)\n", id.ID())
	out := &privateSetup{db: d}
	var pools []private.NamedPool
	for _, t := range p.targets {
		c, err := pool.NewClient(id, pool.ClientConfig{Config: transport.Config{Logger: log}, Addr: t.addr, Server: t.id})
		if err != nil {
			d.Close()
			return nil, err
		}
		out.clients = append(out.clients, c)
		pools = append(pools, private.NamedPool{Name: t.addr, Pool: c})
	}
	svc, err := private.New(private.Config{Keys: sks, Prover: prv, IdentityKeys: ik, Network: network, Pools: pools,
		Balances: private.BeaconBalances(bnSvc.(eth2client.ValidatorsProvider)), MinWeight: *p.minWeight,
		Store: d.KV(db.ProverCache), Logger: log.With("component", "private")})
	if err != nil {
		d.Close()
		return nil, err
	}
	out.svc = svc
	return out, nil
}

// options are the client options that make it share the database and feed the prover.
func (s *privateSetup) options() []client.Option {
	if s == nil {
		return nil
	}
	return []client.Option{client.WithDB(s.db), client.WithAttestationHook(s.svc)}
}

// run runs the private service, the pool clients and the database beside run (the client),
// and closes the database once all have stopped.
func (s *privateSetup) run(ctx context.Context, run func(context.Context) error) error {
	if s == nil {
		return run(ctx)
	}
	defer s.db.Close()
	g, gctx := errgroup.WithContext(ctx)
	// The client's end ends the rest: its own error (or nil) is what the command returns.
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g.Go(func() error {
		defer cancel()
		return run(gctx)
	})
	quiet := func(err error) error {
		if cctx.Err() != nil || gctx.Err() != nil {
			return nil
		}
		return err
	}
	g.Go(func() error { return quiet(s.svc.Run(cctx)) })
	for _, c := range s.clients {
		g.Go(func() error { return quiet(c.Run(cctx)) })
	}
	g.Go(func() error { return quiet(s.db.Run(cctx)) })
	return g.Wait()
}
