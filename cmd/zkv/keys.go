package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/zkvlabs/zkv/validator/keys"
)

func init() {
	register(&command{
		name:  "keys",
		short: "create, recover, import and list EIP-2335 validator keystores",
		run:   runKeys,
	})
}

var keysSubcommands = []subcommand{
	{"new", "make a new mnemonic (shown once) and write keystores derived from it",
		func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return runKeysCreate(ctx, "new", args, stdout, stderr)
		}},
	{"recover", "write keystores derived from an existing mnemonic",
		func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return runKeysCreate(ctx, "recover", args, stdout, stderr)
		}},
	{"import", "check keystores made elsewhere against their password and copy them in", runKeysImport},
	{"list", "print the pubkey and path of every keystore in a directory (no password needed)",
		func(_ context.Context, args []string, stdout, stderr io.Writer) error {
			return runKeysList(args, stdout, stderr)
		}},
}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatchGroup(ctx, "keys", `
Validator keys at rest: BIP-39 mnemonics, EIP-2333/2334 derivation (signing key of validator i at
m/12381/3600/i/0/0) and EIP-2335 keystores (written with mode 0600).`, keysSubcommands, args, stdout, stderr)
}

func runKeysCreate(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	synopsis := "keys new --dir D [--count N] [--start-index I] [--password-file F] [--network N] [--withdrawal-address A [--compounding]] [--amount ETH]"
	about := `Makes a new 24-word BIP-39 mnemonic from the system's randomness, prints it once, and writes
the signing keys of validators I .. I+N-1 as EIP-2335 keystores into D. Write the mnemonic down
and keep it offline: it is the only backup of these keys and of their withdrawal keys.

The keystore password comes from --password-file (its first line) or, on a terminal, a prompt.

` + depositAbout
	if sub == "recover" {
		synopsis = "keys recover --mnemonic-file F --dir D [--count N] [--start-index I] [--password-file F] [--network N] [--withdrawal-address A [--compounding]] [--amount ETH]"
		about = `Derives the signing keys of validators I .. I+N-1 from an existing BIP-39 mnemonic (read from
--mnemonic-file) and writes them as EIP-2335 keystores into D. Existing files are never replaced.

The keystore password comes from --password-file (its first line) or, on a terminal, a prompt.

` + depositAbout
	}
	fs := newFlagSet("keys "+sub, synopsis, about, stderr)
	dir := fs.String("dir", "", "directory for the keystores (created with mode 0700)")
	count := fs.Int("count", 1, fmt.Sprintf("number of validator keys (at most %d a call: make more in ranges with --start-index)", keys.MaxCreateCount))
	start := fs.Uint("start-index", 0, "index i of the first validator (path m/12381/3600/i/0/0)")
	passwordFile := fs.String("password-file", "", "file whose first line is the keystore password")
	passphraseFile := fs.String("passphrase-file", "", "file whose first line is the optional BIP-39 passphrase")
	kdf := fs.String("kdf", keys.KDFScrypt, "keystore KDF: scrypt or pbkdf2 (both with the EIP's 2^18 work)")
	dep := addDepositFlags(fs)
	var mnemonicFile *string
	if sub == "recover" {
		mnemonicFile = fs.String("mnemonic-file", "", "file holding the BIP-39 mnemonic (required)")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := keysNoArgs(fs, stderr); err != nil {
		return err
	}
	if *dir == "" {
		fmt.Fprintf(stderr, "zkv keys %s: --dir is required\n", sub)
		return errUsage
	}
	if *start > 1<<32-1 {
		fmt.Fprintf(stderr, "zkv keys %s: --start-index %d is not below 2^32\n", sub, *start)
		return errUsage
	}
	if err := keys.CheckCreateRange(uint32(*start), *count); err != nil {
		fmt.Fprintf(stderr, "zkv keys %s: --count %d --start-index %d: %s\n", sub, *count, *start, strings.TrimPrefix(err.Error(), "keys: "))
		return errUsage
	}
	if *kdf != keys.KDFScrypt && *kdf != keys.KDFPBKDF2 {
		fmt.Fprintf(stderr, "zkv keys %s: --kdf %q: want scrypt or pbkdf2\n", sub, *kdf)
		return errUsage
	}
	depOpts, err := dep.options()
	if err != nil {
		fmt.Fprintf(stderr, "zkv keys %s: %v\n", sub, err)
		return errUsage
	}
	var mnemonic string
	if sub == "recover" {
		if *mnemonicFile == "" {
			fmt.Fprintln(stderr, "zkv keys recover: --mnemonic-file is required")
			return errUsage
		}
		b, err := os.ReadFile(*mnemonicFile)
		if err != nil {
			return fmt.Errorf("read mnemonic: %w", err)
		}
		mnemonic = string(b)
		if err := keys.ValidateMnemonic(mnemonic); err != nil {
			return fmt.Errorf("%s: %w", *mnemonicFile, err)
		}
	}
	passphrase := ""
	if *passphraseFile != "" {
		p, err := keysReadSecretLine(*passphraseFile)
		if err != nil {
			return fmt.Errorf("read passphrase: %w", err)
		}
		passphrase = p
	}
	// Before the mnemonic is made and shown: an unusable directory found after the KDF work
	// would leave a mnemonic written down for keys that exist nowhere.
	if err := keys.PrepareDir(*dir); err != nil {
		return err
	}
	password, err := keystorePassword(*passwordFile, true, stderr)
	if err != nil {
		return err
	}
	if err := keys.CheckNewPassword(password); err != nil {
		return err
	}
	if sub == "new" {
		if mnemonic, err = keys.NewMnemonic(); err != nil {
			return err
		}
		// Shown before the keystores are written: a crash part-way must not leave keys whose
		// only backup was never displayed.
		if !isTerminal(stdout) {
			// Scripts read it from stdout, so it is still printed; but it may be landing in a
			// file that others can read, and it is the key to every validator derived from it.
			fmt.Fprintln(stderr, "warning: standard output is not a terminal: the mnemonic goes to a file or pipe; keep that private and delete it once the mnemonic is written down")
		}
		fmt.Fprintf(stdout, "Your mnemonic (shown once; write it down and keep it offline):\n\n%s\n\n", mnemonic)
	}
	created, err := keys.Create(ctx, keys.CreateOptions{
		Dir: *dir, Mnemonic: mnemonic, Passphrase: passphrase,
		Start: uint32(*start), Count: *count, Password: password,
		Encrypt:  keys.EncryptOptions{KDF: *kdf},
		Progress: stderr, Logger: keysLogger(stderr),
	})
	if err != nil {
		if sub == "new" {
			// Create writes all keystores or none.
			return fmt.Errorf("%w (no keystore was written: the mnemonic above was not used for any keystore)", err)
		}
		return err
	}
	for _, c := range created {
		fmt.Fprintf(stdout, "%s  %s  %s\n", c.Pubkey, c.Path, c.File)
	}
	file, err := writeDepositData(*dir, mnemonic, passphrase, uint32(*start), *count, depOpts)
	if err != nil {
		return fmt.Errorf("deposit data (the keystores above are written): %w", err)
	}
	fmt.Fprintf(stdout, "deposit data: %s\n", file)
	return nil
}

func runKeysImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys import", "keys import --dir D [--password-file F] SOURCE...", `
Checks that every keystore in SOURCE (keystore files or directories of them) is a valid
EIP-2335 keystore that opens with the password, then copies them unchanged into D (mode 0600);
a keystore without a pubkey field is written with its pubkey. Nothing is copied if any keystore
fails or is already in D. In a directory, deposit_data-*.json and other JSON arrays (a staking
deposit CLI folder) are skipped. Flags go before the sources.`, stderr)
	dir := fs.String("dir", "", "directory that receives the keystores")
	passwordFile := fs.String("password-file", "", "file whose first line is the keystores' password")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "zkv keys import: --dir and at least one SOURCE are required")
		return errUsage
	}
	// The flag package stops at the first source, so a flag after it would be read as a file.
	for _, a := range fs.Args() {
		if strings.HasPrefix(a, "-") {
			fmt.Fprintf(stderr, "zkv keys import: %q after a SOURCE: put the flags before the sources (a source named so: write ./%s)\n", a, a)
			return errUsage
		}
	}
	password, err := keystorePassword(*passwordFile, false, stderr)
	if err != nil {
		return err
	}
	created, err := keys.Import(ctx, keys.ImportOptions{
		Sources: fs.Args(), Dir: *dir, Password: password, Progress: stderr, Logger: keysLogger(stderr),
	})
	if err != nil {
		return err
	}
	for _, c := range created {
		fmt.Fprintf(stdout, "%s  %s  %s\n", c.Pubkey, keysOrDash(c.Path), c.File)
	}
	return nil
}

func runKeysList(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys list", "keys list --dir D", `
Prints the pubkey, derivation path and file of every keystore in D. Keystores are not
decrypted, so no password is needed.`, stderr)
	dir := fs.String("dir", "", "keystore directory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := keysNoArgs(fs, stderr); err != nil {
		return err
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "zkv keys list: --dir is required")
		return errUsage
	}
	infos, err := keys.List(*dir)
	if err != nil {
		return err
	}
	for _, in := range infos {
		fmt.Fprintf(stdout, "%s  %s  %s\n", keysOrDash(in.Pubkey), keysOrDash(in.Path), in.File)
	}
	if len(infos) == 0 {
		fmt.Fprintf(stderr, "no keystores in %s\n", *dir)
	}
	return nil
}

func keysNoArgs(fs *flag.FlagSet, stderr io.Writer) error {
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}

func keysOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// keysLogger writes the packages' progress log lines to stderr.
func keysLogger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// keysReadSecretLine returns a file's first line without its line ending.
func keysReadSecretLine(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSuffix(line, "\r"), nil
}

// keystorePassword reads the password from file, or prompts on the terminal (twice when confirm
// is set, for a new password). Off a terminal without a file it is an error, never an empty
// password.
func keystorePassword(file string, confirm bool, stderr io.Writer) (string, error) {
	if file != "" {
		p, err := keysReadSecretLine(file)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return p, nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", errors.New("no keystore password: pass --password-file, or run on a terminal to be asked")
	}
	fmt.Fprint(stderr, "Keystore password: ")
	p, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if confirm {
		fmt.Fprint(stderr, "Repeat the password: ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(again) != string(p) {
			return "", errors.New("the passwords differ")
		}
	}
	return string(p), nil
}
