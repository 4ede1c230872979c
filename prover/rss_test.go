package prover

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Peak memory is measured in a child process (this test binary run again with -zkv.rss-child),
// so that it covers one job only: the kernel's VmHWM of that process.
var rssChild = flag.String("zkv.rss-child", "", "internal: run one peak-RSS job (prover or verifier) and print VmHWM")

// TestRSSChild is the child side of BenchmarkPeakRSS; without -zkv.rss-child it has nothing to
// do and is skipped.
func TestRSSChild(t *testing.T) {
	if *rssChild == "" {
		t.Skip("runs only as BenchmarkPeakRSS's child process")
	}
	dir := os.Getenv("ZKV_RSS_DIR") // test plumbing between parent and child
	var err error
	switch *rssChild {
	case "prover":
		err = rssProver(dir)
	case "verifier":
		err = rssVerifier(dir)
	default:
		err = fmt.Errorf("unknown job %q", *rssChild)
	}
	if err != nil {
		t.Fatal(err)
	}
	hwm, err := vmHWM()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("VmHWM-kB %d\n", hwm)
}

// rssProver loads the depth-20 keys from the cache and proves 4 proofs per worker twice (a
// cold and a warm round), with the default cache size.
func rssProver(cacheDir string) error {
	keys, _, err := LoadKeys(KeyConfig{Depth: DefaultDepth, CacheDir: cacheDir})
	if err != nil {
		return err
	}
	p, err := NewProver(keys, ProverConfig{})
	if err != nil {
		return err
	}
	vs := newTestValidators(4 * p.workers)
	tr, err := buildTestTree(DefaultDepth, testLeaves(vs))
	if err != nil {
		return err
	}
	for epoch := uint64(1); epoch <= 2; epoch++ {
		reqs := make([]Request, len(vs))
		for i := range reqs {
			reqs[i] = testRequest(tr, vs, i, epoch, "rss")
		}
		res, err := p.ProveMany(context.Background(), reqs)
		if err != nil {
			return err
		}
		for _, r := range res {
			if r.Err != nil {
				return r.Err
			}
		}
	}
	return nil
}

// rssVerifier is a pool: it reads the snarkjs verifying key and 1024 proofs, decodes them and
// batch-verifies them.
func rssVerifier(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "vk.json"))
	if err != nil {
		return err
	}
	var sv SnarkjsVerifyingKey
	if err := json.Unmarshal(b, &sv); err != nil {
		return err
	}
	vk, err := VerifyingKeyFromSnarkjs(&sv)
	if err != nil {
		return err
	}
	b, err = os.ReadFile(filepath.Join(dir, "proofs.json"))
	if err != nil {
		return err
	}
	var sps []SnarkjsProof
	if err := json.Unmarshal(b, &sps); err != nil {
		return err
	}
	claims := make([]Claim, len(sps))
	for i := range sps {
		if claims[i], err = ClaimFromSnarkjs(&sps[i], nil); err != nil {
			return err
		}
	}
	return vk.BatchVerifyPairing(claims)
}

func vmHWM() (int, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// BenchmarkPeakRSS reports the peak resident memory of a depth-20 proving worker pool
// (GOMAXPROCS workers, keys, fixed-base tables and a warm cache included) and of a verifier
// batch-verifying 1024 proofs, each in its own process.
func BenchmarkPeakRSS(b *testing.B) {
	mustBenchKeys(b)
	claims, err := benchClaims()
	if err != nil {
		b.Fatal(err)
	}
	keys := mustBenchKeys(b)
	dir := b.TempDir()
	vkJSON, _ := json.Marshal(keys.VerifyingKey().Snarkjs())
	sps := make([]SnarkjsProof, 1024)
	for i := range sps {
		c := &claims[i%len(claims)]
		sps[i] = c.Proof.Snarkjs(&c.Statement)
	}
	proofsJSON, _ := json.Marshal(sps)
	if err := os.WriteFile(filepath.Join(dir, "vk.json"), vkJSON, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "proofs.json"), proofsJSON, 0o644); err != nil {
		b.Fatal(err)
	}
	jobs := map[string]string{
		"prover":   filepath.Join(os.TempDir(), "zkv-bench-keys"),
		"verifier": dir,
	}
	for _, job := range []string{"prover", "verifier"} {
		b.Run(job, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				cmd := exec.Command(os.Args[0], "-test.run=^TestRSSChild$", "-zkv.rss-child="+job)
				cmd.Env = append(os.Environ(), "ZKV_RSS_DIR="+jobs[job])
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("%s child: %v\n%s", job, err, out)
				}
				var kb int
				for _, line := range strings.Split(string(out), "\n") {
					if v, ok := strings.CutPrefix(line, "VmHWM-kB "); ok {
						kb, _ = strconv.Atoi(v)
					}
				}
				if kb == 0 {
					b.Fatalf("%s child printed no VmHWM:\n%s", job, out)
				}
				b.ReportMetric(float64(kb)/1024, "peak-MiB")
			}
		})
	}
}
