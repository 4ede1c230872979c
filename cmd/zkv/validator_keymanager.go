package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"

	"golang.org/x/sync/errgroup"

	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/keymanager"
	"github.com/zkvlabs/zkv/validator/keys"
)

const keymanagerAbout = `The keymanager API (ethereum/keymanager-APIs), off by default: --keymanager-token-file F turns
it on (on ` + keymanager.DefaultAddress + `, or --keymanager-address). Every request needs
"Authorization: Bearer <token>", the first line of F; F is created with mode 0600 and a random
token when absent, and refused when group or others can read it. It lists, imports (with
their EIP-3076 slashing protection history, imported first) and deletes keystores (returning
their history; a deleted key signs nothing once the answer is sent), and sets per-validator fee
recipient, gas limit and graffiti (over --proposer-config and the flags; kept in --db) and
signs voluntary exits. Imported keystores are written into --keystores under the keystores'
password, so they load again at the next start; keys added or removed take effect at the next
slot. Anyone with the token can remove your keys: keep the API on 127.0.0.1.`

// keymanagerFlags are zkv validator's keymanager API flags.
type keymanagerFlags struct{ address, tokenFile *string }

func addKeymanagerFlags(fs *flag.FlagSet) keymanagerFlags {
	return keymanagerFlags{
		address:   fs.String("keymanager-address", "", "address of the keymanager API (default "+keymanager.DefaultAddress+" when --keymanager-token-file is set)"),
		tokenFile: fs.String("keymanager-token-file", "", "bearer token file of the keymanager API; setting it turns the API on"),
	}
}

// server makes the keymanager API server, or nil when it is off.
func (f keymanagerFlags) server(svc *client.Service, insecureKDF bool, log *slog.Logger, stderr io.Writer) (*keymanager.Server, error) {
	if *f.tokenFile == "" {
		if *f.address != "" {
			fmt.Fprintln(stderr, "zkv validator: --keymanager-address needs --keymanager-token-file")
			return nil, errUsage
		}
		return nil, nil
	}
	cfg := keymanager.Config{Address: *f.address, TokenFile: *f.tokenFile, Validator: svc, Logger: log}
	if insecureKDF {
		cfg.KDFLimits = keys.InsecureKDFLimits
	}
	if cfg.Address != "" {
		host, _, err := net.SplitHostPort(cfg.Address)
		if err != nil {
			fmt.Fprintf(stderr, "zkv validator: --keymanager-address %q: %v\n", cfg.Address, err)
			return nil, errUsage
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			fmt.Fprintf(stderr, "zkv validator: WARNING: the keymanager API listens on %s, beyond this machine: anyone who learns the token can remove your keys\n", cfg.Address)
		}
	}
	return keymanager.New(cfg)
}

// runValidatorService runs the client and, when on, the keymanager API until ctx ends or one
// of them fails.
func runValidatorService(ctx context.Context, svc *client.Service, km *keymanager.Server) error {
	if km == nil {
		return svc.Run(ctx)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return svc.Run(gctx) })
	g.Go(func() error { return km.Run(gctx) })
	return g.Wait()
}
