package client

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The health gauges and request counters over two beacon nodes: a failing primary is down, its
// failed read is counted as an error, the client is off the primary; once the primary answers
// and is back in its place, the gauges say so.
func TestHealthMetricsTwoNodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, p, _ := twoNodes()
		reg := prometheus.NewRegistry()
		m, err := newMetrics(reg)
		if err != nil {
			t.Fatal(err)
		}
		f.m = m
		s := &Service{o: options{metricsReg: reg}, m: m, nodes: f, bn: f}
		s.spec.slotDuration = 4 * time.Second // probes every second
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { s.watchHealth(ctx) })
		defer func() { cancel(); wg.Wait() }()

		synctest.Wait()
		if got := testutil.ToFloat64(m.primaryInUse); got != 1 {
			t.Errorf("both nodes good: primary in use %v", got)
		}
		if got := testutil.ToFloat64(m.bnTotal); got != 2 {
			t.Errorf("vc_beacon_nodes_total_count %v", got)
		}

		p.mode.Store(failing)
		if slot := dataSlot(t, f); slot != 2 {
			t.Fatalf("read from node %d, want the secondary", slot)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		for name, c := range map[string]struct {
			g    prometheus.Collector
			want float64
		}{
			"primary up":         {m.bnUp.WithLabelValues("primary"), 0},
			"secondary up":       {m.bnUp.WithLabelValues("secondary"), 1},
			"available":          {m.bnAvailable, 1},
			"synced":             {m.bnSyncedCount, 1},
			"primary in use":     {m.primaryInUse, 0},
			"primary errors":     {m.bnRequests.WithLabelValues("primary", "attestation_data", "error"), 1},
			"secondary answered": {m.bnRequests.WithLabelValues("secondary", "attestation_data", "ok"), 1},
		} {
			if got := testutil.ToFloat64(c.g); got != c.want {
				t.Errorf("primary failing: %s = %v, want %v", name, got, c.want)
			}
		}

		p.mode.Store(good)
		f.nodes[0].healthy.Store(true) // what the fallback's own check does once it answers
		time.Sleep(time.Second)
		synctest.Wait()
		if got := testutil.ToFloat64(m.primaryInUse); got != 1 {
			t.Errorf("primary back: primary in use %v", got)
		}
		if got := testutil.ToFloat64(m.bnUp.WithLabelValues("primary")); got != 1 {
			t.Errorf("primary back: up %v", got)
		}
	})
}
