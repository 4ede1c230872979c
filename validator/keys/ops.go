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
	// Progress, when it is a terminal, shows a progress bar.
	Progress io.Writer
	Logger   *slog.Logger
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
// written by this call are removed.
func Create(ctx context.Context, opts CreateOptions) ([]Created, error) {
	if opts.Count <= 0 {
		return nil, fmt.Errorf("keys: count %d, want at least 1", opts.Count)
	}
	if uint64(opts.Start)+uint64(opts.Count) > math.MaxUint32+1 {
		return nil, fmt.Errorf("keys: validator indices %d to %d exceed 2^32", opts.Start, uint64(opts.Start)+uint64(opts.Count)-1)
	}
	if err := CheckNewPassword(opts.Password); err != nil {
		return nil, err
	}
	seed, err := MnemonicSeed(opts.Mnemonic, opts.Passphrase)
	if err != nil {
		return nil, err
	}
	defer wipe(seed)
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
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				ks, err := createOne(base, opts.Start+uint32(j), opts)
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
func createOne(base *big.Int, i uint32, opts CreateOptions) (*Keystore, error) {
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
	return Encrypt(sk, opts.Password, eo)
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
// parallel), refuses keys already in Dir, and copies the keystores, unchanged, into Dir under
// zkv's file names with mode 0600. All or nothing, like Create.
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
		fs, err := keystoreFiles(s)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		files = append(files, fs...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w in %v", ErrNoKeystores, opts.Sources)
	}
	keys, err := LoadFiles(ctx, files, LoadOptions{
		Password: opts.Password, Workers: opts.Workers, MaxMemory: opts.MaxMemory,
		Limits: opts.Limits, Progress: opts.Progress, Logger: opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		k.Secret.Zeroize() // decryption proved the password; the copies stay encrypted
	}
	existing := map[string]string{}
	if _, err := os.Stat(opts.Dir); err == nil {
		infos, err := List(opts.Dir)
		if err != nil {
			return nil, err
		}
		for _, in := range infos {
			existing[in.Pubkey] = in.File
		}
	}
	stores := make([]*Keystore, len(files))
	raw := make([][]byte, len(files))
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		ks, err := ParseKeystore(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		pk := keys[i].Public.Bytes()
		if prev, ok := existing[fmt.Sprintf("0x%x", pk[:])]; ok {
			return nil, fmt.Errorf("keys: %s holds key %s, already in %s", f, keys[i].Public, prev)
		}
		// A keystore without a pubkey field gets the name of its (verified) key.
		if ks.Pubkey == "" {
			ks.Pubkey = fmt.Sprintf("%x", pk[:])
		}
		stores[i], raw[i] = ks, b
	}
	return writeAll(opts.Dir, stores, raw)
}

// writeAll writes every keystore (raw[i] as is when given, else the encoding of stores[i]) or,
// on the first failure, removes the ones it wrote and returns the error.
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
		if raw != nil {
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
