package slashing

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zkvlabs/zkv/db"
)

// The crash test re-executes this test binary as a signer: the child opens a real badger
// directory, hammers the Protector from many goroutines with attestations and blocks for many
// keys (many of them conflicting), and prints each approved message to stdout only after
// CheckAndRecord returned nil, that is after its record was synced. The parent kills it with
// SIGKILL at a random moment, restarts it on the same directory, and after every kill checks
// that every message the child ever reported is still guarded, and that the reported messages
// of all runs together contain no two that are slashable with each other.

const (
	crashEnvDir      = "ZKV_SLASHING_CRASH_DIR"
	crashEnvBase     = "ZKV_SLASHING_CRASH_BASE"
	crashEnvStrategy = "ZKV_SLASHING_CRASH_STRATEGY"
	crashKeys        = 24
	crashHistory     = 6 // short, so that folding (deletes and watermark writes) runs all the time
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnvDir); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}

// crashChild is the signer process. It runs until killed (or 20 s as a guard against an orphan).
func crashChild(dir string) int {
	base, _ := strconv.ParseUint(os.Getenv(crashEnvBase), 10, 64)
	strategy := Complete
	if os.Getenv(crashEnvStrategy) == "minimal" {
		strategy = Minimal
	}
	d, err := db.Open(db.Config{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 3
	}
	p, err := New(Config{DB: d, Strategy: strategy, History: crashHistory, MaxBatch: 64})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 3
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The committer lives as long as this process, which ends by SIGKILL or the timeout.
	go p.Run(ctx)
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(base, uint64(w)))
			for n := uint64(0); ctx.Err() == nil; n++ {
				k := rng.IntN(crashKeys)
				head := base + n/8 // duties advance; stragglers and conflicts around the head
				var line string
				if rng.IntN(5) == 0 {
					b := Block{Pubkey: pk(k), Slot: head*4 + uint64(rng.IntN(12)), SigningRoot: root(rng.IntN(3))}
					if p.CheckAndRecordBlock(ctx, b) != nil {
						continue
					}
					line = fmt.Sprintf("B %d %d %d\n", k, b.Slot, b.SigningRoot[2])
				} else {
					t := head + uint64(rng.IntN(6))
					a := Attestation{Pubkey: pk(k), Source: t - min(t, uint64(rng.IntN(4))), Target: t, SigningRoot: root(rng.IntN(3))}
					if p.CheckAndRecordAttestation(ctx, a) != nil {
						continue
					}
					line = fmt.Sprintf("A %d %d %d %d\n", k, a.Source, a.Target, a.SigningRoot[2])
				}
				// One write per line: lines shorter than PIPE_BUF reach the pipe whole.
				if _, err := os.Stdout.WriteString(line); err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return 0
}

type signed struct {
	block          bool
	key            int
	slot, src, tgt uint64
	rootIdx        int
}

func parseSigned(line string) (signed, bool) {
	f := strings.Fields(line)
	num := func(s string) uint64 { v, _ := strconv.ParseUint(s, 10, 64); return v }
	switch {
	case len(f) == 4 && f[0] == "B":
		return signed{block: true, key: int(num(f[1])), slot: num(f[2]), rootIdx: int(num(f[3]))}, true
	case len(f) == 5 && f[0] == "A":
		return signed{key: int(num(f[1])), src: num(f[2]), tgt: num(f[3]), rootIdx: int(num(f[4]))}, true
	}
	return signed{}, false
}

func TestCrashRecovery(t *testing.T) {
	kills := 25
	if testing.Short() {
		kills = 5
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, strategy := range []Strategy{Complete, Minimal} {
		t.Run(strategy.String(), func(t *testing.T) {
			dir := t.TempDir()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
			var all []signed
			for run := range kills {
				got := runChild(t, exe, dir, strategy, uint64(run*3), rng)
				all = append(all, got...)
				t.Logf("run %d: killed after %d approved messages", run, len(got))
				checkGuarded(t, dir, strategy, all)
			}
			if len(all) < kills {
				t.Fatalf("only %d approved messages in %d runs: the child barely ran", len(all), kills)
			}
			checkNoConflicts(t, all)
		})
	}
}

// runChild starts a signer, kills it with SIGKILL at a random moment after it began approving,
// and returns what it reported.
func runChild(t *testing.T, exe, dir string, strategy Strategy, base uint64, rng *rand.Rand) []signed {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnvDir+"="+dir, crashEnvBase+"="+strconv.FormatUint(base, 10), crashEnvStrategy+"="+strategy.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var got []signed
	first := time.After(30 * time.Second)
	select {
	case l, ok := <-lines:
		if !ok {
			cmd.Wait()
			t.Fatal("the signer exited before approving anything")
		}
		if s, ok := parseSigned(l); ok {
			got = append(got, s)
		}
	case <-first:
		cmd.Process.Kill()
		t.Fatal("the signer approved nothing in 30 s")
	}
	kill := time.After(time.Duration(rng.IntN(150)) * time.Millisecond)
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				done = true
				break
			}
			if s, ok := parseSigned(l); ok {
				got = append(got, s)
			}
		case <-kill:
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			kill = nil
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the signer ended with %v, not by SIGKILL", err)
	}
	return got
}

// checkGuarded reopens the directory (which must open: the kernel released the dead process's
// lock) and asks a fresh Protector for a conflicting twin of every reported message: a double
// and, where one exists, a surrounding vote. Every one must be refused.
func checkGuarded(t *testing.T, dir string, strategy Strategy, all []signed) {
	t.Helper()
	d, err := db.Open(db.Config{Dir: dir})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer d.Close()
	p, err := New(Config{DB: d, Strategy: strategy, History: crashHistory})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { p.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	var probes []Attestation
	var probeOf []signed
	for _, s := range all {
		if s.block {
			err := p.CheckAndRecordBlock(ctx, Block{Pubkey: pk(s.key), Slot: s.slot, SigningRoot: root(s.rootIdx + 10)})
			if !errors.Is(err, ErrSlashable) {
				t.Fatalf("a second block at reported slot %d of key %d was not refused: %v", s.slot, s.key, err)
			}
			continue
		}
		probes = append(probes, Attestation{Pubkey: pk(s.key), Source: s.src, Target: s.tgt, SigningRoot: root(s.rootIdx + 10)})
		probeOf = append(probeOf, s)
		if s.src > 0 {
			probes = append(probes, Attestation{Pubkey: pk(s.key), Source: s.src - 1, Target: s.tgt + 1, SigningRoot: root(s.rootIdx + 10)})
			probeOf = append(probeOf, s)
		}
	}
	for i, err := range p.CheckAndRecordAttestations(ctx, probes) {
		if !errors.Is(err, ErrSlashable) {
			t.Fatalf("conflicting twin %+v of reported %+v was not refused: %v", probes[i], probeOf[i], err)
		}
	}
}

// checkNoConflicts: the approved messages of all runs, crashes included, are never slashable
// with each other (same key: a second root at a slot or target, or a surround).
func checkNoConflicts(t *testing.T, all []signed) {
	t.Helper()
	byKey := map[int][]signed{}
	for _, s := range all {
		byKey[s.key] = append(byKey[s.key], s)
	}
	for k, ss := range byKey {
		for i, a := range ss {
			for _, b := range ss[i+1:] {
				if a.block != b.block {
					continue
				}
				if a.block {
					if a.slot == b.slot && a.rootIdx != b.rootIdx {
						t.Fatalf("key %d: two blocks at slot %d", k, a.slot)
					}
					continue
				}
				if a.tgt == b.tgt && (a.src != b.src || a.rootIdx != b.rootIdx) {
					t.Fatalf("key %d: double vote %+v %+v", k, a, b)
				}
				if (a.src < b.src && a.tgt > b.tgt) || (b.src < a.src && b.tgt > a.tgt) {
					t.Fatalf("key %d: surround %+v %+v", k, a, b)
				}
			}
		}
	}
}
