package bench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SchemaVersion is the version of the JSON report (`zkv bench --json`). It changes when a field
// is removed or changes meaning; adding a field keeps it. Version 2 replaced version 1's
// mean/p50 per scenario with repeated runs (median, min, max), the machine and peers.
//
// Schema, version 2 (times in nanoseconds per operation, as float64):
//
//	schema_version  int      2
//	started         string   RFC 3339 time the run began
//	quick           bool     quick mode (smaller inputs, shorter runs)
//	machine         object   cpu_model, num_cpu, memory_bytes (0 if unknown), gomaxprocs (of the
//	                         parent process), go_version, goos, goarch, module (zkv's version),
//	                         deps (module path -> version of the modules whose code is measured)
//	results         array    one object per scenario and GOMAXPROCS:
//	  name          string   suite/scenario, unique per cpus
//	  suite         string   the suite (`--suite`)
//	  description   string
//	  note          string   how the figure is derived, when it is not a plain measurement
//	  series        string   optional: figures of one series do the same work at different
//	                         items_per_op (batch sizes); the report plots them as one line
//	  unit          string   "ns/op": the unit of median, min, max, p99 and peer.median
//	  item_unit     string   what one item is (signature, proof, key, epoch)
//	  items_per_op  int      items one operation handles
//	  cpus          int      GOMAXPROCS the figure was measured at
//	  runs          int      timed runs (after one warm-up operation)
//	  ops           int      operations over all runs
//	  runs_ns       []float  each run's time per operation, sorted
//	  median, min, max      the median, fastest and slowest of runs_ns
//	  p99           float    99th percentile of single operations; 0 where latency is not the point
//	  per_second    float    items per second at the median
//	  setup_ns      float    time spent preparing inputs (not measured)
//	  peer          object   {name, median}: the peer scenario of the same run, scaled to this
//	                         scenario's items_per_op; absent without a peer
//	  ratio         float    median / peer.median (below 1: zkv is faster); 0 without a peer
const SchemaVersion = 2

// Report is a whole run; see SchemaVersion for the JSON schema.
type Report struct {
	SchemaVersion int       `json:"schema_version"`
	Started       time.Time `json:"started"`
	Quick         bool      `json:"quick"`
	Machine       Machine   `json:"machine"`
	Results       []Result  `json:"results"`
}

// Machine describes where a report was measured.
type Machine struct {
	CPUModel    string            `json:"cpu_model"`
	NumCPU      int               `json:"num_cpu"`
	MemoryBytes uint64            `json:"memory_bytes"`
	GOMAXPROCS  int               `json:"gomaxprocs"`
	GoVersion   string            `json:"go_version"`
	GOOS        string            `json:"goos"`
	GOARCH      string            `json:"goarch"`
	Module      string            `json:"module"`
	Deps        map[string]string `json:"deps"`
}

// Result is one scenario's measurement at one GOMAXPROCS.
type Result struct {
	Name        string    `json:"name"`
	Suite       string    `json:"suite"`
	Description string    `json:"description"`
	Note        string    `json:"note,omitempty"`
	Series      string    `json:"series,omitempty"`
	Unit        string    `json:"unit"`
	ItemUnit    string    `json:"item_unit"`
	ItemsPerOp  int       `json:"items_per_op"`
	CPUs        int       `json:"cpus"`
	Runs        int       `json:"runs"`
	Ops         int       `json:"ops"`
	RunsNs      []float64 `json:"runs_ns"`
	Median      float64   `json:"median"`
	Min         float64   `json:"min"`
	Max         float64   `json:"max"`
	P99         float64   `json:"p99"`
	PerSecond   float64   `json:"per_second"`
	SetupNs     float64   `json:"setup_ns"`
	Peer        *Peer     `json:"peer,omitempty"`
	Ratio       float64   `json:"ratio"`
}

// Peer is another implementation's figure for the same work, from the same run.
type Peer struct {
	Name   string  `json:"name"`
	Median float64 `json:"median"`
}

// NewReport starts an empty report of this machine.
func NewReport(quick bool) Report {
	return Report{SchemaVersion: SchemaVersion, Started: time.Now().UTC(), Quick: quick, Machine: ThisMachine()}
}

// deps are the modules whose code the suites measure.
var deps = []string{
	"github.com/consensys/gnark", "github.com/consensys/gnark-crypto",
	"github.com/dgraph-io/badger/v4", "github.com/quic-go/quic-go",
}

// ThisMachine describes the running machine and binary.
func ThisMachine() Machine {
	m := Machine{
		CPUModel: runtime.GOARCH, NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Deps: map[string]string{},
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if fields := strings.Fields(s.Text()); len(fields) >= 2 && fields[0] == "MemTotal:" {
				if kb, err := strconv.ParseUint(fields[1], 10, 64); err == nil {
					m.MemoryBytes = kb << 10
				}
				break
			}
		}
		f.Close()
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		m.Module = bi.Main.Path + "@" + bi.Main.Version
		for _, d := range bi.Deps {
			if slices.Contains(deps, d.Path) {
				m.Deps[d.Path] = d.Version
			}
		}
	}
	return m
}

// CPUCounts lists the GOMAXPROCS values the report's figures were measured at, ascending.
func (rep Report) CPUCounts() []int {
	var out []int
	for _, r := range rep.Results {
		if !slices.Contains(out, r.CPUs) {
			out = append(out, r.CPUs)
		}
	}
	slices.Sort(out)
	return out
}

type key struct {
	name string
	cpus int
}

func resultKey(r Result) key { return key{r.Name, r.CPUs} }

// Speedups gives, for each figure of a scenario measured at several GOMAXPROCS, its throughput
// (items per second) over the same scenario's throughput at the fewest cores; per item, because
// a scenario may size its batch by the cores (keys/load-dir). Empty for a single count.
func (rep Report) Speedups() map[key]float64 {
	out := map[key]float64{}
	if len(rep.CPUCounts()) < 2 {
		return out
	}
	base := map[string]Result{}
	for _, r := range rep.Results {
		if b, ok := base[r.Name]; !ok || r.CPUs < b.CPUs {
			base[r.Name] = r
		}
	}
	for _, r := range rep.Results {
		out[resultKey(r)] = r.PerSecond / base[r.Name].PerSecond
	}
	return out
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, rep Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// ReadJSON reads a report written by WriteJSON and validates it.
func ReadJSON(r io.Reader) (Report, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return Report{}, err
	}
	if err := ValidateJSON(raw); err != nil {
		return Report{}, err
	}
	var rep Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return Report{}, err
	}
	return rep, nil
}

// ErrSchema reports a JSON report that does not follow the documented schema.
var ErrSchema = errors.New("bench report does not follow the schema")

// ValidateJSON checks raw against the documented schema of SchemaVersion: every documented
// field present with its JSON type, and the figures consistent (min <= median <= max, one
// runs_ns entry per run, ratio = median/peer). It checks structure, never how fast anything was.
func ValidateJSON(raw []byte) error {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%w: %v", ErrSchema, err)
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrSchema, fmt.Sprintf(format, a...))
	}
	if v, ok := doc["schema_version"].(float64); !ok || int(v) != SchemaVersion {
		return fail("schema_version %v, want %d", doc["schema_version"], SchemaVersion)
	}
	if err := fields(doc, "", map[string]string{"started": "string", "quick": "bool", "machine": "object", "results": "array"}); err != nil {
		return fail("%v", err)
	}
	if _, err := time.Parse(time.RFC3339Nano, doc["started"].(string)); err != nil {
		return fail("started: %v", err)
	}
	if err := fields(doc["machine"].(map[string]any), "machine.", map[string]string{
		"cpu_model": "string", "num_cpu": "number", "memory_bytes": "number", "gomaxprocs": "number",
		"go_version": "string", "goos": "string", "goarch": "string", "module": "string", "deps": "object",
	}); err != nil {
		return fail("%v", err)
	}
	results := doc["results"].([]any)
	if len(results) == 0 {
		return fail("no results")
	}
	for i, x := range results {
		r, ok := x.(map[string]any)
		if !ok {
			return fail("results[%d] is not an object", i)
		}
		p := fmt.Sprintf("results[%d].", i)
		if err := fields(r, p, map[string]string{
			"name": "string", "suite": "string", "description": "string", "unit": "string", "item_unit": "string",
			"items_per_op": "number", "cpus": "number", "runs": "number", "ops": "number", "runs_ns": "array",
			"median": "number", "min": "number", "max": "number", "p99": "number", "per_second": "number",
			"setup_ns": "number", "ratio": "number",
		}); err != nil {
			return fail("%v", err)
		}
		name := r["name"].(string)
		num := func(k string) float64 { return r[k].(float64) }
		switch {
		case r["unit"] != "ns/op":
			return fail("%s: unit %v, want ns/op", name, r["unit"])
		case !strings.HasPrefix(name, r["suite"].(string)+"/"):
			return fail("%s: not in suite %v", name, r["suite"])
		case num("runs") < 1 || int(num("runs")) != len(r["runs_ns"].([]any)) || num("ops") < num("runs"):
			return fail("%s: %v runs, %d runs_ns, %v ops", name, r["runs"], len(r["runs_ns"].([]any)), r["ops"])
		case num("min") <= 0 || num("min") > num("median") || num("median") > num("max"):
			return fail("%s: min %v, median %v, max %v out of order", name, r["min"], r["median"], r["max"])
		case num("p99") < 0 || num("cpus") < 1 || num("items_per_op") < 1 || num("per_second") <= 0:
			return fail("%s: p99, cpus, items_per_op or per_second out of range", name)
		}
		if v, ok := r["series"]; ok {
			if _, ok := v.(string); !ok {
				return fail("%s: series is not a string", name)
			}
		}
		if peer, ok := r["peer"]; ok {
			pm, ok := peer.(map[string]any)
			if !ok {
				return fail("%s: peer is not an object", name)
			}
			if err := fields(pm, p+"peer.", map[string]string{"name": "string", "median": "number"}); err != nil {
				return fail("%v", err)
			}
			if want := num("median") / pm["median"].(float64); num("ratio") < want*0.999 || num("ratio") > want*1.001 {
				return fail("%s: ratio %v, want median/peer.median = %v", name, r["ratio"], want)
			}
		} else if num("ratio") != 0 {
			return fail("%s: ratio without a peer", name)
		}
	}
	return nil
}

func fields(obj map[string]any, prefix string, want map[string]string) error {
	for k, typ := range want {
		v, ok := obj[k]
		if !ok {
			return fmt.Errorf("%s%s missing", prefix, k)
		}
		var got string
		switch v.(type) {
		case string:
			got = "string"
		case bool:
			got = "bool"
		case float64:
			got = "number"
		case map[string]any:
			got = "object"
		case []any:
			got = "array"
		default:
			got = "null"
		}
		if got != typ {
			return fmt.Errorf("%s%s is %s, want %s", prefix, k, got, typ)
		}
	}
	return nil
}
