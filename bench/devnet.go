package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/zkvlabs/zkv/devnet"
	"github.com/zkvlabs/zkv/devnet/beacon/consensus"
)

// Shape of the devnet suite's network: few validators, 1-second slots, private attestations on
// a depth-4 registry (16 leaves: the smallest circuit the prover takes).
const (
	devnetSlotTime     = time.Second
	devnetPrivateDepth = 4
	// devnetStalled is how many slots in a row without a block, or without progress of the
	// figure a scenario waits for, make the scenario fail: the chain stopped advancing.
	devnetStalled = 4
)

// devnetGenesisDelay leaves the parts time to start and the validators' private-attestation
// services time to register with the pool (an identity proof each) before genesis.
const devnetGenesisDelay = 3 * time.Second

func devnetValidators(quick bool) int {
	if quick {
		return 8
	}
	return 16
}

// DevnetScenarios run the whole system end to end, as `zkv devnet` does (package devnet): the
// devnet beacon node, a builder bidding at a zkv relay behind the boost sidecar, two validator
// clients that split the keys, and the private attestations (a pool on QUIC and a prover in each
// client proving every attestation), all on 127.0.0.1, with 1-second slots. Each scenario starts
// its own network in Setup and measures it live: an operation waits, in wall-clock time, for the
// network to reach the next step of its figure, so the figures are rates the network keeps.
// A network that stops advancing (slots without a block, or no progress of the figure, for
// devnetStalled slots) fails the scenario.
func DevnetScenarios() []Scenario {
	shape := func(quick bool) string { return fmt.Sprintf("%d validators", devnetValidators(quick)) }
	note := fmt.Sprintf("a live devnet.Network (%s, %s in quick mode; 1 s slots; minimal preset, 8 slots an epoch; one relay and builder; "+
		"private attestations at registry depth %d); the untimed warm-up operation covers the genesis delay and the first slots. "+
		"With 1 s slots a rate per second is the rate per slot", shape(false), shape(true), devnetPrivateDepth)
	perSlot := func(quick bool) int { return devnetValidators(quick) / int(consensus.Minimal.SlotsPerEpoch) }
	// A network takes seconds to reach its steady slots; quick mode (a smoke test that must stay
	// under a minute) starts one, for the figure that needs every part: a verified proof means a
	// slot kept and an attestation made.
	fullOnly := func(quick bool) string {
		if quick {
			return "quick mode starts one devnet, for devnet/proofs-verified"
		}
		return ""
	}
	return []Scenario{
		{
			Name:        "devnet/slots",
			Description: "slots the network keeps per second of wall time: an operation waits for the next slot's line of the live view (written at 85% of the slot, after its block and attestations)",
			Unit:        "slot", Note: note, Skip: fullOnly,
			Setup: func(ctx context.Context, quick bool) (Prepared, error) {
				return devnetScenario(ctx, quick, 1, func(n *devnetRun) int { return n.slotsSeen() })
			},
		},
		{
			Name:        "devnet/attestations-included",
			Description: "attestations included in blocks: an operation waits until the blocks shown in the slot lines include one slot's attesters more (validators / 8)",
			Unit:        "attestation", Note: note, Skip: fullOnly,
			Setup: func(ctx context.Context, quick bool) (Prepared, error) {
				return devnetScenario(ctx, quick, perSlot(quick), func(n *devnetRun) int { return n.included() })
			},
		},
		{
			Name:        "devnet/proofs-verified",
			Description: "private attestation proofs verified and recorded by the pool: an operation waits until the pool's count, read at each slot's line, has grown by one slot's attesters (validators / 8)",
			Unit:        "proof", Note: note,
			Setup: func(ctx context.Context, quick bool) (Prepared, error) {
				return devnetScenario(ctx, quick, perSlot(quick), func(n *devnetRun) int { return n.proofs() })
			},
		},
	}
}

// devnetScenario starts a network and returns an operation that waits until count has grown by
// step over the last operation's target. The first operation (the untimed warm-up) sets the
// target to the count it ends with, so that the timed ones start from a steady network.
func devnetScenario(ctx context.Context, quick bool, step int, count func(*devnetRun) int) (Prepared, error) {
	n, err := startDevnet(ctx, quick)
	if err != nil {
		return Prepared{}, err
	}
	target, warm := 0, false
	op := func() error {
		target += step
		got, err := n.waitFor(ctx, target, !warm, count)
		if err != nil {
			return err
		}
		if !warm {
			warm, target = true, got
		}
		return nil
	}
	return Prepared{Op: op, Items: step, Close: n.stop}, nil
}

// devnetRun is a running network and the live view's slot lines.
type devnetRun struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error // Run's result, once done is closed
	dir    string
	view   *viewLines
}

func startDevnet(ctx context.Context, quick bool) (*devnetRun, error) {
	v := devnetValidators(quick)
	p, err := devnet.NewPrivate(devnet.PrivateConfig{Depth: devnetPrivateDepth, Validators: v})
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "zkv-bench-devnet-")
	if err != nil {
		return nil, err
	}
	lines := newViewLines()
	// Slots far beyond any run: the scenario's Close ends the network.
	nw, err := devnet.New(devnet.Config{Validators: v, Slots: 1 << 20, SlotTime: devnetSlotTime, Relays: 1, Builders: 1,
		NoBidShare: 0.3, GenesisDelay: devnetGenesisDelay, Dir: dir, Out: lines, Private: p})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	n := &devnetRun{cancel: cancel, done: make(chan struct{}), dir: dir, view: lines}
	go func() {
		n.err = nw.Run(rctx)
		close(n.done)
	}()
	return n, nil
}

// stop ends the network and waits until every part of it has stopped.
func (n *devnetRun) stop() {
	n.cancel()
	<-n.done
	os.RemoveAll(n.dir)
}

func (n *devnetRun) slotsSeen() int { return len(n.view.snapshot()) }

func (n *devnetRun) included() int {
	sum := 0
	for _, l := range n.view.snapshot() {
		sum += l.included
	}
	return sum
}

// proofs is the pool's count of proofs verified as of the last slot line: counted, like the
// attestations, at the same point of every slot.
func (n *devnetRun) proofs() int {
	l := n.view.snapshot()
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1].proofs
}

// waitFor waits until count reaches target and returns it; it fails when the network stops,
// when the last devnetStalled slots have no block, or when count did not move for that long.
func (n *devnetRun) waitFor(ctx context.Context, target int, warmup bool, count func(*devnetRun) int) (int, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	last, moved := count(n), time.Now()
	for {
		got := count(n)
		if got >= target {
			return got, nil
		}
		if got != last {
			last, moved = got, time.Now()
		}
		lines := n.view.snapshot()
		if k := len(lines); k >= devnetStalled {
			missed := 0
			for _, l := range lines[k-devnetStalled:] {
				if l.missed {
					missed++
				}
			}
			if missed == devnetStalled {
				return 0, fmt.Errorf("the chain stopped advancing: slots %d to %d have no block", lines[k-devnetStalled].slot, lines[k-1].slot)
			}
		}
		// The warm-up waits through the genesis delay and the first slots, and, should the
		// validators' registrations have missed the pool's seal of epoch 0's registry root,
		// through epoch 0, whose attestations then cannot be proved.
		stall := devnetStalled * devnetSlotTime
		if warmup {
			stall = 20*time.Second + 2*time.Duration(consensus.Minimal.SlotsPerEpoch)*devnetSlotTime
		}
		if time.Since(moved) > stall {
			return 0, fmt.Errorf("no progress for %v: %d of %d (%d slots shown)", stall, got, target, len(lines))
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-n.done:
			if n.err == nil {
				n.err = errors.New("the network stopped")
			}
			return 0, fmt.Errorf("devnet: %w", n.err)
		case <-tick.C:
		}
	}
}

// viewLine is one slot line of the live view.
type viewLine struct {
	slot     int
	missed   bool
	included int
	proofs   int // the pool's proofs verified so far
}

// slotLine matches the live view's slot lines (devnet's view.line).
var slotLine = regexp.MustCompile(`^slot\s+(\d+)\s+epoch\s+\d+\s+proposer\s+\d+\s+(\S+).*\sincluded\s+(\d+)\s.*?(?:\sproofs (\d+))?$`)

// viewLines is the live view's writer: it keeps the slot lines.
type viewLines struct {
	mu    sync.Mutex
	part  []byte
	lines []viewLine
}

func newViewLines() *viewLines { return &viewLines{} }

func (v *viewLines) Write(p []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.part = append(v.part, p...)
	for {
		i := bytes.IndexByte(v.part, '\n')
		if i < 0 {
			break
		}
		line := string(v.part[:i])
		v.part = v.part[i+1:]
		if m := slotLine.FindStringSubmatch(line); m != nil {
			slot, _ := strconv.Atoi(m[1])
			inc, _ := strconv.Atoi(m[3])
			proofs, _ := strconv.Atoi(m[4])
			v.lines = append(v.lines, viewLine{slot: slot, missed: m[2] == "missed", included: inc, proofs: proofs})
		}
	}
	return len(p), nil
}

func (v *viewLines) snapshot() []viewLine {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lines
}
