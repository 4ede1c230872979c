package beacon_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/beacon/beacontest"
)

// clock is a settable time source: tests move the node from slot to slot without waiting.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

var genesisTime = time.Unix(1_800_000_000, 0)

type testNet struct {
	node   *beacon.Node
	url    string
	clock  *clock
	client beacontest.Client
	signer *beacontest.Signer
}

// newTestNet starts a node with n validators on 127.0.0.1 (its Handler behind httptest, the clock
// at genesis) and a signer holding every key.
func newTestNet(t *testing.T, n int, mod func(*beacon.Config)) *testNet {
	t.Helper()
	ck := &clock{now: genesisTime}
	cfg := beacon.Config{Validators: n, GenesisTime: genesisTime, SlotTime: 2 * time.Second, Now: ck.Now}
	if mod != nil {
		mod(&cfg)
	}
	node, err := beacon.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(node.Close) // no Run to close it
	srv := httptest.NewServer(node.Handler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := beacontest.Dial(ctx, srv.URL)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	secrets := map[phase0.ValidatorIndex]*bls.SecretKey{}
	for i, sk := range node.Genesis().Secrets {
		secrets[phase0.ValidatorIndex(i)] = sk
	}
	s, err := beacontest.New(ctx, c, secrets)
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	return &testNet{node: node, url: srv.URL, clock: ck, client: c, signer: s}
}

// at moves the clock to a point inside slot (frac of the slot elapsed).
func (tn *testNet) at(slot phase0.Slot, frac float64) {
	st := tn.node.SlotTime()
	tn.clock.Set(genesisTime.Add(time.Duration(slot)*st + time.Duration(frac*float64(st))))
}
