package transport

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// PeerID names a node by its key: the SHA-256 of its certificate's SubjectPublicKeyInfo (the
// hash HPKP and most pinning schemes use). It does not change when the certificate is remade.
type PeerID [32]byte

// String returns the ID in lower-case hex.
func (p PeerID) String() string { return hex.EncodeToString(p[:]) }

// MarshalText implements encoding.TextMarshaler, so IDs read and write as hex in config files.
func (p PeerID) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *PeerID) UnmarshalText(b []byte) error {
	id, err := ParsePeerID(string(b))
	if err != nil {
		return err
	}
	*p = id
	return nil
}

// ParsePeerID parses the 64 hex digits of a PeerID, with or without a 0x prefix.
func ParsePeerID(s string) (PeerID, error) {
	var p PeerID
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s = s[2:]
	}
	if len(s) != 2*len(p) {
		return p, fmt.Errorf("peer id %q: want %d hex digits, have %d", s, 2*len(p), len(s))
	}
	if _, err := hex.Decode(p[:], []byte(s)); err != nil {
		return p, fmt.Errorf("peer id %q: %w", s, err)
	}
	return p, nil
}

// peerIDOf returns the ID of a certificate's key.
func peerIDOf(cert *x509.Certificate) PeerID {
	return sha256.Sum256(cert.RawSubjectPublicKeyInfo)
}

// Identity is a node's long-lived Ed25519 key and the self-signed certificate made from it.
// Peers pin the key, not the certificate, so the certificate is simply remade at each start.
type Identity struct {
	key  ed25519.PrivateKey
	cert tls.Certificate
	id   PeerID
}

// NewIdentity makes an Identity of key.
func NewIdentity(key ed25519.PrivateKey) (*Identity, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("node key: %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	pub := key.Public().(ed25519.PublicKey)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "zkv node"},
		// Validity is not what peers check (they pin the key), but TLS stacks that look at it
		// must not trip over clock skew or a process that runs for months.
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"zkv"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	return &Identity{
		key:  key,
		cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		id:   peerIDOf(leaf),
	}, nil
}

// GenerateIdentity makes an Identity with a fresh key that lives only in memory (tests, devnet).
func GenerateIdentity() (*Identity, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate node key: %w", err)
	}
	return NewIdentity(key)
}

// ID returns the node's PeerID, the value its peers put on their allow-lists.
func (i *Identity) ID() PeerID { return i.id }

// Certificate returns the node's self-signed certificate, for TLS servers outside this package
// (the HTTP/1.1+2 and HTTP/3 servers).
func (i *Identity) Certificate() tls.Certificate { return i.cert }

const keyPEMType = "PRIVATE KEY"

// LoadOrCreateIdentity reads the node key at path (PKCS#8 PEM) or, when there is no file,
// makes a new key and writes it there with mode 0600. It refuses a key file that group or
// others may read or write, and a file that does not hold one Ed25519 key.
func LoadOrCreateIdentity(path string) (*Identity, error) {
	key, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKey(path)
	}
	if err != nil {
		return nil, err
	}
	return NewIdentity(key)
}

func readKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("node key %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("node key %s: not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("node key %s has mode %04o: others may read it; want 0600 (chmod 600 %s)", path, perm, path)
	}
	// A PKCS#8 Ed25519 key is 119 bytes of PEM; anything near maxKeyFile is not a node key.
	const maxKeyFile = 4096
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("node key %s: %w", path, err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("node key %s: larger than %d bytes, not a node key", path, maxKeyFile)
	}
	block, rest := pem.Decode(b)
	if block == nil || block.Type != keyPEMType {
		return nil, fmt.Errorf("node key %s: no %q PEM block", path, keyPEMType)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("node key %s: data after the key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("node key %s: not a PKCS#8 private key: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("node key %s: a %T, want an Ed25519 key", path, k)
	}
	return key, nil
}

// createKey writes a new key to a temporary file and links it into place, so a crash never
// leaves a half-written key at path and a concurrent creator's key is never overwritten.
func createKey(path string) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate node key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode node key: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".nodekey-*")
	if err != nil {
		return nil, fmt.Errorf("create node key in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600; say so anyway, it is the point.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("create node key: %w", err)
	}
	if err := pem.Encode(tmp, &pem.Block{Type: keyPEMType, Bytes: der}); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write node key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write node key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write node key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: use theirs.
			return readKey(path)
		}
		return nil, fmt.Errorf("create node key %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return key, nil
}
