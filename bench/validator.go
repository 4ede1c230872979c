package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/keys"
)

// Shape of the validator suite's live run: a few devnet keys in one client, 1-second slots.
const (
	dutyValidators = 8
	dutySlotTime   = time.Second
	// dutyFirstSlot is the first slot recorded: the client has the slots before it to load its
	// keys and duties, so the figures are of a running client, not of its start.
	dutyFirstSlot = 1
)

// dutySlots is how many slots the validator suite records.
func dutySlots(quick bool) int {
	if quick {
		return 3
	}
	return 16
}

// ValidatorScenarios time zkv's validator client (validator/client) doing its duties: 8 devnet
// keys in one client, against the devnet beacon node over the Beacon API on 127.0.0.1, with
// 1-second slots, its slashing protection on a synced badger database in a temporary directory.
//
// Slots are wall-clock time, which the timed loop cannot repeat at will: Setup runs the client
// live for a number of slots and records each slot's latency as the client's own duty reports
// give it; Op then replays one recorded latency per call (it sleeps that long, in turn), so the
// median, min..max and p99 are those of the recorded slots. Both scenarios share one recording
// per process (and mode).
func ValidatorScenarios() []Scenario {
	note := func(what string) string {
		return fmt.Sprintf("recorded live in Setup: %d slots (%d in quick mode) of a validator client with %d devnet keys against the "+
			"devnet beacon node (Beacon API over HTTP on 127.0.0.1, 1 s slots, minimal preset), from slot %d; each figure is one slot's %s, "+
			"measured from the slot's start; Op replays the recorded latencies in turn (it sleeps each), so median, min..max and p99 are of "+
			"the recorded slots and throughput is not a rate the client sustains. A slot with a failed or missing duty fails the scenario",
			dutySlots(false), dutySlots(true), dutyValidators, dutyFirstSlot, what)
	}
	return []Scenario{
		{
			Name:        "validator/attestations-per-slot",
			Description: "from a slot's start to all of the slot's attestations accepted by the beacon node (the client attests on the slot's block or at 1/3 of the slot; an attestation counts in aggregates until 2/3)",
			Unit:        "slot", Latency: true,
			Note: note("attestation latency (to the last of its attestations accepted, every attester duty done)"),
			Setup: func(ctx context.Context, quick bool) (Prepared, error) {
				rec, err := recordedDuties(ctx, quick)
				if err != nil {
					return Prepared{}, err
				}
				return replay(ctx, rec.attest), nil
			},
		},
		{
			Name:        "validator/proposal-per-slot",
			Description: "from a slot's start to its block produced (produceBlockV3), signed and accepted by the beacon node (a block counts for the slot's attesters until 1/3)",
			Unit:        "slot", Latency: true,
			Note: note("proposal latency (to the block accepted)"),
			Setup: func(ctx context.Context, quick bool) (Prepared, error) {
				rec, err := recordedDuties(ctx, quick)
				if err != nil {
					return Prepared{}, err
				}
				return replay(ctx, rec.propose), nil
			},
		},
	}
}

// replay is an operation that sleeps the recorded latencies in turn.
func replay(ctx context.Context, lat []time.Duration) Prepared {
	i := 0
	return Prepared{Items: 1, Op: func() error {
		d := lat[i%len(lat)]
		i++
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}}
}

// dutyRecording is what the live run recorded, one entry per slot from dutyFirstSlot.
type dutyRecording struct {
	attest, propose []time.Duration
}

var dutyRecordings struct {
	mu   sync.Mutex
	done map[bool]*dutyRecording
}

// recordedDuties returns the recording of this process in this mode, recording it first.
func recordedDuties(ctx context.Context, quick bool) (*dutyRecording, error) {
	dutyRecordings.mu.Lock()
	defer dutyRecordings.mu.Unlock()
	if r := dutyRecordings.done[quick]; r != nil {
		return r, nil
	}
	r, err := recordDuties(ctx, dutySlots(quick))
	if err != nil {
		return nil, err
	}
	if dutyRecordings.done == nil {
		dutyRecordings.done = map[bool]*dutyRecording{}
	}
	dutyRecordings.done[quick] = r
	return r, nil
}

// slotDuties collects the duty reports of one slot.
type slotDuties struct {
	attested, attestFailed int
	attestedAt             time.Time
	proposed, proposeFail  int
	proposedAt             time.Time
	err                    error
}

// recordDuties runs the devnet beacon node and a validator client until slots slots from
// dutyFirstSlot have been reported, and returns each slot's latencies. Every server and
// goroutine it starts has stopped when it returns.
func recordDuties(ctx context.Context, slots int) (_ *dutyRecording, err error) {
	dir, err := os.MkdirTemp("", "zkv-bench-validator-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	run := newRunner(ctx)
	defer run.close()

	// The genesis is a second or two after the keys are written; the client loads its keys and
	// duties before it and in the slots before dutyFirstSlot.
	node, err := beacon.New(ctx, beacon.Config{Validators: dutyValidators, SlotTime: dutySlotTime, GenesisDelay: time.Second,
		KeystoreDir: filepath.Join(dir, "keystores")})
	if err != nil {
		return nil, fmt.Errorf("beacon node: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	run.run(func(c context.Context) error { return node.Run(c, ln) })
	genesis := node.GenesisTime()
	slotStart := func(s phase0.Slot) time.Time { return genesis.Add(time.Duration(s) * dutySlotTime) }

	var mu sync.Mutex
	seen := map[phase0.Slot]*slotDuties{}
	reported := make(chan struct{}, 1)
	report := func(r client.Report) {
		at := time.Now()
		mu.Lock()
		defer mu.Unlock()
		sd := seen[r.Slot]
		if sd == nil {
			sd = &slotDuties{}
			seen[r.Slot] = sd
		}
		switch r.Kind {
		case "attestation":
			sd.attested += r.Done
			sd.attestFailed += r.Failed
			sd.attestedAt = at
		case "proposal":
			sd.proposed += r.Done
			sd.proposeFail += r.Failed
			sd.proposedAt = at
		default:
			return
		}
		if r.Err != nil && sd.err == nil {
			sd.err = fmt.Errorf("%s: %w", r.Kind, r.Err)
		}
		select {
		case reported <- struct{}{}:
		default:
		}
	}
	keyDir, _ := node.Keystores()
	svc, err := client.New(run.ctx, client.WithBeaconNode("http://"+ln.Addr().String()),
		client.WithKeystores(keyDir, beacon.DefaultKeystorePassword), client.WithKDFLimits(keys.InsecureKDFLimits),
		client.WithDatabase(filepath.Join(dir, "db")), client.WithReports(report), client.WithDoppelganger(0),
		client.WithFeeRecipient(bellatrix.ExecutionAddress{0xfe}), client.WithShutdownGrace(dutySlotTime),
		client.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, fmt.Errorf("validator client: %w", err)
	}
	clientErr := make(chan error, 1)
	run.run(func(c context.Context) error { err := svc.Run(c); clientErr <- err; return err })

	last := phase0.Slot(dutyFirstSlot + slots - 1)
	// Each slot's attestations are due by 2/3 of it; a slot later than that, a missing report is
	// a failed duty.
	deadline := time.NewTimer(time.Until(slotStart(last + 2)))
	defer deadline.Stop()
	complete := func(s phase0.Slot) bool {
		sd := seen[s]
		return sd != nil && sd.attested+sd.attestFailed > 0 && sd.proposed+sd.proposeFail > 0
	}
	for {
		mu.Lock()
		done := true
		for s := phase0.Slot(dutyFirstSlot); s <= last; s++ {
			done = done && complete(s)
		}
		mu.Unlock()
		if done {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case err := <-clientErr:
			return nil, fmt.Errorf("validator client stopped: %v", err)
		case <-deadline.C:
			mu.Lock()
			defer mu.Unlock()
			var missing []phase0.Slot
			for s := phase0.Slot(dutyFirstSlot); s <= last; s++ {
				if !complete(s) {
					missing = append(missing, s)
				}
			}
			return nil, fmt.Errorf("no attestation or proposal report for slots %v of %d-%d", missing, dutyFirstSlot, last)
		case <-reported:
		}
	}
	mu.Lock()
	defer mu.Unlock()
	rec := &dutyRecording{}
	for s := phase0.Slot(dutyFirstSlot); s <= last; s++ {
		sd := seen[s]
		switch {
		case sd.err != nil:
			return nil, fmt.Errorf("slot %d: %w", s, sd.err)
		case sd.attestFailed > 0 || sd.attested == 0:
			return nil, fmt.Errorf("slot %d: %d attestations accepted, %d failed", s, sd.attested, sd.attestFailed)
		case sd.proposeFail > 0 || sd.proposed != 1:
			return nil, fmt.Errorf("slot %d: %d blocks proposed, %d failed", s, sd.proposed, sd.proposeFail)
		}
		rec.attest = append(rec.attest, sd.attestedAt.Sub(slotStart(s)))
		rec.propose = append(rec.propose, sd.proposedAt.Sub(slotStart(s)))
	}
	for _, d := range append(rec.attest, rec.propose...) {
		if d <= 0 {
			return nil, fmt.Errorf("a duty reported %v before its slot started: the clock is off", -d)
		}
	}
	return rec, nil
}
