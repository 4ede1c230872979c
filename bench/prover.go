package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"html"
	"html/template"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/logger"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
)

// ProverDepths are the registry depths of the full prover suite (2^depth validators: 65 thousand
// to 4 billion); quick mode measures QuickDepth only.
var ProverDepths = []int{16, 20, 24, 32}

// QuickDepth is the registry depth of the prover and pool suites in quick mode (256 validators).
const QuickDepth = 8

// proofsPerOp is how many validators prove in one operation of the prover suite: enough to keep
// every core busy in zkv's ProveMany, few enough that an operation at depth 32 takes seconds.
func proofsPerOp(quick bool) int {
	if quick {
		return 4
	}
	return 16
}

// benchNetwork is the chain the bench's registrations and proofs are for: any fixed network.
var benchNetwork = prover.Network{GenesisForkVersion: [4]byte{0x10, 0x00, 0x00, 0x38}}

const benchWeight = 32_000_000_000 // 32 ETH effective balance in gwei

// signed holds the bench's validators, each with its registration, made once per process: a
// registration carries a Groth16 proof of its identity, and every depth's registry takes the
// same ones.
var signed struct {
	mu   sync.Mutex
	ik   *prover.IdentityKeys
	sks  []*bls.SecretKey
	regs []registry.Registration
}

func registrations(n int) ([]*bls.SecretKey, []registry.Registration, *prover.IdentityKeys, error) {
	signed.mu.Lock()
	defer signed.mu.Unlock()
	if signed.ik == nil {
		ik, err := prover.LoadIdentityKeys("", false)
		if err != nil {
			return nil, nil, nil, err
		}
		signed.ik = ik
	}
	domain := registry.ComputeDomain(benchNetwork)
	for len(signed.sks) < n {
		sk, err := bls.GenerateSecretKey()
		if err != nil {
			return nil, nil, nil, err
		}
		r, err := registry.Sign(signed.ik, sk, benchWeight, domain)
		if err != nil {
			return nil, nil, nil, err
		}
		signed.sks, signed.regs = append(signed.sks, sk), append(signed.regs, r)
	}
	return signed.sks[:n], signed.regs[:n], signed.ik, nil
}

// attesters are n validators registered one after the other (so they share the tree levels
// above them) in a registry of some depth, sealed at epoch 1, with one proving request each:
// the state of an operator about to prove its attestations.
type attesters struct {
	keys   *prover.Keys
	prover *prover.Prover // nil until newProver
	reqs   []prover.Request
	epoch  uint64
}

func newAttesters(ctx context.Context, depth, n int) (*attesters, error) {
	logger.Disable()
	keys, err := loadKeys(ctx, depth)
	if err != nil {
		return nil, err
	}
	sks, regs, ik, err := registrations(n)
	if err != nil {
		return nil, err
	}
	reg, err := registry.Open(registry.NewMemStore(), registry.Config{Depth: depth, Network: benchNetwork, IdentityKey: ik.VerifyingKey()})
	if err != nil {
		return nil, err
	}
	for _, r := range regs {
		if err := reg.Register(r); err != nil {
			return nil, err
		}
	}
	if _, err := reg.Seal(1); err != nil {
		return nil, err
	}
	a := &attesters{keys: keys, epoch: 1}
	for _, sk := range sks {
		m, err := reg.Member(sk.PublicKey().Bytes())
		if err != nil {
			return nil, err
		}
		a.reqs = append(a.reqs, prover.Request{
			Secret: prover.SecretFromBLS(sk), Weight: benchWeight, Path: m.Path, Root: m.Root,
			Epoch: m.Epoch, MinWeight: benchWeight, Network: benchNetwork.ID(),
		})
	}
	return a, nil
}

// newProver gives the attesters a new prover: its cache is empty, as after a restart.
func (a *attesters) newProver(cfg prover.ProverConfig) error {
	p, err := prover.NewProver(a.keys, cfg)
	if err != nil {
		return err
	}
	a.prover = p
	return nil
}

// keyCacheKey carries Options.KeyCache to the scenarios' setups.
type keyCacheKey struct{}

func withKeyCache(ctx context.Context, dir string) context.Context {
	return context.WithValue(ctx, keyCacheKey{}, dir)
}

// keysAt names one set of keys a process has loaded: a circuit's setup takes seconds (minutes
// at depth 32 on two cores), and every scenario of a depth, prover and pool, uses the same
// keys. Keys are read-only once made.
type keysAt struct {
	dir   string
	depth int
}

var (
	keysMu      sync.Mutex
	keysByDepth = map[keysAt]*prover.Keys{}
)

// loadKeys returns the keys of a depth: from this process's earlier setups, from the key cache
// directory of the run (Options.KeyCache), or from a new single-party setup, which is then
// written to that directory. The bench's keys prove only its own generated validators, so a
// single-party setup is what they need.
func loadKeys(ctx context.Context, depth int) (*prover.Keys, error) {
	dir, _ := ctx.Value(keyCacheKey{}).(string)
	keysMu.Lock()
	defer keysMu.Unlock()
	at := keysAt{dir, depth}
	if k, ok := keysByDepth[at]; ok {
		return k, nil
	}
	k, _, err := prover.LoadKeys(prover.KeyConfig{Depth: depth, CacheDir: dir})
	if err != nil {
		return nil, fmt.Errorf("keys of depth %d: %w", depth, err)
	}
	keysByDepth[at] = k
	return k, nil
}

// nextEpoch moves every request to a new epoch and a fresh attestation signing root, as each
// validator's next attestation would.
func (a *attesters) nextEpoch() error {
	a.epoch++
	for i := range a.reqs {
		a.reqs[i].Epoch = a.epoch
		if _, err := rand.Read(a.reqs[i].SigningRoot[:]); err != nil {
			return err
		}
	}
	return nil
}

// growElsewhere changes the top-level sibling of every path to a new value and each root to
// match, as registrations in another top-level subtree of the registry would: the validators'
// leaves and lower levels stay as they were. (Filling another top subtree of a real registry
// of depth 20 or more would take millions of registrations.)
func (a *attesters) growElsewhere() error {
	var other fr.Element
	if _, err := other.SetRandom(); err != nil {
		return err
	}
	for i := range a.reqs {
		r := &a.reqs[i]
		top := len(r.Path.Siblings) - 1
		r.Path.Siblings = slices.Clone(r.Path.Siblings)
		// The validators sit in the first top subtree; the last sibling is another subtree.
		r.Path.Siblings[top][prover.Arity-2] = other
		r.Root = r.Path.Root(prover.Leaf(prover.IdentityCommitment(r.Secret), r.Weight))
	}
	return nil
}

func (a *attesters) proveAll(ctx context.Context) ([]prover.Claim, error) {
	res, err := a.prover.ProveMany(ctx, a.reqs)
	if err != nil {
		return nil, err
	}
	claims := make([]prover.Claim, len(res))
	for i, r := range res {
		if r.Err != nil {
			return nil, fmt.Errorf("proof %d: %w", i, r.Err)
		}
		claims[i] = prover.Claim{Proof: *r.Proof, Statement: r.Statement}
	}
	return claims, nil
}

// proveChecked proves every request and verifies the proofs: a setup's round, so that the
// figures are those of proofs a verifier accepts.
func (a *attesters) proveChecked(ctx context.Context) error {
	claims, err := a.proveAll(ctx)
	if err != nil {
		return err
	}
	return a.keys.VerifyingKey().BatchVerifyPairing(claims)
}

// ProverScenarios time private attestation proofs per registry depth: gnark's own
// groth16.Prove (the peer) against zkv's prover from cold, fresh, warm and grown caches. Quick
// mode measures QuickDepth only; the full run ProverDepths.
func ProverScenarios() []Scenario {
	var out []Scenario
	for _, d := range append([]int{QuickDepth}, ProverDepths...) {
		out = append(out, proverDepthScenarios(d)...)
	}
	return out
}

func proverDepthScenarios(depth int) []Scenario {
	name := func(s string) string { return fmt.Sprintf("prover/depth-%d/%s", depth, s) }
	skip := func(quick bool) string {
		switch {
		case quick && depth != QuickDepth:
			return fmt.Sprintf("prover depths %v are measured in the full run only", ProverDepths)
		case !quick && depth == QuickDepth:
			return fmt.Sprintf("prover depth %d is measured in quick mode only", QuickDepth)
		}
		return ""
	}
	stock := name("stock-gnark")
	// zkv is one scenario of zkv's prover: cfg for its cache, prepare for the state the first
	// operation starts from, reset before each operation (untimed).
	zkv := func(short, what string, cfg prover.ProverConfig, prepare func(ctx context.Context, a *attesters) error, reset func(a *attesters) error) Scenario {
		return Scenario{
			Name:        name(short),
			Description: fmt.Sprintf("depth %d: %s; ProveMany, one proof per core", depth, what),
			Unit:        "proof",
			Peer:        stock,
			Skip:        skip,
			Setup: func(ctx context.Context, quick bool) (Prepared, error) {
				n := proofsPerOp(quick)
				a, err := newAttesters(ctx, depth, n)
				if err != nil {
					return Prepared{}, err
				}
				if err := a.newProver(cfg); err != nil {
					return Prepared{}, err
				}
				if prepare != nil {
					if err := prepare(ctx, a); err != nil {
						return Prepared{}, err
					}
				}
				return Prepared{
					Reset: func() error { return reset(a) },
					Op: func() error {
						_, err := a.proveAll(ctx)
						return err
					},
					Items: n,
				}, nil
			},
		}
	}
	fillCache := func(ctx context.Context, a *attesters) error { return a.proveChecked(ctx) }
	return []Scenario{
		{
			Name: stock,
			Description: fmt.Sprintf("depth %d: gnark's own groth16.Prove (keys.ProveStock), one proof after the other, "+
				"each on every core: the peer of the zkv figures", depth),
			Unit: "proof",
			Skip: skip,
			Setup: func(ctx context.Context, quick bool) (Prepared, error) {
				n := proofsPerOp(quick)
				a, err := newAttesters(ctx, depth, n)
				if err != nil {
					return Prepared{}, err
				}
				return Prepared{Reset: a.nextEpoch, Op: func() error {
					for i := range a.reqs {
						if _, _, err := a.keys.ProveStock(&a.reqs[i]); err != nil {
							return err
						}
					}
					return nil
				}, Items: n}, nil
			},
		},
		zkv("zkv-cold", "cache off (CacheSize -1): every proof computes every sum",
			prover.ProverConfig{CacheSize: -1}, nil, (*attesters).nextEpoch),
		zkv("zkv-fresh", "first epoch after a restart: a new prover (cache on, empty) for each operation, "+
			"its validators registered together, so the later proofs take the tree levels above them from the first",
			prover.ProverConfig{}, nil, func(a *attesters) error {
				if err := a.newProver(prover.ProverConfig{}); err != nil {
					return err
				}
				return a.nextEpoch()
			}),
		zkv("zkv-warm", "next epoch of the same validators under the same root: only the epoch's values are new",
			prover.ProverConfig{}, fillCache, (*attesters).nextEpoch),
		zkv("zkv-grown", "next epoch after the registry grew in another top-level subtree: each path's top sibling "+
			"and the root are changed before each operation (on the paths, not by registering millions), so the "+
			"top level's sums are recomputed with the epoch's",
			prover.ProverConfig{}, fillCache, func(a *attesters) error {
				if err := a.nextEpoch(); err != nil {
					return err
				}
				return a.growElsewhere()
			}),
	}
}

// EpochKeys are the operator sizes whose proving time per epoch the prover suite derives.
var EpochKeys = []int{1_000, 10_000, 100_000}

// EpochBudget is one epoch, 32 slots of 12 s: every key attests once an epoch, so an operator
// proves one attestation per key within it.
const EpochBudget = 384 * time.Second

// epochModes are the prover figures the per-epoch table derives from, in column order.
var epochModes = []struct{ short, what string }{
	{"stock-gnark", "stock gnark"},
	{"zkv-cold", "zkv, cache off"},
	{"zkv-fresh", "zkv, first epoch after a restart"},
	{"zkv-warm", "zkv, every next epoch"},
	{"zkv-grown", "zkv, next epoch after growth"},
}

// epochTable is the derived per-epoch proving time at one depth and GOMAXPROCS: for each of
// EpochKeys, keys times the median time per proof of each mode (0 where not measured).
type epochTable struct {
	depth, cpus int
	fresh       int         // validators proved together in the fresh figure's operations
	seconds     [][]float64 // [keys][mode]
}

// epochTables derives, from a report's prover figures, the time to prove one epoch for
// EpochKeys keys at the default depth (20), or at the depth measured when the report has not
// that one (quick mode), one table per GOMAXPROCS. It extrapolates linearly from the per-proof
// medians; it measures nothing.
func epochTables(rep Report) []epochTable {
	perProof := map[key]float64{}
	together := map[key]int{}
	depths := map[int]bool{}
	for _, r := range rep.Results {
		var d int
		var mode string
		if _, err := fmt.Sscanf(r.Name, "prover/depth-%d/", &d); err != nil {
			continue
		}
		mode = r.Name[strings.LastIndex(r.Name, "/")+1:]
		depths[d] = true
		perProof[key{fmt.Sprintf("%d/%s", d, mode), r.CPUs}] = r.Median / float64(r.ItemsPerOp) / 1e9
		together[key{fmt.Sprintf("%d/%s", d, mode), r.CPUs}] = r.ItemsPerOp
	}
	if len(depths) == 0 {
		return nil
	}
	depth := prover.DefaultDepth
	if !depths[depth] {
		depth = 0
		for d := range depths {
			depth = max(depth, d)
		}
	}
	var out []epochTable
	for _, c := range rep.CPUCounts() {
		t := epochTable{depth: depth, cpus: c, fresh: together[key{fmt.Sprintf("%d/zkv-fresh", depth), c}]}
		found := false
		for _, n := range EpochKeys {
			row := make([]float64, len(epochModes))
			for j, m := range epochModes {
				if s, ok := perProof[key{fmt.Sprintf("%d/%s", depth, m.short), c}]; ok {
					row[j], found = s*float64(n), true
				}
			}
			t.seconds = append(t.seconds, row)
		}
		if found {
			out = append(out, t)
		}
	}
	return out
}

func (t epochTable) title() string {
	s := fmt.Sprintf("DERIVED, not measured: one epoch of proofs at depth %d on %d cpus, extrapolated as keys x the "+
		"median time per proof above, against the %s epoch budget (%% of it in brackets).", t.depth, t.cpus, EpochBudget)
	if t.fresh > 0 {
		s += fmt.Sprintf(" The fresh column is an upper bound: an operator's thousands of keys share more tree levels "+
			"than the %d validators of one operation.", t.fresh)
	}
	return s
}

func keysLabel(n int) string { return fmt.Sprintf("%dk keys", n/1000) }

func epochCell(s float64) string {
	if s == 0 {
		return "-"
	}
	d := time.Duration(s * 1e9)
	if d > 10*time.Second {
		d = d.Round(time.Second)
	} else {
		d = d.Round(10 * time.Millisecond)
	}
	return fmt.Sprintf("%s (%.0f%%)", d, 100*s/EpochBudget.Seconds())
}

// proverEpochLines is the derived per-epoch table for the terminal.
func proverEpochLines(rep Report) []string {
	var out []string
	for _, t := range epochTables(rep) {
		out = append(out, t.title())
		head := fmt.Sprintf("  %-12s", "")
		for _, m := range epochModes {
			head += fmt.Sprintf(" %19s", m.short)
		}
		out = append(out, head)
		for i, n := range EpochKeys {
			line := fmt.Sprintf("  %-12s", keysLabel(n))
			for _, s := range t.seconds[i] {
				line += fmt.Sprintf(" %19s", epochCell(s))
			}
			out = append(out, line)
		}
	}
	return out
}

// proverEpochHTML is the derived per-epoch table for the report page.
func proverEpochHTML(rep Report) template.HTML {
	var b strings.Builder
	for _, t := range epochTables(rep) {
		fmt.Fprintf(&b, `<p class="note derived">%s</p><table class="epoch-derived"><tr><th>keys</th>`, html.EscapeString(t.title()))
		for _, m := range epochModes {
			fmt.Fprintf(&b, `<th title="%s">%s</th>`, html.EscapeString(m.what), html.EscapeString(m.short))
		}
		b.WriteString(`</tr>`)
		for i, n := range EpochKeys {
			fmt.Fprintf(&b, `<tr><td>%s</td>`, keysLabel(n))
			for _, s := range t.seconds[i] {
				style := ""
				if s > EpochBudget.Seconds() {
					style = ` style="color:#c00"`
				}
				fmt.Fprintf(&b, `<td%s>%s</td>`, style, html.EscapeString(epochCell(s)))
			}
			b.WriteString(`</tr>`)
		}
		b.WriteString(`</table>`)
	}
	return template.HTML(b.String())
}
