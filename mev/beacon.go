package mev

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	eth2client "github.com/attestantio/go-eth2-client"
	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	apiv2 "github.com/attestantio/go-eth2-client/api/v2"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/rs/zerolog"
)

// ChainSpec is what the relay reads once from its beacon node: the clock, the forks and the
// domains' inputs.
type ChainSpec struct {
	GenesisTime           time.Time
	SlotDuration          time.Duration
	SlotsPerEpoch         uint64
	GenesisForkVersion    phase0.Version
	GenesisValidatorsRoot phase0.Root
	ElectraForkVersion    phase0.Version
	FuluForkVersion       phase0.Version
	// FuluEpoch is FULU_FORK_EPOCH (FAR_FUTURE_EPOCH when unscheduled).
	FuluEpoch phase0.Epoch
}

// Epoch is the epoch of slot.
func (c *ChainSpec) Epoch(slot phase0.Slot) phase0.Epoch {
	return phase0.Epoch(uint64(slot) / c.SlotsPerEpoch)
}

// Fork names the fork of slot: Electra, or Fulu from its epoch.
func (c *ChainSpec) Fork(slot phase0.Slot) (spec.DataVersion, phase0.Version) {
	if c.Epoch(slot) >= c.FuluEpoch {
		return spec.DataVersionFulu, c.FuluForkVersion
	}
	return spec.DataVersionElectra, c.ElectraForkVersion
}

// SlotStart is the wall-clock start of slot.
func (c *ChainSpec) SlotStart(slot phase0.Slot) time.Time {
	return c.GenesisTime.Add(time.Duration(slot) * c.SlotDuration)
}

// SlotAt is the slot at t (0 before genesis).
func (c *ChainSpec) SlotAt(t time.Time) phase0.Slot {
	d := t.Sub(c.GenesisTime)
	if d < 0 {
		return 0
	}
	return phase0.Slot(d / c.SlotDuration)
}

// Attributes are a slot's payload attributes on one parent, from the payload_attributes event
// (beacon-APIs eventstream; execution-apis PayloadAttributesV3).
type Attributes struct {
	Version               spec.DataVersion
	Slot                  phase0.Slot
	ProposerIndex         phase0.ValidatorIndex
	ParentBlockHash       phase0.Hash32
	ParentBlockRoot       phase0.Root
	ParentBlockNumber     uint64
	Timestamp             uint64
	PrevRandao            phase0.Root
	Withdrawals           []*capella.Withdrawal
	ParentBeaconBlockRoot phase0.Root
}

// Events are the beacon-node events the relay follows.
type Events struct {
	// Connected, when set, is called each time an event stream is established.
	Connected         func(url string)
	Head              func(slot phase0.Slot, root phase0.Root)
	PayloadAttributes func(*Attributes)
}

// Beacon is what the relay needs of a beacon node (any that serves the standard Beacon API).
type Beacon interface {
	Spec(ctx context.Context) (*ChainSpec, error)
	ProposerDuties(ctx context.Context, epoch phase0.Epoch) ([]*apiv1.ProposerDuty, error)
	Validators(ctx context.Context, pubkeys []phase0.BLSPubKey) (map[phase0.BLSPubKey]*apiv1.Validator, error)
	// Follow delivers events until ctx ends, reconnecting as needed.
	Follow(ctx context.Context, ev Events) error
	// Publish publishes a full block with broadcast_validation=consensus_and_equivocation.
	Publish(ctx context.Context, p *api.VersionedSignedProposal) error
}

// BeaconClient is a Beacon over one or more beacon nodes' HTTP Beacon API (go-eth2-client),
// asking them in order and falling back to the next on error; events come from all of them.
type BeaconClient struct {
	urls []string
	svcs []*eth2http.Service
	hc   *http.Client
	log  *slog.Logger
}

// NewBeaconClient connects to every URL (go-eth2-client reads each node's spec on connect).
func NewBeaconClient(ctx context.Context, urls []string, log *slog.Logger) (*BeaconClient, error) {
	if len(urls) == 0 {
		return nil, errors.New("no beacon node specified")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &BeaconClient{urls: urls, hc: &http.Client{}, log: log}
	for _, u := range urls {
		s, err := eth2http.New(ctx, eth2http.WithAddress(u), eth2http.WithLogLevel(zerolog.Disabled),
			eth2http.WithTimeout(10*time.Second), eth2http.WithAllowDelayedStart(true))
		if err != nil {
			return nil, fmt.Errorf("beacon node %s: %w", u, err)
		}
		b.svcs = append(b.svcs, s.(*eth2http.Service))
	}
	return b, nil
}

func try[T any](b *BeaconClient, what string, f func(*eth2http.Service) (T, error)) (T, error) {
	var errs []error
	for i, s := range b.svcs {
		v, err := f(s)
		if err == nil {
			return v, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", b.urls[i], err))
	}
	var zero T
	return zero, fmt.Errorf("%s: every beacon node failed: %w", what, errors.Join(errs...))
}

// Spec implements Beacon.
func (b *BeaconClient) Spec(ctx context.Context) (*ChainSpec, error) {
	return try(b, "spec", func(s *eth2http.Service) (*ChainSpec, error) {
		g, err := s.Genesis(ctx, &api.GenesisOpts{})
		if err != nil {
			return nil, err
		}
		sp, err := s.Spec(ctx, &api.SpecOpts{})
		if err != nil {
			return nil, err
		}
		c := &ChainSpec{GenesisTime: g.Data.GenesisTime, GenesisValidatorsRoot: g.Data.GenesisValidatorsRoot,
			GenesisForkVersion: g.Data.GenesisForkVersion, FuluEpoch: phase0.Epoch(1<<64 - 1)}
		var ok bool
		if c.SlotDuration, ok = sp.Data["SECONDS_PER_SLOT"].(time.Duration); !ok || c.SlotDuration <= 0 {
			return nil, errors.New("spec has no SECONDS_PER_SLOT")
		}
		if c.SlotsPerEpoch, ok = sp.Data["SLOTS_PER_EPOCH"].(uint64); !ok || c.SlotsPerEpoch == 0 {
			return nil, errors.New("spec has no SLOTS_PER_EPOCH")
		}
		if c.ElectraForkVersion, ok = sp.Data["ELECTRA_FORK_VERSION"].(phase0.Version); !ok {
			return nil, errors.New("spec has no ELECTRA_FORK_VERSION")
		}
		c.FuluForkVersion, _ = sp.Data["FULU_FORK_VERSION"].(phase0.Version)
		if e, ok := sp.Data["FULU_FORK_EPOCH"].(uint64); ok {
			c.FuluEpoch = phase0.Epoch(e)
		}
		return c, nil
	})
}

// ProposerDuties implements Beacon.
func (b *BeaconClient) ProposerDuties(ctx context.Context, epoch phase0.Epoch) ([]*apiv1.ProposerDuty, error) {
	return try(b, "proposer duties", func(s *eth2http.Service) ([]*apiv1.ProposerDuty, error) {
		r, err := s.ProposerDuties(ctx, &api.ProposerDutiesOpts{Epoch: epoch})
		if err != nil {
			return nil, err
		}
		return r.Data, nil
	})
}

// Validators implements Beacon: the head state's validators among pubkeys.
func (b *BeaconClient) Validators(ctx context.Context, pubkeys []phase0.BLSPubKey) (map[phase0.BLSPubKey]*apiv1.Validator, error) {
	return try(b, "validators", func(s *eth2http.Service) (map[phase0.BLSPubKey]*apiv1.Validator, error) {
		r, err := s.Validators(ctx, &api.ValidatorsOpts{State: "head", PubKeys: pubkeys})
		if err != nil {
			return nil, err
		}
		out := make(map[phase0.BLSPubKey]*apiv1.Validator, len(r.Data))
		for _, v := range r.Data {
			if v != nil && v.Validator != nil {
				out[v.Validator.PublicKey] = v
			}
		}
		return out, nil
	})
}

// Publish implements Beacon.
func (b *BeaconClient) Publish(ctx context.Context, p *api.VersionedSignedProposal) error {
	bv := apiv2.BroadcastValidationConsensusAndEquivocation
	_, err := try(b, "publish block", func(s *eth2http.Service) (struct{}, error) {
		return struct{}{}, s.SubmitProposal(ctx, &api.SubmitProposalOpts{Proposal: p, BroadcastValidation: &bv})
	})
	return err
}

var _ eth2client.ProposalSubmitter = (*eth2http.Service)(nil)

// Follow implements Beacon: one server-sent-event stream per node (head and
// payload_attributes), reconnecting after a second when one drops. It reads the events itself:
// go-eth2-client v0.27.1 decodes Electra payload attributes as a V4 with request lists that the
// Beacon API does not send.
func (b *BeaconClient) Follow(ctx context.Context, ev Events) error {
	done := make(chan struct{}, len(b.urls))
	for _, u := range b.urls {
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil {
				if err := b.stream(ctx, u, ev); err != nil && ctx.Err() == nil {
					b.log.Warn("beacon event stream dropped", "beacon_node", u, "error", err)
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}()
	}
	for range b.urls {
		<-done
	}
	return nil
}

func (b *BeaconClient) stream(ctx context.Context, base string, ev Events) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/eth/v1/events?topics=head&topics=payload_attributes", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := b.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("events: status %d: %s", resp.StatusCode, msg)
	}
	if ev.Connected != nil {
		ev.Connected(base)
	}
	return readEvents(resp.Body, func(topic string, data []byte) {
		switch topic {
		case "head":
			slot, root, err := parseHead(data)
			if err != nil {
				b.log.Warn("head event", "error", err)
				return
			}
			if ev.Head != nil {
				ev.Head(slot, root)
			}
		case "payload_attributes":
			a, err := ParseAttributesEvent(data)
			if err != nil {
				b.log.Warn("payload_attributes event", "error", err)
				return
			}
			if ev.PayloadAttributes != nil {
				ev.PayloadAttributes(a)
			}
		}
	})
}

// readEvents splits a text/event-stream into (event, data) pairs (HTML living standard,
// "server-sent events": a blank line ends an event; data lines join with newlines).
func readEvents(r io.Reader, fn func(topic string, data []byte)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var topic string
	var data []byte
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if len(data) > 0 {
				fn(topic, data)
			}
			topic, data = "", nil
		case strings.HasPrefix(line, "event:"):
			topic = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")...)
		}
	}
	return sc.Err()
}

func parseHead(data []byte) (phase0.Slot, phase0.Root, error) {
	var h struct {
		Slot  string `json:"slot"`
		Block string `json:"block"`
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return 0, phase0.Root{}, err
	}
	s, err := strconv.ParseUint(h.Slot, 10, 64)
	if err != nil {
		return 0, phase0.Root{}, fmt.Errorf("head slot %q: %w", h.Slot, err)
	}
	var root phase0.Root
	if err := hexInto(root[:], h.Block); err != nil {
		return 0, phase0.Root{}, fmt.Errorf("head block: %w", err)
	}
	return phase0.Slot(s), root, nil
}

// ParseAttributesEvent reads a payload_attributes event's data in the Beacon API's shape
// (beacon-APIs eventstream: quoted integers, 0x hex, payload_attributes as PayloadAttributesV3;
// fields it does not know are ignored).
func ParseAttributesEvent(data []byte) (*Attributes, error) {
	var e struct {
		Version string `json:"version"`
		Data    struct {
			ProposerIndex     string `json:"proposer_index"`
			ProposalSlot      string `json:"proposal_slot"`
			ParentBlockNumber string `json:"parent_block_number"`
			ParentBlockRoot   string `json:"parent_block_root"`
			ParentBlockHash   string `json:"parent_block_hash"`
			PayloadAttributes struct {
				Timestamp             string                `json:"timestamp"`
				PrevRandao            string                `json:"prev_randao"`
				Withdrawals           []*capella.Withdrawal `json:"withdrawals"`
				ParentBeaconBlockRoot string                `json:"parent_beacon_block_root"`
			} `json:"payload_attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("payload_attributes event: %w", err)
	}
	a := &Attributes{Withdrawals: e.Data.PayloadAttributes.Withdrawals}
	switch strings.ToLower(e.Version) {
	case "electra":
		a.Version = spec.DataVersionElectra
	case "fulu":
		a.Version = spec.DataVersionFulu
	default:
		return nil, fmt.Errorf("payload_attributes event of version %q: electra or fulu expected", e.Version)
	}
	d, pa := e.Data, e.Data.PayloadAttributes
	var err error
	u := func(name, s string) uint64 {
		v, perr := strconv.ParseUint(s, 10, 64)
		if perr != nil && err == nil {
			err = fmt.Errorf("payload_attributes %s %q: %w", name, s, perr)
		}
		return v
	}
	h := func(name string, dst []byte, s string) {
		if herr := hexInto(dst, s); herr != nil && err == nil {
			err = fmt.Errorf("payload_attributes %s: %w", name, herr)
		}
	}
	a.ProposerIndex = phase0.ValidatorIndex(u("proposer_index", d.ProposerIndex))
	a.Slot = phase0.Slot(u("proposal_slot", d.ProposalSlot))
	a.ParentBlockNumber = u("parent_block_number", d.ParentBlockNumber)
	a.Timestamp = u("timestamp", pa.Timestamp)
	h("parent_block_root", a.ParentBlockRoot[:], d.ParentBlockRoot)
	h("parent_block_hash", a.ParentBlockHash[:], d.ParentBlockHash)
	h("prev_randao", a.PrevRandao[:], pa.PrevRandao)
	h("parent_beacon_block_root", a.ParentBeaconBlockRoot[:], pa.ParentBeaconBlockRoot)
	if err != nil {
		return nil, err
	}
	if a.Withdrawals == nil {
		a.Withdrawals = []*capella.Withdrawal{}
	}
	return a, nil
}
