package keymanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/validator/keys"
	"github.com/zkvlabs/zkv/validator/slashing"
)

// The token file: created 0600 with a random 32-byte token when absent, read back unchanged,
// refused when group or others may read it, or when empty.
func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "token")
	tok, err := LoadOrCreateToken(p)
	if err != nil || len(tok) != 64 {
		t.Fatalf("new token %q: %v", tok, err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %#o, want 0600", st.Mode().Perm())
	}
	again, err := LoadOrCreateToken(p)
	if err != nil || again != tok {
		t.Fatalf("token read back %q %v, want %q", again, err, tok)
	}
	other, _ := LoadOrCreateToken(filepath.Join(dir, "token2"))
	if other == tok {
		t.Fatal("two new token files hold the same token")
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateToken(p); !errors.Is(err, ErrTokenFileMode) {
			t.Errorf("mode %#o: %v, want ErrTokenFileMode", mode, err)
		}
		if _, err := New(Config{TokenFile: p, Validator: newFake()}); !errors.Is(err, ErrTokenFileMode) {
			t.Errorf("New with a token file of mode %#o: %v", mode, err)
		}
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateToken(empty); err == nil {
		t.Fatal("an empty token file was accepted")
	}
	if _, err := New(Config{TokenFile: filepath.Join(dir, "t3")}); err == nil || !strings.Contains(err.Error(), "no validator") {
		t.Fatalf("New without a validator: %v", err)
	}
}

type testServer struct {
	url, token string
	fake       *fakeValidator
}

func serve(t *testing.T, f *fakeValidator) *testServer {
	t.Helper()
	tf := filepath.Join(t.TempDir(), "token")
	s, err := New(Config{TokenFile: tf, Validator: f, KDFLimits: keys.InsecureKDFLimits})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.Serve(ctx, ln); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	tok, _ := LoadOrCreateToken(tf)
	return &testServer{url: "http://" + ln.Addr().String(), token: tok, fake: f}
}

func (s *testServer) do(t *testing.T, method, path, body string, auth string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// hasMessage reports whether body is the API's ErrorResponse with a non-empty message.
func hasMessage(body string) bool {
	var e struct {
		Message string `json:"message"`
	}
	return json.Unmarshal([]byte(body), &e) == nil && e.Message != ""
}

// Every route needs the token: none (or another scheme) is 401, a wrong one 403, each with the
// ErrorResponse shape.
func TestBearerToken(t *testing.T) {
	s := serve(t, newFake())
	routes := [][2]string{{"GET", "/eth/v1/keystores"}, {"POST", "/eth/v1/keystores"}, {"DELETE", "/eth/v1/keystores"},
		{"GET", "/eth/v1/validator/0x00/feerecipient"}, {"POST", "/eth/v1/validator/0x00/voluntary_exit"}, {"GET", "/nothing"}}
	for _, r := range routes {
		for _, c := range []struct {
			auth string
			want int
		}{{"", 401}, {"Basic " + s.token, 401}, {"Bearer", 401}, {"Bearer " + s.token + "x", 403}, {"Bearer " + s.token[:63], 403}} {
			code, body := s.do(t, r[0], r[1], "", c.auth)
			if code != c.want || !hasMessage(body) {
				t.Errorf("%s %s with %q: %d %s, want %d with a message", r[0], r[1], c.auth, code, body, c.want)
			}
		}
	}
	if code, _ := s.do(t, "GET", "/eth/v1/keystores", "", "Bearer "+s.token); code != 200 {
		t.Fatalf("right token: %d", code)
	}
}

func testKeystore(t *testing.T, password string) (*bls.SecretKey, string) {
	t.Helper()
	sk, _ := bls.GenerateSecretKey()
	ks, err := keys.Encrypt(sk, password, keys.EncryptOptions{KDF: keys.KDFPBKDF2, PBKDF2C: 2, Path: "m/12381/3600/9/0/0", Limits: keys.InsecureKDFLimits})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ks.MarshalIndent()
	return sk, string(b)
}

// Bad bodies get 400 with the spec's ErrorResponse; unknown keys 404; unknown routes 404.
func TestBadRequests(t *testing.T) {
	pk := phase0.BLSPubKey{0xaa}
	s := serve(t, newFake(pk))
	auth := "Bearer " + s.token
	pkPath := fmt.Sprintf("/eth/v1/validator/%#x", pk[:])
	bb := phase0.BLSPubKey{0xbb}
	other := fmt.Sprintf("/eth/v1/validator/%#x", bb[:])
	cases := []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/eth/v1/keystores", `{"keystores":["x"]`, 400},
		{"POST", "/eth/v1/keystores", `{"keystores":["x"],"passwords":[]}`, 400},
		{"POST", "/eth/v1/keystores", `{"passwords":["x"]}`, 400},
		{"POST", "/eth/v1/keystores", `{"keystores":[],"passwords":[]} {}`, 400},
		{"POST", "/eth/v1/keystores", `{"keystores":[],"passwords":[],"slashing_protection":"{\"metadata\":{}}"}`, 400},
		{"DELETE", "/eth/v1/keystores", `{}`, 400},
		{"DELETE", "/eth/v1/keystores", `{"pubkeys":["0x1234"]}`, 400},
		{"DELETE", "/eth/v1/keystores", `[1,2]`, 400},
		{"GET", "/eth/v1/validator/0xzz/feerecipient", "", 400},
		{"GET", other + "/feerecipient", "", 404},
		{"GET", other + "/gas_limit", "", 404},
		{"GET", other + "/graffiti", "", 404},
		{"POST", other + "/graffiti", `{"graffiti":"x"}`, 404},
		{"DELETE", other + "/feerecipient", "", 404},
		{"POST", other + "/voluntary_exit", "", 404},
		{"POST", pkPath + "/feerecipient", `{}`, 400},
		{"POST", pkPath + "/feerecipient", `{"ethaddress":"0x0000000000000000000000000000000000000000"}`, 400},
		{"POST", pkPath + "/feerecipient", `{"ethaddress":"00000000000000000000000000000000000000aa"}`, 400},
		{"POST", pkPath + "/gas_limit", `{"gas_limit":30000000}`, 400},
		{"POST", pkPath + "/gas_limit", `{"gas_limit":"-1"}`, 400},
		{"POST", pkPath + "/gas_limit", `{"gas_limit":"030000000"}`, 400},
		{"POST", pkPath + "/gas_limit", `{"gas_limit":"18446744073709551616"}`, 400},
		{"POST", pkPath + "/graffiti", `{"graffiti":"` + strings.Repeat("é", 17) + `"}`, 400},
		{"POST", pkPath + "/graffiti", `{}`, 400},
		{"POST", pkPath + "/voluntary_exit?epoch=-1", "", 400},
		{"GET", "/eth/v1/remotekeys", "", 404},
	}
	for _, c := range cases {
		code, body := s.do(t, c.method, c.path, c.body, auth)
		if code != c.want || !hasMessage(body) {
			t.Errorf("%s %s %s: %d %s, want %d with a message", c.method, c.path, c.body, code, body, c.want)
		}
	}
	// And the good ones: set, read, delete.
	if code, _ := s.do(t, "POST", pkPath+"/gas_limit", `{"gas_limit":"30000000"}`, auth); code != 202 {
		t.Fatalf("set gas limit: %d", code)
	}
	if code, body := s.do(t, "GET", pkPath+"/gas_limit", "", auth); code != 200 || !strings.Contains(body, `"gas_limit":"30000000"`) || !strings.Contains(body, fmt.Sprintf(`"pubkey":"%#x"`, pk[:])) {
		t.Fatalf("get gas limit: %d %s", code, body)
	}
	if code, _ := s.do(t, "DELETE", pkPath+"/gas_limit", "", auth); code != 204 {
		t.Fatalf("delete gas limit: %d", code)
	}
	if code, body := s.do(t, "GET", pkPath+"/gas_limit", "", auth); code != 200 || !strings.Contains(body, `"36000000"`) {
		t.Fatalf("gas limit after delete: %d %s", code, body)
	}
	if code, body := s.do(t, "POST", pkPath+"/voluntary_exit?epoch=12", "", auth); code != 200 || !strings.Contains(body, `"epoch":"12"`) || !strings.Contains(body, `"validator_index":"3"`) {
		t.Fatalf("exit: %d %s", code, body)
	}
}

// Import statuses per keystore (imported, duplicate in the request or held, error), the
// slashing protection imported before the keys are added, and none added when it is refused;
// delete statuses (deleted, not_active with history, not_found) with the history of exactly
// the deleted and not_active keys.
func TestImportDeleteStatuses(t *testing.T) {
	held := phase0.BLSPubKey{0xaa}
	f := newFake(held)
	s := serve(t, f)
	auth := "Bearer " + s.token
	sk1, ks1 := testKeystore(t, "password1")
	_, ks2 := testKeystore(t, "password2")
	pk1 := phase0.BLSPubKey(sk1.PublicKey().Bytes())
	history := fmt.Sprintf(`{"metadata":{"interchange_format_version":"5","genesis_validators_root":"0x%064x"},"data":[{"pubkey":"%#x","signed_blocks":[],"signed_attestations":[{"source_epoch":"1","target_epoch":"2"}]}]}`, 1, pk1[:])
	body, _ := json.Marshal(map[string]any{
		"keystores":           []string{ks1, ks1, ks2, "{}"},
		"passwords":           []string{"password1", "password1", "not it", "x"},
		"slashing_protection": history,
	})
	code, resp := s.do(t, "POST", "/eth/v1/keystores", string(body), auth)
	var st statusResp
	if err := json.Unmarshal([]byte(resp), &st); code != 200 || err != nil {
		t.Fatalf("import: %d %s", code, resp)
	}
	want := []string{StatusImported, StatusDuplicate, StatusError, StatusError}
	for i, w := range want {
		if st.Data[i].Status != w {
			t.Errorf("keystore %d: %+v, want %s", i, st.Data[i], w)
		}
	}
	if len(f.imported) != 1 || len(f.held) != 2 {
		t.Fatalf("imported %d interchanges, holds %d keys", len(f.imported), len(f.held))
	}
	code, resp = s.do(t, "GET", "/eth/v1/keystores", "", auth)
	if code != 200 || !strings.Contains(resp, fmt.Sprintf(`"validating_pubkey":"%#x","derivation_path":"m/12381/3600/9/0/0","readonly":false`, pk1[:])) {
		t.Fatalf("list: %d %s", code, resp)
	}
	// A refused history: the key is not added.
	f.importErr = slashing.ErrGenesisMismatch
	_, ks3 := testKeystore(t, "password3")
	body, _ = json.Marshal(map[string]any{"keystores": []string{ks3}, "passwords": []string{"password3"}, "slashing_protection": history})
	_, resp = s.do(t, "POST", "/eth/v1/keystores", string(body), auth)
	if err := json.Unmarshal([]byte(resp), &st); err != nil || st.Data[0].Status != StatusError || len(f.held) != 2 {
		t.Fatalf("import with a refused history: %s (holds %d)", resp, len(f.held))
	}

	// Delete: pk1 (held, history) deleted; pk1 again not_active; held (no history) deleted;
	// an unknown key not_found.
	f.history[phase0.BLSPubKey{0xcc}] = slashing.ValidatorHistory{Pubkey: slashing.Pubkey{0xcc}}
	dd := phase0.BLSPubKey{0xdd}
	del := fmt.Sprintf(`{"pubkeys":["%#x","%#x","%#x"]}`, pk1[:], held[:], dd[:])
	code, resp = s.do(t, "DELETE", "/eth/v1/keystores", del, auth)
	if err := json.Unmarshal([]byte(resp), &st); code != 200 || err != nil {
		t.Fatalf("delete: %d %s", code, resp)
	}
	if st.Data[0].Status != StatusDeleted || st.Data[1].Status != StatusDeleted || st.Data[2].Status != StatusNotFound {
		t.Fatalf("delete statuses %+v", st.Data)
	}
	ic, err := slashing.ReadInterchange(strings.NewReader(st.SlashingProtection))
	if err != nil || len(ic.Data) != 1 || ic.Data[0].Pubkey != slashing.Pubkey(pk1) {
		t.Fatalf("returned history %v %+v", err, ic)
	}
	_, resp = s.do(t, "DELETE", "/eth/v1/keystores", fmt.Sprintf(`{"pubkeys":["%#x"]}`, pk1[:]), auth)
	if err := json.Unmarshal([]byte(resp), &st); err != nil || st.Data[0].Status != StatusNotActive || !strings.Contains(st.SlashingProtection, fmt.Sprintf("%#x", pk1[:])) {
		t.Fatalf("second delete: %s", resp)
	}
	_, resp = s.do(t, "DELETE", "/eth/v1/keystores", `{"pubkeys":[]}`, auth)
	if err := json.Unmarshal([]byte(resp), &st); err != nil || len(st.Data) != 0 || st.SlashingProtection == "" {
		t.Fatalf("empty delete: %s", resp)
	}
}

type statusResp struct {
	Data               []KeyStatus `json:"data"`
	SlashingProtection string      `json:"slashing_protection"`
}
