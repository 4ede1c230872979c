package pbs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SlotClock is where slots lie in time: slot s starts at Genesis + s*SlotDuration.
type SlotClock struct {
	Genesis      time.Time
	SlotDuration time.Duration
}

// FetchSlotClock reads the genesis time (GET /eth/v1/beacon/genesis) and the slot duration
// (SECONDS_PER_SLOT of GET /eth/v1/config/spec; SLOT_DURATION_MS where a node reports it) from
// a standard Beacon API, for the late-in-slot cut-off and the QUIC stream's slot timestamps.
func FetchSlotClock(ctx context.Context, beaconURL string) (SlotClock, error) {
	base := strings.TrimSuffix(beaconURL, "/")
	var genesis struct {
		Data struct {
			GenesisTime string `json:"genesis_time"`
		} `json:"data"`
	}
	if err := getJSON(ctx, base+"/eth/v1/beacon/genesis", &genesis); err != nil {
		return SlotClock{}, err
	}
	gt, err := strconv.ParseInt(genesis.Data.GenesisTime, 10, 64)
	if err != nil || gt <= 0 {
		return SlotClock{}, fmt.Errorf("beacon node genesis_time %q: want Unix seconds", genesis.Data.GenesisTime)
	}
	var cfg struct {
		Data map[string]any `json:"data"`
	}
	if err := getJSON(ctx, base+"/eth/v1/config/spec", &cfg); err != nil {
		return SlotClock{}, err
	}
	c := SlotClock{Genesis: time.Unix(gt, 0)}
	if ms, ok := cfg.Data["SLOT_DURATION_MS"].(string); ok {
		if v, err := strconv.ParseUint(ms, 10, 32); err == nil && v > 0 {
			c.SlotDuration = time.Duration(v) * time.Millisecond
		}
	}
	if c.SlotDuration == 0 {
		s, _ := cfg.Data["SECONDS_PER_SLOT"].(string)
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil || v == 0 {
			return SlotClock{}, fmt.Errorf("beacon node config/spec SECONDS_PER_SLOT %q: want a positive integer", s)
		}
		c.SlotDuration = time.Duration(v) * time.Second
	}
	return c, nil
}

func getJSON(ctx context.Context, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", MediaJSON)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("beacon node: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("beacon node %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("beacon node %s: status %d: %.200s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("beacon node %s: %w", url, err)
	}
	return nil
}
