package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/keys"
	"github.com/zkvlabs/zkv/validator/propconfig"
)

func init() {
	register(&command{
		name:  "validator",
		short: "run validator duties for your keys against a beacon node (Beacon API)",
		run:   runValidator,
	})
}

func runValidator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "exit" {
		return runValidatorExit(ctx, args[1:], stdout, stderr)
	}
	fs := newFlagSet("validator", "validator --beacon-node URL[,URL...] --keystores DIR --db DIR [--password-file F] [flags]", `
Runs a validator client: it loads every EIP-2335 keystore in DIR, connects to a beacon node
through the standard Beacon API (any consensus client: Lighthouse, Teku, Prysm, Nimbus,
Lodestar, Grandine, or 'zkv devnet beacon'), learns the network from it, and does every duty of
your validators: block proposals (through the beacon node's builder when it has one, local
blocks otherwise), attestations, aggregation, sync-committee messages and contributions,
fee-recipient preparation and builder registrations.

Nothing is signed before EIP-3076 slashing protection, kept in the database at --db, has
recorded it on disk. Import your previous client's slashing-protection history first
('zkv slashing-protection import') and never run the same keys in two places.

At start it signs nothing for two epochs (doppelganger protection): it asks the beacon node
whether any of its validators is live, and refuses to run if one is, since the keys then run
in another client too. --doppelganger=false skips the wait (after a clean stop of the only
other instance, for example), with a warning.

Stop it with Ctrl-C (SIGINT) or SIGTERM: it finishes the signing in flight and closes the
database cleanly. It logs one summary line per epoch.

Several beacon nodes (--beacon-node URL1,URL2,..., the first the primary): duties, attestation
data and blocks are asked of the first healthy node, and of the next when it fails;
attestations, aggregates, sync-committee messages, blocks, subscriptions and registrations go to
every healthy node. A node that failed is checked every quarter slot and used again, the primary
first, once it answers. Reads other than block production give up after a third of a slot (or
--timeout, when shorter), so that a slow node leaves time to ask the next; block production and
block submission have the whole --timeout.

A first run against a local devnet ('zkv devnet beacon' writes throwaway keystores):

  zkv validator --beacon-node http://127.0.0.1:5052 --keystores .zkv/devnet/keys \
      --password-file .zkv/devnet/password.txt --db .zkv/validator-db --insecure-kdf

'zkv validator exit --help' explains voluntary exits.

Per-validator proposer settings (--proposer-config FILE), a YAML file keyed by public key with
a default section; every field is optional, a validator's missing field comes from default and
default's from the flags (--fee-recipient, --gas-limit, --graffiti, --builder-boost-factor):

  default:
    fee_recipient: "0x00000000000000000000000000000000000000aa"
    gas_limit: 36000000
    graffiti: "zkv"
    builder:
      enabled: true        # false: no builder registration, builder_boost_factor 0
      boost_factor: 100    # produceBlockV3 builder_boost_factor
      min_bid: "0.05"      # ETH: a builder bid below it is replaced by a local block
  "0x93247f2209abcacf57b75a51dafae777f9dd38bc7053d1af526f220a7489a6d3a2753e5f3e8b1cfe39b56f43611df74a":
    fee_recipient: "0x00000000000000000000000000000000000000bb"
    builder:
      enabled: false

Unknown keys, malformed values and sections for keys not in --keystores are refused. Send the
process SIGHUP after editing the file: it is read again, and used from the next request on
(builder registrations are signed again at the next epoch); a file with an error is not
used, the previous settings stay, and the log says why.

Metrics: --metrics-address 127.0.0.1:5064 serves Prometheus metrics at /metrics (off by
default): vc_signed_{beacon_blocks,attestations,aggregates,sync_committee_messages,
sync_committee_contributions}_total{status}, vc_beacon_nodes_{total,available,synced}_count,
zkv_validator_* (duty delays, late duties, slashing-protection refusals, per-node request
durations and health, the epoch summaries' figures, the builder circuit breaker).

Builder circuit breaker: when --builder-fallback-skips slots in a row right before a proposal
have no block, or --builder-fallback-skips-per-epoch of the last epoch's slots, proposals ask for
a local block (builder_boost_factor 0) until the chain is healthy again; 0 turns a rule off.

`+keymanagerAbout+privateAbout, stderr)
	beaconURL := fs.String("beacon-node", "http://127.0.0.1:5052", "the beacon nodes' Beacon API URLs, comma-separated, the primary first")
	keystores := fs.String("keystores", "", "directory of EIP-2335 keystores (*.json), all with one password (required)")
	passwordFile := fs.String("password-file", "", "file whose first line is the keystores' password (asked on the terminal when absent)")
	dbDir := fs.String("db", "", "slashing-protection database directory, created if missing (required)")
	graffiti := fs.String("graffiti", "", "graffiti of proposed blocks (at most 32 bytes)")
	boost := fs.Int64("builder-boost-factor", -1, "produceBlockV3 builder_boost_factor: 0 = always a local block, 100 = the better payload at face value, -1 = the beacon node's default")
	feeRecipient := fs.String("fee-recipient", "", "execution address (0x + 40 hex) that receives the fees of your blocks")
	gasLimit := fs.Uint64("gas-limit", client.DefaultGasLimit, "gas limit registered with builders")
	registrations := fs.Bool("builder-registrations", true, "register the validators with the builder network (through the beacon node) every epoch")
	timeout := fs.Duration("timeout", client.DefaultTimeout, "limit of block production and submission; other Beacon API requests stop at a third of a slot when that is shorter")
	grace := fs.Duration("shutdown-grace", client.DefaultShutdownGrace, "on SIGINT/SIGTERM, how long duties in flight may finish")
	doppelganger := fs.Bool("doppelganger", true, "watch the beacon node for two epochs before signing, and refuse to sign if the keys are live elsewhere")
	insecureKDF := fs.Bool("insecure-kdf", false, "accept keystores with a weak KDF (devnet throwaway keys only)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	proposerConfig := fs.String("proposer-config", "", "YAML file of per-validator proposer settings (see above), read again on SIGHUP")
	metricsAddr := fs.String("metrics-address", "", "serve Prometheus metrics at http://ADDR/metrics (host:port; empty: off)")
	fallbackSkips := fs.Int("builder-fallback-skips", client.DefaultBreakerConfig.Consecutive, "builder circuit breaker: missed slots in a row before a proposal that make it local (0: rule off)")
	fallbackEpoch := fs.Int("builder-fallback-skips-per-epoch", client.DefaultBreakerConfig.PerEpoch, "builder circuit breaker: missed slots in the last epoch that make proposals local (0: rule off)")
	km := addKeymanagerFlags(fs)
	priv := addPrivateFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "zkv validator: "+format+"\n", a...)
		return errUsage
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if *keystores == "" || *dbDir == "" {
		return usageErr("--keystores and --db are required (see --help)")
	}
	if err := priv.check(usageErr); err != nil {
		return err
	}
	if len(*graffiti) > 32 {
		return usageErr("--graffiti is %d bytes, at most 32 fit in a block", len(*graffiti))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageErr("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	urls, err := beaconURLs(*beaconURL)
	if err != nil {
		return usageErr("%v", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts := []client.Option{
		client.WithBeaconNodes(urls...), client.WithDatabase(*dbDir), client.WithGasLimit(*gasLimit),
		client.WithBuilderRegistrations(*registrations), client.WithTimeout(*timeout), client.WithShutdownGrace(*grace),
		client.WithLogger(logger),
	}
	if *proposerConfig != "" {
		c, err := propconfig.Load(*proposerConfig)
		if err != nil {
			return usageErr("--proposer-config: %v", err)
		}
		opts = append(opts, client.WithProposerConfig(c))
	}
	var g [32]byte
	copy(g[:], *graffiti)
	opts = append(opts, client.WithGraffiti(g))
	if *boost >= 0 {
		f := uint64(*boost)
		opts = append(opts, client.WithBuilderBoostFactor(&f))
	} else if *boost != -1 {
		return usageErr("--builder-boost-factor %d: want -1 or a non-negative number", *boost)
	}
	if *feeRecipient != "" {
		b, err := hex.DecodeString(strings.TrimPrefix(*feeRecipient, "0x"))
		if err != nil || len(b) != 20 || !strings.HasPrefix(*feeRecipient, "0x") {
			return usageErr("--fee-recipient %q is not 0x + 20 bytes of hex", *feeRecipient)
		}
		opts = append(opts, client.WithFeeRecipient(bellatrix.ExecutionAddress(b)))
	} else {
		fmt.Fprintln(stderr, "zkv validator: no --fee-recipient: block fees go to the zero address")
	}
	if !*doppelganger {
		fmt.Fprintln(stderr, "zkv validator: WARNING: --doppelganger=false: nothing checks that these keys run nowhere else; two clients with one key get slashed")
		opts = append(opts, client.WithDoppelganger(0))
	}
	if *insecureKDF {
		opts = append(opts, client.WithKDFLimits(keys.InsecureKDFLimits))
	}
	if *fallbackSkips < 0 || *fallbackEpoch < 0 {
		return usageErr("--builder-fallback-skips and --builder-fallback-skips-per-epoch must not be negative")
	}
	opts = append(opts, client.WithBuilderCircuitBreaker(client.BreakerConfig{Consecutive: *fallbackSkips, PerEpoch: *fallbackEpoch}))
	if *metricsAddr != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		opts = append(opts, client.WithMetrics(reg))
		stopMetrics, err := serveMetrics(*metricsAddr, reg, logger)
		if err != nil {
			return usageErr("--metrics-address: %v", err)
		}
		defer stopMetrics()
	}
	if *timeout <= 0 || *grace < 0 {
		return usageErr("--timeout must be positive and --shutdown-grace not negative")
	}
	password, err := keystorePassword(*passwordFile, false, stderr)
	if err != nil {
		return err
	}
	opts = append(opts, client.WithKeystores(*keystores, password))
	if isTerminal(stderr) {
		opts = append(opts, client.WithProgress(stderr))
	}
	limits := keys.DefaultKDFLimits
	if *insecureKDF {
		limits = keys.InsecureKDFLimits
	}
	ps, err := priv.setup(ctx, *beaconURL, *dbDir, *keystores, password, limits, logger, stdout)
	if err != nil {
		return err
	}
	opts = append(opts, ps.options()...)
	svc, err := client.New(ctx, opts...)
	if err != nil {
		if ps != nil {
			ps.db.Close()
		}
		return err
	}
	kmServer, err := km.server(svc, *insecureKDF, logger, stderr)
	if err != nil {
		return err
	}
	if *proposerConfig != "" {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		rctx, stopReload := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { reloadOnSignal(rctx, hup, *proposerConfig, svc, logger) })
		defer func() { stopReload(); wg.Wait() }()
	}
	start := time.Now()
	err = ps.run(ctx, func(ctx context.Context) error { return runValidatorService(ctx, svc, kmServer) })
	fmt.Fprintf(stdout, "zkv validator stopped after %v\n", time.Since(start).Round(time.Second))
	return err
}

func runValidatorExit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validator exit", "validator exit --beacon-node URL --keystores DIR --pubkeys 0x..,0x.. --yes [flags]", `
Signs a voluntary exit for each validator of --pubkeys (their keystores must be in --keystores)
and submits it to the beacon node. AN EXIT CANNOT BE UNDONE: the validator stops validating and
its balance becomes withdrawable (to its withdrawal credentials) after the exit queue and the
withdrawability delay. --yes confirms.

The exit is signed under the Capella fork's domain (EIP-7044), so a signed exit never expires.
It needs no slashing-protection database: an exit is not a slashable message. The validator
client may keep running; it stops having duties once the exit takes effect.`, stderr)
	beaconURL := fs.String("beacon-node", "http://127.0.0.1:5052", "the beacon nodes' Beacon API URLs, comma-separated, the primary first (the exit goes to every healthy one)")
	keystores := fs.String("keystores", "", "directory of EIP-2335 keystores (required)")
	passwordFile := fs.String("password-file", "", "file whose first line is the keystores' password (asked on the terminal when absent)")
	pubkeys := fs.String("pubkeys", "", "comma-separated 0x-prefixed public keys of the validators to exit (required)")
	epoch := fs.Int64("epoch", -1, "epoch of the exit (-1: the current epoch)")
	yes := fs.Bool("yes", false, "confirm: the exit is irreversible")
	insecureKDF := fs.Bool("insecure-kdf", false, "accept keystores with a weak KDF (devnet throwaway keys only)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "zkv validator exit: "+format+"\n", a...)
		return errUsage
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if *keystores == "" || *pubkeys == "" {
		return usageErr("--keystores and --pubkeys are required (see --help)")
	}
	var pks []phase0.BLSPubKey
	for _, p := range strings.Split(*pubkeys, ",") {
		p = strings.TrimSpace(p)
		b, err := hex.DecodeString(strings.TrimPrefix(p, "0x"))
		if err != nil || len(b) != 48 || !strings.HasPrefix(p, "0x") {
			return usageErr("public key %q is not 0x + 48 bytes of hex", p)
		}
		pks = append(pks, phase0.BLSPubKey(b))
	}
	if !*yes {
		return usageErr("an exit is irreversible: add --yes to exit %d validator(s)", len(pks))
	}
	var at *phase0.Epoch
	if *epoch >= 0 {
		e := phase0.Epoch(*epoch)
		at = &e
	} else if *epoch != -1 {
		return usageErr("--epoch %d: want -1 or an epoch", *epoch)
	}
	password, err := keystorePassword(*passwordFile, false, stderr)
	if err != nil {
		return err
	}
	urls, err := beaconURLs(*beaconURL)
	if err != nil {
		return usageErr("%v", err)
	}
	opts := []client.Option{client.WithBeaconNodes(urls...), client.WithKeystores(*keystores, password),
		client.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))}
	if *insecureKDF {
		opts = append(opts, client.WithKDFLimits(keys.InsecureKDFLimits))
	}
	exits, err := client.Exit(ctx, pks, at, opts...)
	for _, e := range exits {
		fmt.Fprintf(stdout, "exit submitted: validator %d at epoch %d\n", e.Message.ValidatorIndex, e.Message.Epoch)
	}
	return err
}

// serveMetrics serves reg at http://addr/metrics until the returned stop is called.
func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server stopped", "error", err)
		}
	})
	log.Info("metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() { _ = srv.Close(); wg.Wait() }, nil
}

// proposerConfigSetter is the part of the validator client a reload needs.
type proposerConfigSetter interface {
	SetProposerConfig(*propconfig.Config) error
}

// reloadOnSignal reads the proposer config file at path again each time sig delivers (SIGHUP)
// and hands it to svc, until ctx ends. A file that does not parse, or that svc refuses, is logged
// and dropped: the previous config stays in force, since a typo must not stop the proposals.
func reloadOnSignal(ctx context.Context, sig <-chan os.Signal, path string, svc proposerConfigSetter, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
		}
		c, err := propconfig.Load(path)
		if err == nil {
			err = svc.SetProposerConfig(c)
		}
		if err != nil {
			log.Warn("proposer config not reloaded, the previous one stays", "file", path, "error", err)
			continue
		}
		log.Info("proposer config reloaded", "file", path, "validators", len(c.Validators))
	}
}

// beaconURLs splits --beacon-node's comma-separated list, refusing empty entries and repeats
// (a repeated node would only receive every broadcast twice).
func beaconURLs(list string) ([]string, error) {
	var urls []string
	for u := range strings.SplitSeq(list, ",") {
		u = strings.TrimSpace(u)
		switch {
		case u == "":
			return nil, fmt.Errorf("--beacon-node %q has an empty URL", list)
		case slices.Contains(urls, u):
			return nil, fmt.Errorf("--beacon-node lists %s twice", u)
		}
		urls = append(urls, u)
	}
	return urls, nil
}
