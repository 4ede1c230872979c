package pbs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"

	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	builderelectra "github.com/attestantio/go-builder-client/api/electra"
	builderspec "github.com/attestantio/go-builder-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/zkvlabs/zkv/pbs"
)

// statusOf calls the boost's status route and decodes its body.
func statusOf(t *testing.T, url string) (int, []pbs.RelayHealth) {
	t.Helper()
	resp, err := http.Get(url + "/eth/v1/builder/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Relays []pbs.RelayHealth `json:"relays"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body.Relays
}

// A relay is down until it first answers and after DownAfter failed calls in a row (getHeader
// calls included); status answers 200 while one relay is up (mev-boost's rule), 503 when none is.
func TestBoostRelayHealth(t *testing.T) {
	parent := phase0.Hash32{7}
	good := newHeaderRelay(t, "good", 5, parent, 100, 1)
	flaky := newHeaderRelay(t, "good", 5, parent, 90, 2)
	reg := prometheus.NewRegistry()
	b, err := pbs.NewBoost(t.Context(), pbs.BoostConfig{Relays: []pbs.RelayEntry{good.entry, flaky.entry}, GenesisForkVersion: testFork,
		DownAfter: 2, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(srv.Close)
	up := func(hs []pbs.RelayHealth) []bool {
		var out []bool
		for _, h := range hs {
			out = append(out, h.Up)
		}
		return out
	}
	if code, hs := statusOf(t, srv.URL); code != http.StatusOK || len(hs) != 2 || !hs[0].Up || !hs[1].Up {
		t.Fatalf("both relays answer: %d %v", code, up(hs))
	}
	// The flaky relay fails two getHeaders: down, the status still 200.
	flaky.mode.Store("error")
	for range 2 {
		if _, err := b.GetHeader(context.Background(), 5, parent, phase0.BLSPubKey{}); err != nil {
			t.Fatal(err)
		}
	}
	if v := gauge(t, reg, "zkv_boost_relay_up", flaky.entry.URL); v != 0 {
		t.Fatalf("zkv_boost_relay_up of the failing relay: %v", v)
	}
	good.mode.Store("error")
	code, hs := statusOf(t, srv.URL)
	if code != http.StatusOK || !hs[0].Up || hs[1].Up || hs[1].Failures != 3 || !strings.Contains(hs[1].LastError, "500") {
		// The good relay failed one call (this status), the flaky one three.
		t.Fatalf("one relay down: %d %+v", code, hs)
	}
	if code, _ := statusOf(t, srv.URL); code != http.StatusServiceUnavailable {
		t.Fatalf("both relays down: %d, want 503", code)
	}
	// One answer brings a relay back.
	flaky.mode.Store("good")
	if code, hs := statusOf(t, srv.URL); code != http.StatusOK || !hs[1].Up || hs[1].Failures != 0 {
		t.Fatalf("the flaky relay is back: %d %+v", code, hs)
	}
	if v := gauge(t, reg, "zkv_boost_relay_up", flaky.entry.URL); v != 1 {
		t.Fatalf("zkv_boost_relay_up after recovery: %v", v)
	}
}

// A relay that never answered is down: status fails with no relay reachable.
func TestBoostStatusNoRelayEverUp(t *testing.T) {
	r := newHeaderRelay(t, "error", 5, phase0.Hash32{}, 1, 1)
	b, err := pbs.NewBoost(t.Context(), pbs.BoostConfig{Relays: []pbs.RelayEntry{r.entry}, GenesisForkVersion: testFork})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Status(context.Background()); err == nil {
		t.Fatal("status OK with no relay up")
	}
}

// The metrics carry mev-boost's names and labels where they mean the same, and say which path
// answered getHeader.
func TestBoostMetrics(t *testing.T) {
	parent := phase0.Hash32{7}
	r := newHeaderRelay(t, "good", 5, parent, 2_000_000_000_000_000_000, 1)
	none := newHeaderRelay(t, "none", 5, parent, 1, 2)
	reg := prometheus.NewRegistry()
	b, err := pbs.NewBoost(t.Context(), pbs.BoostConfig{Relays: []pbs.RelayEntry{r.entry, none.entry}, GenesisForkVersion: testFork, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/eth/v1/builder/header/5/0x" + strings.Repeat("07", 1) + strings.Repeat("00", 31) + "/0x" + strings.Repeat("00", 48))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("getHeader: %v %v", resp, err)
	}
	resp.Body.Close()
	host := strings.TrimPrefix(r.entry.URL, "http://")
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"mev_boost_relay_latency", map[string]string{"endpoint": "/eth/v1/builder/header/{slot}/{parent_hash}/{pubkey}", "relay": host}},
		{"mev_boost_relay_status_code_total", map[string]string{"http_status_code": "200", "relay": host}},
		{"mev_boost_relay_status_code_total", map[string]string{"http_status_code": "204", "relay": strings.TrimPrefix(none.entry.URL, "http://")}},
		{"mev_boost_beacon_node_status_code_total", map[string]string{"http_status_code": "200", "endpoint": "/eth/v1/builder/header/{slot}/{parent_hash}/{pubkey}"}},
		{"mev_boost_bid_values", map[string]string{"relay": host}},
		{"mev_boost_winning_bid_value", nil},
		{"mev_boost_relay_last_slot", map[string]string{"relay": host}},
		{"zkv_boost_get_header_relay_answers_total", map[string]string{"relay": host, "path": "http", "result": "bid"}},
		{"zkv_boost_get_header_total", map[string]string{"result": "bid"}},
	} {
		if !hasSeries(t, reg, c.name, c.labels) {
			t.Errorf("no %s%v", c.name, c.labels)
		}
	}
	if v := gauge(t, reg, "mev_boost_relay_last_slot", r.entry.URL); v != 5 {
		t.Errorf("mev_boost_relay_last_slot %v, want 5", v)
	}
	if _, err := pbs.NewBoost(t.Context(), pbs.BoostConfig{Relays: []pbs.RelayEntry{r.entry}, Registerer: reg}); err == nil {
		t.Error("a second boost registered the same metrics")
	}
	// /metrics is served when the registerer gathers.
	resp, err = http.Get(srv.URL + "/metrics")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %v %v", resp, err)
	}
	resp.Body.Close()
}

func hasSeries(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) bool {
	t.Helper()
	return findSeries(t, g, name, labels) != nil
}

func findSeries(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			return m
		}
	}
	return nil
}

// gauge is the value of a per-relay gauge (relay label: the URL's host).
func gauge(t *testing.T, g prometheus.Gatherer, name, relayURL string) float64 {
	t.Helper()
	m := findSeries(t, g, name, map[string]string{"relay": strings.TrimPrefix(relayURL, "http://")})
	if m == nil {
		t.Fatalf("no %s for %s", name, relayURL)
		return -1
	}
	return m.GetGauge().GetValue()
}

// One log line per getHeader says how many relays answered, failed and timed out; the metrics
// count the relay cut off at the soft deadline as timed out. (The soft deadline is long enough
// for the three quick relays to answer on a loaded machine.)
func TestBoostGetHeaderLogLine(t *testing.T) {
	parent := phase0.Hash32{7}
	good := newHeaderRelay(t, "good", 5, parent, 100, 1)
	bad := newHeaderRelay(t, "error", 5, parent, 100, 2)
	none := newHeaderRelay(t, "none", 5, parent, 100, 3)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(slow.Close)
	slowEntry := good.entry
	slowEntry.URL = slow.URL
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	b, err := pbs.NewBoost(t.Context(), pbs.BoostConfig{Relays: []pbs.RelayEntry{good.entry, bad.entry, none.entry, slowEntry},
		GenesisForkVersion: testFork, HeaderSoft: time.Second, HeaderHard: 20 * time.Second, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetHeader(context.Background(), 5, parent, phase0.BLSPubKey{}); err != nil {
		t.Fatal(err)
	}
	var line string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "msg=getHeader ") {
			if line != "" {
				t.Fatalf("two getHeader lines:\n%s", logs.String())
			}
			line = l
		}
	}
	for _, want := range []string{"relays=4", "bids=1", "no_bid=1", "failed=1", "timed_out=1", "quic=0"} {
		if !strings.Contains(line, want) {
			t.Errorf("getHeader log line lacks %s: %s", want, line)
		}
	}
	if !hasSeries(t, reg, "zkv_boost_get_header_relay_answers_total", map[string]string{"relay": strings.TrimPrefix(slow.URL, "http://"), "result": "timed_out"}) {
		t.Error("the slow relay is not counted as timed out")
	}
}

// The boost remembers the encodings of the bids it serves: repeated getHeaders in JSON and SSZ
// return the relay's signed bid unchanged, and a new bid from the relay is served, not the old.
func TestBoostEncodedBids(t *testing.T) {
	parent := phase0.Hash32{7}
	r := newHeaderRelay(t, "good", 5, parent, 100, 1)
	b, err := pbs.NewBoost(t.Context(), pbs.BoostConfig{Relays: []pbs.RelayEntry{r.entry}, GenesisForkVersion: testFork})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(srv.Close)
	get := func(accept string) []byte {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/eth/v1/builder/header/5/0x07"+strings.Repeat("00", 31)+"/0x"+strings.Repeat("00", 48), nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("getHeader: %v %v", resp, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return body
	}
	for round := range 2 {
		r.mu.Lock()
		want, _ := r.bid.Electra.HashTreeRoot()
		r.mu.Unlock()
		for range 2 {
			var fromJSON builderspec.VersionedSignedBuilderBid
			if err := fromJSON.UnmarshalJSON(get(pbs.MediaJSON)); err != nil {
				t.Fatal(err)
			}
			var fromSSZ builderelectra.SignedBuilderBid
			if err := fromSSZ.UnmarshalSSZ(get(pbs.MediaSSZ)); err != nil {
				t.Fatal(err)
			}
			rj, _ := fromJSON.Electra.HashTreeRoot()
			rs, _ := fromSSZ.HashTreeRoot()
			if rj != want || rs != want {
				t.Fatalf("round %d: served bids %x (JSON) %x (SSZ), the relay's is %x", round, rj, rs, want)
			}
		}
		r.mu.Lock()
		r.bid = r.sign(t, 5, parent, 200, 2)
		r.mu.Unlock()
	}
}
