package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/crypto/scrypt"
	"golang.org/x/text/unicode/norm"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/internal/testvectors"
)

// EIP-2335 "Test Cases": both keystores (scrypt and PBKDF2 at the EIP's 2^18 work) open with
// the EIP's password to the EIP's secret and pubkey, and the password normalises to the EIP's
// "Encoded Password".
func TestEIP2335Vectors(t *testing.T) {
	dir := testvectors.Dir(t, "eip2335")
	var v struct {
		Cases []struct {
			File      string `json:"keystore_file"`
			KDF       string `json:"kdf"`
			Password  string `json:"password"`
			UTF8Hex   string `json:"password_utf8_hex"`
			Processed string `json:"password_processed_hex"`
			Secret    string `json:"secret"`
			Pubkey    string `json:"pubkey"`
		} `json:"cases"`
	}
	readJSON(t, filepath.Join(dir, "expected.json"), &v)
	if len(v.Cases) != 2 {
		t.Fatalf("%d cases, the EIP has 2", len(v.Cases))
	}
	for _, c := range v.Cases {
		t.Run(c.KDF, func(t *testing.T) {
			if got := NormalizePassword(c.Password); !bytes.Equal(got, unhex(t, c.Processed)) {
				t.Fatalf("normalised password %x, want %s", got, c.Processed)
			}
			if !bytes.Equal([]byte(c.Password), unhex(t, c.UTF8Hex)) {
				t.Fatal("vector file: password and its UTF-8 disagree")
			}
			ks, err := ReadKeystoreFile(filepath.Join(dir, c.File))
			if err != nil {
				t.Fatal(err)
			}
			if ks.Crypto.KDF.Function != c.KDF {
				t.Fatalf("kdf %q", ks.Crypto.KDF.Function)
			}
			sk, err := ks.Decrypt(c.Password)
			if err != nil {
				t.Fatal(err)
			}
			if b := sk.Bytes(); !bytes.Equal(b[:], unhex(t, c.Secret)) {
				t.Fatalf("secret %x", b)
			}
			if pk := sk.PublicKey().Bytes(); !bytes.Equal(pk[:], unhex(t, c.Pubkey)) {
				t.Fatalf("pubkey %x", pk)
			}
			// Control codes in the password are stripped, so one more still opens it (one more
			// full KDF run: not in short mode).
			if !testing.Short() {
				if _, err := ks.Decrypt(string(unhex(t, c.UTF8Hex)) + "\x01"); err != nil {
					t.Fatalf("control codes are stripped: %v", err)
				}
			}
			pk, err := ks.PublicKey()
			if err != nil || !pk.Equal(sk.PublicKey()) {
				t.Fatalf("PublicKey: %v", err)
			}
		})
	}
}

func TestNormalizePasswordStripsControlCodes(t *testing.T) {
	in := "a\x00b\x1fc\x7fd\u0080e\u009ff\u00a0g" // U+00A0 NBSP is not a control code; NFKD maps it to a space
	if got := string(NormalizePassword(in)); got != "abcdef g" {
		t.Fatalf("%q", got)
	}
	if got := string(NormalizePassword("ﬁ")); got != "fi" { // NFKD decomposes the ligature
		t.Fatalf("%q", got)
	}
}

// independentDecrypt opens a keystore from its JSON following EIP-2335's text alone, sharing no
// code with the package: generic JSON, its own normalisation, the primitives straight from the
// libraries.
func independentDecrypt(t *testing.T, raw []byte, password string) []byte {
	t.Helper()
	var ks map[string]any
	if err := json.Unmarshal(raw, &ks); err != nil {
		t.Fatal(err)
	}
	if ks["version"].(float64) != 4 {
		t.Fatal("version")
	}
	crypto := ks["crypto"].(map[string]any)
	mod := func(name string) (string, map[string]any, []byte) {
		m := crypto[name].(map[string]any)
		msg, err := hex.DecodeString(m["message"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return m["function"].(string), m["params"].(map[string]any), msg
	}
	// Password: NFKD, then drop C0, C1 and DEL.
	var pw []byte
	for _, r := range norm.NFKD.String(password) {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			continue
		}
		pw = utf8.AppendRune(pw, r)
	}
	fn, p, _ := mod("kdf")
	salt, _ := hex.DecodeString(p["salt"].(string))
	var dk []byte
	var err error
	switch fn {
	case "scrypt":
		dk, err = scrypt.Key(pw, salt, int(p["n"].(float64)), int(p["r"].(float64)), int(p["p"].(float64)), int(p["dklen"].(float64)))
	case "pbkdf2":
		if p["prf"] != "hmac-sha256" {
			t.Fatal("prf")
		}
		dk, err = pbkdf2.Key(sha256.New, string(pw), salt, int(p["c"].(float64)), int(p["dklen"].(float64)))
	default:
		t.Fatalf("kdf %q", fn)
	}
	if err != nil {
		t.Fatal(err)
	}
	cfn, cp, ct := mod("cipher")
	if cfn != "aes-128-ctr" {
		t.Fatal("cipher")
	}
	sfn, _, sum := mod("checksum")
	if sfn != "sha256" {
		t.Fatal("checksum function")
	}
	want := sha256.Sum256(append(append([]byte{}, dk[16:32]...), ct...))
	if !bytes.Equal(want[:], sum) {
		t.Fatal("checksum mismatch")
	}
	iv, _ := hex.DecodeString(cp["iv"].(string))
	block, err := aes.NewCipher(dk[:16])
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(ct))
	cipher.NewCTR(block, iv).XORKeyStream(out, ct)
	return out
}

func TestWrittenKeystoresOpenIndependently(t *testing.T) {
	sk, err := bls.GenerateSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	secret := sk.Bytes()
	password := "𝔱𝔢𝔰𝔱\tpassword🔑\x7f" // needs NFKD and control-code stripping
	for _, opts := range []EncryptOptions{
		{KDF: KDFScrypt, ScryptN: 1 << 10, Path: "m/12381/3600/3/0/0", Description: "d", Limits: InsecureKDFLimits},
		{KDF: KDFPBKDF2, PBKDF2C: 1 << 10, Limits: InsecureKDFLimits},
	} {
		ks, err := Encrypt(sk, password, opts)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := ks.MarshalIndent()
		if err != nil {
			t.Fatal(err)
		}
		if got := independentDecrypt(t, raw, password); !bytes.Equal(got, secret[:]) {
			t.Fatalf("%s: the independent decryption gives another secret", opts.KDF)
		}
		// The JSON carries what EIP-2335 requires.
		var m map[string]any
		json.Unmarshal(raw, &m)
		pk := sk.PublicKey().Bytes()
		if m["pubkey"] != hex.EncodeToString(pk[:]) || m["path"] != opts.Path || m["version"] != 4.0 {
			t.Fatalf("fields: %v", m)
		}
		if u, _ := m["uuid"].(string); len(u) != 36 || u[14] != '4' || !strings.ContainsAny(u[19:20], "89ab") {
			t.Fatalf("uuid %q is not a version 4 UUID", u)
		}
		// Our reader agrees, and refuses the weak parameters under the default limits.
		back, err := ParseKeystore(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := back.DecryptWithLimits(password, InsecureKDFLimits)
		if err != nil || got.Bytes() != secret {
			t.Fatalf("decrypt: %v", err)
		}
		if _, err := back.DecryptWithLimits(password[:len(password)-1]+"x", InsecureKDFLimits); !errors.Is(err, ErrWrongPassword) {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := back.Decrypt(password); !errors.Is(err, ErrKDFParams) || !strings.Contains(err.Error(), "too weak") {
			t.Fatalf("weak parameters under the default limits: %v", err)
		}
	}
	// The defaults are the EIP's parameters.
	if _, err := Encrypt(sk, password, EncryptOptions{KDF: "argon2"}); !errors.Is(err, ErrInvalidKeystore) {
		t.Fatalf("unknown KDF: %v", err)
	}
}

// modify returns the EIP-2335 scrypt vector with one change applied to its JSON tree.
func modify(t *testing.T, change func(m map[string]any)) *Keystore {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testvectors.Dir(t, "eip2335"), "keystore_scrypt.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	b, _ := json.Marshal(m)
	var ks Keystore
	if err := json.Unmarshal(b, &ks); err != nil {
		t.Fatal(err)
	}
	return &ks
}

func kdfParamsOf(m map[string]any) map[string]any {
	return m["crypto"].(map[string]any)["kdf"].(map[string]any)["params"].(map[string]any)
}

// Malformed, inconsistent or out-of-bounds keystores are refused with a reason, before any KDF
// work where the structure alone shows it.
func TestKeystoreRefusals(t *testing.T) {
	const pw = "𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑"
	tests := []struct {
		name   string
		change func(m map[string]any)
		want   error
		text   string
	}{
		{"version 3", func(m map[string]any) { m["version"] = 3 }, ErrInvalidKeystore, "version 3"},
		{"cipher", func(m map[string]any) {
			m["crypto"].(map[string]any)["cipher"].(map[string]any)["function"] = "aes-256-gcm"
		}, ErrInvalidKeystore, "aes-256-gcm"},
		{"checksum function", func(m map[string]any) { m["crypto"].(map[string]any)["checksum"].(map[string]any)["function"] = "md5" }, ErrInvalidKeystore, "md5"},
		{"kdf", func(m map[string]any) { m["crypto"].(map[string]any)["kdf"].(map[string]any)["function"] = "argon2id" }, ErrInvalidKeystore, "argon2id"},
		{"n not a power of two", func(m map[string]any) { kdfParamsOf(m)["n"] = 262143 }, ErrKDFParams, "power of two"},
		{"weak n", func(m map[string]any) { kdfParamsOf(m)["n"] = 1024 }, ErrKDFParams, "too weak"},
		{"absurd n", func(m map[string]any) { kdfParamsOf(m)["n"] = 1 << 40 }, ErrKDFParams, "too costly"},
		{"absurd p", func(m map[string]any) { kdfParamsOf(m)["p"] = 1 << 10 }, ErrKDFParams, "p=1024 is above 16"},
		// n*r*p at the work limit, 128*n*r only 256 MiB, but scrypt's 128*r*p buffer is 2 GiB.
		{"memory in p", func(m map[string]any) {
			kdfParamsOf(m)["n"], kdfParamsOf(m)["r"], kdfParamsOf(m)["p"] = 2, 1<<20, 16
		}, ErrKDFParams, "too costly"},
		{"zero r", func(m map[string]any) { kdfParamsOf(m)["r"] = 0 }, ErrKDFParams, "r and p positive"},
		{"dklen", func(m map[string]any) { kdfParamsOf(m)["dklen"] = 16 }, ErrKDFParams, "dklen 16"},
		{"short salt", func(m map[string]any) { kdfParamsOf(m)["salt"] = "00ff" }, ErrKDFParams, "salt of 2 bytes"},
		{"missing salt", func(m map[string]any) { delete(kdfParamsOf(m), "salt") }, ErrInvalidKeystore, "need dklen, n, r, p and salt"},
		{"unknown param", func(m map[string]any) { kdfParamsOf(m)["maxmem"] = 1 }, ErrInvalidKeystore, "unknown field"},
		{"short iv", func(m map[string]any) {
			m["crypto"].(map[string]any)["cipher"].(map[string]any)["params"] = map[string]any{"iv": "00"}
		}, ErrInvalidKeystore, "cipher iv"},
		{"short cipher message", func(m map[string]any) { m["crypto"].(map[string]any)["cipher"].(map[string]any)["message"] = "00" }, ErrInvalidKeystore, "cipher message"},
		{"bad path", func(m map[string]any) { m["path"] = "m/x" }, ErrInvalidKeystore, "path"},
		{"bad pubkey", func(m map[string]any) { m["pubkey"] = "00" }, ErrInvalidKeystore, "pubkey"},
		{"bad uuid", func(m map[string]any) { m["uuid"] = "1d85ae20" }, ErrInvalidKeystore, "uuid"},
		{"iv not hex", func(m map[string]any) {
			m["crypto"].(map[string]any)["cipher"].(map[string]any)["params"] = map[string]any{"iv": "26<daa3f303d7259501c93d997d84fe6"}
		}, ErrInvalidKeystore, "cipher iv"},
		{"checksum not hex", func(m map[string]any) {
			m["crypto"].(map[string]any)["checksum"].(map[string]any)["message"] = strings.Repeat("zz", 32)
		}, ErrInvalidKeystore, "checksum message"},
		{"checksum params", func(m map[string]any) {
			m["crypto"].(map[string]any)["checksum"].(map[string]any)["params"] = map[string]any{"rounds": 2}
		}, ErrInvalidKeystore, "checksum params"},
		{"params not an object", func(m map[string]any) { m["crypto"].(map[string]any)["checksum"].(map[string]any)["params"] = nil }, ErrInvalidKeystore, "checksum params"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := modify(t, tt.change)
			_, err := ks.Decrypt(pw)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("%v, want %v mentioning %q", err, tt.want, tt.text)
			}
			if strings.Contains(err.Error(), pw) {
				t.Fatal("the error repeats the password")
			}
			// Only the KDF's cost depends on the caller's limits; everything else is refused
			// when the file is parsed, so loading a directory names it before any KDF work.
			b, _ := ks.MarshalIndent()
			_, perr := ParseKeystore(b)
			if limitsOnly := strings.Contains(tt.text, "too "); limitsOnly != (perr == nil) {
				t.Fatalf("ParseKeystore: %v (the case is refused %s)", perr, map[bool]string{true: "only against limits", false: "by structure"}[limitsOnly])
			}
		})
	}
	if testing.Short() {
		return // the cases below run the EIP's full scrypt (about a second each on a busy machine)
	}
	// A flipped ciphertext bit fails the checksum: EIP-2335 reports that as a wrong password.
	ks := modify(t, func(m map[string]any) {
		c := m["crypto"].(map[string]any)["cipher"].(map[string]any)
		msg := c["message"].(string)
		c["message"] = "16" + msg[2:]
	})
	if _, err := ks.Decrypt(pw); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("tampered ciphertext: %v", err)
	}
	// Another key's pubkey in the file is caught after decryption.
	other, _ := bls.GenerateSecretKey()
	opk := other.PublicKey().Bytes()
	ks = modify(t, func(m map[string]any) { m["pubkey"] = hex.EncodeToString(opk[:]) })
	if _, err := ks.Decrypt(pw); !errors.Is(err, ErrInvalidKeystore) || !strings.Contains(err.Error(), "does not belong") {
		t.Fatalf("pubkey mismatch: %v", err)
	}
}

// Scrypt's memory is 128*r*(n+p) + 256*r bytes (V, B and XY in golang.org/x/crypto/scrypt): the
// bound on read and the memory loading reserves both count p, which the EIP sets to 1 but a
// hostile file need not.
func TestScryptMemoryCountsP(t *testing.T) {
	if got, want := scryptMemory(DefaultScryptN, scryptR, scryptP), uint64(128*8*(1<<18+1)+256*8); got != want {
		t.Fatalf("EIP parameters: %d bytes, want %d", got, want)
	}
	if got := scryptMemory(1<<63, 1<<20, 16); got != 1<<64-1 {
		t.Fatalf("overflow: %d, want saturation", got)
	}
	// n=2, r=1024, p=16: 2 MiB for B, where counting 128*n*r alone gives 256 KiB.
	ks := modify(t, func(m map[string]any) { kdfParamsOf(m)["n"], kdfParamsOf(m)["r"], kdfParamsOf(m)["p"] = 2, 1024, 16 })
	if got, want := ks.kdfMemory(), uint64(128*1024*18+256*1024); got != want {
		t.Fatalf("kdfMemory %d, want %d", got, want)
	}
	// Cheap parameters whose memory is mostly in p are refused by a bound that counts it
	// (before, 128*n*r = 2 KiB passed and scrypt ran).
	ks = modify(t, func(m map[string]any) { kdfParamsOf(m)["n"], kdfParamsOf(m)["r"], kdfParamsOf(m)["p"] = 2, 8, 16 })
	lim := InsecureKDFLimits
	lim.MaxScryptMemory = 16 << 10
	if _, err := ks.DecryptWithLimits("x", lim); !errors.Is(err, ErrKDFParams) || !strings.Contains(err.Error(), "too costly") {
		t.Fatalf("%v, want too costly", err)
	}
	// p above 16 is refused when parsed, before any KDF work.
	ks = modify(t, func(m map[string]any) { kdfParamsOf(m)["n"], kdfParamsOf(m)["r"], kdfParamsOf(m)["p"] = 2, 1024, 16384 })
	b, _ := ks.MarshalIndent()
	if _, err := ParseKeystore(b); !errors.Is(err, ErrKDFParams) || !strings.Contains(err.Error(), "p=16384") {
		t.Fatalf("p=16384: %v", err)
	}
}
