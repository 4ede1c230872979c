// Command zkv is a validator client for Ethereum-style proof-of-stake networks with private
// attestation proofs, an MEV-boost-compatible relay and sidecar, and a benchmark suite.
//
// This file only dispatches: each subcommand lives in its own file, parses its flags into a
// config, and calls into a package. No logic belongs here.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one `zkv <name>` subcommand.
type command struct {
	name  string // as typed on the command line
	short string // one line for `zkv --help`
	// run parses args (everything after the name) and runs. It returns errUsage after printing
	// usage for bad flags, so main exits 2 without printing the error twice.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

// register adds a subcommand; each subcommand's file calls it from init so that adding a
// command never touches this file.
func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("zkv: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// subcommand is one `zkv <group> <name>` of a command group such as `zkv keys`.
type subcommand struct {
	name, short string
	run         func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// dispatchGroup runs the subcommand named by args[0], or prints the group's usage (about and
// the list of subcommands) for help, a missing subcommand or an unknown one.
func dispatchGroup(ctx context.Context, group, about string, subs []subcommand, args []string, stdout, stderr io.Writer) error {
	usage := func() {
		names := make([]string, len(subs))
		for i, s := range subs {
			names[i] = s.name
		}
		fmt.Fprintf(stderr, "Usage: zkv %s <%s> [flags]\n\n%s\n\nSubcommands:\n", group, strings.Join(names, "|"), strings.TrimSpace(about))
		for _, s := range subs {
			fmt.Fprintf(stderr, "  %-10s %s\n", s.name, s.short)
		}
		fmt.Fprintf(stderr, "\nRun 'zkv %s <subcommand> --help' for its flags.\n", group)
	}
	if len(args) == 0 {
		usage()
		return errUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage()
		return flag.ErrHelp
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "zkv %s: unknown subcommand %q\n\n", group, args[0])
	usage()
	return errUsage
}

// errUsage reports a command-line mistake whose explanation was already printed.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 && args[0] == "help" {
			if c, ok := commands[args[1]]; ok {
				return exitCode(c.run(ctx, []string{"--help"}, stdout, stderr), stderr)
			}
		}
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "zkv: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return exitCode(c.run(ctx, args[1:], stdout, stderr), stderr)
}

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "zkv: %v\n", err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `zkv is a validator client for Ethereum proof-of-stake networks that can prove, in zero
knowledge, that some registered validator attested without saying which one.

Usage:
  zkv <command> [flags]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-22s %s\n", n, commands[n].short)
	}
	fmt.Fprint(w, `
Run 'zkv <command> --help' for a command's flags.
`)
}

// newFlagSet returns a flag set that prints a newcomer-friendly usage text and reports bad
// flags as errUsage.
func newFlagSet(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("zkv "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: zkv %s\n\n%s\n", synopsis, strings.TrimSpace(about))
		has := false
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprintf(stderr, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args, mapping -h to flag.ErrHelp and any other mistake to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return errUsage
	}
	return nil
}
