package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkvlabs/zkv/transport/frame"
)

func TestLoadOrCreateIdentity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.key")
	first, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", perm)
	}
	again, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID() != first.ID() {
		t.Fatalf("reloaded key has ID %s, want %s", again.ID(), first.ID())
	}
	leaf := first.Certificate().Leaf
	if got := PeerID(sha256.Sum256(leaf.RawSubjectPublicKeyInfo)); got != first.ID() {
		t.Fatal("ID is not the SHA-256 of the certificate's SubjectPublicKeyInfo")
	}
	if !leaf.NotAfter.After(time.Now().Add(365 * 24 * time.Hour)) {
		t.Errorf("certificate expires %v: too soon for a long-running node", leaf.NotAfter)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("key directory holds %d entries, want only the key (no temporary files)", len(entries))
	}
}

func TestLoadIdentityRefuses(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	good := func(t *testing.T) []byte {
		p := filepath.Join(t.TempDir(), "k")
		if _, err := LoadOrCreateIdentity(p); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}(t)
	tests := []struct {
		name    string
		content []byte
		mode    os.FileMode
		want    string
	}{
		{"world readable", good, 0o644, "mode 0644"},
		{"group writable", good, 0o620, "mode 0620"},
		{"garbage", []byte("not a key\n"), 0o600, "no \"PRIVATE KEY\" PEM block"},
		{"empty", nil, 0o600, "no \"PRIVATE KEY\" PEM block"},
		{"wrong PEM type", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}}), 0o600, "PEM block"},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), 0o600, "not a PKCS#8 private key"},
		{"ECDSA key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), 0o600, "want an Ed25519 key"},
		{"trailing data", append(append([]byte{}, good...), "extra"...), 0o600, "data after the key"},
		{"huge", make([]byte, 10000), 0o600, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "node.key")
			if err := os.WriteFile(path, tt.content, tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil { // umask may have cleared bits
				t.Fatal(err)
			}
			_, err := LoadOrCreateIdentity(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file", err)
			}
			b, _ := os.ReadFile(path)
			if string(b) != string(tt.content) {
				t.Fatal("a refused key file was modified")
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateIdentity(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("directory as key: %v", err)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		if _, err := LoadOrCreateIdentity(filepath.Join(t.TempDir(), "nope", "node.key")); err == nil {
			t.Fatal("created a key in a directory that does not exist")
		}
	})
}

func TestPeerID(t *testing.T) {
	id := newIdentity(t).ID()
	for _, s := range []string{id.String(), "0x" + id.String(), strings.ToUpper(id.String())} {
		got, err := ParsePeerID(s)
		if err != nil || got != id {
			t.Errorf("ParsePeerID(%q) = %s, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "abcd", id.String() + "00", strings.Repeat("zz", 32)} {
		if _, err := ParsePeerID(s); err == nil {
			t.Errorf("ParsePeerID(%q) accepted", s)
		}
	}
	var back PeerID
	text, _ := id.MarshalText()
	if err := back.UnmarshalText(text); err != nil || back != id {
		t.Errorf("text round trip: %s, %v", back, err)
	}
}

func TestErrCodeString(t *testing.T) {
	seen := map[string]ErrCode{}
	for c := ErrCodeNoError; c <= maxErrCode; c++ {
		s := c.String()
		if strings.HasPrefix(s, "unknown") {
			t.Errorf("code %#x has no name", uint64(c))
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("codes %#x and %#x share the name %s", uint64(prev), uint64(c), s)
		}
		seen[s] = c
	}
	if s := ErrCode(0x999).String(); s != "unknown error code 0x999" {
		t.Errorf("unknown code: %q", s)
	}
	e := &Error{Code: ErrCodeSlowSubscriber, Remote: true, Message: "queue full"}
	if got := e.Error(); got != "SLOW_SUBSCRIBER (remote): queue full" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(e, &Error{Code: ErrCodeSlowSubscriber}) {
		t.Error("errors.Is does not match on the code")
	}
}

func TestCodeOf(t *testing.T) {
	tests := []struct {
		err  error
		want ErrCode
	}{
		{nil, ErrCodeNoError},
		{&frame.Error{Err: frame.ErrTooLarge}, ErrCodeFrameTooLarge},
		{&frame.Error{Err: frame.ErrUnknownType}, ErrCodeUnknownFrameType},
		{&frame.Error{Err: frame.ErrBadFlags}, ErrCodeBadFlags},
		{&frame.Error{Err: frame.ErrCorrupt}, ErrCodeCorruptPayload},
		{&frame.Error{Err: frame.ErrTruncated}, ErrCodeTruncatedFrame},
		{&Error{Code: ErrCodeUnknownTopic}, ErrCodeUnknownTopic},
		{errors.New("disk on fire"), ErrCodeInternal},
	}
	for _, tt := range tests {
		if got := CodeOf(tt.err); got != tt.want {
			t.Errorf("CodeOf(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}

func TestConfigChecks(t *testing.T) {
	id := newIdentity(t)
	if _, err := NewServer(id, ServerConfig{}); err != nil {
		t.Fatalf("zero ServerConfig: %v", err)
	}
	bad := []struct {
		name string
		cfg  ServerConfig
	}{
		{"negative idle timeout", ServerConfig{Config: Config{IdleTimeout: -1}}},
		{"keep-alive above idle timeout", ServerConfig{Config: Config{IdleTimeout: time.Second, KeepAlive: 2 * time.Second}}},
		{"max backoff below min", ServerConfig{Config: Config{MinBackoff: time.Second, MaxBackoff: time.Millisecond}}},
		{"request size over frame limit", ServerConfig{Config: Config{MaxRequestSize: frame.MaxPayload + 1}}},
		{"negative queue", ServerConfig{Config: Config{SubscriberQueue: -1}}},
		{"reserved request type", ServerConfig{Requests: map[frame.Type]RequestHandler{TypeError: echo}}},
		{"type zero", ServerConfig{Requests: map[frame.Type]RequestHandler{0: echo}}},
		{"nil handler", ServerConfig{Requests: map[frame.Type]RequestHandler{typeEcho: nil}}},
		{"reserved message type", ServerConfig{Messages: map[frame.Type]MessageHandler{TypeSubscribe: nil}}},
		{"bad topic", ServerConfig{Topics: []string{"Top Bids"}}},
		{"duplicate topic", ServerConfig{Topics: []string{"bids", "bids"}}},
	}
	for _, tt := range bad {
		if _, err := NewServer(id, tt.cfg); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	if _, err := NewServer(nil, ServerConfig{}); err == nil {
		t.Error("server without identity accepted")
	}
	for name, cc := range map[string]ClientConfig{
		"no address":    {Server: id.ID()},
		"bad address":   {Addr: "localhost", Server: id.ID()},
		"no server key": {Addr: "127.0.0.1:1"},
	} {
		if _, err := NewClient(id, cc); err == nil {
			t.Errorf("client %s: accepted", name)
		}
	}
	s, err := NewServer(id, ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(t.Context()); err == nil {
		t.Error("Run before Listen succeeded")
	}
}
