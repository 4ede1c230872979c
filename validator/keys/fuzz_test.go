package keys

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/internal/testvectors"
)

// FuzzParseKeystore: whatever ParseKeystore accepts re-encodes to a keystore that parses to the
// same value, and re-encodes to the same bytes.
func FuzzParseKeystore(f *testing.F) {
	sk, err := bls.GenerateSecretKey()
	if err != nil {
		f.Fatal(err)
	}
	ks, err := Encrypt(sk, "password", EncryptOptions{ScryptN: 16, Limits: InsecureKDFLimits, Path: "m/12381/3600/0/0/0"})
	if err != nil {
		f.Fatal(err)
	}
	b, _ := ks.MarshalIndent()
	f.Add(b)
	if root := testvectors.Locate(); root != "" {
		for _, name := range []string{"keystore_scrypt.json", "keystore_pbkdf2.json"} {
			if v, err := os.ReadFile(filepath.Join(root, "eip2335", name)); err == nil {
				f.Add(v)
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ks, err := ParseKeystore(in)
		if err != nil {
			return
		}
		out, err := ks.MarshalIndent()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseKeystore(out)
		if err != nil {
			t.Fatalf("re-parse of our own encoding: %v", err)
		}
		if !reflect.DeepEqual(normalRaw(ks), normalRaw(back)) {
			t.Fatalf("round trip changed the keystore:\n%+v\n%+v", ks, back)
		}
		again, _ := back.MarshalIndent()
		if !bytes.Equal(again, out) {
			t.Fatal("re-encoding differs")
		}
	})
}

// normalRaw compacts the raw params so that whitespace differences do not count.
func normalRaw(ks *Keystore) *Keystore {
	c := *ks
	for _, m := range []*Module{&c.Crypto.KDF, &c.Crypto.Checksum, &c.Crypto.Cipher} {
		var b bytes.Buffer
		if err := compactJSON(&b, m.Params); err == nil {
			m.Params = b.Bytes()
		}
	}
	return &c
}

// FuzzParsePath: accepted paths format back to the same text, and parse again to the same path.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"m", "m/12381/3600/0/0/0", "m/12381/60/3141592653/589793238", "m/01", "m/4294967296"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		if p.String() != s {
			t.Fatalf("%q formats as %q", s, p.String())
		}
		q, err := ParsePath(p.String())
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("%q: %v %v", s, q, err)
		}
	})
}

func compactJSON(dst *bytes.Buffer, src []byte) error { return json.Compact(dst, src) }
