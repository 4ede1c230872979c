package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/validator/slashing"
)

func init() {
	register(&command{
		name:  "slashing-protection",
		short: "import or export EIP-3076 slashing protection interchange files",
		run:   runSlashing,
	})
}

var slashingSubcommands = []subcommand{
	{"import", "merge an interchange file into the database (all of it, or nothing if it is refused)",
		func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return runSlashingSub(ctx, "import", args, stdout, stderr)
		}},
	{"export", "write the database's records as an interchange file",
		func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return runSlashingSub(ctx, "export", args, stdout, stderr)
		}},
}

func runSlashing(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatchGroup(ctx, "slashing-protection", `
EIP-3076 slashing protection interchange (format version 5), for moving validators between
clients without ever signing something slashable. The validator must not be running: the
database allows one process at a time.`, slashingSubcommands, args, stdout, stderr)
}

func runSlashingSub(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	var fs *flag.FlagSet
	if sub == "import" {
		fs = newFlagSet("slashing-protection import", "slashing-protection import --db DIR --file F [--genesis-validators-root R]", `
Merges the interchange file F into the slashing protection records of the database in DIR.
The file is checked completely first (format, network) and nothing changes if it is refused.`, stderr)
	} else {
		fs = newFlagSet("slashing-protection export", "slashing-protection export --db DIR [--out F] [--genesis-validators-root R]", `
Writes every validator's slashing protection records from the database in DIR as an EIP-3076
interchange file (to F, or standard output).`, stderr)
	}
	dbDir := fs.String("db", "", "the validator's database directory")
	var file, out *string
	if sub == "import" {
		file = fs.String("file", "", "interchange file to import")
	} else {
		out = fs.String("out", "-", "where to write the interchange (- for standard output)")
	}
	gvrHex := fs.String("genesis-validators-root", "", "the network's genesis validators root (0x + 64 hex); needed only for a database never used before")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := keysNoArgs(fs, stderr); err != nil {
		return err
	}
	if *dbDir == "" || (sub == "import" && *file == "") {
		fmt.Fprintf(stderr, "zkv slashing-protection %s: --db%s required\n", sub, map[bool]string{true: " and --file are", false: " is"}[sub == "import"])
		return errUsage
	}
	var gvr *slashing.Root
	if *gvrHex != "" {
		b, err := hex.DecodeString(strings.TrimPrefix(*gvrHex, "0x"))
		if err != nil || len(b) != 32 || !strings.HasPrefix(*gvrHex, "0x") {
			fmt.Fprintf(stderr, "zkv slashing-protection %s: --genesis-validators-root %q is not 0x + 32 bytes of hex\n", sub, *gvrHex)
			return errUsage
		}
		gvr = (*slashing.Root)(b)
	}

	// Check everything that needs no database first, so that a refused command leaves no
	// database behind: an import reads and checks the whole file, an export needs an existing
	// database.
	var ic *slashing.Interchange
	if sub == "import" {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		ic, err = slashing.ReadInterchange(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("import %s: %w", *file, err)
		}
		if gvr != nil && ic.GenesisValidatorsRoot != *gvr {
			return fmt.Errorf("import %s: %w: the file is for genesis validators root %v, --genesis-validators-root is %v",
				*file, slashing.ErrGenesisMismatch, ic.GenesisValidatorsRoot, *gvr)
		}
	}
	if _, err := os.Stat(*dbDir); errors.Is(err, os.ErrNotExist) {
		if sub == "export" {
			return fmt.Errorf("no database at %s: nothing to export", *dbDir)
		}
		if gvr == nil {
			// A new database needs to know its network: taking it from the file would trust
			// the file to name the network the validator runs on.
			return fmt.Errorf("no database at %s yet: pass --genesis-validators-root of the network to create it (the file says %v)", *dbDir, ic.GenesisValidatorsRoot)
		}
	}

	d, err := db.Open(db.Config{Dir: *dbDir, Logger: keysLogger(stderr)})
	if err != nil {
		return err
	}
	defer d.Close()
	stored, ok, err := slashing.StoredGenesisValidatorsRoot(d)
	if err != nil {
		return err
	}
	switch {
	case gvr == nil && !ok:
		return fmt.Errorf("the database at %s has no slashing protection records yet: pass --genesis-validators-root", *dbDir)
	case gvr == nil:
		gvr = &stored
	}
	p, err := slashing.New(slashing.Config{DB: d, GenesisValidatorsRoot: *gvr, Logger: keysLogger(stderr)})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return p.Run(gctx) })
	g.Go(func() error {
		defer stop()
		if sub == "import" {
			stats, err := p.ImportInterchange(gctx, ic)
			if err != nil {
				return fmt.Errorf("import %s: %w", *file, err)
			}
			fmt.Fprintf(stdout, "imported %d validators (%d blocks, %d attestations) from %s\n", stats.Validators, stats.Blocks, stats.Attestations, *file)
			return nil
		}
		return exportTo(gctx, p, *out, stdout)
	})
	return g.Wait()
}

func exportTo(ctx context.Context, p *slashing.Protector, out string, stdout io.Writer) error {
	if out == "-" {
		return p.Export(ctx, stdout)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := p.Export(ctx, f); err != nil {
		f.Close()
		os.Remove(out)
		return fmt.Errorf("export: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(stdout, "exported to %s\n", out)
	return nil
}
