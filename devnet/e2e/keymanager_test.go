package e2e_test

import (
	"bytes"
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
	"time"

	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/keymanager"
	"github.com/zkvlabs/zkv/validator/keys"
	"github.com/zkvlabs/zkv/validator/slashing"
)

// kmClient runs a validator client over keyDir and dbDir with the keymanager API on 127.0.0.1
// port 0; stop stops both and waits for them.
type kmClient struct {
	rep   reports
	svc   *client.Service
	url   string
	token string
	stop  func()
}

func startKeymanaged(t *testing.T, url, keyDir, dbDir, tokenFile string, opts ...client.Option) *kmClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &kmClient{}
	svc, err := client.New(ctx, append([]client.Option{client.WithBeaconNode(url), client.WithReports(c.rep.add), client.WithKeystores(keyDir, beacon.DefaultKeystorePassword),
		client.WithKDFLimits(keys.InsecureKDFLimits), client.WithDatabase(dbDir), client.WithDoppelganger(0),
		client.WithLogger(testLogger(t).With("run", "km"))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	km, err := keymanager.New(keymanager.Config{TokenFile: tokenFile, Validator: svc, KDFLimits: keys.InsecureKDFLimits, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := keymanager.LoadOrCreateToken(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := svc.Run(ctx); err != nil {
			t.Errorf("validator Run: %v", err)
		}
	})
	wg.Go(func() {
		if err := km.Serve(ctx, ln); err != nil {
			t.Errorf("keymanager: %v", err)
		}
	})
	var once sync.Once
	c.svc, c.url, c.token = svc, "http://"+ln.Addr().String(), tok
	c.stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(c.stop)
	// The API answers 500 until Run has loaded the keys and opened the database.
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _ := c.do(t, "GET", "/eth/v1/keystores", nil, "")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keymanager API not ready: %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c
}

// do sends a request with the bearer token (tok "" uses the right one; "-" sends none).
func (c *kmClient) do(t *testing.T, method, path string, body any, tok string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	switch tok {
	case "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	case "-":
	default:
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c *kmClient) must(t *testing.T, want int, method, path string, body any) []byte {
	t.Helper()
	code, b := c.do(t, method, path, body, "")
	if code != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
	return b
}

type statusList struct {
	Data []struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	} `json:"data"`
	SlashingProtection string `json:"slashing_protection"`
}

func statuses(t *testing.T, b []byte) statusList {
	t.Helper()
	var s statusList
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return s
}

func keystoreOf(t *testing.T, keyDir string, i int) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(keyDir, fmt.Sprintf("keystore-m_12381_3600_%d_0_0-*.json", i)))
	if len(m) != 1 {
		t.Fatalf("keystore of validator %d: %v", i, m)
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The keymanager API on a running client against the devnet beacon node: token rules; import
// with EIP-3076 history (the imported history keeps the key from attesting, the other imported
// key attests on chain); duplicate and undecryptable imports; delete returns the key's history
// and the key signs nothing after (a second delete returns the same history, not_active);
// overrides set, read, kept over a restart and deleted; imported keys kept over a restart and
// deleted ones not; a signed voluntary exit the beacon node accepts.
func TestKeymanagerOnDevnet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a devnet for two epochs and restarts the client (about 40 s)")
	}
	node, url, allKeys := devnetWith(t, beacon.Config{Validators: 8, SlotTime: slotTime(), GenesisDelay: time.Second,
		KeystoreDir: t.TempDir(), ShardCommitteePeriod: 1})
	keyDir := keySubset(t, allKeys, 0, 4)
	dbDir, tokenFile := t.TempDir(), filepath.Join(t.TempDir(), "token")
	c := startKeymanaged(t, url, keyDir, dbDir, tokenFile)
	gen := node.Genesis()
	pk := func(i int) string { return fmt.Sprintf("%#x", gen.Validators[i].Pubkey[:]) }

	// Token rules (keymanager-APIs bearerAuth).
	if code, b := c.do(t, "GET", "/eth/v1/keystores", nil, "-"); code != 401 || !strings.Contains(string(b), `"message"`) {
		t.Fatalf("no token: %d %s, want 401 with a message", code, b)
	}
	if code, _ := c.do(t, "GET", "/eth/v1/keystores", nil, "wrong"); code != 403 {
		t.Fatalf("wrong token: %d, want 403", code)
	}
	var list struct {
		Data []keymanager.ListedKey `json:"data"`
	}
	if err := json.Unmarshal(c.must(t, 200, "GET", "/eth/v1/keystores", nil), &list); err != nil || len(list.Data) != 4 {
		t.Fatalf("list: %v %+v", err, list)
	}
	for _, k := range list.Data {
		if !strings.HasPrefix(k.DerivationPath, "m/12381/3600/") || k.Readonly {
			t.Fatalf("listed key %+v", k)
		}
	}

	// Import validators 4 (with a history up to target 100 and slot 100) and 5, validator 0
	// again (duplicate), validator 6 with a wrong password (error).
	gvr := node.GenesisValidatorsRoot()
	history := fmt.Sprintf(`{"metadata":{"interchange_format_version":"5","genesis_validators_root":"%#x"},"data":[{"pubkey":"%s","signed_blocks":[{"slot":"100"}],"signed_attestations":[{"source_epoch":"0","target_epoch":"100"}]}]}`, gvr[:], pk(4))
	imp := map[string]any{
		"keystores":           []string{keystoreOf(t, allKeys, 4), keystoreOf(t, allKeys, 5), keystoreOf(t, allKeys, 0), keystoreOf(t, allKeys, 6)},
		"passwords":           []string{beacon.DefaultKeystorePassword, beacon.DefaultKeystorePassword, beacon.DefaultKeystorePassword, "wrong password"},
		"slashing_protection": history,
	}
	st := statuses(t, c.must(t, 200, "POST", "/eth/v1/keystores", imp))
	if len(st.Data) != 4 || st.Data[0].Status != "imported" || st.Data[1].Status != "imported" || st.Data[2].Status != "duplicate" || st.Data[3].Status != "error" || st.Data[3].Message == "" {
		t.Fatalf("import statuses %+v", st.Data)
	}
	importedAt := node.CurrentSlot()
	// A history for another chain is refused before the key is taken.
	other := strings.Replace(history, fmt.Sprintf("%#x", gvr[:]), "0x"+strings.Repeat("ab", 32), 1)
	st = statuses(t, c.must(t, 200, "POST", "/eth/v1/keystores", map[string]any{"keystores": []string{keystoreOf(t, allKeys, 7)},
		"passwords": []string{beacon.DefaultKeystorePassword}, "slashing_protection": other}))
	if st.Data[0].Status != "error" || !strings.Contains(st.Data[0].Message, "genesis validators root") {
		t.Fatalf("import with another chain's history: %+v", st.Data)
	}
	if files, _ := filepath.Glob(filepath.Join(keyDir, "*.json")); len(files) != 6 {
		t.Fatalf("keystore dir holds %d keystores, want 6 (4 + 2 imported)", len(files))
	}

	// A whole epoch after the import: validator 4 signed no attestation (slashing protection
	// refused them: its imported history makes every attestation of this chain's first 100
	// epochs slashable, and it holds only the imported record); validator 5 did (its history,
	// returned by the delete below, has attestations).
	e := node.Preset().SlotsPerEpoch
	epoch := phase0.Epoch(uint64(importedAt)/e + 1)
	waitUntil(t, node.GenesisTime().Add(time.Duration(uint64(epoch+1)*e)*node.SlotTime()+node.SlotTime()/2))
	refused := 0
	for _, r := range c.rep.all() {
		if r.Kind == "attestation" && errors.Is(r.Err, slashing.ErrSlashable) {
			refused++
		}
	}
	if refused == 0 {
		t.Error("no attestation was refused as slashable: validator 4's imported history was not applied")
	}
	ic, err := c.svc.ExportSlashingProtection(context.Background(), []phase0.BLSPubKey{gen.Validators[4].Pubkey})
	if err != nil || len(ic.Data) != 1 || len(ic.Data[0].SignedAttestations) != 1 || ic.Data[0].SignedAttestations[0].TargetEpoch != 100 {
		t.Fatalf("validator 4's history after an epoch: %v %+v", err, ic)
	}

	// Delete validator 5 and a key never held.
	del := map[string]any{"pubkeys": []string{pk(5), "0x" + strings.Repeat("a1", 48)}}
	st = statuses(t, c.must(t, 200, "DELETE", "/eth/v1/keystores", del))
	deletedIn := phase0.Epoch(uint64(node.CurrentSlot()) / e)
	if len(st.Data) != 2 || st.Data[0].Status != "deleted" || st.Data[1].Status != "not_found" {
		t.Fatalf("delete statuses %+v", st.Data)
	}
	got, err := slashing.ReadInterchange(strings.NewReader(st.SlashingProtection))
	if err != nil {
		t.Fatalf("returned slashing protection: %v\n%s", err, st.SlashingProtection)
	}
	if got.GenesisValidatorsRoot != slashing.Root(gvr) || len(got.Data) != 1 || got.Data[0].Pubkey != slashing.Pubkey(gen.Validators[5].Pubkey) ||
		len(got.Data[0].SignedAttestations) == 0 {
		t.Fatalf("returned slashing protection %+v, want validator 5's attestations", got)
	}
	if m, _ := filepath.Glob(filepath.Join(keyDir, "keystore-m_12381_3600_5_0_0-*.json")); len(m) != 0 {
		t.Fatalf("the deleted key's keystore is still there: %v", m)
	}
	// Two slots later validator 5 has signed nothing more: the same history, now not_active.
	waitUntil(t, time.Now().Add(2*node.SlotTime()))
	st2 := statuses(t, c.must(t, 200, "DELETE", "/eth/v1/keystores", map[string]any{"pubkeys": []string{pk(5)}}))
	if st2.Data[0].Status != "not_active" || st2.SlashingProtection != st.SlashingProtection {
		t.Fatalf("second delete: %+v\n%s\nwant not_active and\n%s", st2.Data, st2.SlashingProtection, st.SlashingProtection)
	}

	// Proposer overrides on validator 0.
	fr := "/eth/v1/validator/" + pk(0) + "/feerecipient"
	var frResp struct {
		Data struct{ Pubkey, Ethaddress string } `json:"data"`
	}
	_ = json.Unmarshal(c.must(t, 200, "GET", fr, nil), &frResp)
	if frResp.Data.Ethaddress != "0x"+strings.Repeat("00", 20) || frResp.Data.Pubkey != pk(0) {
		t.Fatalf("default fee recipient %+v", frResp)
	}
	c.must(t, 202, "POST", fr, map[string]string{"ethaddress": "0x00000000000000000000000000000000000000aa"})
	c.must(t, 400, "POST", fr, map[string]string{"ethaddress": "0x" + strings.Repeat("00", 20)})
	c.must(t, 400, "POST", fr, map[string]string{"ethaddress": "0x12"})
	c.must(t, 400, "POST", fr, `{"ethaddress":`)
	c.must(t, 404, "GET", "/eth/v1/validator/"+pk(7)+"/feerecipient", nil)
	c.must(t, 400, "GET", "/eth/v1/validator/0x1234/feerecipient", nil)
	gl := "/eth/v1/validator/" + pk(0) + "/gas_limit"
	c.must(t, 202, "POST", gl, map[string]string{"gas_limit": "30000000"})
	c.must(t, 400, "POST", gl, map[string]any{"gas_limit": 30000000})
	c.must(t, 400, "POST", gl, map[string]string{"gas_limit": "0"})
	gf := "/eth/v1/validator/" + pk(0) + "/graffiti"
	c.must(t, 202, "POST", gf, map[string]string{"graffiti": "km-test"})
	c.must(t, 400, "POST", gf, map[string]string{"graffiti": strings.Repeat("x", 33)})

	// A signed voluntary exit of validator 1, which the beacon node accepts (it checks the
	// signature under the EIP-7044 domain).
	var exit struct {
		Data *phase0.SignedVoluntaryExit `json:"data"`
	}
	if err := json.Unmarshal(c.must(t, 200, "POST", "/eth/v1/validator/"+pk(1)+"/voluntary_exit", nil), &exit); err != nil || exit.Data == nil {
		t.Fatalf("exit: %v", err)
	}
	if exit.Data.Message.ValidatorIndex != 1 {
		t.Fatalf("exit of validator %d, want 1", exit.Data.Message.ValidatorIndex)
	}
	if err := dial(t, url).SubmitVoluntaryExit(context.Background(), exit.Data); err != nil {
		t.Fatalf("the beacon node refused the exit: %v", err)
	}
	c.must(t, 404, "POST", "/eth/v1/validator/"+pk(5)+"/voluntary_exit", nil)
	c.must(t, 400, "POST", "/eth/v1/validator/"+pk(1)+"/voluntary_exit?epoch=x", nil)

	// Through the whole epoch after the delete, validator 5 signed nothing the beacon node saw
	// (liveness counts attestations, aggregates, blocks and sync committee messages), while
	// validator 0 did.
	waitUntil(t, node.GenesisTime().Add(time.Duration(uint64(deletedIn+2)*e)*node.SlotTime()+node.SlotTime()/2))
	live, err := dial(t, url).ValidatorLiveness(context.Background(), &api.ValidatorLivenessOpts{Epoch: deletedIn + 1, Indices: []phase0.ValidatorIndex{0, 5}})
	if err != nil || len(live.Data) != 2 {
		t.Fatalf("liveness: %v", err)
	}
	for _, l := range live.Data {
		if want := l.Index == 0; l.IsLive != want {
			t.Errorf("epoch %d after the delete: validator %d live %v, want %v", deletedIn+1, l.Index, l.IsLive, want)
		}
	}

	// Restart: the imported key is loaded again, the deleted one not; the overrides stay.
	c.stop()
	c = startKeymanaged(t, url, keyDir, dbDir, tokenFile)
	if err := json.Unmarshal(c.must(t, 200, "GET", "/eth/v1/keystores", nil), &list); err != nil || len(list.Data) != 5 {
		t.Fatalf("after a restart: %v %d keys, want 5", err, len(list.Data))
	}
	for _, k := range list.Data {
		if k.ValidatingPubkey == pk(5) {
			t.Fatal("the deleted key came back after a restart")
		}
	}
	_ = json.Unmarshal(c.must(t, 200, "GET", fr, nil), &frResp)
	var glResp, gfResp struct {
		Data map[string]string `json:"data"`
	}
	_ = json.Unmarshal(c.must(t, 200, "GET", gl, nil), &glResp)
	_ = json.Unmarshal(c.must(t, 200, "GET", gf, nil), &gfResp)
	if frResp.Data.Ethaddress != "0x00000000000000000000000000000000000000aa" || glResp.Data["gas_limit"] != "30000000" || gfResp.Data["graffiti"] != "km-test" {
		t.Fatalf("overrides after a restart: %+v %+v %+v", frResp, glResp, gfResp)
	}
	c.must(t, 204, "DELETE", fr, nil)
	c.must(t, 204, "DELETE", gl, nil)
	c.must(t, 204, "DELETE", gf, nil)
	_ = json.Unmarshal(c.must(t, 200, "GET", gl, nil), &glResp)
	if glResp.Data["gas_limit"] != fmt.Sprint(client.DefaultGasLimit) {
		t.Fatalf("gas limit after delete %+v, want the default", glResp)
	}
	c.must(t, 404, "DELETE", "/eth/v1/validator/"+pk(5)+"/graffiti", nil)
}
