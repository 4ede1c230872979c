package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/api"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/rs/zerolog"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/keys"
	"github.com/zkvlabs/zkv/validator/signer"
	"github.com/zkvlabs/zkv/validator/slashing"
)

// devnet starts a devnet beacon node with n validators and 1-second slots on 127.0.0.1, its
// keystores written to a temporary directory.
// slotTime is the devnet's slot: one second, two under the race detector.
func slotTime() time.Duration {
	if raceEnabled {
		return 2 * time.Second
	}
	return time.Second
}

func devnet(t *testing.T, n int) (*beacon.Node, string, string) {
	t.Helper()
	return devnetWith(t, beacon.Config{Validators: n, SlotTime: slotTime(), GenesisDelay: 2 * time.Second, KeystoreDir: t.TempDir()})
}

func devnetWith(t *testing.T, cfg beacon.Config) (*beacon.Node, string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	node, err := beacon.New(ctx, cfg)
	if err != nil {
		t.Fatalf("beacon.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := node.Run(ctx, ln); err != nil {
			t.Errorf("beacon node: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	dir, _ := node.Keystores()
	return node, "http://" + ln.Addr().String(), dir
}

// reports collects the validator's duty reports.
type reports struct {
	mu   sync.Mutex
	list []client.Report
}

func (r *reports) add(x client.Report) { r.mu.Lock(); r.list = append(r.list, x); r.mu.Unlock() }
func (r *reports) all() []client.Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]client.Report(nil), r.list...)
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() || os.Getenv("ZKV_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// startValidator runs a validator client over keyDir until the returned stop is called; stop
// waits for Run to return.
func startValidator(t *testing.T, url, keyDir, dbDir string, rep *reports, grace time.Duration) (stop func()) {
	t.Helper()
	stop, _ = startValidatorWith(t, url, keyDir, dbDir, rep, client.WithShutdownGrace(grace), client.WithDoppelganger(0))
	return stop
}

// startValidatorWith runs a validator client with extra options; done receives Run's result
// (stop reports an error Run returned).
func startValidatorWith(t *testing.T, url, keyDir, dbDir string, rep *reports, opts ...client.Option) (stop func(), done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	opts = append([]client.Option{client.WithBeaconNode(url), client.WithKeystores(keyDir, beacon.DefaultKeystorePassword),
		client.WithKDFLimits(keys.InsecureKDFLimits), client.WithDatabase(dbDir), client.WithReports(rep.add),
		client.WithLogger(testLogger(t).With("run", filepath.Base(dbDir)))}, opts...)
	svc, err := client.New(ctx, opts...)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	result := make(chan error, 1)
	go func() { result <- svc.Run(ctx) }()
	out := make(chan error, 1)
	var once sync.Once
	var runErr error
	finished := make(chan struct{})
	go func() { runErr = <-result; close(finished); out <- runErr }()
	stop = func() {
		once.Do(func() {
			cancel()
			<-finished
			if runErr != nil && !errors.Is(runErr, client.ErrDoppelganger) {
				t.Errorf("validator Run: %v", runErr)
			}
		})
	}
	t.Cleanup(stop)
	return stop, out
}

// keySubset copies the keystores of validators [from, to) of the devnet into a new directory.
func keySubset(t *testing.T, keyDir string, from, to int) string {
	t.Helper()
	dir := t.TempDir()
	for i := from; i < to; i++ {
		m, err := filepath.Glob(filepath.Join(keyDir, fmt.Sprintf("keystore-m_12381_3600_%d_0_0-*.json", i)))
		if err != nil || len(m) != 1 {
			t.Fatalf("keystore of validator %d: %v %v", i, m, err)
		}
		b, err := os.ReadFile(m[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(m[0])), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dial connects go-eth2-client to the node, as the test's independent observer.
func dial(t *testing.T, url string) *eth2http.Service {
	t.Helper()
	svc, err := eth2http.New(context.Background(), eth2http.WithAddress(url), eth2http.WithLogLevel(zerolog.Disabled))
	if err != nil {
		t.Fatal(err)
	}
	return svc.(*eth2http.Service)
}

func waitUntil(t *testing.T, at time.Time) {
	t.Helper()
	time.Sleep(time.Until(at))
}

// The first test: 32 validators from the devnet keystores do every duty for four epochs
// against the devnet beacon node, which checks every signature, committee and slashing
// condition; the client is stopped abruptly in the middle of epoch 1 (no grace: in-flight work is
// abandoned, the database closed and reopened) and restarted. The chain must justify and
// finalize (epoch 2 finalizes at the end of epoch 3), every slot must have a block, nothing may
// be refused as slashable, and duties must resume within one slot of the restart.
func TestValidatorOnDevnet(t *testing.T) {
	const validators = 32
	node, url, keyDir := devnet(t, validators)
	dbDir := t.TempDir()
	spe := node.Preset().SlotsPerEpoch
	slotStart := func(s phase0.Slot) time.Time { return node.GenesisTime().Add(time.Duration(s) * node.SlotTime()) }

	var rep reports
	stop := startValidator(t, url, keyDir, dbDir, &rep, 0)

	// Kill in the middle of slot 13 (epoch 1), after its block and attestations.
	const killSlot = 13
	waitUntil(t, slotStart(killSlot).Add(slotTime()*7/10))
	stop()
	killedAt := node.CurrentSlot()
	var rep2 reports
	startValidator(t, url, keyDir, dbDir, &rep2, 5*time.Second)

	end := phase0.Slot(4 * spe) // the first slot of epoch 4: epoch 3 is processed
	waitUntil(t, slotStart(end).Add(300*time.Millisecond))

	ctx := context.Background()
	c := dial(t, url)

	// Every slot 1..end-1 has a block, but for those of the restart when it took longer than
	// the rest of the slot (the next slot's proposer may be the restarting client).
	for s := phase0.Slot(1); s < end; s++ {
		h, err := c.BeaconBlockHeader(ctx, &api.BeaconBlockHeaderOpts{Block: fmt.Sprint(s)})
		if err != nil || h.Data == nil || h.Data.Header.Message.Slot != s {
			if s > killSlot && s <= killedAt+1 {
				t.Logf("slot %d has no block: the restart took until slot %d", s, killedAt)
				continue
			}
			t.Errorf("slot %d has no block: %v", s, err)
		}
	}
	fin, err := c.Finality(ctx, &api.FinalityOpts{State: "head"})
	if err != nil {
		t.Fatal(err)
	}
	if fin.Data.Justified.Epoch != 3 || fin.Data.Finalized.Epoch != 2 {
		t.Errorf("after four epochs: justified %d finalized %d, want 3 and 2", fin.Data.Justified.Epoch, fin.Data.Finalized.Epoch)
	}

	// Nothing refused as slashable, by slashing protection or by the node; every duty done
	// except possibly the repeats of the slot that was interrupted.
	kinds := map[string]int{}
	firstAfter := phase0.Slot(1<<63 - 1)
	for i, list := range [][]client.Report{rep.all(), rep2.all()} {
		for _, r := range list {
			if r.Err != nil && (errors.Is(r.Err, slashing.ErrSlashable) || strings.Contains(strings.ToLower(r.Err.Error()), "slashable")) {
				t.Errorf("run %d slot %d %s: slashable: %v", i+1, r.Slot, r.Kind, r.Err)
			}
			if r.Slot >= end {
				continue
			}
			interrupted := r.Slot >= killSlot && r.Slot <= killedAt+1
			if (r.Failed > 0 || r.Err != nil) && !interrupted {
				t.Errorf("run %d slot %d %s: %d failed: %v", i+1, r.Slot, r.Kind, r.Failed, r.Err)
			}
			kinds[r.Kind] += r.Done
			if i == 1 && r.Kind == "attestation" && r.Done > 0 && r.Slot < firstAfter {
				firstAfter = r.Slot
			}
		}
	}
	if firstAfter > killedAt+1 {
		t.Errorf("after the restart in slot %d the first attestations came in slot %d, want within one slot", killedAt, firstAfter)
	}
	// Every validator attests once an epoch: 4 epochs x 32, less at most the interrupted slot's.
	if kinds["attestation"] < 4*validators-validators/int(spe) {
		t.Errorf("%d attestations, want about %d", kinds["attestation"], 4*validators)
	}
	for _, k := range []string{"proposal", "aggregate", "sync_message", "contribution"} {
		if kinds[k] == 0 {
			t.Errorf("no %s duty was done", k)
		}
	}
	t.Logf("done: %v; restart in slot %d, first attestations after it in slot %d", kinds, killedAt, firstAfter)
}

// The signer's domains agree with go-eth2-client's own Domain computation (which reads the
// node's fork schedule and genesis) for every domain type, and with its GenesisDomain for the
// builder domain.
func TestDomainsAgreeWithGoEth2Client(t *testing.T) {
	fulu := phase0.Epoch(3)
	_, url, _ := devnetWith(t, beacon.Config{Validators: 4, SlotTime: time.Second, FuluEpoch: &fulu})
	ctx := context.Background()
	c := dial(t, url)
	sp, err := c.Spec(ctx, &api.SpecOpts{})
	if err != nil {
		t.Fatal(err)
	}
	gen, err := c.Genesis(ctx, &api.GenesisOpts{})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := c.ForkSchedule(ctx, &api.ForkScheduleOpts{})
	if err != nil {
		t.Fatal(err)
	}
	var forks []signer.Fork
	for _, f := range fs.Data {
		forks = append(forks, signer.Fork{Epoch: f.Epoch, Version: f.CurrentVersion})
	}
	n, err := signer.NewNetwork(signer.NetworkConfig{GenesisValidatorsRoot: gen.Data.GenesisValidatorsRoot,
		GenesisForkVersion: sp.Data["GENESIS_FORK_VERSION"].(phase0.Version), CapellaForkVersion: sp.Data["CAPELLA_FORK_VERSION"].(phase0.Version),
		SlotsPerEpoch: sp.Data["SLOTS_PER_EPOCH"].(uint64), Forks: forks})
	if err != nil {
		t.Fatal(err)
	}
	types := []phase0.DomainType{signer.DomainBeaconProposer, signer.DomainBeaconAttester, signer.DomainRandao,
		signer.DomainDeposit, signer.DomainVoluntaryExit, signer.DomainSelectionProof, signer.DomainAggregateAndProof,
		signer.DomainSyncCommittee, signer.DomainSyncCommitteeSelectionProof, signer.DomainContributionAndProof}
	checked := 0
	for _, dt := range types {
		for _, e := range []phase0.Epoch{0, 1, 2, 3, 4, 100} {
			want, err := c.Domain(ctx, dt, e)
			if err != nil {
				t.Fatal(err)
			}
			if got := n.Domain(dt, e); got != want {
				t.Errorf("domain %#x at epoch %d: %#x, go-eth2-client %#x", dt, e, got, want)
			}
			checked++
		}
	}
	if n.Domain(signer.DomainRandao, 2) == n.Domain(signer.DomainRandao, 3) {
		t.Error("the Fulu fork at epoch 3 did not change the domain")
	}
	want, err := c.GenesisDomain(ctx, signer.DomainApplicationBuilder)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.BuilderDomain(); got != want {
		t.Errorf("builder domain %#x, go-eth2-client %#x", got, want)
	}
	t.Logf("%d domains agree", checked+1)
}

// Doppelganger protection: client A runs validators 0-23 from genesis; client B starts in epoch 1
// with keys 0-7 (A's) and a one-epoch watch: it must refuse to sign and name the validators.
// Client C runs validators 24-31, is stopped abruptly in the last slot of epoch 1 and restarted
// with the watch: its own messages from before the restart must not look like a doppelganger,
// and it signs again from the first slot after the watch.
func TestDoppelganger(t *testing.T) {
	node, url, keyDir := devnet(t, 32)
	spe := node.Preset().SlotsPerEpoch
	slotStart := func(s phase0.Slot) time.Time { return node.GenesisTime().Add(time.Duration(s) * node.SlotTime()) }

	var repA, repB, repC, repC2 reports
	startValidator(t, url, keySubset(t, keyDir, 0, 24), t.TempDir(), &repA, time.Second)
	cKeys, cDB := keySubset(t, keyDir, 24, 32), t.TempDir()
	stopC := startValidator(t, url, cKeys, cDB, &repC, 0)

	waitUntil(t, slotStart(phase0.Slot(spe)+1))
	_, doneB := startValidatorWith(t, url, keySubset(t, keyDir, 0, 8), t.TempDir(), &repB, client.WithDoppelganger(1))

	// C: stop in the last slot of epoch 1, after its attestations, and restart with the watch.
	waitUntil(t, slotStart(phase0.Slot(2*spe)-1).Add(slotTime()*6/10))
	stopC()
	_, doneC2 := startValidatorWith(t, url, cKeys, cDB, &repC2, client.WithDoppelganger(1))

	select {
	case err := <-doneB:
		var de *client.DoppelgangerError
		if !errors.As(err, &de) || len(de.Indices) == 0 {
			t.Fatalf("client B with A's keys: Run returned %v, want a DoppelgangerError", err)
		}
		for _, i := range de.Indices {
			if i >= 8 {
				t.Errorf("doppelganger error names validator %d, not one of B's", i)
			}
		}
		t.Logf("client B refused: %v", err)
	case <-time.After(time.Until(slotStart(phase0.Slot(4 * spe)))):
		t.Fatal("client B did not detect that its keys are live elsewhere")
	}
	for _, r := range repB.all() {
		if r.Done > 0 {
			t.Errorf("client B signed during its watch: slot %d %s", r.Slot, r.Kind)
		}
	}

	// C restarted in epoch 1 watches epoch 2 and signs from slot 24; if its loop started only in
	// slot 16 (a slow start), its start epoch is 2 and it signs from slot 32.
	firstSigned := func() phase0.Slot {
		first := phase0.Slot(1<<63 - 1)
		for _, r := range repC2.all() {
			if r.Done > 0 && r.Slot < first {
				first = r.Slot
			}
		}
		return first
	}
	resume := phase0.Slot(3 * spe)
	waitUntil(t, slotStart(resume+1).Add(500*time.Millisecond))
	if firstSigned() > resume {
		t.Logf("client C started its loop in epoch 2: waiting for epoch 4")
		resume = phase0.Slot(4 * spe)
		waitUntil(t, slotStart(resume+1).Add(500*time.Millisecond))
	}
	select {
	case err := <-doneC2:
		t.Fatalf("client C stopped after its restart: %v", err)
	default:
	}
	if first := firstSigned(); first != resume {
		t.Errorf("client C after its restart first signed in slot %d, want %d (the first slot after the watch)", first, resume)
	}
}
