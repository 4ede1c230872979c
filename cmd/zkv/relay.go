package main

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/beacon/execution"
	"github.com/zkvlabs/zkv/mev"
	"github.com/zkvlabs/zkv/transport"
)

func init() {
	register(&command{
		name:  "relay",
		short: "an MEV-boost-compatible relay: builders submit blocks, proposers get the best header",
		run:   runRelay,
	})
}

// genesisForkVersions are the networks --network names (their config.yaml GENESIS_FORK_VERSION).
var genesisForkVersions = map[string]phase0.Version{
	"mainnet": {0x00, 0x00, 0x00, 0x00},
	"hoodi":   {0x10, 0x00, 0x09, 0x10},
	"sepolia": {0x90, 0x00, 0x00, 0x69},
	"devnet":  beacon.GenesisForkVersion,
}

func runRelay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("relay", "relay --beacon-node URL[,URL] --secret-key-file F --db DIR [--listen ADDR] [--network NAME] [--quic ADDR --quic-peers ID[,ID]] [--http3 ADDR] [--admin ADDR] [--execution-node URL]", `
Runs a relay between block builders and proposers, compatible with flashbots mev-boost and with
anything that speaks the builder API (ethereum/builder-specs) and mev-boost-relay's builder API.

Builders POST blocks to /relay/v1/builder/blocks (JSON or SSZ, optionally gzip, at most 15 MiB,
?cancellations=1 to lower an earlier bid). The relay checks each one against its beacon node
(the slot, the proposer's registration, the payload attributes, the builder's signature) and
keeps the best bid per slot. Proposers (mev-boost, zkv boost, or a beacon node) register, ask
/eth/v1/builder/header/{slot}/{parent_hash}/{pubkey} for the best header, sign the blinded block
and get the payload back (v1) or have the relay publish the block (v2). A slot's payload is
released once: a second, different blinded block for a slot is refused as equivocation, also
after a restart, because the release is recorded in the database first.

Point proposers at http://<relay pubkey>@<listen address>; the pubkey is printed at start.
The secret key file holds the relay's BLS secret key as 0x-prefixed hex; --new-key creates one.
Prometheus metrics are at /metrics. The data API answers under /relay/v1/data/ (proposer_payload_delivered, builder_blocks_received,
validator_registration), with mev-boost-relay's query parameters.

QUIC (--quic ADDR, UDP): builders submit blocks over zkv's transport (protocol zkv/1, TLS 1.3
with Ed25519 keys pinned both ways), checked exactly as over HTTP, and builders and proposers
subscribe to the topic relay/top_bids for each new top bid (frame: type 0x22, fork, the
relay-signed SSZ SignedBuilderBid). Only the keys listed in --quic-peers may connect. The
relay's own key is kept in --quic-key (default <db>/quic.key, created 0600 on first start)
and printed at start as "relay quic: <address> key <id>": peers pin that id.

HTTP/3 (--http3 ADDR): the same API over HTTP/3 (UDP) and HTTPS (TCP, with Alt-Svc) on one
port, with the self-signed certificate of the --quic-key identity: clients pin it.

Simulation (--execution-node URL): each submission's block is executed by an execution client
with the flashbots block-validation API (flashbots_validateBuilderSubmissionV4 for Electra, V5
for Fulu) before its bid is accepted; a refusal is the submission's 400 with the client's
reason, no answer within --simulation-timeout a 504.

Builder status (--admin ADDR): mev-boost-relay's internal API on a separate address, which only
operators should reach (bind it to 127.0.0.1 or a private network; the builder API port never
serves it):
  GET  /internal/v1/builder/{pubkey}
  POST /internal/v1/builder/{pubkey}?blacklisted=true|false&high_prio=true|false&optimistic=true|false
  POST /internal/v1/builder/collateral/{pubkey}?collateral=BUILDER_ID&value=WEI
  GET  /internal/v1/builder/demotions
Blacklisted builders' submissions are refused; high-priority ones are checked first when
submissions queue up; an optimistic builder's bid of at most its collateral is accepted before
its simulation finishes, and a failed simulation or a failed publication demotes the builder.
Statuses and demotions are kept in the database.

Not yet: several relay replicas over one shared store (mev-boost-relay's Redis).`, stderr)
	beacons := fset.String("beacon-node", "", "Beacon API URL of the beacon node(s) to follow, comma-separated, tried in order (required)")
	keyFile := fset.String("secret-key-file", "", "file with the relay's BLS secret key, 0x-prefixed hex (required)")
	newKey := fset.Bool("new-key", false, "create --secret-key-file with a new random key, print its public key and exit")
	dir := fset.String("db", "", "database directory for bids, payloads and delivery records (required)")
	listen := fset.String("listen", "127.0.0.1:9062", "address of the relay's HTTP API")
	quic := fset.String("quic", "", "UDP address of the QUIC door (block submissions and the top-bid stream); off when empty")
	quicKey := fset.String("quic-key", "", "the relay's transport identity key file for --quic and --http3 (default <db>/quic.key; created when missing)")
	quicPeers := fset.String("quic-peers", "", "transport ids (64 hex digits) of the builders and proposers allowed on --quic, comma-separated")
	network := fset.String("network", "", "mainnet, hoodi, sepolia or devnet: refuse a beacon node of another network")
	http3 := fset.String("http3", "", "address (UDP and TCP, one port) of the API over HTTP/3 and HTTPS; off when empty")
	adminAddr := fset.String("admin", "", "address of the operators' builder-status API; off when empty")
	execNode := fset.String("execution-node", "", "JSON-RPC URL of an execution client with flashbots_validateBuilderSubmission*: simulate every submission")
	simTimeout := fset.Duration("simulation-timeout", mev.DefaultSimulationTimeout, "how long a simulation may take before the submission is answered 504")
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "zkv relay: "+format+"\n", a...)
		return errUsage
	}
	if fset.NArg() > 0 {
		return usageErr("unexpected argument %q", fset.Arg(0))
	}
	if *keyFile == "" {
		return usageErr("--secret-key-file is required")
	}
	if *newKey {
		return writeNewKey(*keyFile, stdout)
	}
	switch {
	case *beacons == "":
		return usageErr("--beacon-node is required")
	case *dir == "":
		return usageErr("--db is required")
	case *quic == "" && *quicPeers != "":
		return usageErr("--quic-peers needs --quic")
	case *quic == "" && *http3 == "" && *quicKey != "":
		return usageErr("--quic-key needs --quic or --http3")
	case *simTimeout <= 0:
		return usageErr("--simulation-timeout must be positive")
	case *execNode == "" && *simTimeout != mev.DefaultSimulationTimeout:
		return usageErr("--simulation-timeout needs --execution-node")
	case *quic != "" && *quicPeers == "":
		return usageErr("--quic needs --quic-peers: the keys allowed to connect")
	}
	var peers []transport.PeerID
	if *quicPeers != "" {
		for _, s := range strings.Split(*quicPeers, ",") {
			p, err := transport.ParsePeerID(strings.TrimSpace(s))
			if err != nil {
				return usageErr("--quic-peers: %v", err)
			}
			peers = append(peers, p)
		}
	}
	var want *phase0.Version
	if *network != "" {
		v, ok := genesisForkVersions[*network]
		if !ok {
			return usageErr("--network must be mainnet, hoodi, sepolia or devnet, not %q", *network)
		}
		want = &v
	}
	var sim mev.Simulator
	if *execNode != "" {
		x, err := mev.NewExecutionSimulator(*execNode, *simTimeout)
		if err != nil {
			return usageErr("--execution-node: %v", err)
		}
		sim = x
	}
	sk, err := readKey(*keyFile)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	bc, err := mev.NewBeaconClient(ctx, strings.Split(*beacons, ","), log)
	if err != nil {
		return err
	}
	d, err := db.Open(db.Config{Dir: *dir, Logger: log})
	if err != nil {
		return err
	}
	defer d.Close()
	r, err := mev.New(ctx, mev.Config{SecretKey: sk, Beacon: bc, Store: mev.NewBadgerStore(d), Logger: log,
		BlockHasher: execution.BlockHash, GenesisForkVersion: want, Registerer: prometheus.NewRegistry(), Simulator: sim})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	pk := r.Pubkey()
	fmt.Fprintf(stdout, "relay: http://%#x@%s\n", pk[:], ln.Addr())
	g, gctx := errgroup.WithContext(ctx)
	// Whatever fails to start below closes what started before it.
	var closers []func()
	fail := func(err error) error {
		ln.Close()
		for _, c := range closers {
			c()
		}
		return err
	}
	if *adminAddr != "" {
		aln, err := net.Listen("tcp", *adminAddr)
		if err != nil {
			return fail(fmt.Errorf("--admin %s: %w", *adminAddr, err))
		}
		closers = append(closers, func() { aln.Close() })
		fmt.Fprintf(stdout, "relay admin: http://%s\n", aln.Addr())
		asrv := &http.Server{Handler: r.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error {
			if err := asrv.Serve(aln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("admin server: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return asrv.Shutdown(sctx)
		})
	}
	var id *transport.Identity
	if *quic != "" || *http3 != "" {
		if *quicKey == "" {
			*quicKey = filepath.Join(*dir, "quic.key")
		}
		if id, err = transport.LoadOrCreateIdentity(*quicKey); err != nil {
			return fail(err)
		}
	}
	if *http3 != "" {
		hsrv, err := r.HTTP3Server(&tls.Config{Certificates: []tls.Certificate{id.Certificate()}}, transport.HTTPConfig{Logger: log})
		if err != nil {
			return fail(err)
		}
		addr, err := hsrv.Listen(*http3)
		if err != nil {
			return fail(fmt.Errorf("--http3 %s: %w", *http3, err))
		}
		closers = append(closers, func() { hsrv.Close() })
		fmt.Fprintf(stdout, "relay http3: https://%s key %s\n", addr, id.ID())
		g.Go(func() error { return hsrv.Run(gctx) })
	}
	if *quic != "" {
		srv, err := r.QUICServer(id, transport.ServerConfig{Config: transport.Config{Logger: log}, Peers: peers})
		if err != nil {
			return fail(err)
		}
		addr, err := srv.Listen(*quic)
		if err != nil {
			return fail(fmt.Errorf("--quic %s: %w", *quic, err))
		}
		fmt.Fprintf(stdout, "relay quic: %s key %s\n", addr, id.ID())
		g.Go(func() error { return srv.Run(gctx) })
	}
	g.Go(func() error { return r.Run(gctx, ln) })
	return g.Wait()
}

func readKey(path string) (*bls.SecretKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	raw, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || !strings.HasPrefix(s, "0x") || len(raw) != 32 {
		return nil, fmt.Errorf("secret key file %s: want 0x followed by 64 hex digits", path)
	}
	sk, err := bls.SecretKeyFromBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	return sk, nil
}

func writeNewKey(path string, stdout io.Writer) error {
	sk, err := bls.GenerateSecretKey()
	if err != nil {
		return err
	}
	b := sk.Bytes()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: refusing to overwrite a key", path)
	}
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "%#x\n", b[:]); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	pk := sk.PublicKey().Bytes()
	fmt.Fprintf(stdout, "relay key written to %s\npublic key %#x\n", path, pk[:])
	return nil
}
