package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/holiman/uint256"

	"github.com/zkvlabs/zkv/pbs"
)

func init() {
	register(&command{
		name:  "boost",
		short: "the proposer's sidecar: asks every relay for the best header (what mev-boost does)",
		run:   runBoost,
	})
}

func runBoost(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("boost", "boost --relays URL[,URL...] [--listen ADDR] [--min-bid ETH] [--network NAME]", `
Runs a sidecar between a beacon node (or validator client) and one or more relays, as flashbots
mev-boost does. Point the beacon node's builder URL at the address it listens on.

For each proposal it asks every relay for a header in parallel, within the 950 ms budget of
getHeader (it answers early, at 750 ms, once it has a bid), checks each bid (signed by the relay's
key under the builder domain, for the right parent, a value above zero and --min-bid), and
returns the highest; on a tie, the one with the smaller block hash. Registrations go to every
relay. The signed blinded block goes to the relays that offered the chosen header, and the first
payload that matches the header comes back (or, on /eth/v2/builder/blinded_blocks, the relay
publishes the block).

Relay URLs carry the relay's public key: http://0xPUBKEY@host:port.

Not yet: QUIC top-bid streams, per-validator relay sets, metrics.`, stderr)
	relays := fset.String("relays", "", "relay URLs, comma-separated, each http://0xPUBKEY@host:port (required)")
	listen := fset.String("listen", "127.0.0.1:18550", "address of the builder API served to the beacon node")
	minBid := fset.String("min-bid", "0", "ignore bids below this value, in ETH (e.g. 0.05)")
	network := fset.String("network", "mainnet", "mainnet, hoodi, sepolia or devnet (the builder domain's genesis fork version)")
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
	if *relays == "" {
		return usageErr("--relays is required")
	}
	var entries []pbs.RelayEntry
	for _, s := range strings.Split(*relays, ",") {
		e, err := pbs.ParseRelayURL(s)
		if err != nil {
			return usageErr("%v", err)
		}
		entries = append(entries, e)
	}
	fork, ok := genesisForkVersions[*network]
	if !ok {
		return usageErr("--network must be mainnet, hoodi, sepolia or devnet, not %q", *network)
	}
	minWei, err := ethToWei(*minBid)
	if err != nil {
		return usageErr("--min-bid: %v", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	b, err := pbs.NewBoost(ctx, pbs.BoostConfig{Relays: entries, GenesisForkVersion: fork, MinBid: minWei, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	fmt.Fprintf(stdout, "boost: http://%s (%d relays)\n", ln.Addr(), len(entries))
	srv := &http.Server{Handler: b.Handler(), ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("boost HTTP server: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ethToWei reads a non-negative decimal amount of ETH (at most 18 decimals) as wei.
func ethToWei(s string) (*uint256.Int, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok || r.Sign() < 0 {
		return nil, fmt.Errorf("%q is not a non-negative amount of ETH", s)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)))
	if !r.IsInt() {
		return nil, fmt.Errorf("%q has more than 18 decimals", s)
	}
	v, overflow := uint256.FromBig(r.Num())
	if overflow {
		return nil, fmt.Errorf("%q is too large", s)
	}
	return v, nil
}
