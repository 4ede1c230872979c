package keys

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkvlabs/zkv/internal/testvectors"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decimal(t *testing.T, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("not a decimal: %q", s)
	}
	return v
}

// EIP-2333 "Test Cases": derive_master_SK and derive_child_SK, through the public API.
func TestEIP2333Vectors(t *testing.T) {
	dir := testvectors.Dir(t, "eip2333")
	var v struct {
		Cases []struct {
			Name             string `json:"name"`
			Seed             string `json:"seed"`
			MasterSK         string `json:"master_SK"`
			ChildIndex       uint32 `json:"child_index"`
			ChildSK          string `json:"child_SK"`
			MasterSKHex      string `json:"master_SK_hex32"`
			ChildSKHex       string `json:"child_SK_hex32"`
			Mnemonic         string `json:"bip39_mnemonic"`
			MnemonicPassword string `json:"bip39_passphrase"`
		} `json:"cases"`
	}
	readJSON(t, filepath.Join(dir, "test_cases.json"), &v)
	if len(v.Cases) != 4 {
		t.Fatalf("%d cases, the EIP has 4", len(v.Cases))
	}
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			seed := unhex(t, c.Seed)
			if c.Mnemonic != "" {
				got, err := MnemonicSeed(c.Mnemonic, c.MnemonicPassword)
				if err != nil || !bytes.Equal(got, seed) {
					t.Fatalf("BIP-39 seed %x, %v; want %x", got, err, seed)
				}
			}
			master, err := DeriveMasterSK(seed)
			if err != nil {
				t.Fatal(err)
			}
			mb := master.Bytes()
			if new(big.Int).SetBytes(mb[:]).Cmp(decimal(t, c.MasterSK)) != 0 || !bytes.Equal(mb[:], unhex(t, c.MasterSKHex)) {
				t.Fatalf("master %x, want %s", mb, c.MasterSK)
			}
			child, err := DeriveChildSK(master, c.ChildIndex)
			if err != nil {
				t.Fatal(err)
			}
			cb := child.Bytes()
			if new(big.Int).SetBytes(cb[:]).Cmp(decimal(t, c.ChildSK)) != 0 || !bytes.Equal(cb[:], unhex(t, c.ChildSKHex)) {
				t.Fatalf("child %x, want %s", cb, c.ChildSK)
			}
			// DerivePath reaches the same key.
			viaPath, err := DerivePath(seed, Path{c.ChildIndex})
			if err != nil {
				t.Fatal(err)
			}
			if viaPath.Bytes() != cb {
				t.Fatal("DerivePath disagrees with DeriveChildSK")
			}
		})
	}
}

// EIP-2333 "Test Vector with Intermediate values": the Lamport chunks and compressed Lamport PK.
func TestEIP2333IntermediateValues(t *testing.T) {
	dir := testvectors.Dir(t, "eip2333")
	var v struct {
		Case struct {
			Seed       string   `json:"seed"`
			MasterSK   string   `json:"master_SK"`
			ChildIndex uint32   `json:"child_index"`
			Lamport0   []string `json:"lamport_0"`
			Lamport1   []string `json:"lamport_1"`
			Compressed string   `json:"compressed_lamport_PK"`
			ChildSK    string   `json:"child_SK"`
		} `json:"case"`
	}
	readJSON(t, filepath.Join(dir, "intermediate_values.json"), &v)
	c := v.Case
	master, err := deriveMaster(unhex(t, c.Seed))
	if err != nil {
		t.Fatal(err)
	}
	if master.Cmp(decimal(t, c.MasterSK)) != 0 {
		t.Fatalf("master %v", master)
	}
	var salt [4]byte
	salt[3] = byte(c.ChildIndex) // the vector's index is small; I2OSP(index, 4)
	if c.ChildIndex > 255 {
		t.Fatalf("index %d", c.ChildIndex)
	}
	ikm := master.FillBytes(make([]byte, 32))
	not := make([]byte, 32)
	for i := range ikm {
		not[i] = ^ikm[i]
	}
	for side, want := range [][]string{c.Lamport0, c.Lamport1} {
		in := [][]byte{ikm, not}[side]
		got, err := ikmToLamportSK(in, salt[:])
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != lamportChunks {
			t.Fatalf("lamport_%d has %d chunks", side, len(want))
		}
		for i, w := range want {
			if !bytes.Equal(got[32*i:32*i+32], unhex(t, w)) {
				t.Fatalf("lamport_%d[%d] = %x, want %s", side, i, got[32*i:32*i+32], w)
			}
		}
	}
	pk, err := parentSKToLamportPK(master, c.ChildIndex)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pk[:], unhex(t, c.Compressed)) {
		t.Fatalf("compressed Lamport PK %x", pk)
	}
	child, err := deriveChild(master, c.ChildIndex)
	if err != nil || child.Cmp(decimal(t, c.ChildSK)) != 0 {
		t.Fatalf("child %v %v", child, err)
	}
}

func TestShortSeedRefused(t *testing.T) {
	if _, err := DeriveMasterSK(make([]byte, 31)); !errors.Is(err, ErrShortSeed) {
		t.Fatalf("31-byte seed: %v", err)
	}
}

func TestPaths(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Path
		index   uint32
		signing bool
		eip2334 bool
	}{
		{"m", Path{}, 0, false, false},
		{"m/12381/3600/0/0/0", SigningPath(0), 0, true, true},
		{"m/12381/3600/7/0", WithdrawalPath(7), 7, false, true},
		{"m/12381/3600/4294967295/0/0", SigningPath(1<<32 - 1), 1<<32 - 1, true, true},
		{"m/12381/60/3141592653/589793238", Path{12381, 60, 3141592653, 589793238}, 0, false, false},
		{"m/12381/3600/1/1/0", Path{12381, 3600, 1, 1, 0}, 0, false, false},
	} {
		p, err := ParsePath(tt.in)
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		if p.String() != tt.in || len(p) != len(tt.want) || (len(p) > 0 && p.String() != tt.want.String()) {
			t.Fatalf("%q parsed to %v, want %v", tt.in, p, tt.want)
		}
		i, signing, ok := p.EIP2334Index()
		if ok != tt.eip2334 || (ok && (i != tt.index || signing != tt.signing)) {
			t.Fatalf("%q: EIP2334Index %d %v %v", tt.in, i, signing, ok)
		}
	}
	for _, bad := range []string{"", "M/1", "m/", "m//1", "m/-1", "m/+1", "m/1'", "m/01", "m/4294967296", "m/1/x", "n/1", " m/1"} {
		if _, err := ParsePath(bad); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("%q: %v, want ErrInvalidPath", bad, err)
		}
	}
}

func TestWordListIsTheBIP(t *testing.T) {
	sum := sha256.Sum256([]byte(englishText))
	if hex.EncodeToString(sum[:]) != "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda" {
		t.Fatalf("bip39_english.txt sha256 %x differs from bitcoin/bips bip-0039/english.txt", sum)
	}
	if english[0] != "abandon" || english[2047] != "zoo" || len(englishWord) != 2048 {
		t.Fatal("word list not loaded")
	}
}

// BIP-39 reference vectors (trezor/python-mnemonic vectors.json, passphrase "TREZOR").
func TestBIP39Vectors(t *testing.T) {
	for _, v := range []struct{ entropy, mnemonic, seed string }{
		{"00000000000000000000000000000000", "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
			"c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04"},
		{"7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f", "legal winner thank year wave sausage worth useful legal winner thank yellow",
			"2e8905819b8723fe2c1d161860e5ee1830318dbf49a83bd451cfb8440c28bd6fa457fe1296106559a3c80937a1c1069be3a3a5bd381ee6260e8d9739fce1f607"},
		{"80808080808080808080808080808080", "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
			"d71de856f81a8acc65e6fc851a38d4d7ec216fd0796d0a6827a3ad6ed5511a30fa280f12eb2e47ed2ac03b5c462a0358d18d69fe4f985ec81778c1b370b652a8"},
		{"0000000000000000000000000000000000000000000000000000000000000000", "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art",
			"bda85446c68413707090a52022edd26a1c9462295029f2e60cd7c4f2bbd3097170af7a4d73245cafa9c3cca8d561a7c3de6f5d4a10be8ed2a5e608d68f92fcc8"},
		{"f585c11aec520db57dd353c69554b21a89b20fb0650966fa0a9d6f74fd989d8f", "void come effort suffer camp survey warrior heavy shoot primary clutch crush open amazing screen patrol group space point ten exist slush involve unfold",
			"01f5bced59dec48e362f2c45b5de68b9fd6c92c6634f44d6d40aab69056506f0e35524a518034ddc1192e1dacd32c1ed3eaa3c3b131c88ed8e7e54c49a5d0998"},
	} {
		m, err := MnemonicFromEntropy(unhex(t, v.entropy))
		if err != nil || m != v.mnemonic {
			t.Fatalf("entropy %s: %q %v", v.entropy, m, err)
		}
		seed, err := MnemonicSeed(v.mnemonic, "TREZOR")
		if err != nil || hex.EncodeToString(seed) != v.seed {
			t.Fatalf("seed of %q: %x %v", v.mnemonic, seed, err)
		}
		// Whitespace and case do not change the words.
		messy := "  " + strings.ToUpper(strings.ReplaceAll(v.mnemonic, " ", "\n\t ")) + "\n"
		if seed2, err := MnemonicSeed(messy, "TREZOR"); err != nil || !bytes.Equal(seed, seed2) {
			t.Fatalf("normalised mnemonic: %v", err)
		}
	}
}

func TestMnemonicValidation(t *testing.T) {
	good := "legal winner thank year wave sausage worth useful legal winner thank yellow"
	if err := ValidateMnemonic(good); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ m, want string }{
		{"legal winner thank year wave sausage worth useful legal winner thank", "11 words"},
		{"legal winner thank year wave sausage worth useful legal winner thank wrong", "checksum"},
		{"legal winner thank year wave sausage worth useful legal winner thank yelow", "word 12 is not in"},
		{"winner legal thank year wave sausage worth useful legal winner thank yellow", "checksum"},
		{"", "0 words"},
	} {
		err := ValidateMnemonic(tt.m)
		if !errors.Is(err, ErrInvalidMnemonic) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.m, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "yelow") {
			t.Errorf("the error repeats a mnemonic word: %v", err)
		}
		if _, err := MnemonicSeed(tt.m, ""); err == nil {
			t.Errorf("%q: seed of an invalid mnemonic", tt.m)
		}
	}
	for _, n := range []int{0, 15, 17, 33} {
		if _, err := MnemonicFromEntropy(make([]byte, n)); !errors.Is(err, ErrInvalidMnemonic) {
			t.Errorf("%d bytes of entropy: %v", n, err)
		}
	}
	m1, err := NewMnemonic()
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := NewMnemonic()
	if len(strings.Fields(m1)) != 24 || ValidateMnemonic(m1) != nil || m1 == m2 {
		t.Fatalf("NewMnemonic: %d words, valid %v, repeated %v", len(strings.Fields(m1)), ValidateMnemonic(m1), m1 == m2)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
