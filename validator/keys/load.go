package keys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// Key is a decrypted validator key.
type Key struct {
	Secret *bls.SecretKey
	Public *bls.PublicKey
	Path   string // EIP-2334 path from the keystore, "" if none
	File   string // the keystore it came from
}

// LoadOptions configures LoadDir and LoadFiles.
type LoadOptions struct {
	// Password opens every keystore.
	Password string
	// Workers decrypting in parallel; default GOMAXPROCS (the KDFs are CPU-bound).
	Workers int
	// MaxMemory bounds the scrypt memory of the decryptions running at once; default 2 GiB
	// (eight of the EIP's 256 MiB scrypt runs).
	MaxMemory uint64
	// Limits for the KDF parameters; zero: DefaultKDFLimits.
	Limits KDFLimits
	// Progress, when it is a terminal, shows a progress bar. Nil shows none.
	Progress io.Writer
	// Logger gets a line when decryption starts and when it ends (always, so that logs off a
	// terminal say what happened). Nil discards.
	Logger *slog.Logger
}

// ErrNoKeystores: a directory holds no keystore files.
var ErrNoKeystores = errors.New("keys: no keystore files")

// LoadDir decrypts every keystore (*.json) in dir in parallel. It is all or nothing: if any file
// is unreadable, malformed, or does not open with the password, or two files hold the same key,
// it returns an error naming the failing file and its reason, and no keys (the ones decrypted
// so far are wiped). It stops at the first failure, so the error names only the files that
// failed before it stopped and says how many were not checked. Files that are not keystores
// (see keystoreFiles) are skipped with a log line.
func LoadDir(ctx context.Context, dir string, opts LoadOptions) ([]*Key, error) {
	files, skipped, err := keystoreFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	logSkipped(opts.Logger, skipped)
	if len(files) == 0 {
		return nil, fmt.Errorf("%w (*.json) in %s", ErrNoKeystores, dir)
	}
	return LoadFiles(ctx, files, opts)
}

// fileError ties a failure to its file.
type fileError struct {
	file string
	err  error
}

// LoadFiles is LoadDir for a list of keystore files; keys come back in the order of files.
func LoadFiles(ctx context.Context, files []string, opts LoadOptions) ([]*Key, error) {
	return decryptAll(ctx, files, func(i int) (*Keystore, error) { return ReadKeystoreFile(files[i]) }, opts)
}

// decryptAll decrypts the keystores read(i) gives for each of files, in parallel and all or
// nothing, as LoadFiles documents.
func decryptAll(ctx context.Context, files []string, read func(i int) (*Keystore, error), opts LoadOptions) ([]*Key, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(files))
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	start := time.Now()
	log.Info("decrypting keystores", "files", len(files), "workers", workers)
	bar := newProgress(opts.Progress, "decrypting keystores", len(files))

	keys := make([]*Key, len(files))
	var (
		mu     sync.Mutex
		failed []fileError
	)
	fail := func(f string, err error) {
		mu.Lock()
		failed = append(failed, fileError{f, err})
		mu.Unlock()
		cancel() // stop handing out work: the result is an error whatever else happens
	}
	mem := newMemBudget(opts.MaxMemory)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				k, err := loadOne(ctx, files[i], read, i, opts, mem)
				if err != nil {
					if !errors.Is(err, context.Canceled) || ctx.Err() == nil {
						fail(files[i], err)
					}
					continue
				}
				keys[i] = k
				bar.step()
			}
		})
	}
feed:
	for i := range files {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	bar.done()

	err := ctx.Err()
	if len(failed) == 0 && err != nil {
		// The caller's context ended before every file was decrypted.
		failed = append(failed, fileError{"", err})
	}
	if len(failed) > 0 {
		opened := 0
		for _, k := range keys {
			if k != nil {
				opened++
				k.Secret.Zeroize()
			}
		}
		checked := opened
		for _, f := range failed {
			if f.file != "" {
				checked++
			}
		}
		return nil, loadError(failed, len(files), len(files)-checked)
	}
	// The same key twice means two validator clients' worth of signing from one process: refuse.
	seen := make(map[[bls.PublicKeyLength]byte]string, len(keys))
	for _, k := range keys {
		pk := k.Public.Bytes()
		if prev, dup := seen[pk]; dup {
			failed = append(failed, fileError{k.File, fmt.Errorf("holds the same key %s as %s", k.Public, prev)})
		}
		seen[pk] = k.File
	}
	if len(failed) > 0 {
		for _, k := range keys {
			k.Secret.Zeroize()
		}
		return nil, loadError(failed, len(files), 0)
	}
	log.Info("decrypted keystores", "keys", len(keys), "workers", workers, "took", time.Since(start).Round(time.Millisecond))
	return keys, nil
}

func loadOne(ctx context.Context, file string, read func(int) (*Keystore, error), i int, opts LoadOptions, mem *memBudget) (*Key, error) {
	ks, err := read(i)
	if err != nil {
		return nil, err
	}
	var sk *bls.SecretKey
	err = mem.run(ctx, ks.kdfMemory(), func() (err error) {
		sk, err = ks.DecryptWithLimits(opts.Password, opts.Limits)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Key{Secret: sk, Public: sk.PublicKey(), Path: ks.Path, File: file}, nil
}

// defaultMaxMemory bounds the KDF memory of parallel decryption and encryption unless the caller
// says otherwise: eight of the EIP's 256 MiB scrypt runs.
const defaultMaxMemory = 2 << 30

// memBudget bounds the KDF memory in use at once by parallel workers (one per core would
// otherwise run one 256 MiB scrypt each, or more for costlier keystores).
type memBudget struct {
	sem *semaphore.Weighted
	max uint64
}

func newMemBudget(maxMem uint64) *memBudget {
	if maxMem == 0 {
		maxMem = defaultMaxMemory
	}
	maxMem = min(maxMem, 1<<62)
	return &memBudget{sem: semaphore.NewWeighted(int64(maxMem)), max: maxMem}
}

// testHookKDF, when set (by tests), is told of each KDF run's reservation and returns the
// function called when it ends.
var testHookKDF func(reserved uint64) (done func())

// run holds need bytes of the budget while f runs (clamped to the whole budget, so that one
// costly keystore cannot wait forever; the KDF limits refuse what is too costly anyway).
func (b *memBudget) run(ctx context.Context, need uint64, f func() error) error {
	need = min(need, b.max)
	// Acquire may succeed on an ended context; a stopped load must start no more KDF runs.
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.sem.Acquire(ctx, int64(need)); err != nil {
		return err
	}
	defer b.sem.Release(int64(need))
	if testHookKDF != nil {
		defer testHookKDF(need)()
	}
	return f()
}

// loadError describes a failed load. unchecked counts the keystores not decrypted because the
// load stopped at the first failure: an error that listed only the failures without them would
// read as if the rest had opened.
func loadError(failed []fileError, total, unchecked int) error {
	sort.Slice(failed, func(i, j int) bool { return failed[i].file < failed[j].file })
	var b strings.Builder
	errs := make([]error, 0, len(failed))
	cancelled := len(failed) == 1 && failed[0].file == "" // the caller's context, not a file
	switch {
	case unchecked == 0:
		fmt.Fprintf(&b, "keys: loaded nothing: %d of %d keystores failed: ", len(failed), total)
	case cancelled:
		b.WriteString("keys: loaded nothing: stopped: ")
	default:
		b.WriteString("keys: loaded nothing: stopped at the first failure: ")
	}
	for i, f := range failed {
		if i > 0 {
			b.WriteString("; ")
		}
		if f.file == "" {
			fmt.Fprintf(&b, "%v", f.err)
		} else {
			fmt.Fprintf(&b, "%s: %v", f.file, f.err)
		}
		errs = append(errs, f.err)
	}
	switch {
	case unchecked > 0 && cancelled:
		fmt.Fprintf(&b, " (%d of %d keystores not checked)", unchecked, total)
	case unchecked > 0:
		fmt.Fprintf(&b, " (%d other keystores not checked)", unchecked)
	}
	return &LoadError{msg: b.String(), errs: errs}
}

// LoadError reports the keystores that failed before the load stopped; errors.Is sees each cause (ErrWrongPassword,
// ErrInvalidKeystore, ErrKDFParams, a file system error).
type LoadError struct {
	msg  string
	errs []error
}

func (e *LoadError) Error() string   { return e.msg }
func (e *LoadError) Unwrap() []error { return e.errs }
