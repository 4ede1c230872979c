package beacon_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/beacon/beacontest"
)

// sink collects the events go-eth2-client delivers; note wakes waiters after each.
type sink struct {
	mu       sync.Mutex
	heads    []*apiv1.HeadEvent
	blocks   []*apiv1.BlockEvent
	attrs    []*apiv1.PayloadAttributesEvent
	singles  []*electra.SingleAttestation
	aggs     []*spec.VersionedAttestation
	finals   []*apiv1.FinalizedCheckpointEvent
	notified chan struct{}
}

func newSink() *sink { return &sink{notified: make(chan struct{}, 1)} }

func (s *sink) note() {
	select {
	case s.notified <- struct{}{}:
	default:
	}
}

// opts subscribes to every topic the sink collects.
func (s *sink) opts() *api.EventsOpts {
	add := func(f func()) { s.mu.Lock(); f(); s.mu.Unlock(); s.note() }
	return &api.EventsOpts{
		Topics:                   []string{"head", "block", "payload_attributes", "single_attestation", "attestation", "finalized_checkpoint"},
		HeadHandler:              func(_ context.Context, e *apiv1.HeadEvent) { add(func() { s.heads = append(s.heads, e) }) },
		BlockHandler:             func(_ context.Context, e *apiv1.BlockEvent) { add(func() { s.blocks = append(s.blocks, e) }) },
		PayloadAttributesHandler: func(_ context.Context, e *apiv1.PayloadAttributesEvent) { add(func() { s.attrs = append(s.attrs, e) }) },
		SingleAttestationHandler: func(_ context.Context, e *electra.SingleAttestation) {
			add(func() { s.singles = append(s.singles, e) })
		},
		AttestationHandler: func(_ context.Context, e *spec.VersionedAttestation) { add(func() { s.aggs = append(s.aggs, e) }) },
		FinalizedCheckpointHandler: func(_ context.Context, e *apiv1.FinalizedCheckpointEvent) {
			add(func() { s.finals = append(s.finals, e) })
		},
	}
}

// waitFor polls cond (under the sink's lock) until it holds or timeout passes.
func (s *sink) waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		ok := cond()
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-s.notified:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// TestEventsOverRun serves the node with Run on a 127.0.0.1 listener (port 0) with 1-second slots
// and checks, through go-eth2-client's Events, that the slot clock announces payload attributes
// and that a slot's duties produce block, head, single_attestation and attestation events with
// the fields the Beacon API's eventstream defines.
func TestEventsOverRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	node, err := beacon.New(ctx, beacon.Config{Validators: 16, SlotTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- node.Run(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	url := "http://" + ln.Addr().String()
	svc := dial(t, url, false, &recorder{})
	s := newSink()
	if err := svc.Events(ctx, s.opts()); err != nil {
		t.Fatal(err)
	}
	// The slot clock announces the next slot's attributes at each slot start: the first one shows
	// the stream is up.
	s.waitFor(t, "a payload_attributes event from the slot clock", 10*time.Second, func() bool { return len(s.attrs) > 0 })
	s.mu.Lock()
	first := s.attrs[0]
	s.mu.Unlock()
	p := first.Data.ProposalSlot
	genesisRoot := blockRoot(t, svc, "genesis")
	checkAttrs(t, node, svc, first, p, genesisRoot, bellatrix.ExecutionAddress(beacon.WithdrawalAddress))

	secrets := map[phase0.ValidatorIndex]*bls.SecretKey{}
	for i, sk := range node.Genesis().Secrets {
		secrets[phase0.ValidatorIndex(i)] = sk
	}
	signer, err := beacontest.New(ctx, svc, secrets)
	if err != nil {
		t.Fatal(err)
	}
	fr := bellatrix.ExecutionAddress{0xfe, 0xed}
	var preps []*apiv1.ProposalPreparation
	for i := range secrets {
		preps = append(preps, &apiv1.ProposalPreparation{ValidatorIndex: i, FeeRecipient: fr})
	}
	if err := svc.SubmitProposalPreparations(ctx, preps); err != nil {
		t.Fatal(err)
	}
	// Do slot p's duties once the clock is in it.
	time.Sleep(time.Until(node.GenesisTime().Add(time.Duration(p)*time.Second + 100*time.Millisecond)))
	rep, err := signer.Slot(ctx, p)
	if err != nil {
		t.Fatalf("slot %d: %v", p, err)
	}
	if !rep.Proposed || rep.Attestations == 0 || rep.Aggregates == 0 {
		t.Fatalf("slot %d: %+v, want a block, attestations and aggregates", p, rep)
	}
	root := blockRoot(t, svc, "head")
	s.waitFor(t, "block, head, payload_attributes, single_attestation and attestation events", 10*time.Second, func() bool {
		return len(s.blocks) > 0 && len(s.heads) > 0 && len(s.singles) >= rep.Attestations && len(s.aggs) >= rep.Aggregates &&
			attrsOn(s.attrs, p+1, root) != nil
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.blocks[0]; b.Slot != p || b.Block != root || b.ExecutionOptimistic {
		t.Errorf("block event %+v, want slot %d root %s", b, p, root)
	}
	hdr, err := svc.BeaconBlockHeader(ctx, &api.BeaconBlockHeaderOpts{Block: root.String()})
	if err != nil {
		t.Fatal(err)
	}
	if h := s.heads[0]; h.Slot != p || h.Block != root || h.State != hdr.Data.Header.Message.StateRoot {
		t.Errorf("head event %+v, want slot %d root %s state %s", h, p, root, hdr.Data.Header.Message.StateRoot)
	}
	checkHeadDependentRoots(t, svc, s.heads[0])
	// A slow machine can reach slot p+1 before the block of p is in: the clock then announces p+1
	// and p+2 on the old head first, so look for p+1's announcement on the new head, not the last.
	checkAttrs(t, node, svc, attrsOn(s.attrs, p+1, root), p+1, root, fr)
	duties, err := svc.AttesterDuties(ctx, &api.AttesterDutiesOpts{Epoch: phase0.Epoch(uint64(p) / 8), Indices: signerIndices(secrets)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[phase0.ValidatorIndex]*apiv1.AttesterDuty{}
	for _, d := range duties.Data {
		if d.Slot == p {
			want[d.ValidatorIndex] = d
		}
	}
	for _, a := range s.singles {
		d := want[a.AttesterIndex]
		if d == nil || a.CommitteeIndex != d.CommitteeIndex || a.Data.Slot != p || a.Data.BeaconBlockRoot != root {
			t.Errorf("single_attestation %+v: not an attestation of a slot-%d duty to head %s", a, p, root)
		}
		delete(want, a.AttesterIndex)
	}
	if len(want) != 0 {
		t.Errorf("no single_attestation event for %d attesters", len(want))
	}
	for _, a := range s.aggs {
		if a.Version != spec.DataVersionElectra || a.Electra == nil || a.Electra.Data.Slot != p || a.Electra.AggregationBits.Count() == 0 || a.Electra.CommitteeBits.Count() != 1 {
			t.Errorf("attestation event %+v: want an Electra aggregate of slot %d", a, p)
		}
	}
}

// attrsOn finds the payload_attributes event of slot built on parent.
func attrsOn(evs []*apiv1.PayloadAttributesEvent, slot phase0.Slot, parent phase0.Root) *apiv1.PayloadAttributesEvent {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Data.ProposalSlot == slot && evs[i].Data.ParentBlockRoot == parent {
			return evs[i]
		}
	}
	return nil
}

func signerIndices(secrets map[phase0.ValidatorIndex]*bls.SecretKey) []phase0.ValidatorIndex {
	var out []phase0.ValidatorIndex
	for i := range secrets {
		out = append(out, i)
	}
	return out
}

func blockRoot(t *testing.T, svc *eth2http.Service, id string) phase0.Root {
	t.Helper()
	r, err := svc.BeaconBlockRoot(context.Background(), &api.BeaconBlockRootOpts{Block: id})
	if err != nil {
		t.Fatalf("block root %s: %v", id, err)
	}
	return *r.Data
}

// checkAttrs checks a payload_attributes event for slot on parent: the proposer by the duties, the
// slot's timestamp, the parent's execution block, empty withdrawals and the fee recipient.
func checkAttrs(t *testing.T, node *beacon.Node, svc *eth2http.Service, ev *apiv1.PayloadAttributesEvent, slot phase0.Slot, parent phase0.Root, fr bellatrix.ExecutionAddress) {
	t.Helper()
	ctx := context.Background()
	d := ev.Data
	if ev.Version != spec.DataVersionElectra || d.ProposalSlot != slot || d.ParentBlockRoot != parent || d.V4 == nil {
		t.Fatalf("payload_attributes %s slot %d parent %s: want electra, slot %d, parent %s, V4 attributes (go-eth2-client v0.27.1 decodes Electra attributes as V4)", ev.Version, d.ProposalSlot, d.ParentBlockRoot, slot, parent)
	}
	duties, err := svc.ProposerDuties(ctx, &api.ProposerDutiesOpts{Epoch: phase0.Epoch(uint64(slot) / node.Preset().SlotsPerEpoch)})
	if err != nil {
		t.Fatal(err)
	}
	for _, pd := range duties.Data {
		if pd.Slot == slot && pd.ValidatorIndex != d.ProposerIndex {
			t.Errorf("payload_attributes proposer %d, the duties say %d", d.ProposerIndex, pd.ValidatorIndex)
		}
	}
	if want := uint64(node.GenesisTime().Add(time.Duration(slot) * node.SlotTime()).Unix()); d.V4.Timestamp != want {
		t.Errorf("payload_attributes timestamp %d, want the slot's start %d", d.V4.Timestamp, want)
	}
	if d.V4.ParentBeaconBlockRoot != parent || len(d.V4.Withdrawals) != 0 || d.V4.SuggestedFeeRecipient != fr {
		t.Errorf("payload_attributes V3 %+v: want parent beacon root %s, no withdrawals, fee recipient %s", d.V4, parent, fr)
	}
	blk, err := svc.SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: parent.String()})
	if err != nil {
		t.Fatal(err)
	}
	ep := blk.Data.Electra.Message.Body.ExecutionPayload
	if d.ParentBlockHash != ep.BlockHash || d.ParentBlockNumber != ep.BlockNumber {
		t.Errorf("payload_attributes parent execution block %s #%d, the parent's payload is %s #%d", d.ParentBlockHash, d.ParentBlockNumber, ep.BlockHash, ep.BlockNumber)
	}
	if d.V4.PrevRandao == [32]byte{} {
		t.Error("payload_attributes prev_randao is zero")
	}
}

// checkHeadDependentRoots checks a head event's dependent roots against the duties' (eventstream:
// previous_duty_dependent_root is get_block_root_at_slot(state, compute_start_slot_at_epoch(epoch
// - 1) - 1), the attester duties' dependent root of the head's epoch; current_duty_dependent_root
// is get_block_root_at_slot(state, compute_start_slot_at_epoch(epoch) - 1), the proposer duties').
func checkHeadDependentRoots(t *testing.T, svc *eth2http.Service, h *apiv1.HeadEvent) {
	t.Helper()
	ctx := context.Background()
	spe, err := svc.SlotsPerEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := phase0.Epoch(uint64(h.Slot) / spe)
	pd, err := svc.ProposerDuties(ctx, &api.ProposerDutiesOpts{Epoch: e})
	if err != nil {
		t.Fatal(err)
	}
	ad, err := svc.AttesterDuties(ctx, &api.AttesterDutiesOpts{Epoch: e, Indices: []phase0.ValidatorIndex{0}})
	if err != nil {
		t.Fatal(err)
	}
	if h.CurrentDutyDependentRoot != pd.Metadata["dependent_root"] || h.PreviousDutyDependentRoot != ad.Metadata["dependent_root"] {
		t.Errorf("head event at slot %d: dependent roots current %s previous %s, the duties of epoch %d say proposer %s attester %s",
			h.Slot, h.CurrentDutyDependentRoot, h.PreviousDutyDependentRoot, e, pd.Metadata["dependent_root"], ad.Metadata["dependent_root"])
	}
}

// subscribedSignal wraps the node's handler: it closes ch once an event stream has answered 200
// (the node subscribes the client before it writes the header), so a test knows no event can be
// missed from then on.
func subscribedSignal(h http.Handler, ch chan struct{}) http.Handler {
	var once sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/eth/v1/events" {
			w = flushWatcher{w, func() { once.Do(func() { close(ch) }) }}
		}
		h.ServeHTTP(w, r)
	})
}

type flushWatcher struct {
	http.ResponseWriter
	flushed func()
}

func (f flushWatcher) Flush() {
	f.ResponseWriter.(http.Flusher).Flush()
	f.flushed()
}

// TestEventsFinalizedCheckpoint drives four epochs of full duties on the fake clock (events are
// published by the API calls that cause them) and checks the finalized_checkpoint event names the
// finalized checkpoint and its state, and every head event's fields along the way.
func TestEventsFinalizedCheckpoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ck := &clock{now: genesisTime}
	node, err := beacon.New(ctx, beacon.Config{Validators: 32, GenesisTime: genesisTime, SlotTime: 2 * time.Second, Now: ck.Now})
	if err != nil {
		t.Fatal(err)
	}
	up := make(chan struct{})
	srv := httptest.NewServer(subscribedSignal(node.Handler(), up))
	// The event stream ends with ctx: cancel before Close, which waits for open requests.
	defer srv.Close()
	defer cancel()
	svc := dial(t, srv.URL, false, &recorder{})
	s := newSink()
	if err := svc.Events(ctx, s.opts()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		t.Fatal("go-eth2-client did not open the event stream")
	}
	secrets := map[phase0.ValidatorIndex]*bls.SecretKey{}
	for i, sk := range node.Genesis().Secrets {
		secrets[phase0.ValidatorIndex(i)] = sk
	}
	signer, err := beacontest.New(ctx, svc, secrets)
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNet{node: node, url: srv.URL, clock: ck, client: svc, signer: signer}
	runEpochs(t, tn, 3)
	j, f := finality(t, tn) // the API call at slot 32 processes epoch 3
	if j != 3 || f != 2 {
		t.Fatalf("justified %d finalized %d, want 3 and 2", j, f)
	}
	s.waitFor(t, "a finalized_checkpoint event and 31 head events", 10*time.Second, func() bool { return len(s.finals) > 0 && len(s.heads) >= 31 })
	s.mu.Lock()
	heads, blocks, finals := s.heads, s.blocks, s.finals
	s.mu.Unlock()
	fin, err := svc.Finality(ctx, &api.FinalityOpts{State: "head"})
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := svc.BeaconBlockHeader(ctx, &api.BeaconBlockHeaderOpts{Block: fin.Data.Finalized.Root.String()})
	if err != nil {
		t.Fatal(err)
	}
	last := finals[len(finals)-1]
	if len(finals) != 1 || last.Epoch != 2 || last.Block != fin.Data.Finalized.Root || last.State != hdr.Data.Header.Message.StateRoot {
		t.Fatalf("finalized_checkpoint events %+v: want one, epoch 2, block %s, state %s", finals, fin.Data.Finalized.Root, hdr.Data.Header.Message.StateRoot)
	}
	for i, h := range heads {
		if h.Slot != phase0.Slot(i+1) || h.EpochTransition != (h.Slot%8 == 0) {
			t.Fatalf("head event %d: %+v, want slot %d, epoch_transition only at epoch starts", i, h, i+1)
		}
		if b := blocks[i]; b.Slot != h.Slot || b.Block != h.Block {
			t.Fatalf("block event %d %+v does not match head event %+v", i, b, h)
		}
		checkHeadDependentRoots(t, svc, h)
	}
}
