package keys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// MinPasswordLength is the shortest keystore password Create accepts (in characters after
// EIP-2335 normalisation), as the staking deposit CLI requires.
const MinPasswordLength = 8

// ErrWeakPassword: a new keystore password is too short.
var ErrWeakPassword = fmt.Errorf("keys: password shorter than %d characters", MinPasswordLength)

// CheckNewPassword refuses a password for new keystores that is shorter than MinPasswordLength
// characters after EIP-2335 normalisation.
func CheckNewPassword(password string) error {
	if len([]rune(string(NormalizePassword(password)))) < MinPasswordLength {
		return ErrWeakPassword
	}
	return nil
}

// CreateOptions configures Create.
type CreateOptions struct {
	// Dir receives the keystores (created 0700 if missing).
	Dir string
	// Mnemonic is the BIP-39 mnemonic whose seed is the EIP-2333 seed; Passphrase is its
	// optional BIP-39 passphrase.
	Mnemonic, Passphrase string
	// Start is the first validator index i (path m/12381/3600/i/0/0), Count how many keys.
	Start uint32
	Count int
	// Password encrypts every keystore.
	Password string
	// Encrypt chooses the KDF and its cost; its Path is set per key.
	Encrypt EncryptOptions
	// Workers encrypting in parallel; default GOMAXPROCS.
	Workers int
	// MaxMemory bounds the scrypt memory of the encryptions running at once, as
	// LoadOptions.MaxMemory does for decryption; default 2 GiB.
	MaxMemory uint64
	// Progress, when it is a terminal, shows a progress bar.
	Progress io.Writer
	Logger   *slog.Logger
}

// MaxCreateCount is the most keys one Create makes. The keystores are held until all are
// written (all or nothing), and at the EIP's scrypt cost 100,000 keys are days of work: make
// more in ranges, with CreateOptions.Start (zkv keys new|recover --start-index).
const MaxCreateCount = 100_000

// CheckCreateRange refuses a count or a range of validator indices that Create would refuse,
// so that a command can refuse it before showing a new mnemonic.
func CheckCreateRange(start uint32, count int) error {
	if count <= 0 {
		return fmt.Errorf("keys: count %d, want at least 1", count)
	}
	if count > MaxCreateCount {
		return fmt.Errorf("keys: count %d is above %d: create the keys in ranges of at most %d (with a start index)", count, MaxCreateCount, MaxCreateCount)
	}
	if uint64(start)+uint64(count) > math.MaxUint32+1 {
		return fmt.Errorf("keys: validator indices %d to %d exceed 2^32", start, uint64(start)+uint64(count)-1)
	}
	return nil
}

// Created describes a keystore written by Create or Import.
type Created struct {
	File   string
	Pubkey string // 0x-prefixed hex
	Path   string
}

// Create derives Count validator signing keys from a mnemonic (EIP-2333 over the BIP-39 seed, at
// the EIP-2334 paths m/12381/3600/i/0/0) and writes each into an EIP-2335 keystore. It writes
// all keystores or none: if one cannot be written (a file of that name exists), those already
// written by this call are removed. Dir is checked (PrepareDir) before any KDF work.
func Create(ctx context.Context, opts CreateOptions) ([]Created, error) {
	if err := CheckCreateRange(opts.Start, opts.Count); err != nil {
		return nil, err
	}
	if err := CheckNewPassword(opts.Password); err != nil {
		return nil, err
	}
	seed, err := MnemonicSeed(opts.Mnemonic, opts.Passphrase)
	if err != nil {
		return nil, err
	}
	defer wipe(seed)
	if err := PrepareDir(opts.Dir); err != nil {
		return nil, err
	}
	// m/12381/3600 once; each key is three more derivations below it.
	base, err := deriveMaster(seed)
	if err != nil {
		return nil, err
	}
	for _, idx := range []uint32{PathPurpose, PathCoinType} {
		next, err := deriveChild(base, idx)
		wipeInt(base)
		if err != nil {
			return nil, err
		}
		base = next
	}
	defer wipeInt(base)

	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, opts.Count)
	log.Info("creating keystores", "count", opts.Count, "first_index", opts.Start, "workers", workers)
	bar := newProgress(opts.Progress, "encrypting keystores", opts.Count)

	stores := make([]*Keystore, opts.Count)
	errs := make([]error, opts.Count)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mem := newMemBudget(opts.MaxMemory)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				ks, err := createOne(ctx, base, opts.Start+uint32(j), opts, mem)
				if err != nil {
					errs[j] = err
					cancel()
					continue
				}
				stores[j] = ks
				bar.step()
			}
		})
	}
feed:
	for j := range opts.Count {
		select {
		case jobs <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	bar.done()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := writeAll(opts.Dir, stores, nil)
	if err != nil {
		return nil, err
	}
	log.Info("created keystores", "count", len(out), "dir", opts.Dir)
	return out, nil
}

// createOne derives the signing key of validator i below base (m/12381/3600, read only here,
// so workers share it) and encrypts it.
func createOne(ctx context.Context, base *big.Int, i uint32, opts CreateOptions, mem *memBudget) (*Keystore, error) {
	path := SigningPath(i)
	x := base
	for _, idx := range path[2:] {
		next, err := deriveChild(x, idx)
		if x != base {
			wipeInt(x)
		}
		if err != nil {
			return nil, err
		}
		x = next
	}
	sk, err := bls.SecretKeyFromBigInt(x)
	wipeInt(x)
	if err != nil {
		return nil, err
	}
	defer sk.Zeroize()
	eo := opts.Encrypt
	eo.Path = path.String()
	var ks *Keystore
	err = mem.run(ctx, eo.kdfMemory(), func() (err error) {
		ks, err = Encrypt(sk, opts.Password, eo)
		return err
	})
	return ks, err
}

// ImportOptions configures Import.
type ImportOptions struct {
	// Sources are keystore files or directories of them.
	Sources []string
	// Dir receives copies of the keystores (created 0700 if missing).
	Dir string
	// Password must open every source keystore: Import checks it before copying anything.
	Password  string
	Workers   int
	MaxMemory uint64
	Limits    KDFLimits
	Progress  io.Writer
	Logger    *slog.Logger
}

// Import checks that every source keystore is valid and opens with the password (decrypting in
// parallel), refuses keys already in Dir, and copies the keystores into Dir under zkv's file
// names with mode 0600. All or nothing, like Create. A keystore is copied as the bytes that were
// checked, unchanged, except one without a pubkey field: it is written with its (verified)
// pubkey, so that the next import and List see its key. A Dir holding keystores without a
// pubkey is refused: their keys cannot be compared without decrypting them. Files that are not
// keystores (deposit data beside the keystores of a staking deposit CLI folder) are skipped with
// a log line.
func Import(ctx context.Context, opts ImportOptions) ([]Created, error) {
	var files []string
	for _, s := range opts.Sources {
		st, err := os.Stat(s)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		if !st.IsDir() {
			files = append(files, s)
			continue
		}
		fs, skipped, err := keystoreFiles(s)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		logSkipped(opts.Logger, skipped)
		files = append(files, fs...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w in %v", ErrNoKeystores, opts.Sources)
	}
	// Each file is read once: the bytes written are the bytes whose keystore was decrypted.
	stores := make([]*Keystore, len(files))
	raw := make([][]byte, len(files))
	for i, f := range files {
		b, err := readKeystoreBytes(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if stores[i], err = ParseKeystore(b); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		raw[i] = b
	}
	existing := map[string]string{}
	if _, err := os.Stat(opts.Dir); err == nil {
		infos, err := List(opts.Dir)
		if err != nil {
			return nil, err
		}
		var nameless []string
		for _, in := range infos {
			if in.Pubkey == "" {
				nameless = append(nameless, in.File)
			}
			existing[in.Pubkey] = in.File
		}
		if len(nameless) > 0 {
			return nil, fmt.Errorf("keys: %s holds keystores without a pubkey field (%s), whose keys cannot be compared with the imported ones without decrypting them: move them out, or import them again into a new directory (Import writes the pubkey)", opts.Dir, strings.Join(nameless, ", "))
		}
	}
	keys, err := decryptAll(ctx, files, func(i int) (*Keystore, error) { return stores[i], nil }, LoadOptions{
		Password: opts.Password, Workers: opts.Workers, MaxMemory: opts.MaxMemory,
		Limits: opts.Limits, Progress: opts.Progress, Logger: opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		k.Secret.Zeroize() // decryption proved the password; the copies stay encrypted
	}
	for i, f := range files {
		pk := keys[i].Public.Bytes()
		if prev, ok := existing[fmt.Sprintf("0x%x", pk[:])]; ok {
			return nil, fmt.Errorf("keys: %s holds key %s, already in %s", f, keys[i].Public, prev)
		}
		if stores[i].Pubkey == "" {
			stores[i].Pubkey = fmt.Sprintf("%x", pk[:])
			raw[i] = nil // written from stores[i], which now carries the pubkey
		}
	}
	return writeAll(opts.Dir, stores, raw)
}

// writeAll writes every keystore (raw[i] as is when raw holds it, else the encoding of
// stores[i]) or, on the first failure, removes the ones it wrote and returns the error.
func writeAll(dir string, stores []*Keystore, raw [][]byte) ([]Created, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	out := make([]Created, 0, len(stores))
	undo := func() {
		for _, c := range out {
			os.Remove(c.File)
		}
		_ = syncDir(dir)
	}
	for i, ks := range stores {
		var b []byte
		if raw != nil && raw[i] != nil {
			b = raw[i]
		} else {
			var err error
			if b, err = ks.MarshalIndent(); err != nil {
				undo()
				return nil, err
			}
		}
		f, err := WriteFileAtomic(dir, KeystoreFileName(ks), b)
		if err != nil {
			undo()
			return nil, fmt.Errorf("keys: nothing written: %w", err)
		}
		out = append(out, Created{File: f, Pubkey: "0x" + pubkeyHex(ks), Path: ks.Path})
	}
	return out, nil
}
