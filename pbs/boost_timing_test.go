package pbs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	builderelectra "github.com/attestantio/go-builder-client/api/electra"
	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	builderspec "github.com/attestantio/go-builder-client/spec"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/pbs"
)

// testGenesis and testSlotTime place the slots of these tests; a bid for slot s carries the
// execution timestamp of its start.
var testGenesis = time.Unix(1_700_000_000, 0)

const testSlotTime = 12 * time.Second

// headerRelay is a relay fake that records what the boost sends: getHeader calls with their
// headers, registrations by validator, status calls. Its mode is "good" (a bid), "none" (204)
// or "error" (500 on every route). It answers SSZ when asked for it, JSON otherwise.
type headerRelay struct {
	srv   *httptest.Server
	entry pbs.RelayEntry
	sk    *bls.SecretKey
	mode  atomic.Value // string

	mu         sync.Mutex
	bid        *builderspec.VersionedSignedBuilderBid
	headers    []http.Header
	registered map[phase0.BLSPubKey]bool
	status     int
}

func newHeaderRelay(t *testing.T, mode string, slot phase0.Slot, parent phase0.Hash32, value uint64, blockHash byte) *headerRelay {
	t.Helper()
	sk, pk := key(t)
	f := &headerRelay{sk: sk, registered: map[phase0.BLSPubKey]bool{}}
	f.mode.Store(mode)
	f.bid = f.sign(t, slot, parent, value, blockHash)
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	e, err := pbs.ParseRelayURL(fmt.Sprintf("http://%#x@%s", pk[:], strings.TrimPrefix(f.srv.URL, "http://")))
	if err != nil {
		t.Fatal(err)
	}
	f.entry = e
	return f
}

// sign makes the relay's signed bid for (slot, parent).
func (f *headerRelay) sign(t testing.TB, slot phase0.Slot, parent phase0.Hash32, value uint64, blockHash byte) *builderspec.VersionedSignedBuilderBid {
	return signedTestBid(t, f.sk, slot, parent, value, blockHash)
}

func signedTestBid(t testing.TB, sk *bls.SecretKey, slot phase0.Slot, parent phase0.Hash32, value uint64, blockHash byte) *builderspec.VersionedSignedBuilderBid {
	t.Helper()
	p := testPayload()
	p.ParentHash, p.BlockHash = parent, phase0.Hash32{blockHash}
	p.Timestamp = uint64(testGenesis.Add(time.Duration(slot) * testSlotTime).Unix())
	h, err := pbs.HeaderOf(p)
	if err != nil {
		t.Fatal(err)
	}
	m := &builderelectra.BuilderBid{Header: h, BlobKZGCommitments: []deneb.KZGCommitment{}, ExecutionRequests: &electra.ExecutionRequests{},
		Value: uint256.NewInt(value), Pubkey: phase0.BLSPubKey(sk.PublicKey().Bytes())}
	sig, err := pbs.Sign(sk, m, pbs.BuilderDomain(testFork))
	if err != nil {
		t.Fatal(err)
	}
	return &builderspec.VersionedSignedBuilderBid{Version: spec.DataVersionElectra, Electra: &builderelectra.SignedBuilderBid{Message: m, Signature: sig}}
}

func (f *headerRelay) serve(w http.ResponseWriter, r *http.Request) {
	mode := f.mode.Load().(string)
	if mode == "error" {
		http.Error(w, `{"code":500,"message":"down"}`, http.StatusInternalServerError)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.URL.Path == "/eth/v1/builder/status":
		f.status++
	case r.URL.Path == "/eth/v1/builder/validators":
		var regs []*builderapiv1.SignedValidatorRegistration
		if err := json.NewDecoder(r.Body).Decode(&regs); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, reg := range regs {
			f.registered[reg.Message.Pubkey] = true
		}
	case strings.HasPrefix(r.URL.Path, "/eth/v1/builder/header/"):
		f.headers = append(f.headers, r.Header.Clone())
		if mode == "none" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		var body []byte
		if media, _ := pbs.Negotiate(r.Header.Get("Accept"), pbs.MediaJSON, pbs.MediaSSZ); media == pbs.MediaSSZ {
			body, _ = f.bid.Electra.MarshalSSZ()
			w.Header().Set("Content-Type", pbs.MediaSSZ)
		} else {
			body, _ = f.bid.MarshalJSON()
			w.Header().Set("Content-Type", pbs.MediaJSON)
		}
		w.Header().Set(pbs.VersionHeader, "electra")
		_, _ = w.Write(body)
	default:
		http.NotFound(w, r)
	}
}

func (f *headerRelay) headerCalls() []http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]http.Header(nil), f.headers...)
}

func (f *headerRelay) isRegistered(pk phase0.BLSPubKey) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.registered[pk]
}

// fixedClock is a settable clock for BoostConfig.Now.
type fixedClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fixedClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fixedClock) at(slot phase0.Slot, into time.Duration) {
	c.mu.Lock()
	c.now = testGenesis.Add(time.Duration(slot)*testSlotTime + into)
	c.mu.Unlock()
}

// Timing as mev-boost: past LateInSlot into the slot the boost answers 204 without asking any
// relay; earlier, the relays get the time left until then (X-Timeout-Ms) and the request's
// send time (Date-Milliseconds); a caller's X-Timeout-Ms shortens the budget further.
func TestBoostTiming(t *testing.T) {
	parent := phase0.Hash32{7}
	r := newHeaderRelay(t, "good", 5, parent, 100, 1)
	clock := &fixedClock{}
	b, err := pbs.NewBoost(t.Context(), pbs.BoostConfig{Relays: []pbs.RelayEntry{r.entry}, GenesisForkVersion: testFork,
		GenesisTime: testGenesis, SlotDuration: testSlotTime, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(srv.Close)
	get := func(timeoutMs string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/eth/v1/builder/header/5/%#x/%#x", srv.URL, parent[:], make([]byte, 48)), nil)
		if timeoutMs != "" {
			req.Header.Set(pbs.HeaderTimeoutMs, timeoutMs)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	lastTimeout := func() (int64, int64) {
		t.Helper()
		h := r.headerCalls()
		if len(h) == 0 {
			t.Fatal("the relay was not asked")
		}
		last := h[len(h)-1]
		ms, err1 := strconv.ParseInt(last.Get(pbs.HeaderTimeoutMs), 10, 64)
		date, err2 := strconv.ParseInt(last.Get(pbs.HeaderDateMilliseconds), 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("relay got %s %q and %s %q", pbs.HeaderTimeoutMs, last.Get(pbs.HeaderTimeoutMs), pbs.HeaderDateMilliseconds, last.Get(pbs.HeaderDateMilliseconds))
		}
		return ms, date
	}

	// 2.5 s into the slot: too late, nobody asked.
	clock.at(5, 2500*time.Millisecond)
	if code := get(""); code != http.StatusNoContent {
		t.Fatalf("late in the slot: %d, want 204", code)
	}
	if _, err := b.GetHeader(context.Background(), 5, parent, phase0.BLSPubKey{}); !errors.Is(err, pbs.ErrLateInSlot) || !errors.Is(err, pbs.ErrNoBid) {
		t.Fatalf("late in the slot: %v, want ErrLateInSlot", err)
	}
	if n := len(r.headerCalls()); n != 0 {
		t.Fatalf("a relay was asked %d times after the cut-off", n)
	}

	// At the slot's start: the whole 950 ms.
	clock.at(5, 0)
	if code := get(""); code != http.StatusOK {
		t.Fatalf("at the slot's start: %d", code)
	}
	ms, date := lastTimeout()
	if ms > 950 || ms < 900 {
		t.Fatalf("X-Timeout-Ms %d at the slot's start, want about 950", ms)
	}
	if want := clock.Now().UnixMilli(); date != want {
		t.Fatalf("Date-Milliseconds %d, want %d", date, want)
	}

	// 1.8 s in: only the 200 ms left before the cut-off.
	clock.at(5, 1800*time.Millisecond)
	if code := get(""); code != http.StatusOK {
		t.Fatalf("1.8 s into the slot: %d", code)
	}
	if ms, _ := lastTimeout(); ms > 200 || ms <= 0 {
		t.Fatalf("X-Timeout-Ms %d at 1.8 s into the slot, want at most the 200 ms left", ms)
	}

	// The caller's own budget, when lower.
	clock.at(5, 0)
	if code := get("900"); code != http.StatusOK {
		t.Fatalf("X-Timeout-Ms 900: %d", code)
	}
	if ms, _ := lastTimeout(); ms > 900 || ms <= 0 {
		t.Fatalf("X-Timeout-Ms %d forwarded for a caller's 900", ms)
	}
	if code := get("5000"); code != http.StatusOK {
		t.Fatal("X-Timeout-Ms 5000")
	}
	if ms, _ := lastTimeout(); ms > 950 {
		t.Fatalf("X-Timeout-Ms %d forwarded for a caller's 5000: the boost's own 950 ms bound it", ms)
	}
}

// Without a genesis there is no cut-off: any time is early enough.
func TestBoostNoGenesisNoCutoff(t *testing.T) {
	parent := phase0.Hash32{7}
	r := newHeaderRelay(t, "good", 5, parent, 100, 1)
	clock := &fixedClock{}
	clock.at(5, 11*time.Second)
	b, err := pbs.NewBoost(t.Context(), pbs.BoostConfig{Relays: []pbs.RelayEntry{r.entry}, GenesisForkVersion: testFork, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetHeader(context.Background(), 5, parent, phase0.BLSPubKey{}); err != nil {
		t.Fatal(err)
	}
}
