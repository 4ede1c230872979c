package beacon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/rs/zerolog"
)

// A head event's dependent roots are those of the duties of the head's epoch (Beacon API,
// eventstream "head": previous_duty_dependent_root is the block root at
// compute_start_slot_at_epoch(epoch - 1) - 1, current_duty_dependent_root at
// compute_start_slot_at_epoch(epoch) - 1), so a validator client can compare them with the
// dependent_root of its attester duties (previous) and proposer duties (current) and refetch
// only on a reorg.
func TestHeadEventDependentRoots(t *testing.T) {
	tn := newTestNet(t, 16, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc, err := eth2http.New(ctx, eth2http.WithAddress(tn.url), eth2http.WithLogLevel(zerolog.Disabled))
	if err != nil {
		t.Fatal(err)
	}
	c := svc.(*eth2http.Service)
	// Subscribe with a plain request: the node subscribes before it sends the response header,
	// so once the header is in no head event can be missed.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tn.url+"/eth/v1/events?topics=head", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	heads := make(chan *apiv1.HeadEvent, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev apiv1.HeadEvent
				if err := json.Unmarshal([]byte(data), &ev); err == nil {
					heads <- &ev
				}
			}
		}
	}()
	spe := phase0.Slot(tn.node.Preset().SlotsPerEpoch)
	checked := 0
	for slot := phase0.Slot(1); slot < 2*spe+2; slot++ {
		tn.at(slot, 0.1)
		if proposed, _, err := tn.signer.Propose(ctx, slot); err != nil || !proposed {
			t.Fatalf("slot %d: proposed %v: %v", slot, proposed, err)
		}
		var ev *apiv1.HeadEvent
		select {
		case ev = <-heads:
		case <-time.After(10 * time.Second):
			t.Fatalf("slot %d: no head event", slot)
		}
		e := phase0.Epoch(ev.Slot / spe)
		ad, err := c.AttesterDuties(ctx, &api.AttesterDutiesOpts{Epoch: e, Indices: []phase0.ValidatorIndex{0}})
		if err != nil {
			t.Fatal(err)
		}
		pd, err := c.ProposerDuties(ctx, &api.ProposerDutiesOpts{Epoch: e})
		if err != nil {
			t.Fatal(err)
		}
		if want := ad.Metadata["dependent_root"].(phase0.Root); ev.PreviousDutyDependentRoot != want {
			t.Errorf("head at slot %d: previous_duty_dependent_root %#x, attester duties of epoch %d depend on %#x", ev.Slot, ev.PreviousDutyDependentRoot, e, want)
		}
		if want := pd.Metadata["dependent_root"].(phase0.Root); ev.CurrentDutyDependentRoot != want {
			t.Errorf("head at slot %d: current_duty_dependent_root %#x, proposer duties of epoch %d depend on %#x", ev.Slot, ev.CurrentDutyDependentRoot, e, want)
		}
		checked++
	}
	if checked < int(2*spe) {
		t.Fatalf("checked %d head events", checked)
	}
}
