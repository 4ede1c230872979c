package keys

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		if !strings.Contains(err.Error(), "loaded nothing: 1 of 4 keystores failed") {
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
