package slashing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zkvlabs/zkv/db"
)

type step struct {
	block         bool
	slot          uint64
	source, targt uint64
	root          int
	want          Reason // 0: may sign
}

func blk(slot uint64, root int, want Reason) step {
	return step{block: true, slot: slot, root: root, want: want}
}
func att(s, t uint64, root int, want Reason) step {
	return step{source: s, targt: t, root: root, want: want}
}

func TestRules(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"blocks ascending", []step{blk(1, 1, 0), blk(2, 2, 0), blk(10, 3, 0)}},
		{"block repeat with the same root", []step{blk(5, 1, 0), blk(5, 1, 0)}},
		{"double proposal", []step{blk(5, 1, 0), blk(5, 2, DoubleProposal)}},
		{"block below the lowest", []step{blk(5, 1, 0), blk(4, 2, SlotBelowLowWatermark)}},
		{"block between records", []step{blk(5, 1, 0), blk(9, 2, 0), blk(7, 3, 0), blk(7, 3, 0), blk(7, 4, DoubleProposal)}},
		{"genesis attestation", []step{att(0, 0, 1, 0), att(0, 0, 1, 0), att(0, 1, 2, 0)}},
		{"source after target", []step{att(3, 2, 1, SourceAfterTarget)}},
		{"attestation repeat", []step{att(1, 2, 1, 0), att(1, 2, 1, 0)}},
		{"double vote, other root", []step{att(1, 2, 1, 0), att(1, 2, 2, DoubleVote)}},
		{"double vote, other source", []step{att(1, 3, 1, 0), att(2, 3, 1, DoubleVote)}},
		{"surrounding", []step{att(3, 4, 1, 0), att(2, 5, 2, SurroundingVote)}},
		{"surrounded", []step{att(2, 9, 1, 0), att(3, 8, 2, SurroundedVote)}},
		{"surrounded, out of order", []step{att(2, 5, 1, 0), att(6, 9, 2, 0), att(3, 4, 3, SurroundedVote)}},
		{"surrounding, out of order", []step{att(2, 3, 1, 0), att(5, 6, 2, 0), att(3, 5, 3, 0), att(4, 7, 4, SurroundingVote)}},
		{"same source is not a surround", []step{att(2, 3, 1, 0), att(2, 5, 2, 0), att(2, 4, 3, 0)}},
		{"source below lowest", []step{att(5, 6, 1, 0), att(4, 5, 2, SourceBelowLowWatermark)}},
		{"target below lowest, same source", []step{att(5, 6, 1, 0), att(5, 5, 2, TargetBelowLowWatermark)}},
		{"target at lowest", []step{att(5, 6, 1, 0), att(5, 6, 2, DoubleVote), att(4, 5, 2, SourceBelowLowWatermark)}},
		{"target below lowest", []step{att(1, 6, 1, 0), att(1, 5, 2, TargetBelowLowWatermark)}},
		{"gap filled in order", []step{att(1, 2, 1, 0), att(2, 10, 2, 0), att(2, 5, 3, 0), att(5, 6, 4, SurroundedVote)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newTestProtector(t, Config{})
			runSteps(t, p, tt.steps)
		})
	}
}

func runSteps(t *testing.T, p *Protector, steps []step) {
	t.Helper()
	ctx := context.Background()
	for i, s := range steps {
		var err error
		if s.block {
			err = p.CheckAndRecordBlock(ctx, Block{Pubkey: pk(1), Slot: s.slot, SigningRoot: root(s.root)})
		} else {
			err = p.CheckAndRecordAttestation(ctx, Attestation{Pubkey: pk(1), Source: s.source, Target: s.targt, SigningRoot: root(s.root)})
		}
		switch {
		case s.want == 0 && err != nil:
			t.Fatalf("step %d: %v, want success", i, err)
		case s.want != 0 && !isSlashable(err, s.want):
			t.Fatalf("step %d: %v, want %v", i, err, s.want)
		}
	}
}

func TestMinimalRefusesRepeatsAndOldMessages(t *testing.T) {
	p, _ := newTestProtector(t, Config{Strategy: Minimal})
	runSteps(t, p, []step{
		blk(5, 1, 0), blk(5, 1, SlotBelowLowWatermark), blk(7, 2, 0), blk(6, 3, SlotBelowLowWatermark),
		att(2, 3, 1, 0), att(2, 3, 1, TargetBelowLowWatermark), att(1, 4, 2, SourceBelowLowWatermark), att(3, 5, 3, 0),
	})
}

// Records beyond History fold into the watermark: what they guarded stays refused.
func TestHistoryFoldKeepsGuarantees(t *testing.T) {
	p, d := newTestProtector(t, Config{History: 4})
	ctx := context.Background()
	for e := uint64(1); e <= 10; e++ {
		if err := p.CheckAndRecordAttestation(ctx, Attestation{Pubkey: pk(1), Source: e - 1, Target: e, SigningRoot: root(int(e))}); err != nil {
			t.Fatal(err)
		}
		if err := p.CheckAndRecordBlock(ctx, Block{Pubkey: pk(1), Slot: e * 10, SigningRoot: root(int(e))}); err != nil {
			t.Fatal(err)
		}
	}
	// Exactly History records of each kind are stored.
	nb, na := 0, 0
	ic, err := p.ExportInterchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range ic.Data {
		nb += len(v.SignedBlocks)
		na += len(v.SignedAttestations)
	}
	if nb != 5 || na != 5 { // 4 kept + the watermark's synthetic record
		t.Fatalf("exported %d blocks, %d attestations; want 5 and 5", nb, na)
	}
	// Folded repeats are now refused (the root is gone), recent repeats still pass.
	if err := p.CheckAndRecordAttestation(ctx, Attestation{Pubkey: pk(1), Source: 2, Target: 3, SigningRoot: root(3)}); !errors.Is(err, ErrSlashable) {
		t.Fatalf("repeat of a folded attestation: %v", err)
	}
	if err := p.CheckAndRecordAttestation(ctx, Attestation{Pubkey: pk(1), Source: 9, Target: 10, SigningRoot: root(10)}); err != nil {
		t.Fatalf("repeat of a kept attestation: %v", err)
	}
	if err := p.CheckAndRecordAttestation(ctx, Attestation{Pubkey: pk(1), Source: 0, Target: 11, SigningRoot: root(11)}); !errors.Is(err, ErrSlashable) {
		t.Fatalf("surrounding a folded attestation: %v", err)
	}
	// Disk holds exactly what memory holds: History records of each kind and the watermark.
	if n := countRows(t, d); n != 4+4+1 {
		t.Fatalf("%d slashing rows on disk, want 9", n)
	}
}

// Many goroutines race conflicting requests for one key: exactly one wins each conflict.
func TestConcurrentConflictsHaveOneWinner(t *testing.T) {
	p, _ := newTestProtector(t, Config{MaxBatch: 7}) // small batches: conflicts span batches too
	ctx := context.Background()
	const keys, rounds, racers = 8, 20, 6
	var wins [keys][rounds]atomic.Int32
	var wg sync.WaitGroup
	for k := range keys {
		for r := range racers {
			wg.Go(func() {
				for e := range rounds {
					// Each racer votes for target e+1 with its own root: double votes.
					err := p.CheckAndRecordAttestation(ctx, Attestation{Pubkey: pk(k), Source: uint64(e), Target: uint64(e + 1), SigningRoot: root(r)})
					if err == nil {
						wins[k][e].Add(1)
					} else if !errors.Is(err, ErrSlashable) {
						t.Error(err)
					}
					if err := p.CheckAndRecordBlock(ctx, Block{Pubkey: pk(k), Slot: uint64(1000 + e), SigningRoot: root(r)}); err != nil && !errors.Is(err, ErrSlashable) {
						t.Error(err)
					}
				}
			})
		}
	}
	wg.Wait()
	for k := range keys {
		for e := range rounds {
			// A racer that arrives after the winner of a later epoch is refused by the
			// watermark rules, so an epoch may also have no winner; never two.
			if n := wins[k][e].Load(); n > 1 {
				t.Fatalf("key %d epoch %d: %d conflicting attestations approved", k, e, n)
			}
		}
	}
}

func TestBatchAPIDecidesInOrder(t *testing.T) {
	p, _ := newTestProtector(t, Config{})
	ctx := context.Background()
	reqs := []Attestation{
		{Pubkey: pk(1), Source: 1, Target: 2, SigningRoot: root(1)},
		{Pubkey: pk(2), Source: 1, Target: 2, SigningRoot: root(1)},
		{Pubkey: pk(1), Source: 1, Target: 2, SigningRoot: root(2)}, // double vote with the first
		{Pubkey: pk(1), Source: 1, Target: 2, SigningRoot: root(1)}, // repeat of the first
		{Pubkey: pk(1), Source: 0, Target: 3, SigningRoot: root(3)}, // surrounds the first
	}
	errs := p.CheckAndRecordAttestations(ctx, reqs)
	want := []Reason{0, 0, DoubleVote, 0, SurroundingVote}
	for i, err := range errs {
		if (want[i] == 0) != (err == nil) || (want[i] != 0 && !isSlashable(err, want[i])) {
			t.Errorf("request %d: %v, want %v", i, err, want[i])
		}
	}
}

func TestLifecycle(t *testing.T) {
	d := openMem(t)
	p, err := New(Config{DB: d})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	if err := p.CheckAndRecordBlock(context.Background(), Block{Pubkey: pk(1), Slot: 1}); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(ctx); err == nil {
		t.Fatal("second Run accepted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := p.CheckAndRecordBlock(context.Background(), Block{Pubkey: pk(1), Slot: 2}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Run returned: %v, want ErrClosed", err)
	}
	errs := p.CheckAndRecordAttestations(context.Background(), []Attestation{{Pubkey: pk(1), Target: 1}, {Pubkey: pk(1), Target: 2}})
	for _, err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("batch after Run returned: %v", err)
		}
	}
	// Without Run, a caller waits until its context ends.
	p2, err := New(Config{DB: d})
	if err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if err := p2.CheckAndRecordBlock(cctx, Block{Pubkey: pk(1), Slot: 3}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
}

func TestNewChecksConfigAndNetwork(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("no database accepted")
	}
	d := openMem(t)
	for _, cfg := range []Config{
		{DB: d, Strategy: 7},
		{DB: d, History: -1},
		{DB: d, MaxBatch: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	if _, err := New(Config{DB: d, GenesisValidatorsRoot: root(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{DB: d, GenesisValidatorsRoot: root(2)}); !errors.Is(err, ErrGenesisMismatch) {
		t.Fatalf("other network: %v", err)
	}
	got, ok, err := StoredGenesisValidatorsRoot(d)
	if err != nil || !ok || got != root(1) {
		t.Fatalf("stored root %v %v %v", got, ok, err)
	}
}

func TestErrorText(t *testing.T) {
	err := error(&SlashableError{Pubkey: pk(1), Reason: SurroundedVote, Attempted: "attestation source=3 target=4", Existing: "signed attestation source=2 target=5"})
	want := fmt.Sprintf("refusing to sign attestation source=3 target=4 for %v: surrounded vote (signed attestation source=2 target=5)", pk(1))
	if err.Error() != want {
		t.Fatalf("%q\nwant %q", err, want)
	}
	if Reason(99).String() != "reason(99)" || Strategy(9).String() != "strategy(9)" {
		t.Fatal("unknown enum text")
	}
}

// A reference decision by brute force over every approved message, straight from the
// definitions: used by the property and fuzz tests.
type reference struct {
	blocks map[uint64]Root
	atts   []Attestation
}

// allowsAttestation is the consensus rules (no double vote, no surround either way), an identical
// repeat being allowed; with lowest, also EIP-3076 conditions 4 and 5 against the lowest record.
func (r *reference) allowsAttestation(a Attestation, lowest bool) bool {
	if a.Source > a.Target {
		return false
	}
	if containsAtt(r.atts, a) {
		return true // identical repeat: approved records never double, so it is the only one
	}
	for _, e := range r.atts {
		if e.Target == a.Target {
			return false // double vote
		}
		if (a.Source < e.Source && a.Target > e.Target) || (e.Source < a.Source && e.Target > a.Target) {
			return false // surround either way
		}
	}
	if lowest && len(r.atts) > 0 {
		minS, minT := r.atts[0].Source, r.atts[0].Target
		for _, e := range r.atts {
			minS, minT = min(minS, e.Source), min(minT, e.Target)
		}
		if a.Source < minS || a.Target <= minT {
			return false
		}
	}
	return true
}

// allowsBlock: no second block at a slot with another root; with lowest, EIP-3076 condition 3.
func (r *reference) allowsBlock(b Block, lowest bool) bool {
	if prev, ok := r.blocks[b.Slot]; ok {
		return prev == b.SigningRoot
	}
	if lowest && len(r.blocks) > 0 {
		lo := uint64(1<<64 - 1)
		for s := range r.blocks {
			lo = min(lo, s)
		}
		return b.Slot > lo
	}
	return true
}

// TestPropertyAgainstReference drives random requests (many conflicting) for a few keys and
// checks the Protector against the brute-force rules: Complete with enough history never
// refuses what the rules and EIP-3076's lowest-record conditions allow, never allows what they
// refuse; and any configuration (Minimal, short history) is never less safe than the rules.
func TestPropertyAgainstReference(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 600
	}
	for _, cfg := range []Config{{History: 1 << 20}, {History: 3}, {Strategy: Minimal}} {
		t.Run(fmt.Sprintf("%v-history-%d", cfg.Strategy, cfg.History), func(t *testing.T) {
			exact := cfg.Strategy == Complete && cfg.History > n
			// Requests cluster around a head epoch that advances through the run, as duties do,
			// with stragglers and conflicts a few epochs either side.
			head := func(i int) uint64 { return 4 + uint64(i*100/n) }
			p, _ := newTestProtector(t, cfg)
			rng := rand.New(rand.NewPCG(1, uint64(cfg.History)))
			refs := map[Pubkey]*reference{}
			ctx := context.Background()
			approved, refused := 0, 0
			defer func() {
				t.Logf("%d approved, %d refused", approved, refused)
				if approved < n/20 || refused < n/20 {
					t.Errorf("a degenerate run: %d approved, %d refused", approved, refused)
				}
			}()
			for i := range n {
				k := pk(rng.IntN(3))
				ref := refs[k]
				if ref == nil {
					ref = &reference{blocks: map[uint64]Root{}}
					refs[k] = ref
				}
				if rng.IntN(4) == 0 {
					b := Block{Pubkey: k, Slot: head(i)*4 + uint64(rng.IntN(8)) - 4, SigningRoot: root(rng.IntN(2))}
					err := p.CheckAndRecordBlock(ctx, b)
					ok := ref.allowsBlock(b, exact)
					if exact && ok != (err == nil) {
						t.Fatalf("request %d block %+v: %v, reference allows %v", i, b, err, ok)
					}
					if !exact && err == nil && !ok {
						t.Fatalf("request %d block %+v approved, reference refuses", i, b)
					}
					if err == nil {
						ref.blocks[b.Slot] = b.SigningRoot
						approved++
					} else {
						refused++
					}
					continue
				}
				tgt := head(i) + uint64(rng.IntN(6)) - 3
				a := Attestation{Pubkey: k, Source: tgt - min(tgt, uint64(rng.IntN(5))), Target: tgt, SigningRoot: root(rng.IntN(2))}
				if rng.IntN(20) == 0 {
					a.Source = tgt + 1
				}
				err := p.CheckAndRecordAttestation(ctx, a)
				ok := ref.allowsAttestation(a, exact)
				if exact && ok != (err == nil) {
					t.Fatalf("request %d %+v: %v, reference allows %v", i, a, err, ok)
				}
				if !exact && err == nil && !ok {
					t.Fatalf("request %d %+v approved, reference refuses", i, a)
				}
				if err != nil && !errors.Is(err, ErrSlashable) {
					t.Fatal(err)
				}
				if err == nil {
					approved++
				} else {
					refused++
				}
				if err == nil && !containsAtt(ref.atts, a) {
					ref.atts = append(ref.atts, a)
				}
			}
		})
	}
}

func containsAtt(as []Attestation, a Attestation) bool {
	for _, e := range as {
		if e == a {
			return true
		}
	}
	return false
}

// A failed write refuses the whole batch and leaves the in-memory state as it was, so the same
// request is not later mistaken for an already-recorded repeat.
func TestFailedWriteRefusesAndRemembersNothing(t *testing.T) {
	p, d := newTestProtector(t, Config{})
	ctx := context.Background()
	a := Attestation{Pubkey: pk(1), Source: 1, Target: 2, SigningRoot: root(1)}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		err := p.CheckAndRecordAttestation(ctx, a)
		if err == nil || errors.Is(err, ErrSlashable) || !errors.Is(err, db.ErrClosed) {
			t.Fatalf("write to a closed database: %v", err)
		}
	}
	if err := p.CheckAndRecordBlock(ctx, Block{Pubkey: pk(1), Slot: 1}); !errors.Is(err, db.ErrClosed) {
		t.Fatalf("block: %v", err)
	}
}

// Records below the low watermark, from older data imported after folding (here: a history
// written under Minimal, reopened under Complete), are folded into it; otherwise an export
// would carry them as the file's lowest records and an importer would take them as its
// watermark, letting it sign what was folded away.
func TestExportAfterImportBelowWatermark(t *testing.T) {
	d := openMem(t)
	ctx := context.Background()
	run := func(cfg Config) (*Protector, func()) {
		cfg.DB = d
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(rctx) }()
		return p, func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	minimal, stop := run(Config{Strategy: Minimal})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(minimal.CheckAndRecordBlock(ctx, Block{Pubkey: pk(1), Slot: 100, SigningRoot: root(1)}))
	must(minimal.CheckAndRecordAttestation(ctx, Attestation{Pubkey: pk(1), Source: 5, Target: 15, SigningRoot: root(2)}))
	must(minimal.CheckAndRecordAttestation(ctx, Attestation{Pubkey: pk(1), Source: 10, Target: 20, SigningRoot: root(3)}))
	stop()

	complete, stop := run(Config{Strategy: Complete})
	defer stop()
	old := &Interchange{Data: []ValidatorHistory{{
		Pubkey:             pk(1),
		SignedBlocks:       []SignedBlock{{Slot: 50, SigningRoot: ptr(root(4))}},
		SignedAttestations: []SignedAttestation{{SourceEpoch: 1, TargetEpoch: 2, SigningRoot: ptr(root(5))}},
	}}}
	if _, err := complete.ImportInterchange(ctx, old); err != nil {
		t.Fatal(err)
	}
	ic, err := complete.ExportInterchange(ctx)
	if err != nil {
		t.Fatal(err)
	}

	fresh, _ := newTestProtector(t, Config{})
	if _, err := fresh.ImportInterchange(ctx, ic); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Protector{complete, fresh} {
		if err := p.CheckAndRecordBlock(ctx, Block{Pubkey: pk(1), Slot: 100, SigningRoot: root(9)}); !errors.Is(err, ErrSlashable) {
			t.Errorf("another block at the folded slot 100: %v, want refused", err)
		}
		if err := p.CheckAndRecordBlock(ctx, Block{Pubkey: pk(1), Slot: 70, SigningRoot: root(9)}); !errors.Is(err, ErrSlashable) {
			t.Errorf("a block at slot 70, below the watermark: %v, want refused", err)
		}
		if err := p.CheckAndRecordAttestation(ctx, Attestation{Pubkey: pk(1), Source: 10, Target: 15, SigningRoot: root(9)}); !errors.Is(err, ErrSlashable) {
			t.Errorf("a second vote for the folded target 15: %v, want refused", err)
		}
	}
	// The export is the watermark and nothing below it.
	for _, v := range ic.Data {
		for _, b := range v.SignedBlocks {
			if b.Slot < 100 {
				t.Errorf("exported block at slot %d, below the watermark 100", b.Slot)
			}
		}
		for _, a := range v.SignedAttestations {
			if a.TargetEpoch < 20 {
				t.Errorf("exported attestation %d->%d, below the watermark target 20", a.SourceEpoch, a.TargetEpoch)
			}
		}
	}
}
