package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	builderelectra "github.com/attestantio/go-builder-client/api/electra"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/mev"
	"github.com/zkvlabs/zkv/pbs"
)

// reportPercentiles adds p50 and p99 of ds, in microseconds, to the benchmark's output.
func reportPercentiles(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), "p99-µs")
}

// benchHarness is a relay with a registered proposer for slot 1 and the builder's submission of
// about txBytes bytes of transactions for it.
func benchHarness(b *testing.B, txBytes int) (*harness, *mev.Submission, []byte) {
	b.Helper()
	h := newHarness(b)
	h.registerThroughNode()
	h.builder.txBytes = txBytes
	s := h.bidFor(1, 1_000, 1)
	body, err := s.Encode(pbs.MediaSSZ)
	if err != nil {
		b.Fatal(err)
	}
	return h, s, body
}

// BenchmarkGetHeader: getHeader over HTTP on loopback (keep-alive, one request at a time), JSON
// as mev-boost asks, with the bid already signed.
func BenchmarkGetHeader(b *testing.B) {
	h, s, _ := benchHarness(b, 0)
	url := h.plainRelayURL() + "/eth/v1/builder/header/1/" + s.Payload.ParentHash.String() + "/" + s.Trace.ProposerPubkey.String()
	c := &http.Client{}
	ds := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ds = append(ds, time.Since(start))
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.StopTimer()
	reportPercentiles(b, ds)
}

// BenchmarkSubmit350KB: decode + all checks + batch-verify + durable store + auction of a
// 350 KB SSZ submission, called directly (no HTTP).
func BenchmarkSubmit350KB(b *testing.B) {
	h, _, body := benchHarness(b, 350_000)
	b.SetBytes(int64(len(body)))
	ds := make([]time.Duration, 0, b.N)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := h.relay.SubmitBlock(ctx, body, mev.SubmitOpts{Media: pbs.MediaSSZ, Version: spec.DataVersionElectra, Cancellations: true}); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, ds)
}

// BenchmarkSubmissionsHTTP: 350 KB SSZ submissions over HTTP from 8 concurrent builders'
// connections; subs/s is what the relay sustains on this machine's cores.
func BenchmarkSubmissionsHTTP(b *testing.B) {
	h, _, body := benchHarness(b, 350_000)
	url := h.plainRelayURL() + "/relay/v1/builder/blocks?cancellations=1"
	b.SetBytes(int64(len(body)))
	var failed atomic.Int64
	b.SetParallelism(4)
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := &http.Client{}
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", pbs.MediaSSZ)
			req.Header.Set("Eth-Consensus-Version", "electra")
			resp, err := c.Do(req)
			if err != nil {
				failed.Add(1)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d submissions failed", n)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "subs/s")
}

// BenchmarkSubmitToTopBid: from the end of a submission (its 200) to getHeader serving it as
// the new top bid.
func BenchmarkSubmitToTopBid(b *testing.B) {
	h, s, _ := benchHarness(b, 0)
	url := h.plainRelayURL() + "/eth/v1/builder/header/1/" + s.Payload.ParentHash.String() + "/" + s.Trace.ProposerPubkey.String()
	a := h.builder.waitAttributes(1)
	idx, pk := h.proposer(1)
	c := &http.Client{}
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		sub := h.builder.build(a, pk, feeRecipient(idx), 2_000+uint64(i), byte(i))
		b.StartTimer()
		if code, msg := h.builder.post(sub, pbs.MediaSSZ, "?cancellations=1", nil); code != http.StatusOK {
			b.Fatalf("%d %s", code, msg)
		}
		start := time.Now()
		bid, err := h.getHeaderWith(c, url)
		if err != nil || bid != sub.Payload.BlockHash {
			b.Fatalf("top bid not the new one: %v", err)
		}
		ds = append(ds, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, ds)
}

// getHeaderWith fetches a header as SSZ and returns its block hash.
func (h *harness) getHeaderWith(c *http.Client, url string) (phase0.Hash32, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", pbs.MediaSSZ)
	resp, err := c.Do(req)
	if err != nil {
		return phase0.Hash32{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return phase0.Hash32{}, err
	}
	var sb builderelectra.SignedBuilderBid
	if err := sb.UnmarshalSSZ(body); err != nil {
		return phase0.Hash32{}, err
	}
	return sb.Message.Header.BlockHash, nil
}

// BenchmarkBoostGetHeader: getHeader through the boost sidecar with two relays that both hold a
// bid, on loopback, JSON as a beacon node asks. "sequential" sends one request at a time;
// "1000rps" paces requests at 1,000 a second (the load).
func BenchmarkBoostGetHeader(b *testing.B) {
	h, relayURLs, boostURL := newBoostHarness(b)
	h.registerWithNode()
	a := h.at(1, 0)
	idx, pk := h.proposer(1)
	for i, u := range relayURLs {
		s := h.builder.build(a, pk, feeRecipient(idx), 1_000+uint64(i), byte(i))
		body, _ := s.Encode(pbs.MediaSSZ)
		if code, msg := h.builder.postTo(u, body, pbs.MediaSSZ, "", nil); code != http.StatusOK {
			b.Fatalf("%d %s", code, msg)
		}
	}
	url := boostURL + "/eth/v1/builder/header/1/" + a.ParentBlockHash.String() + "/" + pk.String()
	get := func(c *http.Client) time.Duration {
		start := time.Now()
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
		return time.Since(start)
	}
	b.Run("sequential", func(b *testing.B) {
		c := &http.Client{}
		ds := make([]time.Duration, 0, b.N)
		for range b.N {
			ds = append(ds, get(c))
		}
		reportPercentiles(b, ds)
	})
	b.Run("1000rps", func(b *testing.B) {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		ds := make([]time.Duration, b.N)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		done := make(chan struct{}, b.N)
		for i := range b.N {
			<-tick.C
			go func() { ds[i] = get(c); done <- struct{}{} }()
		}
		for range b.N {
			<-done
		}
		reportPercentiles(b, ds)
	})
}
