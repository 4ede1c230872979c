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
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/zkvlabs/zkv/pbs"
	"github.com/zkvlabs/zkv/transport"
)

func init() {
	register(&command{
		name:  "boost",
		short: "the proposer's sidecar: asks every relay for the best header (what mev-boost does)",
		run:   runBoost,
	})
}

func runBoost(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("boost", "boost --relays URL[,URL...] [--config F] [--listen ADDR] [--min-bid ETH] [--network NAME] [--beacon-node URL | --genesis-time T] [--quic-key F]", `
Runs a sidecar between a beacon node (or validator client) and one or more relays, as flashbots
mev-boost does. Point the beacon node's builder URL at the address it listens on.

For each proposal it asks every relay of the proposer's set for a header in parallel, within the
950 ms budget of getHeader (it answers early, at 750 ms, once it has a bid), checks each bid
(signed by the relay's key under the builder domain, for the right parent, a value above zero
and the min-bid), and returns the highest; on a tie, the one with the smaller block hash.
Registrations go to the relays of each validator's set. The signed blinded block goes to the
relays that offered the chosen header, and the first payload that matches the header comes back
(or, on /eth/v2/builder/blinded_blocks, the relay publishes the block).

Timing, as mev-boost: a getHeader later than --late-in-slot-ms into its slot is answered 204 at
once (the proposer builds its own block), and one made earlier gets only the time left until
then; a caller's X-Timeout-Ms shortens the budget too. Relays receive Date-Milliseconds and
X-Timeout-Ms. The slot's start needs the genesis: --beacon-node (any Beacon API) or
--genesis-time; without either there is no late-in-slot cut-off and no QUIC path.

Relay URLs carry the relay's public key: http://0xPUBKEY@host:port. A relay whose QUIC door
streams its top bids (zkv relay --quic) is written http://0xPUBKEY@host:port#quic=HOST:PORT@ID,
ID being the key the relay prints ("relay quic: ADDR key ID"); the boost subscribes to the
stream and answers getHeader from the streamed bid when it is for the asked slot and parent,
asking that relay over HTTP otherwise (and asking the winner's relay once, to confirm the header:
a relay releases the payload only of a header it served). The boost's own QUIC key is --quic-key (created when
missing); it prints "boost quic key ID" at start, for the relay's --quic-peers.

--config F names a YAML (or JSON) file of relay sets, with mev-boost's proposer-config names:

  builder_relays_groups:
    fast: ["http://0xRELAYKEY@relay-a:18550", "http://0xRELAYKEY@relay-b:18550"]
  default_config:            # every validator not named below (default: --relays, --min-bid)
    builder_relays: [fast]
    min_bid: "0.01"
  proposer_config:
    "0xVALIDATORKEY":
      builder_relays: ["http://0xRELAYKEY@relay-c:18550"]
      min_bid: "0.05"

Send SIGHUP after editing it: it is read again; a file that does not parse is logged and the
previous relay sets stay.

GET /eth/v1/builder/status answers 200 while at least one relay is up (a relay is down until it
first answers and after 3 failed calls in a row) with every relay's health; Prometheus metrics,
named as mev-boost's where they mean the same (mev_boost_relay_latency, ...), are at /metrics.`, stderr)
	relays := fset.String("relays", "", "relay URLs, comma-separated, each http://0xPUBKEY@host:port[#quic=HOST:PORT@ID] (required unless --config sets default_config.builder_relays)")
	configFile := fset.String("config", "", "YAML or JSON file of per-validator relay sets and min-bids (see above), read again on SIGHUP")
	listen := fset.String("listen", "127.0.0.1:18550", "address of the builder API served to the beacon node")
	minBid := fset.String("min-bid", "0", "ignore bids below this value, in ETH (e.g. 0.05)")
	network := fset.String("network", "mainnet", "mainnet, hoodi, sepolia or devnet (the builder domain's genesis fork version)")
	beaconNode := fset.String("beacon-node", "", "a Beacon API URL to read the genesis time and slot duration from")
	genesisTime := fset.Int64("genesis-time", 0, "the network's genesis time, Unix seconds (instead of --beacon-node)")
	slotSeconds := fset.Uint("seconds-per-slot", 12, "slot duration with --genesis-time")
	lateMs := fset.Uint("late-in-slot-ms", 2000, "no getHeader is answered with a bid later than this into its slot (mev-boost's late_in_slot_time_ms)")
	timeoutMs := fset.Uint("timeout-getheader-ms", 950, "getHeader's budget across all relays")
	quicKey := fset.String("quic-key", "", "the boost's QUIC identity key file, needed by relays with #quic= (created 0600 when missing)")
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "zkv boost: "+format+"\n", a...)
		return errUsage
	}
	if fset.NArg() > 0 {
		return usageErr("unexpected argument %q", fset.Arg(0))
	}
	if *relays == "" && *configFile == "" {
		return usageErr("--relays is required (or --config with default_config.builder_relays)")
	}
	if *beaconNode != "" && *genesisTime != 0 {
		return usageErr("--beacon-node and --genesis-time both give the genesis: use one")
	}
	if *genesisTime < 0 || *slotSeconds == 0 || *timeoutMs == 0 || *lateMs == 0 {
		return usageErr("--genesis-time, --seconds-per-slot, --late-in-slot-ms and --timeout-getheader-ms must be positive")
	}
	var entries []pbs.RelayEntry
	if *relays != "" {
		for _, s := range strings.Split(*relays, ",") {
			e, err := pbs.ParseRelayURL(s)
			if err != nil {
				return usageErr("%v", err)
			}
			entries = append(entries, e)
		}
	}
	fork, ok := genesisForkVersions[*network]
	if !ok {
		return usageErr("--network must be mainnet, hoodi, sepolia or devnet, not %q", *network)
	}
	minWei, err := pbs.ParseETH(*minBid)
	if err != nil {
		return usageErr("--min-bid: %v", err)
	}
	fallback := pbs.RelayPolicy{Relays: entries, MinBid: minWei}
	rc := pbs.RelayConfig{Default: fallback}
	if *configFile != "" {
		if rc, err = pbs.LoadRelayConfig(*configFile, fallback); err != nil {
			return usageErr("--config: %v", err)
		}
	}
	if *quicKey == "" {
		all := slices.Clone(rc.Default.Relays)
		for _, p := range rc.Proposers {
			all = append(all, p.Relays...)
		}
		for _, e := range all {
			if e.QUICAddr != "" {
				return usageErr("relay %s names a QUIC door (#quic=): give the boost a key with --quic-key", e.URL)
			}
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	clock := pbs.SlotClock{SlotDuration: time.Duration(*slotSeconds) * time.Second}
	switch {
	case *beaconNode != "":
		if clock, err = pbs.FetchSlotClock(ctx, *beaconNode); err != nil {
			return fmt.Errorf("--beacon-node: %w", err)
		}
	case *genesisTime != 0:
		clock.Genesis = time.Unix(*genesisTime, 0)
	default:
		log.Warn("no genesis (--beacon-node or --genesis-time): no late-in-slot cut-off and no QUIC bid path")
	}
	var id *transport.Identity
	if *quicKey != "" {
		if id, err = transport.LoadOrCreateIdentity(*quicKey); err != nil {
			return fmt.Errorf("--quic-key: %w", err)
		}
		fmt.Fprintf(stdout, "boost quic key %s\n", id.ID())
	}
	reg := prometheus.NewRegistry()
	b, err := pbs.NewBoost(ctx, pbs.BoostConfig{Relays: rc.Default.Relays, MinBid: rc.Default.MinBid, Proposers: rc.Proposers,
		GenesisForkVersion: fork, GenesisTime: clock.Genesis, SlotDuration: clock.SlotDuration,
		LateInSlot: time.Duration(*lateMs) * time.Millisecond, HeaderHard: time.Duration(*timeoutMs) * time.Millisecond,
		Identity: id, Registerer: reg, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	n := len(rc.Default.Relays)
	fmt.Fprintf(stdout, "boost: http://%s (%d relays, %d validators with their own set)\n", ln.Addr(), n, len(rc.Proposers))
	srv := &http.Server{Handler: b.Handler(), ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return b.Run(gctx) })
	if *configFile != "" {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		g.Go(func() error { reloadRelayConfig(gctx, hup, *configFile, fallback, b, log); return nil })
	}
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("boost HTTP server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}

// relayConfigSetter is the part of the boost a reload needs.
type relayConfigSetter interface {
	SetRelayConfig(pbs.RelayConfig) error
}

// reloadRelayConfig reads the relay-set file again each time sig delivers (SIGHUP) until ctx
// ends. A file that does not parse, or that the boost refuses, is logged and dropped: the
// previous relay sets stay, since a typo must not cost a proposal its bids.
func reloadRelayConfig(ctx context.Context, sig <-chan os.Signal, path string, fallback pbs.RelayPolicy, b relayConfigSetter, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
		}
		c, err := pbs.LoadRelayConfig(path, fallback)
		if err == nil {
			err = b.SetRelayConfig(c)
		}
		if err != nil {
			log.Warn("relay config not reloaded, the previous one stays", "file", path, "error", err)
			continue
		}
		log.Info("relay config reloaded", "file", path, "default_relays", len(c.Default.Relays), "validators", len(c.Proposers))
	}
}
