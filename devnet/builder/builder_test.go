package builder

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/beacon/execution"
	"github.com/zkvlabs/zkv/mev"
	"github.com/zkvlabs/zkv/pbs"
)

func TestNewRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Relays: []string{"http://127.0.0.1:1"}}, "no beacon node"},
		{Config{Beacon: "http://127.0.0.1:1"}, "no relay"},
		{Config{Beacon: "http://127.0.0.1:1", Relays: []string{"http://127.0.0.1:1"}, NoBidShare: 1.2}, "no-bid share"},
		{Config{Beacon: "http://127.0.0.1:1", Relays: []string{"http://127.0.0.1:1"}, NoBidShare: -0.1}, "no-bid share"},
		{Config{Beacon: "http://127.0.0.1:1", Relays: []string{"http://127.0.0.1:1"}, Timeout: -time.Second}, "timeout"},
		{Config{Beacon: "http://127.0.0.1:1", Relays: []string{"http://bad host/\x7f"}}, "relay URL"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one about %q", tc.cfg, err, tc.want)
		}
	}
}

// The no-bid draw is deterministic per (seed, slot), its share follows NoBidShare, and two
// seeds skip different slots.
func TestWillBid(t *testing.T) {
	const slots = 4000
	for _, share := range []float64{0, 0.1, 0.3, 0.5, 1} {
		skipped := 0
		for s := range phase0.Slot(slots) {
			if !willBid(7, share, s) {
				skipped++
			}
			if willBid(7, share, s) != willBid(7, share, s) {
				t.Fatalf("slot %d: the draw is not deterministic", s)
			}
		}
		if got := float64(skipped) / slots; got < share-0.03 || got > share+0.03 {
			t.Errorf("share %v: %v of slots skipped", share, got)
		}
	}
	same := 0
	for s := range phase0.Slot(1000) {
		if willBid(1, 0.5, s) == willBid(2, 0.5, s) {
			same++
		}
	}
	if same > 600 || same < 400 {
		t.Errorf("seeds 1 and 2 agree on %d of 1000 slots: not independent", same)
	}
}

// Bid values stay within 100% to 149% of the base and differ between relays.
func TestValues(t *testing.T) {
	b, err := New(Config{Beacon: "http://127.0.0.1:1", Relays: []string{"http://127.0.0.1:1", "http://127.0.0.1:2"}, BaseValue: 1000})
	if err != nil {
		t.Fatal(err)
	}
	differ := 0
	for s := range phase0.Slot(100) {
		v0, v1 := b.value(s, 0), b.value(s, 1)
		for _, v := range []uint64{v0.Uint64(), v1.Uint64()} {
			if v < 1000 || v > 1490 {
				t.Fatalf("slot %d: value %d outside 1000-1490", s, v)
			}
		}
		if !v0.Eq(v1) {
			differ++
		}
	}
	if differ < 80 {
		t.Errorf("relays got different values in only %d of 100 slots", differ)
	}
}

// A builder against the devnet beacon node and a zkv relay on loopback: once the validators
// have registered (through the node, which forwards to the relay), it submits a bid for the
// slots it does not skip, the relay accepts them (its data API lists them under the builder's
// key, for the slot's registered proposer and fee recipient), and it skips the others.
func TestBuilderBidsAtRelay(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	relaySK, err := bls.GenerateSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	relayPK := relaySK.PublicKey().Bytes()
	relayLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	node, err := beacon.New(ctx, beacon.Config{Validators: 8, SlotTime: time.Second, GenesisDelay: 2 * time.Second,
		BuilderURL: fmt.Sprintf("http://%#x@%s", relayPK, relayLn.Addr())})
	if err != nil {
		t.Fatal(err)
	}
	nodeLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nodeURL := "http://" + nodeLn.Addr().String()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		if err := node.Run(ctx, nodeLn); err != nil {
			t.Errorf("node: %v", err)
		}
	})
	d, err := db.Open(db.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	bc, err := mev.NewBeaconClient(ctx, []string{nodeURL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	relay, err := mev.New(ctx, mev.Config{SecretKey: relaySK, Beacon: bc, Store: mev.NewBadgerStore(d), BlockHasher: execution.BlockHash,
		Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	relayDone := make(chan struct{})
	wg.Go(func() {
		defer close(relayDone)
		if err := relay.Run(ctx, relayLn); err != nil {
			t.Errorf("relay: %v", err)
		}
	})
	defer func() { cancel(); <-relayDone; d.Close() }()
	select {
	case <-relay.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("relay did not connect to the node's events")
	}

	// Every validator registers through the node (builder domain, devnet genesis fork).
	var regs []*builderapiv1.SignedValidatorRegistration
	for i, v := range node.Genesis().Validators {
		m := &builderapiv1.ValidatorRegistration{FeeRecipient: bellatrix.ExecutionAddress{0xfe, byte(i)}, GasLimit: 36_000_000,
			Timestamp: time.Now(), Pubkey: v.Pubkey}
		sig, err := pbs.Sign(node.Genesis().Secrets[i], m, pbs.BuilderDomain(beacon.GenesisForkVersion))
		if err != nil {
			t.Fatal(err)
		}
		regs = append(regs, &builderapiv1.SignedValidatorRegistration{Message: m, Signature: sig})
	}
	body, _ := json.Marshal(regs)
	resp, err := http.Post(nodeURL+"/eth/v1/validator/register_validator", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("register_validator: %s", resp.Status)
	}

	b, err := New(Config{Name: "b", Beacon: nodeURL, Relays: []string{fmt.Sprintf("http://%#x@%s", relayPK, relayLn.Addr())}, NoBidShare: 0.4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	bDone := make(chan error, 1)
	go func() { bDone <- b.Run(ctx) }()

	// Wait for four slots with attributes (no blocks are proposed: every bid is on genesis).
	deadline := time.Now().Add(60 * time.Second)
	for b.Stats().Slots < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("builder saw %d slots in a minute: %+v", b.Stats().Slots, b.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-bDone; err != nil {
		t.Fatalf("builder Run: %v", err)
	}
	st := b.Stats()
	if st.Refused != 0 || st.Bids == 0 || st.Skipped == 0 || st.Bids+st.Skipped < st.Slots-1 {
		t.Errorf("stats %+v: want bids and skipped slots, nothing refused", st)
	}
	pk := b.Pubkey()
	for s := phase0.Slot(0); s < 12; s++ {
		bids := b.Bids(s)
		if !b.WillBid(s) && len(bids) > 0 {
			t.Errorf("slot %d: %d bids on a slot it skips", s, len(bids))
		}
		for _, bid := range bids {
			recs, err := relay.BlocksReceived(context.Background(), map[string][]string{"slot": {fmt.Sprint(s)}})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range recs {
				if r.BlockHash == bid.BlockHash.String() && r.BuilderPubkey == pk.String() && r.Value == bid.Value.Dec() {
					found = true
					if !strings.HasPrefix(r.ProposerFeeRecipient, "0xfe") {
						t.Errorf("slot %d: fee recipient %s, not a registered one", s, r.ProposerFeeRecipient)
					}
				}
			}
			if !found {
				t.Errorf("slot %d: the relay has no record of bid %s", s, bid.BlockHash)
			}
		}
	}
}
