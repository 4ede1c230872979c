package keys

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	_ "embed"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// The BIP-39 English word list, bitcoin/bips bip-0039/english.txt (sha256
// 2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda, checked by a test).
//
//go:embed bip39_english.txt
var englishText string

var (
	english     []string
	englishWord map[string]int
)

func init() {
	english = strings.Split(strings.TrimSuffix(englishText, "\n"), "\n")
	if len(english) != 2048 {
		panic(fmt.Sprintf("keys: the embedded BIP-39 word list has %d words, not 2048", len(english)))
	}
	englishWord = make(map[string]int, len(english))
	for i, w := range english {
		englishWord[w] = i
	}
}

// ErrInvalidMnemonic: a mnemonic is not a valid BIP-39 English mnemonic. The message says why
// but never repeats the words, which are secret.
var ErrInvalidMnemonic = errors.New("keys: invalid mnemonic")

// NewMnemonic returns a fresh 24-word BIP-39 English mnemonic: 256 bits from crypto/rand and an
// 8-bit checksum.
func NewMnemonic() (string, error) {
	ent := make([]byte, 32)
	defer wipe(ent)
	if _, err := rand.Read(ent); err != nil {
		return "", fmt.Errorf("keys: read randomness: %w", err)
	}
	return MnemonicFromEntropy(ent)
}

// MnemonicFromEntropy encodes 16, 20, 24, 28 or 32 bytes of entropy as a 12- to 24-word
// mnemonic (BIP-39: entropy || first ENT/32 bits of SHA-256(entropy), in 11-bit word indices).
func MnemonicFromEntropy(ent []byte) (string, error) {
	if len(ent) < 16 || len(ent) > 32 || len(ent)%4 != 0 {
		return "", fmt.Errorf("%w: entropy of %d bytes, want 16, 20, 24, 28 or 32", ErrInvalidMnemonic, len(ent))
	}
	sum := sha256.Sum256(ent)
	buf := make([]byte, len(ent)+1) // the checksum is at most 8 bits
	defer wipe(buf)
	copy(buf, ent)
	buf[len(ent)] = sum[0]
	words := len(ent) * 3 / 4 // (ENT + ENT/32) / 11
	out := make([]string, words)
	for w := range words {
		out[w] = english[bits11(buf, w*11)]
	}
	return strings.Join(out, " "), nil
}

// bits11 reads the 11-bit big-endian number starting at bit offset off.
func bits11(b []byte, off int) int {
	v := 0
	for i := range 11 {
		bit := off + i
		v = v<<1 | int(b[bit/8]>>(7-bit%8)&1)
	}
	return v
}

// normalizeMnemonic applies NFKD (BIP-39) and returns the words, lower-cased (the English list
// is lower case) and separated by exactly one space, whatever whitespace the input used.
func normalizeMnemonic(m string) []string {
	return strings.Fields(strings.ToLower(norm.NFKD.String(m)))
}

// ValidateMnemonic checks word count, that every word is in the English list, and the checksum.
func ValidateMnemonic(m string) error {
	_, err := mnemonicEntropy(normalizeMnemonic(m))
	return err
}

func mnemonicEntropy(words []string) ([]byte, error) {
	switch len(words) {
	case 12, 15, 18, 21, 24:
	default:
		return nil, fmt.Errorf("%w: %d words, want 12, 15, 18, 21 or 24", ErrInvalidMnemonic, len(words))
	}
	nbits := len(words) * 11
	buf := make([]byte, (nbits+7)/8)
	for w, word := range words {
		idx, ok := englishWord[word]
		if !ok {
			wipe(buf)
			return nil, fmt.Errorf("%w: word %d is not in the BIP-39 English word list", ErrInvalidMnemonic, w+1)
		}
		for i := range 11 {
			if idx>>(10-i)&1 == 1 {
				bit := w*11 + i
				buf[bit/8] |= 1 << (7 - bit%8)
			}
		}
	}
	entLen := nbits * 32 / 33 / 8
	ent := buf[:entLen]
	sum := sha256.Sum256(ent)
	csBits := nbits - entLen*8
	want := sum[0] >> (8 - csBits)
	got := buf[entLen] >> (8 - csBits)
	if want != got {
		wipe(buf)
		return nil, fmt.Errorf("%w: checksum mismatch (a word is wrong or the words are out of order)", ErrInvalidMnemonic)
	}
	return ent, nil
}

// MnemonicSeed validates a mnemonic and returns its 64-byte BIP-39 seed:
// PBKDF2-HMAC-SHA512(NFKD(mnemonic), "mnemonic" || NFKD(passphrase), 2048 iterations). The
// passphrase is BIP-39's optional extra word ("" for none); it is not an EIP-2335 password.
func MnemonicSeed(mnemonic, passphrase string) ([]byte, error) {
	words := normalizeMnemonic(mnemonic)
	ent, err := mnemonicEntropy(words)
	if err != nil {
		return nil, err
	}
	wipe(ent)
	salt := []byte("mnemonic" + norm.NFKD.String(passphrase))
	defer wipe(salt)
	return pbkdf2.Key(sha512.New, strings.Join(words, " "), salt, 2048, 64)
}
