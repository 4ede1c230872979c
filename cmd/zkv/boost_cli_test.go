package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkvlabs/zkv/pbs"
)

func TestBoostFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"boost", "--help"}, &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "--min-bid") {
		t.Fatalf("--help: exit %d\n%s", code, errOut.String())
	}
	relay := fmt.Sprintf("http://0x%s@127.0.0.1:1", strings.Repeat("a", 96))
	for _, args := range [][]string{
		{"boost"},
		{"boost", "--relays", "http://127.0.0.1:1"}, // no pubkey
		{"boost", "--relays", relay, "--min-bid", "-1"},
		{"boost", "--relays", relay, "--min-bid", "0.0000000000000000001"},
		{"boost", "--relays", relay, "--network", "gnosis"},
		{"boost", "--nope"},
	} {
		errOut.Reset()
		if code := run(context.Background(), args, &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("%v: exit %d, want 2 with a message", args, code)
		}
	}
	if v, err := pbs.ParseETH("0.05"); err != nil || v.Dec() != "50000000000000000" {
		t.Fatalf("0.05 ETH: %v %v", v, err)
	}
}

// `zkv boost` serves the builder API on the address it prints and stops when its context ends.
func TestBoostRuns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	relay := fmt.Sprintf("http://0x%s@127.0.0.1:1", strings.Repeat("a", 96))
	var out, logs syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"boost", "--relays", relay, "--listen", "127.0.0.1:0"}, &out, &logs) }()
	re := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	deadline := time.Now().Add(10 * time.Second)
	var url string
	for url == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no URL printed: %q %s", out.String(), logs.String())
		}
		url = re.FindString(out.String())
		time.Sleep(10 * time.Millisecond)
	}
	// The only relay is unreachable: status says so.
	resp, err := http.Get(url + "/eth/v1/builder/status")
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status with no relay up: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
}
