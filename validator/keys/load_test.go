package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const testMnemonic = "legal winner thank year wave sausage worth useful legal winner thank yellow"

// fast is the cheapest KDF setting the tests write: the code paths are those of real keystores.
var fast = EncryptOptions{ScryptN: 1 << 4, Limits: InsecureKDFLimits}

func createTest(t *testing.T, dir string, start uint32, count int, password string) []Created {
	t.Helper()
	out, err := Create(context.Background(), CreateOptions{
		Dir: dir, Mnemonic: testMnemonic, Start: start, Count: count, Password: password, Encrypt: fast,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCreateDerivesEIP2334SigningKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	created := createTest(t, dir, 5, 4, "password1")
	seed, err := MnemonicSeed(testMnemonic, "")
	if err != nil {
		t.Fatal(err)
	}
	for j, c := range created {
		want, err := DerivePath(seed, SigningPath(5+uint32(j)))
		if err != nil {
			t.Fatal(err)
		}
		pk := want.PublicKey()
		if c.Pubkey != "0x"+strings.TrimPrefix(pk.String(), "0x") || c.Path != SigningPath(5+uint32(j)).String() {
			t.Fatalf("key %d: %+v, want %v at %v", j, c, pk, SigningPath(5+uint32(j)))
		}
		st, err := os.Stat(c.File)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v %v", c.File, st.Mode(), err)
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v", st.Mode())
	}
	keys, err := LoadDir(context.Background(), dir, LoadOptions{Password: "password1", Limits: InsecureKDFLimits, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 4 {
		t.Fatalf("%d keys", len(keys))
	}
	for i, k := range keys {
		// Files sort by path, so keys come back in index order.
		if k.Path != created[i].Path || "0x"+strings.TrimPrefix(k.Public.String(), "0x") != created[i].Pubkey || k.File != created[i].File {
			t.Fatalf("key %d: %+v, want %+v", i, k, created[i])
		}
	}
	infos, err := List(dir)
	if err != nil || len(infos) != 4 || infos[0].Pubkey != created[0].Pubkey || infos[0].Path != created[0].Path {
		t.Fatalf("List: %+v %v", infos, err)
	}
	// Creating the same keys again would overwrite: refused, and nothing else is written.
	_, err = Create(context.Background(), CreateOptions{Dir: dir, Mnemonic: testMnemonic, Start: 3, Count: 4, Password: "password1", Encrypt: fast})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("overlapping create: %v", err)
	}
	if infos2, _ := List(dir); len(infos2) != 4 {
		t.Fatalf("a refused create left %d files", len(infos2))
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		opts CreateOptions
		want string
	}{
		{CreateOptions{Mnemonic: testMnemonic, Count: 0, Password: "password1"}, "count 0"},
		{CreateOptions{Mnemonic: testMnemonic, Count: 2, Start: 1<<32 - 1, Password: "password1"}, "exceed 2^32"},
		{CreateOptions{Mnemonic: testMnemonic, Count: 1, Password: "short\x00\x00\x00"}, "shorter than 8"},
		{CreateOptions{Mnemonic: "legal winner", Count: 1, Password: "password1"}, "invalid mnemonic"},
	} {
		tt.opts.Dir, tt.opts.Encrypt = dir, fast
		if _, err := Create(context.Background(), tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.opts.Count, err, tt.want)
		}
	}
}

// One bad file fails the whole load, names the file and the reason, and returns no keys.
func TestLoadIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	opts := LoadOptions{Password: "password1", Limits: InsecureKDFLimits}
	t.Run("wrong password", func(t *testing.T) {
		dir := t.TempDir()
		createTest(t, dir, 0, 3, "password1")
		other := t.TempDir()
		c := createTest(t, other, 9, 1, "password2")
		copyFile(t, c[0].File, filepath.Join(dir, filepath.Base(c[0].File)))
		keys, err := LoadDir(ctx, dir, opts)
		if keys != nil || !errors.Is(err, ErrWrongPassword) || !strings.Contains(err.Error(), filepath.Base(c[0].File)) {
			t.Fatalf("%d keys, %v", len(keys), err)
		}
		// Whether the other three were checked depends on the workers' timing; the message for
		// each case is TestLoadStopsAtFirstFailure's.
		if !strings.Contains(err.Error(), "loaded nothing: 1 of 4 keystores failed") && !strings.Contains(err.Error(), "loaded nothing: stopped at the first failure") {
			t.Fatalf("message: %v", err)
		}
	})
	t.Run("corrupt file", func(t *testing.T) {
		dir := t.TempDir()
		createTest(t, dir, 0, 2, "password1")
		bad := filepath.Join(dir, "keystore-broken.json")
		os.WriteFile(bad, []byte(`{"version": 4, "crypto": `), 0o600)
		keys, err := LoadDir(ctx, dir, opts)
		if keys != nil || !errors.Is(err, ErrInvalidKeystore) || !strings.Contains(err.Error(), bad) {
			t.Fatalf("%d keys, %v", len(keys), err)
		}
	})
	t.Run("same key twice", func(t *testing.T) {
		dir := t.TempDir()
		c := createTest(t, dir, 0, 2, "password1")
		copyFile(t, c[1].File, filepath.Join(dir, "keystore-copy.json"))
		keys, err := LoadDir(ctx, dir, opts)
		if keys != nil || err == nil || !strings.Contains(err.Error(), "holds the same key") {
			t.Fatalf("%d keys, %v", len(keys), err)
		}
	})
	t.Run("weak KDF under default limits", func(t *testing.T) {
		dir := t.TempDir()
		createTest(t, dir, 0, 1, "password1")
		_, err := LoadDir(ctx, dir, LoadOptions{Password: "password1"})
		if !errors.Is(err, ErrKDFParams) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("empty directory", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, ".tmp-keystore-x.json-123"), []byte("partial"), 0o600) // an interrupted write
		if _, err := LoadDir(ctx, dir, opts); !errors.Is(err, ErrNoKeystores) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		dir := t.TempDir()
		createTest(t, dir, 0, 2, "password1")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if keys, err := LoadDir(cctx, dir, opts); keys != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("%d keys, %v", len(keys), err)
		}
	})
}

func TestLoadLogsAndDrawsProgress(t *testing.T) {
	dir := t.TempDir()
	createTest(t, dir, 0, 3, "password1")
	var logs bytes.Buffer
	keys, err := LoadDir(context.Background(), dir, LoadOptions{
		Password: "password1", Limits: InsecureKDFLimits,
		Progress: &bytes.Buffer{}, // not a terminal: no bar, the log line says it all
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil || len(keys) != 3 {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "decrypted keystores") || !strings.Contains(logs.String(), "keys=3") {
		t.Fatalf("log: %s", logs.String())
	}
	// The bar itself, drawn into a buffer as it would be on a terminal.
	var bar bytes.Buffer
	p := &progress{w: &bar, label: "decrypting keystores", total: 2}
	p.step()
	p.step()
	p.done()
	if !strings.Contains(bar.String(), "\rdecrypting keystores [==============================] 2/2") || !strings.HasSuffix(bar.String(), "\n") {
		t.Fatalf("bar %q", bar.String())
	}
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	c := createTest(t, src, 0, 3, "password1")
	dst := filepath.Join(t.TempDir(), "validator-keys")
	opts := ImportOptions{Sources: []string{src}, Dir: dst, Password: "password1", Limits: InsecureKDFLimits}
	// A wrong password imports nothing.
	bad := opts
	bad.Password = "password2"
	if _, err := Import(ctx, bad); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatal("a refused import created the directory")
	}
	got, err := Import(ctx, opts)
	if err != nil || len(got) != 3 {
		t.Fatalf("%v %v", got, err)
	}
	for i := range got {
		a, _ := os.ReadFile(c[i].File)
		b, _ := os.ReadFile(got[i].File)
		st, _ := os.Stat(got[i].File)
		if !bytes.Equal(a, b) || st.Mode().Perm() != 0o600 || got[i].Pubkey != c[i].Pubkey {
			t.Fatalf("import %d: copied %v, mode %v", i, bytes.Equal(a, b), st.Mode())
		}
	}
	// Importing a key that is already there is refused.
	if _, err := Import(ctx, ImportOptions{Sources: []string{c[1].File}, Dir: dst, Password: "password1", Limits: InsecureKDFLimits}); err == nil || !strings.Contains(err.Error(), "already in") {
		t.Fatalf("duplicate import: %v", err)
	}
}

func TestWriteFileAtomicNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	if _, err := WriteFileAtomic(dir, "a.json", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteFileAtomic(dir, "a.json", []byte("two")); !errors.Is(err, ErrExists) {
		t.Fatalf("overwrite: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.json")); string(b) != "one" {
		t.Fatalf("content %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
}

func TestKeystoreFileName(t *testing.T) {
	ks := &Keystore{Pubkey: "9612d7a727c9d0a2", Path: "m/12381/3600/0/0/0"}
	if n := KeystoreFileName(ks); n != "keystore-m_12381_3600_0_0_0-9612d7a7.json" {
		t.Fatal(n)
	}
	ks.Path = ""
	if n := KeystoreFileName(ks); n != "keystore-9612d7a7.json" {
		t.Fatal(n)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Loading stops at the first failure, and the error says so instead of reading as if every
// other keystore had opened.
func TestLoadStopsAtFirstFailure(t *testing.T) {
	dir := t.TempDir()
	createTest(t, dir, 0, 3, "password1")
	other := createTest(t, t.TempDir(), 9, 1, "password2")
	bad := filepath.Join(dir, "keystore-a-other-password.json") // sorts first
	copyFile(t, other[0].File, bad)
	_, err := LoadDir(context.Background(), dir, LoadOptions{Password: "password1", Limits: InsecureKDFLimits, Workers: 1})
	want := "keys: loaded nothing: stopped at the first failure: " + bad + ": keys: wrong password (3 other keystores not checked)"
	if err == nil || err.Error() != want {
		t.Fatalf("%v\nwant %s", err, want)
	}
	// All checked, one failed: the count is then the truth.
	copyFile(t, other[0].File, filepath.Join(dir, "keystore-z-same.json"))
	os.Remove(bad)
	_, err = LoadDir(context.Background(), dir, LoadOptions{Password: "password2", Limits: InsecureKDFLimits, Workers: 1})
	if err == nil || !strings.Contains(err.Error(), "stopped at the first failure") || !strings.Contains(err.Error(), "(3 other keystores not checked)") {
		t.Fatalf("%v", err)
	}
}

// countKDF counts the KDF runs and the most that ran at once, through testHookKDF.
func countKDF(t *testing.T) (runs, peak *atomic.Int64) {
	runs, peak = new(atomic.Int64), new(atomic.Int64)
	var now atomic.Int64
	testHookKDF = func(uint64) func() {
		runs.Add(1)
		n := now.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(5 * time.Millisecond) // long enough for other workers to overlap, were they let
		return func() { now.Add(-1) }
	}
	t.Cleanup(func() { testHookKDF = nil })
	return runs, peak
}

// Create bounds its scrypt memory as loading does: one worker per core at the EIP's 256 MiB each
// is not bounded by the core count alone.
func TestCreateBoundsMemory(t *testing.T) {
	runs, peak := countKDF(t)
	one := fast.kdfMemory()
	if one != 128*8*(16+1)+256*8 {
		t.Fatalf("one scrypt run at n=16: %d bytes", one)
	}
	_, err := Create(context.Background(), CreateOptions{
		Dir: t.TempDir(), Mnemonic: testMnemonic, Count: 4, Password: "password1", Encrypt: fast,
		Workers: 4, MaxMemory: one, // room for one run at a time
	})
	if err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 4 || peak.Load() != 1 {
		t.Fatalf("%d KDF runs under the budget, at most %d at once; want 4, 1", runs.Load(), peak.Load())
	}
}

// Create checks its count, index range and directory before any KDF work.
func TestCreateChecksBeforeWork(t *testing.T) {
	runs, _ := countKDF(t)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	for _, tt := range []struct {
		opts CreateOptions
		want string
	}{
		{CreateOptions{Dir: filepath.Join(file, "keys"), Count: 2}, "not a directory"},
		{CreateOptions{Dir: t.TempDir(), Count: MaxCreateCount + 1}, "above 100000"},
		{CreateOptions{Dir: t.TempDir(), Count: 2_000_000_000}, "in ranges"},
	} {
		tt.opts.Mnemonic, tt.opts.Password, tt.opts.Encrypt = testMnemonic, "password1", fast
		if _, err := Create(context.Background(), tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.opts.Dir, err, tt.want)
		}
	}
	if runs.Load() != 0 {
		t.Fatalf("%d KDF runs before the refusal", runs.Load())
	}
	if err := CheckCreateRange(1<<32-2, 2); err != nil {
		t.Fatalf("the last two indices: %v", err)
	}
	if err := CheckCreateRange(1<<32-1, 2); err == nil {
		t.Fatal("index 2^32 accepted")
	}
}

// stripPubkey rewrites a keystore file without its pubkey field (EIP-2335 makes it optional).
func stripPubkey(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "pubkey")
	b, _ = json.Marshal(m)
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A keystore without a pubkey field is compared by its decrypted key and written with it, so a
// key cannot end up twice in the destination (which LoadDir would then refuse).
func TestImportWithoutPubkey(t *testing.T) {
	ctx := context.Background()
	c := createTest(t, t.TempDir(), 0, 2, "password1")
	src := t.TempDir()
	nameless := filepath.Join(src, "keystore-nameless.json")
	stripPubkey(t, c[1].File, nameless)
	opts := ImportOptions{Sources: []string{nameless}, Password: "password1", Limits: InsecureKDFLimits}

	// Its key is already in the destination: refused.
	opts.Dir = t.TempDir()
	copyFile(t, c[1].File, filepath.Join(opts.Dir, filepath.Base(c[1].File)))
	if _, err := Import(ctx, opts); err == nil || !strings.Contains(err.Error(), "already in") {
		t.Fatalf("duplicate import: %v", err)
	}
	// Into a fresh destination: written with the verified pubkey.
	opts.Dir = filepath.Join(t.TempDir(), "keys")
	got, err := Import(ctx, opts)
	if err != nil || len(got) != 1 || got[0].Pubkey != c[1].Pubkey {
		t.Fatalf("%+v %v", got, err)
	}
	infos, err := List(opts.Dir)
	if err != nil || len(infos) != 1 || infos[0].Pubkey != c[1].Pubkey {
		t.Fatalf("List: %+v %v", infos, err)
	}
	// A destination holding a keystore without a pubkey cannot be compared: refused, naming it.
	opts.Dir = t.TempDir()
	held := filepath.Join(opts.Dir, "keystore-held.json")
	stripPubkey(t, c[0].File, held)
	opts.Sources = []string{c[1].File}
	if _, err := Import(ctx, opts); err == nil || !strings.Contains(err.Error(), held) || !strings.Contains(err.Error(), "without a pubkey") {
		t.Fatalf("destination with a nameless keystore: %v", err)
	}
}

// A staking deposit CLI folder imports: its deposit data (a JSON array) is skipped and logged; a
// JSON object that is not a valid keystore still fails the import.
func TestImportSkipsDepositData(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	c := createTest(t, src, 0, 2, "password1")
	deposit := filepath.Join(src, "deposit_data-1700000000.json")
	os.WriteFile(deposit, []byte(`[{"pubkey": "aa", "amount": 32000000000}]`), 0o600)
	array := filepath.Join(src, "other-array.json")
	os.WriteFile(array, []byte(" \n[]"), 0o600)
	var logs bytes.Buffer
	opts := ImportOptions{
		Sources: []string{src}, Dir: t.TempDir(), Password: "password1", Limits: InsecureKDFLimits,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}
	got, err := Import(ctx, opts)
	if err != nil || len(got) != 2 || got[0].Pubkey != c[0].Pubkey {
		t.Fatalf("%+v %v", got, err)
	}
	if !strings.Contains(logs.String(), "skipped files that are not keystores") || !strings.Contains(logs.String(), deposit) || !strings.Contains(logs.String(), array) {
		t.Fatalf("log: %s", logs.String())
	}
	keys, err := LoadDir(ctx, src, LoadOptions{Password: "password1", Limits: InsecureKDFLimits})
	if err != nil || len(keys) != 2 {
		t.Fatalf("LoadDir beside deposit data: %d keys, %v", len(keys), err)
	}
	broken := filepath.Join(src, "keystore-broken.json")
	os.WriteFile(broken, []byte(`{"version": 4}`), 0o600)
	opts.Dir = t.TempDir()
	if _, err := Import(ctx, opts); !errors.Is(err, ErrInvalidKeystore) || !strings.Contains(err.Error(), broken) {
		t.Fatalf("malformed keystore: %v", err)
	}
}

// Without hard links (FAT, exFAT) the error says so rather than reading as a permission problem.
func TestWriteFileAtomicWithoutHardLinks(t *testing.T) {
	link = func(oldname, newname string) error {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EPERM}
	}
	t.Cleanup(func() { link = os.Link })
	dir := t.TempDir()
	_, err := WriteFileAtomic(dir, "a.json", []byte("x"))
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "FAT and exFAT") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("%v", err)
	}
	if err := PrepareDir(dir); err == nil || !strings.Contains(err.Error(), "hard link") {
		t.Fatalf("PrepareDir: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}
