package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"golang.org/x/crypto/scrypt"
	"golang.org/x/text/unicode/norm"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// Keystore is an EIP-2335 keystore (version 4) as it appears in JSON.
type Keystore struct {
	Crypto      KeystoreCrypto `json:"crypto"`
	Description string         `json:"description,omitempty"`
	Pubkey      string         `json:"pubkey"` // hex, no 0x prefix
	Path        string         `json:"path"`   // EIP-2334 path, "" if none
	UUID        string         `json:"uuid"`
	Version     int            `json:"version"`
}

// KeystoreCrypto holds the three EIP-2335 modules.
type KeystoreCrypto struct {
	KDF      Module `json:"kdf"`
	Checksum Module `json:"checksum"`
	Cipher   Module `json:"cipher"`
}

// Module is an EIP-2335 crypto module: a function, its parameters, and a message.
type Module struct {
	Function string          `json:"function"`
	Params   json.RawMessage `json:"params"`
	Message  string          `json:"message"`
}

// Errors callers may branch on.
var (
	// ErrWrongPassword: the checksum does not match, which EIP-2335 treats as a wrong password
	// (or a keystore whose cipher message was altered).
	ErrWrongPassword = errors.New("keys: wrong password")
	// ErrInvalidKeystore: a keystore is malformed, unsupported, or inconsistent.
	ErrInvalidKeystore = errors.New("keys: invalid keystore")
	// ErrKDFParams: the KDF parameters are outside the accepted bounds (too weak to protect the
	// key, or so costly that decrypting would exhaust the machine).
	ErrKDFParams = errors.New("keys: KDF parameters out of bounds")
)

// KDF function names (EIP-2335).
const (
	KDFScrypt = "scrypt"
	KDFPBKDF2 = "pbkdf2"
)

// The EIP's parameters, which every EIP-2335 tool writes.
const (
	DefaultScryptN = 1 << 18
	DefaultPBKDF2C = 1 << 18
	scryptR        = 8
	scryptP        = 1
	// maxScryptP bounds scrypt's parallelism, which golang.org/x/crypto/scrypt runs one after
	// the other in a buffer of 128*r*p bytes: EIP-2335 uses 1, and a large p is only a way to
	// make one file allocate without raising n*r.
	maxScryptP = 16
)

// KDFLimits bounds the KDF parameters accepted on read and on write.
type KDFLimits struct {
	MinScryptWork   uint64 // n*r*p
	MaxScryptWork   uint64
	MaxScryptMemory uint64 // bytes, as scryptMemory counts them
	MinPBKDF2Iter   uint64
	MaxPBKDF2Iter   uint64
}

// DefaultKDFLimits accepts 1/16 to 16 times the EIP's work (scrypt n=2^18, r=8, p=1; PBKDF2
// c=2^18) and at most 1 GiB of scrypt memory. Below, a keystore is too cheap to brute-force
// protect a validator key; above, one file could stall or exhaust the machine that loads it.
var DefaultKDFLimits = KDFLimits{
	MinScryptWork:   1 << 17,
	MaxScryptWork:   1 << 25,
	MaxScryptMemory: 1 << 30,
	MinPBKDF2Iter:   1 << 14,
	MaxPBKDF2Iter:   1 << 22,
}

// InsecureKDFLimits accepts any work, for throwaway devnet keys and tests only. The upper bounds
// stay: they protect the machine, not the key.
var InsecureKDFLimits = KDFLimits{
	MinScryptWork:   2,
	MaxScryptWork:   DefaultKDFLimits.MaxScryptWork,
	MaxScryptMemory: DefaultKDFLimits.MaxScryptMemory,
	MinPBKDF2Iter:   1,
	MaxPBKDF2Iter:   DefaultKDFLimits.MaxPBKDF2Iter,
}

func (l KDFLimits) orDefault() KDFLimits {
	if l == (KDFLimits{}) {
		return DefaultKDFLimits
	}
	return l
}

type scryptParams struct {
	DKLen *uint64 `json:"dklen"`
	N     *uint64 `json:"n"`
	R     *uint64 `json:"r"`
	P     *uint64 `json:"p"`
	Salt  *string `json:"salt"`
}

type pbkdf2Params struct {
	DKLen *uint64 `json:"dklen"`
	C     *uint64 `json:"c"`
	PRF   *string `json:"prf"`
	Salt  *string `json:"salt"`
}

type cipherParams struct {
	IV *string `json:"iv"`
}

// NormalizePassword turns a password into the bytes EIP-2335 feeds the KDF: NFKD, then without
// the C0 (U+0000-U+001F) and C1 (U+0080-U+009F) control codes and DEL (U+007F), as UTF-8.
func NormalizePassword(password string) []byte {
	n := norm.NFKD.String(password)
	out := make([]byte, 0, len(n))
	for _, r := range n {
		if r <= 0x1f || (r >= 0x7f && r <= 0x9f) {
			continue
		}
		out = append(out, string(r)...)
	}
	return out
}

// EncryptOptions configures Encrypt. The zero value writes scrypt with the EIP's parameters.
type EncryptOptions struct {
	KDF         string // KDFScrypt (default) or KDFPBKDF2
	ScryptN     uint64 // default DefaultScryptN (r=8, p=1)
	PBKDF2C     uint64 // default DefaultPBKDF2C
	Path        string // EIP-2334 path of the key, "" if it has none
	Description string
	Limits      KDFLimits // zero: DefaultKDFLimits
}

// kdfMemory is the KDF memory Encrypt will use with these options.
func (o EncryptOptions) kdfMemory() uint64 {
	if o.KDF != "" && o.KDF != KDFScrypt {
		return 1 << 10
	}
	n := o.ScryptN
	if n == 0 {
		n = DefaultScryptN
	}
	return scryptMemory(n, scryptR, scryptP)
}

// Encrypt seals sk in a new EIP-2335 keystore under password, with a random salt, IV and UUID.
func Encrypt(sk *bls.SecretKey, password string, opts EncryptOptions) (*Keystore, error) {
	if opts.Path != "" {
		if _, err := ParsePath(opts.Path); err != nil {
			return nil, err
		}
	}
	salt := make([]byte, 32)
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("keys: read randomness: %w", err)
	}
	if _, err := rand.Read(iv); err != nil {
		return nil, fmt.Errorf("keys: read randomness: %w", err)
	}
	uuid, err := newUUID()
	if err != nil {
		return nil, err
	}
	var kdf Module
	switch opts.KDF {
	case "", KDFScrypt:
		n := opts.ScryptN
		if n == 0 {
			n = DefaultScryptN
		}
		p, _ := json.Marshal(map[string]any{"dklen": 32, "n": n, "r": scryptR, "p": scryptP, "salt": hex.EncodeToString(salt)})
		kdf = Module{Function: KDFScrypt, Params: p}
	case KDFPBKDF2:
		c := opts.PBKDF2C
		if c == 0 {
			c = DefaultPBKDF2C
		}
		p, _ := json.Marshal(map[string]any{"dklen": 32, "c": c, "prf": "hmac-sha256", "salt": hex.EncodeToString(salt)})
		kdf = Module{Function: KDFPBKDF2, Params: p}
	default:
		return nil, fmt.Errorf("%w: unknown KDF %q (want %s or %s)", ErrInvalidKeystore, opts.KDF, KDFScrypt, KDFPBKDF2)
	}
	kp, err := parseKDF(kdf)
	if err != nil {
		return nil, err
	}
	pw := NormalizePassword(password)
	defer wipe(pw)
	dk, err := kp.derive(pw, opts.Limits.orDefault())
	if err != nil {
		return nil, err
	}
	defer wipe(dk)
	secret := sk.Bytes()
	defer wipe(secret[:])
	msg, err := aesCTR(dk[:16], iv, secret[:])
	if err != nil {
		return nil, err
	}
	pk := sk.PublicKey().Bytes()
	ivp, _ := json.Marshal(map[string]string{"iv": hex.EncodeToString(iv)})
	return &Keystore{
		Crypto: KeystoreCrypto{
			KDF:      kdf,
			Checksum: Module{Function: "sha256", Params: json.RawMessage("{}"), Message: hex.EncodeToString(checksum(dk, msg))},
			Cipher:   Module{Function: "aes-128-ctr", Params: ivp, Message: hex.EncodeToString(msg)},
		},
		Description: opts.Description,
		Pubkey:      hex.EncodeToString(pk[:]),
		Path:        opts.Path,
		UUID:        uuid,
		Version:     4,
	}, nil
}

// Decrypt opens the keystore with DefaultKDFLimits.
func (ks *Keystore) Decrypt(password string) (*bls.SecretKey, error) {
	return ks.DecryptWithLimits(password, DefaultKDFLimits)
}

// DecryptWithLimits opens the keystore (EIP-2335 "Decryption"): normalise the password, derive
// the 32-byte key, compare SHA-256(key[16:32] || cipher message) with the checksum in constant
// time, AES-128-CTR-decrypt with key[0:16], and check that the secret's public key is the
// keystore's pubkey.
func (ks *Keystore) DecryptWithLimits(password string, limits KDFLimits) (*bls.SecretKey, error) {
	f, err := ks.parse()
	if err != nil {
		return nil, err
	}
	msg, sum, iv := f.msg, f.sum, f.iv
	pw := NormalizePassword(password)
	defer wipe(pw)
	dk, err := f.kdf.derive(pw, limits.orDefault())
	if err != nil {
		return nil, err
	}
	defer wipe(dk)
	if subtle.ConstantTimeCompare(checksum(dk, msg), sum) != 1 {
		return nil, ErrWrongPassword
	}
	secret, err := aesCTR(dk[:16], iv, msg)
	if err != nil {
		return nil, err
	}
	defer wipe(secret)
	sk, err := bls.SecretKeyFromBytes(secret)
	if err != nil {
		return nil, fmt.Errorf("%w: the decrypted secret is not a BLS secret key", ErrInvalidKeystore)
	}
	if ks.Pubkey != "" {
		pk := sk.PublicKey().Bytes()
		if !strings.EqualFold(ks.Pubkey, hex.EncodeToString(pk[:])) {
			sk.Zeroize()
			return nil, fmt.Errorf("%w: the secret does not belong to pubkey %s", ErrInvalidKeystore, ks.Pubkey)
		}
	}
	return sk, nil
}

// keystoreFields are the decoded fields of a keystore that decryption needs.
type keystoreFields struct {
	msg, sum, iv []byte
	kdf          kdfParams
}

// check validates everything that does not need the password or the KDF limits.
func (ks *Keystore) check() error {
	_, err := ks.parse()
	return err
}

// parse validates everything that does not need the password or the KDF limits, and returns
// the decoded fields. A keystore that passes can fail to open only for its password or for a
// KDF cost outside the caller's limits.
func (ks *Keystore) parse() (*keystoreFields, error) {
	switch {
	case ks.Version != 4:
		return nil, fmt.Errorf("%w: version %d, want 4", ErrInvalidKeystore, ks.Version)
	case ks.Crypto.Checksum.Function != "sha256":
		return nil, fmt.Errorf("%w: checksum function %q, want sha256", ErrInvalidKeystore, ks.Crypto.Checksum.Function)
	case ks.Crypto.Cipher.Function != "aes-128-ctr":
		return nil, fmt.Errorf("%w: cipher function %q, want aes-128-ctr", ErrInvalidKeystore, ks.Crypto.Cipher.Function)
	case ks.Crypto.KDF.Function != KDFScrypt && ks.Crypto.KDF.Function != KDFPBKDF2:
		return nil, fmt.Errorf("%w: kdf function %q, want scrypt or pbkdf2", ErrInvalidKeystore, ks.Crypto.KDF.Function)
	case ks.Crypto.KDF.Message != "":
		return nil, fmt.Errorf("%w: kdf message must be empty", ErrInvalidKeystore)
	case !validUUID(ks.UUID):
		return nil, fmt.Errorf("%w: uuid %q is not a UUID", ErrInvalidKeystore, ks.UUID)
	}
	for name, m := range map[string]Module{"kdf": ks.Crypto.KDF, "checksum": ks.Crypto.Checksum, "cipher": ks.Crypto.Cipher} {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(m.Params, &obj); err != nil || obj == nil {
			return nil, fmt.Errorf("%w: %s params must be a JSON object", ErrInvalidKeystore, name)
		}
	}
	var (
		f   keystoreFields
		err error
	)
	if f.msg, err = hexField("cipher message", ks.Crypto.Cipher.Message, 32); err != nil {
		return nil, err
	}
	if f.sum, err = hexField("checksum message", ks.Crypto.Checksum.Message, 32); err != nil {
		return nil, err
	}
	var cp cipherParams
	if err := strictJSON(ks.Crypto.Cipher.Params, &cp); err != nil || cp.IV == nil {
		return nil, fmt.Errorf("%w: cipher params need an iv", ErrInvalidKeystore)
	}
	if f.iv, err = hexField("cipher iv", *cp.IV, aes.BlockSize); err != nil {
		return nil, err
	}
	if err := strictJSON(ks.Crypto.Checksum.Params, &struct{}{}); err != nil {
		return nil, fmt.Errorf("%w: checksum params must be empty: %v", ErrInvalidKeystore, err)
	}
	if f.kdf, err = parseKDF(ks.Crypto.KDF); err != nil {
		return nil, err
	}
	if ks.Pubkey != "" {
		if _, err := hexField("pubkey", ks.Pubkey, bls.PublicKeyLength); err != nil {
			return nil, err
		}
	}
	if ks.Path != "" {
		if _, err := ParsePath(ks.Path); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidKeystore, err)
		}
	}
	return &f, nil
}

// PublicKey returns the keystore's pubkey field, decoded and subgroup-checked, without
// decrypting; nil if the keystore has none.
func (ks *Keystore) PublicKey() (*bls.PublicKey, error) {
	if ks.Pubkey == "" {
		return nil, nil
	}
	b, err := hexField("pubkey", ks.Pubkey, bls.PublicKeyLength)
	if err != nil {
		return nil, err
	}
	pk, err := bls.PublicKeyFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("%w: pubkey: %v", ErrInvalidKeystore, err)
	}
	return pk, nil
}

// kdfMemory returns the memory a keystore's KDF needs (scryptMemory; PBKDF2 needs next to
// none), for callers that bound the memory of parallel decryption. A keystore whose KDF does not
// parse counts as costing nothing: it is refused before any KDF work.
func (ks *Keystore) kdfMemory() uint64 {
	k, err := parseKDF(ks.Crypto.KDF)
	if err != nil {
		return 1 << 10
	}
	return k.memory()
}

func (k kdfParams) memory() uint64 {
	if k.function != KDFScrypt {
		return 1 << 10
	}
	return scryptMemory(k.n, k.r, k.p)
}

// scryptMemory is what golang.org/x/crypto/scrypt allocates: V of 128*r*n bytes, B of 128*r*p
// and XY of 256*r. Counting V alone would let a large p allocate gigabytes unbounded.
func scryptMemory(n, r, p uint64) uint64 {
	return saturatingAdd(saturatingMul(saturatingMul(128, r), saturatingAdd(n, p)), saturatingMul(256, r))
}

// kdfParams are a keystore's KDF parameters, decoded and structurally checked.
type kdfParams struct {
	function   string
	n, r, p, c uint64
	salt       []byte
}

// parseKDF decodes and checks the KDF module as far as that needs no limits and no password.
func parseKDF(m Module) (kdfParams, error) {
	k := kdfParams{function: m.Function}
	var salt *string
	switch m.Function {
	case KDFScrypt:
		var p scryptParams
		if err := strictJSON(m.Params, &p); err != nil {
			return k, fmt.Errorf("%w: scrypt params: %v", ErrInvalidKeystore, err)
		}
		if p.DKLen == nil || p.N == nil || p.R == nil || p.P == nil || p.Salt == nil {
			return k, fmt.Errorf("%w: scrypt params need dklen, n, r, p and salt", ErrInvalidKeystore)
		}
		k.n, k.r, k.p, salt = *p.N, *p.R, *p.P, p.Salt
		if *p.DKLen != 32 {
			return k, fmt.Errorf("%w: scrypt dklen %d, want 32", ErrKDFParams, *p.DKLen)
		}
		if k.n < 2 || k.n&(k.n-1) != 0 || k.r == 0 || k.p == 0 || k.r > 1<<20 {
			return k, fmt.Errorf("%w: scrypt n=%d r=%d p=%d: n must be a power of two above 1, r and p positive", ErrKDFParams, k.n, k.r, k.p)
		}
		if k.p > maxScryptP {
			return k, fmt.Errorf("%w: scrypt p=%d is above %d (EIP-2335 uses p=1)", ErrKDFParams, k.p, maxScryptP)
		}
	case KDFPBKDF2:
		var p pbkdf2Params
		if err := strictJSON(m.Params, &p); err != nil {
			return k, fmt.Errorf("%w: pbkdf2 params: %v", ErrInvalidKeystore, err)
		}
		if p.DKLen == nil || p.C == nil || p.PRF == nil || p.Salt == nil {
			return k, fmt.Errorf("%w: pbkdf2 params need dklen, c, prf and salt", ErrInvalidKeystore)
		}
		k.c, salt = *p.C, p.Salt
		if *p.DKLen != 32 {
			return k, fmt.Errorf("%w: pbkdf2 dklen %d, want 32", ErrKDFParams, *p.DKLen)
		}
		if *p.PRF != "hmac-sha256" {
			return k, fmt.Errorf("%w: pbkdf2 prf %q, want hmac-sha256", ErrInvalidKeystore, *p.PRF)
		}
	default:
		return k, fmt.Errorf("%w: kdf function %q, want scrypt or pbkdf2", ErrInvalidKeystore, m.Function)
	}
	var err error
	k.salt, err = saltField(*salt)
	return k, err
}

// derive checks the KDF's cost against the limits and derives the 32-byte key.
func (k kdfParams) derive(password []byte, lim KDFLimits) ([]byte, error) {
	if k.function == KDFPBKDF2 {
		switch {
		case k.c < lim.MinPBKDF2Iter:
			return nil, fmt.Errorf("%w: pbkdf2 c=%d is too weak (below %d)", ErrKDFParams, k.c, lim.MinPBKDF2Iter)
		case k.c > lim.MaxPBKDF2Iter:
			return nil, fmt.Errorf("%w: pbkdf2 c=%d is too costly (above %d)", ErrKDFParams, k.c, lim.MaxPBKDF2Iter)
		}
		dk, err := pbkdf2.Key(sha256.New, string(password), k.salt, int(k.c), 32)
		if err != nil {
			return nil, fmt.Errorf("%w: pbkdf2: %v", ErrKDFParams, err)
		}
		return dk, nil
	}
	work, memory := saturatingMul(saturatingMul(k.n, k.r), k.p), k.memory()
	switch {
	case work < lim.MinScryptWork:
		return nil, fmt.Errorf("%w: scrypt n=%d r=%d p=%d is too weak (n*r*p below %d)", ErrKDFParams, k.n, k.r, k.p, lim.MinScryptWork)
	case work > lim.MaxScryptWork || memory > lim.MaxScryptMemory:
		return nil, fmt.Errorf("%w: scrypt n=%d r=%d p=%d is too costly (n*r*p above %d or memory above %d MiB)", ErrKDFParams, k.n, k.r, k.p, lim.MaxScryptWork, lim.MaxScryptMemory>>20)
	}
	dk, err := scrypt.Key(password, k.salt, int(k.n), int(k.r), int(k.p), 32)
	if err != nil {
		return nil, fmt.Errorf("%w: scrypt: %v", ErrKDFParams, err)
	}
	return dk, nil
}

func saturatingMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return 1<<64 - 1
	}
	return lo
}

func saturatingAdd(a, b uint64) uint64 {
	sum, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return 1<<64 - 1
	}
	return sum
}

func saltField(s string) ([]byte, error) {
	salt, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: kdf salt is not hex", ErrInvalidKeystore)
	}
	// EIP-2335 keystores carry 32 random bytes; fewer than 16 defeats the salt's purpose.
	if len(salt) < 16 || len(salt) > 1024 {
		return nil, fmt.Errorf("%w: kdf salt of %d bytes, want 16 to 1024", ErrKDFParams, len(salt))
	}
	return salt, nil
}

func hexField(name, s string, n int) ([]byte, error) {
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(b) != n {
		return nil, fmt.Errorf("%w: %s is not %d bytes of hex", ErrInvalidKeystore, name, n)
	}
	return b, nil
}

// strictJSON decodes one JSON object and refuses unknown fields, so that a parameter the EIP does
// not define (and this code would ignore) is not silently dropped.
func strictJSON(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func checksum(dk, msg []byte) []byte {
	h := sha256.New()
	h.Write(dk[16:32])
	h.Write(msg)
	return h.Sum(nil)
}

func aesCTR(key, iv, in []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(in))
	cipher.NewCTR(block, iv).XORKeyStream(out, in)
	return out, nil
}

// validUUID accepts the canonical 8-4-4-4-12 hex form EIP-2335 requires.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// newUUID returns a random (version 4) UUID in its canonical text form (RFC 9562).
func newUUID() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("keys: read randomness: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // variant 10
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// MarshalIndent encodes the keystore as indented JSON, as keystore files are written.
func (ks *Keystore) MarshalIndent() ([]byte, error) {
	b, err := json.MarshalIndent(ks, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseKeystore decodes a keystore and checks its structure (not the password).
func ParseKeystore(b []byte) (*Keystore, error) {
	var ks Keystore
	if err := json.Unmarshal(b, &ks); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKeystore, err)
	}
	if err := ks.check(); err != nil {
		return nil, err
	}
	return &ks, nil
}
