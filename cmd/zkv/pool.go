package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/pool"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
	"github.com/zkvlabs/zkv/transport"
)

func init() {
	register(&command{
		name:  "pool",
		short: "a private-attestation pool: batch-verifies proofs, records nullifiers, publishes equivocation evidence",
		run:   runPool,
	})
}

func runPool(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("pool", "pool --db DIR --beacon-node URL --peers ID[,ID] [--listen ADDR] [--http ADDR] [--registry-depth N] [--key-cache DIR]", `
Runs a private-attestation pool. Validators send it, over QUIC (protocol zkv/1, TLS 1.3 with
Ed25519 keys pinned both ways), a zero-knowledge proof for each attestation: "some validator
of the registry attested to this signing root". The pool verifies proofs from all senders
together in batches, records one nullifier per validator and epoch (in --db, durably, before
it answers), and when one validator proves two different attestations in one epoch, recovers
its identity from the two proofs, stores and publishes the evidence (QUIC topic
pool/evidence, GET /pool/v1/evidence) and revokes the key in its registry.

The pool keeps the registry: validators register over QUIC (a BLS-signed registration with
a proof of its identity), the beacon node's validator set decides who may (an active
validator, at its effective balance), and the pool seals the registry root of each epoch as
the epoch starts by the beacon node's clock. Proofs must use the sealed root of their epoch.

Keys: the pool verifies with the circuit keys of --registry-depth in --key-cache, which must
be those the validators prove with ('zkv prover setup' makes them; a single-party setup is
for devnets only). The pool never makes keys of its own.

Peers: only the validator keys listed in --peers may connect (transport ids, 64 hex digits;
a validator prints its id). A pool open to anyone is not offered: a pinned allow-list is what
bounds who can make it verify. The pool's own key is kept in --quic-key (default
<db>/quic.key, created 0600 on first start; --new-key creates it and prints its id) and
printed at start as "pool quic: <address> key <id>": validators pin that id.

HTTP (--http, read-only JSON): /pool/v1/health, /pool/v1/counts, /pool/v1/roots,
/pool/v1/evidence, /pool/v1/evidence/{id}, and Prometheus metrics at /metrics (zkv_pool_*).`, stderr)
	dir := fset.String("db", "", "database directory: nullifiers, evidence and the registry (required)")
	beaconURL := fset.String("beacon-node", "", "Beacon API URL of a beacon node of the network (required)")
	listen := fset.String("listen", "127.0.0.1:9070", "UDP address of the QUIC door (proofs, registrations, member paths, the evidence stream)")
	httpAddr := fset.String("http", "127.0.0.1:9071", "TCP address of the read-only HTTP API; empty turns it off")
	depth := fset.Int("registry-depth", prover.DefaultDepth, "registry depth (even, 2 to 32): the tree holds 2^depth validators")
	keyCache := fset.String("key-cache", defaultKeyCacheDir(), "directory of the prover key cache ('zkv prover setup --cache-dir')")
	quicKey := fset.String("quic-key", "", "the pool's QUIC identity key file (default <db>/quic.key; created when missing)")
	newKey := fset.Bool("new-key", false, "create the QUIC key file if missing, print the pool's transport id and exit")
	peers := fset.String("peers", "", "transport ids (64 hex digits) of the validators allowed to connect, comma-separated (required)")
	minWeight := fset.Uint64("min-weight", 0, "the least minimum weight (gwei) a proof must show; 0 takes any")
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "zkv pool: "+format+"\n", a...)
		return errUsage
	}
	if fset.NArg() > 0 {
		return usageErr("unexpected argument %q", fset.Arg(0))
	}
	if *dir == "" && !(*newKey && *quicKey != "") {
		return usageErr("--db is required")
	}
	if *quicKey == "" {
		*quicKey = filepath.Join(*dir, "quic.key")
	}
	if *newKey {
		if err := os.MkdirAll(filepath.Dir(*quicKey), 0o700); err != nil {
			return err
		}
		id, err := transport.LoadOrCreateIdentity(*quicKey)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pool key %s: id %s\n", *quicKey, id.ID())
		return nil
	}
	switch {
	case *beaconURL == "":
		return usageErr("--beacon-node is required")
	case *peers == "":
		return usageErr("--peers is required: the validator keys allowed to connect")
	}
	if err := prover.CheckDepth(*depth); err != nil {
		return usageErr("--registry-depth: %v", err)
	}
	var allowed []transport.PeerID
	for _, s := range strings.Split(*peers, ",") {
		p, err := transport.ParsePeerID(strings.TrimSpace(s))
		if err != nil {
			return usageErr("--peers: %v", err)
		}
		allowed = append(allowed, p)
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	keys, info, err := prover.LoadKeys(prover.KeyConfig{Depth: *depth, CacheDir: *keyCache, CacheOnly: true})
	if errors.Is(err, prover.ErrNoKeys) {
		return fmt.Errorf("%w\nrun 'zkv prover setup --depth %d --cache-dir %s' first (or copy the network's keys there)", err, *depth, *keyCache)
	}
	if err != nil {
		return err
	}
	printKeyInfo(stderr, keys, info)
	ik, err := prover.LoadIdentityKeys(*keyCache, true)
	if err != nil {
		return fmt.Errorf("identity proof keys: %w", err)
	}
	bn, err := pool.NewBeacon(ctx, *beaconURL, log)
	if err != nil {
		return err
	}
	d, err := db.Open(db.Config{Dir: *dir, Logger: log})
	if err != nil {
		return err
	}
	defer d.Close()
	reg, err := registry.Open(d.KV(db.Registrations), registry.Config{Depth: *depth, Network: bn.Network(),
		IdentityKey: ik.VerifyingKey(), Admit: registry.AdmitValidators(bn)})
	if err != nil {
		return err
	}
	promReg := prometheus.NewRegistry()
	clock := bn.Clock()
	srv, err := pool.New(pool.Config{Key: keys.VerifyingKey(), Registry: reg, DB: d, MinWeight: *minWeight,
		Clock: &clock, Registerer: promReg, Logger: log})
	if err != nil {
		return err
	}
	id, err := transport.LoadOrCreateIdentity(*quicKey)
	if err != nil {
		return err
	}
	q, err := srv.QUICServer(id, transport.ServerConfig{Config: transport.Config{Logger: log, Registerer: promReg}, Peers: allowed})
	if err != nil {
		return err
	}
	addr, err := q.Listen(*listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	fmt.Fprintf(stdout, "pool quic: %s key %s\n", addr, id.ID())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error { return q.Run(gctx) })
	g.Go(func() error { return d.Run(gctx) })
	if *httpAddr != "" {
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			q.Close()
			return fmt.Errorf("--http %s: %w", *httpAddr, err)
		}
		fmt.Fprintf(stdout, "pool http: http://%s\n", ln.Addr())
		mux := http.NewServeMux()
		mux.Handle("/pool/", srv.Handler())
		mux.Handle("GET /metrics", promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}))
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return hs.Shutdown(sctx)
		})
		g.Go(func() error {
			if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	return g.Wait()
}
