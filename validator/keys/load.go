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
// it returns an error naming each failing file and its reason, and no keys (the ones decrypted
// so far are wiped).
func LoadDir(ctx context.Context, dir string, opts LoadOptions) ([]*Key, error) {
	files, err := keystoreFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
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
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(files))
	maxMem := opts.MaxMemory
	if maxMem == 0 {
		maxMem = 2 << 30
	}
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
	mem := semaphore.NewWeighted(int64(min(maxMem, 1<<62)))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				k, err := loadOne(ctx, files[i], opts, mem, int64(min(maxMem, 1<<62)))
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
		for _, k := range keys {
			if k != nil {
				k.Secret.Zeroize()
			}
		}
		return nil, loadError(failed, len(files))
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
		return nil, loadError(failed, len(files))
	}
	log.Info("decrypted keystores", "keys", len(keys), "workers", workers, "took", time.Since(start).Round(time.Millisecond))
	return keys, nil
}

func loadOne(ctx context.Context, file string, opts LoadOptions, mem *semaphore.Weighted, maxMem int64) (*Key, error) {
	ks, err := ReadKeystoreFile(file)
	if err != nil {
		return nil, err
	}
	// Hold the scrypt memory this file needs (clamped, so one huge file cannot wait forever; the
	// KDF limits refuse it anyway).
	need := int64(min(ks.kdfMemory(), uint64(maxMem)))
	if err := mem.Acquire(ctx, need); err != nil {
		return nil, err
	}
	sk, err := ks.DecryptWithLimits(opts.Password, opts.Limits)
	mem.Release(need)
	if err != nil {
		return nil, err
	}
	return &Key{Secret: sk, Public: sk.PublicKey(), Path: ks.Path, File: file}, nil
}

func loadError(failed []fileError, total int) error {
	sort.Slice(failed, func(i, j int) bool { return failed[i].file < failed[j].file })
	var b strings.Builder
	errs := make([]error, 0, len(failed))
	fmt.Fprintf(&b, "keys: loaded nothing: %d of %d keystores failed", len(failed), total)
	for _, f := range failed {
		if f.file == "" {
			fmt.Fprintf(&b, "; %v", f.err)
		} else {
			fmt.Fprintf(&b, "; %s: %v", f.file, f.err)
		}
		errs = append(errs, f.err)
	}
	return &LoadError{msg: b.String(), errs: errs}
}

// LoadError reports every keystore that failed; errors.Is sees each cause (ErrWrongPassword,
// ErrInvalidKeystore, ErrKDFParams, a file system error).
type LoadError struct {
	msg  string
	errs []error
}

func (e *LoadError) Error() string   { return e.msg }
func (e *LoadError) Unwrap() []error { return e.errs }
