package client

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// fakeNode is a beacon node in three flavours (good, erroring, slow) plus one that refuses
// the request (400). Calls it does not implement hit the nil embedded interface and panic: the
// fallback must not make them.
type fakeNode struct {
	BeaconNode
	slot  phase0.Slot // answered as the attestation data's slot, to tell the nodes apart
	mode  atomic.Int32
	reads atomic.Int64
	subs  atomic.Int64
}

const (
	good int32 = iota
	failing
	refusing
	unavailable
	slow
)

func (n *fakeNode) answer(ctx context.Context) error {
	switch n.mode.Load() {
	case failing:
		return errors.New("connection refused")
	case refusing:
		return &api.Error{Method: http.MethodGet, Endpoint: "/x", StatusCode: http.StatusBadRequest, Data: []byte("bad request")}
	case unavailable:
		return &api.Error{Method: http.MethodGet, Endpoint: "/x", StatusCode: http.StatusServiceUnavailable, Data: []byte("syncing")}
	case slow:
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (n *fakeNode) AttestationData(ctx context.Context, _ *api.AttestationDataOpts) (*api.Response[*phase0.AttestationData], error) {
	n.reads.Add(1)
	if err := n.answer(ctx); err != nil {
		return nil, err
	}
	return &api.Response[*phase0.AttestationData]{Data: &phase0.AttestationData{Slot: n.slot}}, nil
}

func (n *fakeNode) SubmitAttestations(ctx context.Context, _ *api.SubmitAttestationsOpts) error {
	n.subs.Add(1)
	return n.answer(ctx)
}

func (n *fakeNode) NodeSyncing(ctx context.Context, _ *api.NodeSyncingOpts) (*api.Response[*apiv1.SyncState], error) {
	if err := n.answer(ctx); err != nil {
		return nil, err
	}
	return &api.Response[*apiv1.SyncState]{Data: &apiv1.SyncState{}}, nil
}

func twoNodes() (*fallback, *fakeNode, *fakeNode) {
	p, s := &fakeNode{slot: 1}, &fakeNode{slot: 2}
	f := newFallback([]BeaconNode{p, s}, []string{"primary", "secondary"}, 10*time.Second, slog.New(slog.DiscardHandler))
	f.setSlot(3 * time.Second) // short requests: 1 s
	return f, p, s
}

func dataSlot(t *testing.T, f *fallback) phase0.Slot {
	t.Helper()
	resp, err := f.AttestationData(context.Background(), &api.AttestationDataOpts{})
	if err != nil {
		t.Fatalf("attestation data: %v", err)
	}
	return resp.Data.Slot
}

func TestFallbackReads(t *testing.T) {
	f, p, s := twoNodes()
	if got := dataSlot(t, f); got != 1 || s.reads.Load() != 0 {
		t.Fatalf("healthy primary: answer from node %d, secondary read %d times", got, s.reads.Load())
	}

	// A 400 is the request's fault: no failover, and the primary stays in front.
	p.mode.Store(refusing)
	_, err := f.AttestationData(context.Background(), &api.AttestationDataOpts{})
	var apiErr *api.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || s.reads.Load() != 0 || !f.nodes[0].healthy.Load() {
		t.Fatalf("400 from the primary: err %v, secondary read %d times, primary healthy %v", err, s.reads.Load(), f.nodes[0].healthy.Load())
	}

	// A 503 is the node's fault: the secondary answers.
	p.mode.Store(unavailable)
	if got := dataSlot(t, f); got != 2 || f.nodes[0].healthy.Load() {
		t.Fatalf("503 from the primary: answer from node %d, primary healthy %v", got, f.nodes[0].healthy.Load())
	}
	f.nodes[0].healthy.Store(true)

	// A failing primary: the secondary answers, and is asked first from then on.
	p.mode.Store(failing)
	if got := dataSlot(t, f); got != 2 {
		t.Fatalf("failing primary: answer from node %d, want the secondary", got)
	}
	before := p.reads.Load()
	if got := dataSlot(t, f); got != 2 || p.reads.Load() != before {
		t.Fatalf("primary marked down: answer from node %d, primary asked %d more times", got, p.reads.Load()-before)
	}

	// Both failing: the error names both.
	s.mode.Store(failing)
	_, err = f.AttestationData(context.Background(), &api.AttestationDataOpts{})
	if err == nil || !strings.Contains(err.Error(), "primary") || !strings.Contains(err.Error(), "secondary") {
		t.Fatalf("both failing: %v", err)
	}
}

func TestFallbackSlowPrimaryTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, p, _ := twoNodes()
		p.mode.Store(slow)
		start := time.Now()
		if got := dataSlot(t, f); got != 2 {
			t.Fatalf("slow primary: answer from node %d, want the secondary", got)
		}
		// A third of the 3 s slot, not the 10 s of block production.
		if d := time.Since(start); d != time.Second {
			t.Errorf("failover after %v, want 1s", d)
		}
		// The caller's own deadline is no node's fault.
		f2, p2, s2 := twoNodes()
		p2.mode.Store(slow)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := f2.AttestationData(ctx, &api.AttestationDataOpts{}); !errors.Is(err, context.DeadlineExceeded) || s2.reads.Load() != 0 || !f2.nodes[0].healthy.Load() {
			t.Errorf("caller's deadline: err %v, secondary read %d times, primary healthy %v", err, s2.reads.Load(), f2.nodes[0].healthy.Load())
		}
	})
}

func TestFallbackBroadcast(t *testing.T) {
	f, p, s := twoNodes()
	opts := &api.SubmitAttestationsOpts{}
	if err := f.SubmitAttestations(context.Background(), opts); err != nil || p.subs.Load() != 1 || s.subs.Load() != 1 {
		t.Fatalf("broadcast: err %v, primary %d, secondary %d submissions; want one each", err, p.subs.Load(), s.subs.Load())
	}
	// One node accepting is enough; the one that failed is marked down and skipped next time.
	p.mode.Store(failing)
	if err := f.SubmitAttestations(context.Background(), opts); err != nil {
		t.Fatalf("secondary accepted: %v", err)
	}
	if err := f.SubmitAttestations(context.Background(), opts); err != nil || p.subs.Load() != 2 || s.subs.Load() != 3 {
		t.Fatalf("after the failure: err %v, primary %d, secondary %d submissions; want 2 and 3", err, p.subs.Load(), s.subs.Load())
	}
	s.mode.Store(refusing)
	if err := f.SubmitAttestations(context.Background(), opts); err == nil {
		t.Fatal("no node accepted, yet no error")
	}
}

// TestFallbackReturnsToPrimary: the health check puts the primary back in front once it
// answers node/syncing, within one check interval.
func TestFallbackReturnsToPrimary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, p, _ := twoNodes()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { f.run(ctx, 250*time.Millisecond); close(done) }()

		p.mode.Store(failing)
		if got := dataSlot(t, f); got != 2 {
			t.Fatalf("failing primary: answer from node %d", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := dataSlot(t, f); got != 2 {
			t.Fatalf("primary still failing after checks: answer from node %d", got)
		}
		p.mode.Store(good)
		time.Sleep(250 * time.Millisecond)
		synctest.Wait()
		if got := dataSlot(t, f); got != 1 {
			t.Fatalf("primary healthy again: answer from node %d, want the primary", got)
		}
		cancel()
		<-done
	})
}
