package devnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/attestantio/go-eth2-client/api"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/builder"
	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/slashing"
)

// SlotView is one slot of the live view, read from the beacon node's Beacon API, the relays'
// data API, the builders and the validator clients' reports.
type SlotView struct {
	Slot     uint64 `json:"slot"`
	Proposer uint64 `json:"proposer"`
	// Path is "builder" (the payload came through boost and a relay), "local" or "missed".
	Path string `json:"path"`
	// Bid is the winning bid of a builder block.
	Bid *WinningBid `json:"bid,omitempty"`
	// Bids is how many bids the relays accepted for the slot on the block's parent.
	Bids int `json:"bids"`
	// Included is the attesters whose votes the block includes.
	Included int `json:"attestations_included"`
	// Attested and Attesters: the slot's attestations accepted by the beacon node, of the
	// attester duties the validator clients had.
	Attested  int `json:"attested"`
	Attesters int `json:"attesters"`
	// Aggregates accepted by the beacon node for the slot.
	Aggregates int    `json:"aggregates"`
	Justified  uint64 `json:"justified_epoch"`
	Finalized  uint64 `json:"finalized_epoch"`
	// ProofsVerified is the pool's count so far (nil without private attestations).
	ProofsVerified *int `json:"proofs_verified,omitempty"`
}

// WinningBid is the bid whose payload a builder block carries.
type WinningBid struct {
	ValueWei string `json:"value_wei"`
	Relay    int    `json:"relay"`   // 1-based
	Builder  string `json:"builder"` // the builder's name, or its pubkey when unknown
}

// collector gathers the validator clients' duty reports.
type collector struct {
	mu      sync.Mutex
	done    map[phase0.Slot]map[string]int
	failed  map[phase0.Slot]map[string]int
	paths   map[phase0.Slot]string
	slashed int
	errs    []string // the first maxErrors duty errors, for the summary
}

// maxErrors bounds the duty errors a summary lists.
const maxErrors = 10

func newCollector() *collector {
	return &collector{done: map[phase0.Slot]map[string]int{}, failed: map[phase0.Slot]map[string]int{}, paths: map[phase0.Slot]string{}}
}

func (c *collector) add(r client.Report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done[r.Slot] == nil {
		c.done[r.Slot], c.failed[r.Slot] = map[string]int{}, map[string]int{}
	}
	c.done[r.Slot][r.Kind] += r.Done
	c.failed[r.Slot][r.Kind] += r.Failed
	if r.Kind == "proposal" && r.Done > 0 {
		c.paths[r.Slot] = r.Path
	}
	if r.Err != nil {
		if len(c.errs) < maxErrors {
			// One line each: go-eth2-client's errors span several.
			c.errs = append(c.errs, strings.Join(strings.Fields(fmt.Sprintf("slot %d %s: %v", r.Slot, r.Kind, r.Err)), " "))
		}
		if errors.Is(r.Err, slashing.ErrSlashable) || strings.Contains(strings.ToLower(r.Err.Error()), "slashable") {
			c.slashed++
		}
	}
}

func (c *collector) slot(s phase0.Slot, kind string) (done, failed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done[s][kind], c.failed[s][kind]
}

// view follows the network slot by slot and writes the live view.
type view struct {
	cfg        Config
	node       *beacon.Node
	nodeURL    string
	relays     []string
	builders   []*builder.Builder
	col        *collector
	end        phase0.Slot
	out        io.Writer
	started    time.Time
	private    Private
	equivocate *int
	// stopValidators stops the validator clients and waits for them.
	stopValidators func()

	api       *eth2http.Service
	hc        *http.Client
	status    bool // a status line is on screen (Terminal)
	last      phase0.Slot
	evidence  int
	proposers map[phase0.Slot]phase0.ValidatorIndex
}

func (v *view) init(ctx context.Context) error {
	svc, err := eth2http.New(ctx, eth2http.WithAddress(v.nodeURL), eth2http.WithLogLevel(zerolog.Disabled),
		eth2http.WithTimeout(10*time.Second), eth2http.WithAllowDelayedStart(true))
	if err != nil {
		return fmt.Errorf("devnet: view: %w", err)
	}
	v.api = svc.(*eth2http.Service)
	v.hc = &http.Client{Timeout: 10 * time.Second}
	v.proposers = map[phase0.Slot]phase0.ValidatorIndex{}
	return nil
}

func (v *view) slotStart(s phase0.Slot) time.Time {
	return v.node.GenesisTime().Add(time.Duration(s) * v.node.SlotTime())
}

// follow writes a line for each slot from 1 to the end, late in the slot (after its block,
// attestations and aggregates). It returns "" at the end, or why it stopped early.
func (v *view) follow(ctx context.Context, parts []*part) string {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for s := phase0.Slot(1); s <= v.end; s++ {
		at := v.slotStart(s).Add(v.node.SlotTime() * lineAt / 100)
		timer := time.NewTimer(time.Until(at))
		for time.Now().Before(at) {
			if ctx.Err() != nil {
				timer.Stop()
				return "interrupted"
			}
			for _, p := range parts {
				select {
				case <-p.finished:
					return fmt.Sprintf("%s stopped: %v", p.name, p.err)
				default:
				}
			}
			if v.cfg.Terminal {
				v.drawStatus(s)
			}
			select {
			case <-ctx.Done():
				timer.Stop()
				return "interrupted"
			case <-tick.C:
			case <-timer.C:
			}
		}
		timer.Stop()
		if s == v.end {
			// The validator clients stop before the last line, so that the beacon node's counts
			// and the clients' reports cover the same slots.
			v.stopValidators()
		}
		sv := v.slotView(ctx, s)
		v.clearStatus()
		fmt.Fprintln(v.out, v.line(sv))
		v.last = s
		v.writeEvidence()
	}
	v.clearStatus()
	return ""
}

// lineAt is when in its slot (percent) a slot's line is written: after its block (at the start),
// attestations (a third) and aggregates (two thirds), before the next slot's duties.
const lineAt = 85

// drawStatus redraws the terminal's status line under the slot lines.
func (v *view) drawStatus(next phase0.Slot) {
	now := time.Now()
	cur := v.node.CurrentSlot()
	spe := v.node.Preset().SlotsPerEpoch
	var msg string
	if now.Before(v.node.GenesisTime()) {
		msg = fmt.Sprintf("genesis in %.0fs", v.node.GenesisTime().Sub(now).Seconds())
	} else {
		msg = fmt.Sprintf("slot %d/%d  epoch %d  next line in %.1fs", cur, v.end, uint64(cur)/spe,
			time.Until(v.slotStart(next).Add(v.node.SlotTime()*lineAt/100)).Seconds())
	}
	fmt.Fprintf(v.out, "\r\033[K… %s  (Ctrl-C ends the run with the summary so far)", msg)
	v.status = true
}

func (v *view) clearStatus() {
	if v.status {
		fmt.Fprint(v.out, "\r\033[K")
		v.status = false
	}
}

// line formats one slot.
func (v *view) line(s SlotView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "slot %4d  epoch %3d  proposer %4d  ", s.Slot, uint64(s.Slot)/v.node.Preset().SlotsPerEpoch, s.Proposer)
	switch {
	case s.Bid != nil:
		fmt.Fprintf(&b, "%-30s", fmt.Sprintf("builder %s ETH relay-%d %s", eth(s.Bid.ValueWei), s.Bid.Relay, s.Bid.Builder))
	case s.Path == "local":
		fmt.Fprintf(&b, "%-30s", fmt.Sprintf("local (%d bids)", s.Bids))
	default:
		fmt.Fprintf(&b, "%-30s", s.Path)
	}
	fmt.Fprintf(&b, "  attested %3d/%-3d  included %4d  aggregates %2d  justified %3d  finalized %3d",
		s.Attested, s.Attesters, s.Included, s.Aggregates, s.Justified, s.Finalized)
	if s.ProofsVerified != nil {
		fmt.Fprintf(&b, "  proofs %d", *s.ProofsVerified)
	}
	return b.String()
}

// writeEvidence writes the evidence lines that appeared since the last call.
func (v *view) writeEvidence() {
	if v.private == nil {
		return
	}
	ev := v.private.Counts().Evidence
	for _, e := range ev[min(v.evidence, len(ev)):] {
		fmt.Fprintf(v.out, "EVIDENCE  epoch %d: validator %d equivocated (named by the pool from its proofs alone) %s\n", e.Epoch, e.ValidatorIndex, e.Pubkey)
	}
	v.evidence = max(v.evidence, len(ev))
}

// eth writes a wei amount in ETH with 4 decimals.
func eth(wei string) string {
	w, ok := new(big.Int).SetString(wei, 10)
	if !ok {
		return wei
	}
	r := new(big.Rat).SetFrac(w, new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil))
	return r.FloatString(4)
}

// proposer is slot's proposer from the Beacon API's proposer duties.
func (v *view) proposer(ctx context.Context, s phase0.Slot) phase0.ValidatorIndex {
	if p, ok := v.proposers[s]; ok {
		return p
	}
	e := phase0.Epoch(uint64(s) / v.node.Preset().SlotsPerEpoch)
	resp, err := v.api.ProposerDuties(ctx, &api.ProposerDutiesOpts{Epoch: e})
	if err != nil {
		return 0
	}
	for _, d := range resp.Data {
		v.proposers[d.Slot] = d.ValidatorIndex
	}
	return v.proposers[s]
}

// delivered is a relay's record of the payload it delivered for a slot.
type delivered struct {
	BlockHash     string `json:"block_hash"`
	BuilderPubkey string `json:"builder_pubkey"`
	Value         string `json:"value"`
}

// slotView reads slot s from the beacon node (block, finality), the relays (delivered payloads),
// the builders (bids) and the reports.
func (v *view) slotView(ctx context.Context, s phase0.Slot) SlotView {
	sv := SlotView{Slot: uint64(s), Path: "missed", Proposer: uint64(v.proposer(ctx, s))}
	sv.Attested, _ = v.col.slot(s, "attestation")
	_, failed := v.col.slot(s, "attestation")
	sv.Attesters = sv.Attested + failed
	sv.Aggregates, _ = v.col.slot(s, "aggregate")
	if f, err := v.api.Finality(ctx, &api.FinalityOpts{State: "head"}); err == nil && f.Data != nil {
		sv.Justified, sv.Finalized = uint64(f.Data.Justified.Epoch), uint64(f.Data.Finalized.Epoch)
	}
	if v.private != nil {
		n := v.private.Counts().ProofsVerified
		sv.ProofsVerified = &n
	}
	blk := v.block(ctx, s)
	if blk == nil {
		return sv
	}
	m := blk.Message
	sv.Proposer = uint64(m.ProposerIndex)
	for _, a := range m.Body.Attestations {
		sv.Included += int(a.AggregationBits.Count())
	}
	p := m.Body.ExecutionPayload
	for _, b := range v.builders {
		for _, bid := range b.Bids(s) {
			if bid.ParentHash == p.ParentHash {
				sv.Bids++
			}
		}
	}
	sv.Path = "local"
	hash := p.BlockHash.String()
	for i, r := range v.relays {
		var list []delivered
		if err := v.getJSON(ctx, fmt.Sprintf("%s/relay/v1/data/bidtraces/proposer_payload_delivered?slot=%d", r, s), &list); err != nil {
			continue
		}
		for _, d := range list {
			if strings.EqualFold(d.BlockHash, hash) {
				sv.Path = "builder"
				name := d.BuilderPubkey
				for _, b := range v.builders {
					if pk := b.Pubkey(); strings.EqualFold(pk.String(), d.BuilderPubkey) {
						name = b.Name()
					}
				}
				sv.Bid = &WinningBid{ValueWei: d.Value, Relay: i + 1, Builder: name}
			}
		}
	}
	return sv
}

// block is slot s's block, nil when the slot has none.
func (v *view) block(ctx context.Context, s phase0.Slot) *electra.SignedBeaconBlock {
	resp, err := v.api.SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: strconv.FormatUint(uint64(s), 10)})
	if err != nil || resp == nil || resp.Data == nil {
		return nil
	}
	blk := resp.Data.Electra
	if resp.Data.Version == spec.DataVersionFulu {
		blk = resp.Data.Fulu
	}
	if blk == nil || blk.Message == nil || blk.Message.Slot != s || blk.Message.Body == nil || blk.Message.Body.ExecutionPayload == nil {
		return nil
	}
	return blk
}

func (v *view) getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := v.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Summary is the closing summary of a run (zkv devnet --json writes it).
type Summary struct {
	Validators      int     `json:"validators"`
	SlotTimeSeconds float64 `json:"slot_time_seconds"`
	Relays          int     `json:"relays"`
	// LastSlot is the last slot shown: the run covered slots 1 to LastSlot.
	LastSlot uint64 `json:"last_slot"`
	// Stopped says why the run ended before its last slot ("interrupted" for Ctrl-C).
	Stopped         string  `json:"stopped,omitempty"`
	DurationSeconds float64 `json:"duration_seconds"`

	Blocks   BlockCounts      `json:"blocks"`
	Builders []BuilderSummary `json:"builders"`

	// Attestations are the single attestations the beacon node accepted (validator clients'
	// reports) of AttesterDuties (one per validator and epoch, for the slots run);
	// Participation is their ratio.
	Attestations int `json:"attestations"`
	// AttestationsFailed are attestation duties whose client saw no acceptance (a refusal, or
	// a timeout under load: the node may still have accepted those).
	AttestationsFailed int     `json:"attestations_failed"`
	AttesterDuties     int     `json:"attester_duties"`
	Participation      float64 `json:"participation"`
	// Included is the votes included in blocks (a vote in two aggregates counts twice).
	Included     int `json:"attestations_included"`
	Aggregates   int `json:"aggregates"`
	SyncMessages int `json:"sync_messages"`
	// DutyFailures are duties that produced no accepted message; SlashingViolations the duties
	// refused as slashable (by slashing protection or the beacon node): both 0 on a healthy run.
	DutyFailures       int      `json:"duty_failures"`
	SlashingViolations int      `json:"slashing_violations"`
	DutyErrors         []string `json:"duty_errors,omitempty"` // the first ten

	JustifiedEpoch uint64 `json:"justified_epoch"`
	FinalizedEpoch uint64 `json:"finalized_epoch"`
	Finalized      bool   `json:"finalized"`

	// Node is the beacon node's own counts (its metrics), for comparison.
	Node NodeCounts `json:"node"`

	// Equivocate is the validator asked to equivocate (null: none).
	Equivocate *int `json:"equivocate"`
	// Private is the pool's figures (null: the network ran without private attestations).
	Private *PrivateSummary `json:"private"`

	// OK: the chain finalized, no slashing violation, and, with private attestations, every
	// proof verified and the planted equivocation caught. zkv devnet exits 0 only then.
	OK bool `json:"ok"`

	Slots []SlotView `json:"slots"`
}

// BlockCounts are the slots by how their block was made.
type BlockCounts struct {
	Builder int `json:"builder"`
	Local   int `json:"local"`
	Missed  int `json:"missed"`
}

// BuilderSummary is one builder's figures.
type BuilderSummary struct {
	Name    string `json:"name"`
	Pubkey  string `json:"pubkey"`
	Slots   int    `json:"slots"`   // slots it saw payload attributes for
	Skipped int    `json:"skipped"` // slots it left without a bid
	Bids    int    `json:"bids"`    // submissions the relays accepted
	Outbid  int    `json:"outbid"`  // submissions refused because a relay held a better bid
	Refused int    `json:"refused"` // submissions refused for another reason, or failed
	Won     int    `json:"won"`     // blocks that carry its payload
}

// NodeCounts are the beacon node's own counts, from its metrics.
type NodeCounts struct {
	BlocksBuilder int `json:"blocks_builder"`
	BlocksLocal   int `json:"blocks_local"`
	Attestations  int `json:"attestations_accepted"`
	Refused       int `json:"requests_refused"`
}

// PrivateSummary is the private-attestation pool's figures.
type PrivateSummary struct {
	PrivateCounts
	ProofsPerSecond float64 `json:"proofs_per_second"`
	// EquivocationCaught: the evidence names the validator asked to equivocate (null when none was).
	EquivocationCaught *bool `json:"equivocation_caught"`
}

// summarize reads every slot run again and adds the totals.
func (v *view) summarize(ctx context.Context, stopped string) *Summary {
	sum := &Summary{Validators: v.cfg.Validators, SlotTimeSeconds: v.node.SlotTime().Seconds(), Relays: len(v.relays),
		LastSlot: uint64(v.last), Stopped: stopped, DurationSeconds: time.Since(v.started).Seconds(), Equivocate: v.equivocate, Slots: []SlotView{}}
	won := map[string]int{}
	for s := phase0.Slot(1); s <= v.last; s++ {
		sv := v.slotView(ctx, s)
		sum.Slots = append(sum.Slots, sv)
		switch sv.Path {
		case "builder":
			sum.Blocks.Builder++
			won[sv.Bid.Builder]++
		case "local":
			sum.Blocks.Local++
		default:
			sum.Blocks.Missed++
		}
		sum.Included += sv.Included
	}
	for _, b := range v.builders {
		st := b.Stats()
		pk := b.Pubkey()
		sum.Builders = append(sum.Builders, BuilderSummary{Name: b.Name(), Pubkey: pk.String(), Slots: st.Slots, Skipped: st.Skipped,
			Bids: st.Bids, Outbid: st.Outbid, Refused: st.Refused, Won: won[b.Name()]})
	}
	v.col.mu.Lock()
	for _, kinds := range v.col.done {
		sum.Attestations += kinds["attestation"]
		sum.Aggregates += kinds["aggregate"]
		sum.SyncMessages += kinds["sync_message"]
	}
	for _, kinds := range v.col.failed {
		sum.AttestationsFailed += kinds["attestation"]
		for _, n := range kinds {
			sum.DutyFailures += n
		}
	}
	sum.SlashingViolations = v.col.slashed
	sum.DutyErrors = append([]string(nil), v.col.errs...)
	v.col.mu.Unlock()
	sum.AttesterDuties = v.attesterDuties(ctx)
	if sum.AttesterDuties > 0 {
		sum.Participation = float64(sum.Attestations) / float64(sum.AttesterDuties)
	}
	if f, err := v.api.Finality(ctx, &api.FinalityOpts{State: "head"}); err == nil && f.Data != nil {
		sum.JustifiedEpoch, sum.FinalizedEpoch = uint64(f.Data.Justified.Epoch), uint64(f.Data.Finalized.Epoch)
	}
	sum.Finalized = sum.FinalizedEpoch > 0
	sum.Node = v.nodeCounts()
	sum.OK = sum.Finalized && sum.SlashingViolations == 0
	if v.private != nil {
		c := v.private.Counts()
		ps := &PrivateSummary{PrivateCounts: c}
		if d := sum.DurationSeconds; d > 0 {
			ps.ProofsPerSecond = float64(c.ProofsVerified) / d
		}
		if v.equivocate != nil && *v.equivocate >= 0 {
			caught := false
			for _, e := range c.Evidence {
				if e.ValidatorIndex == uint64(*v.equivocate) {
					caught = true
				}
			}
			ps.EquivocationCaught = &caught
			sum.OK = sum.OK && caught
		}
		// Every attestation proved and every proof verified: none refused, none left without a
		// proof, none unanswered or given up.
		sum.OK = sum.OK && c.ProofsRefused == 0 && c.ProofsVerified > 0 && c.ProofsFailed == 0 && c.ProofsToMake <= 0 && c.ProofsPending <= 0 && c.ProofsDropped == 0
		sum.Private = ps
	}
	return sum
}

// attesterDuties counts the attester duties of slots 0 to the last slot run: one per validator
// and epoch (consensus specs, get_committee_assignment).
func (v *view) attesterDuties(ctx context.Context) int {
	spe := v.node.Preset().SlotsPerEpoch
	indices := make([]phase0.ValidatorIndex, v.cfg.Validators)
	for i := range indices {
		indices[i] = phase0.ValidatorIndex(i)
	}
	n := 0
	for e := phase0.Epoch(0); uint64(e)*spe <= uint64(v.last); e++ {
		resp, err := v.api.AttesterDuties(ctx, &api.AttesterDutiesOpts{Epoch: e, Indices: indices})
		if err != nil {
			return 0
		}
		for _, d := range resp.Data {
			if d.Slot <= v.last {
				n++
			}
		}
	}
	return n
}

// nodeCounts reads the beacon node's metrics.
func (v *view) nodeCounts() NodeCounts {
	var c NodeCounts
	mfs, err := v.node.Registry().Gather()
	if err != nil {
		return c
	}
	val := func(m *dto.Metric) int {
		if m.Counter != nil {
			return int(m.Counter.GetValue())
		}
		return 0
	}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			switch mf.GetName() {
			case "zkv_devnet_blocks_total":
				for _, l := range m.Label {
					if l.GetName() == "path" && l.GetValue() == "builder" {
						c.BlocksBuilder += val(m)
					} else if l.GetName() == "path" && l.GetValue() == "local" {
						c.BlocksLocal += val(m)
					}
				}
			case "zkv_devnet_attestations_accepted_total":
				c.Attestations += val(m)
			case "zkv_devnet_requests_refused_total":
				c.Refused += val(m)
			}
		}
	}
	return c
}

// writeSummary writes the closing summary.
func (v *view) writeSummary(s *Summary) {
	w := v.out
	fmt.Fprintln(w, "---")
	if s.Stopped != "" {
		fmt.Fprintf(w, "stopped early: %s (summary of slots 1-%d)\n", s.Stopped, s.LastSlot)
	}
	fmt.Fprintf(w, "slots 1-%d in %.0fs: blocks %d builder, %d local, %d missed\n", s.LastSlot, s.DurationSeconds, s.Blocks.Builder, s.Blocks.Local, s.Blocks.Missed)
	for _, b := range s.Builders {
		fmt.Fprintf(w, "  %s: %d bids accepted, %d outbid, %d refused, %d slots without a bid, %d blocks won\n", b.Name, b.Bids, b.Outbid, b.Refused, b.Skipped, b.Won)
	}
	fmt.Fprintf(w, "participation %.1f%% (%d of %d attester duties), %d votes included, %d aggregates, %d sync committee messages\n",
		100*s.Participation, s.Attestations, s.AttesterDuties, s.Included, s.Aggregates, s.SyncMessages)
	fmt.Fprintf(w, "duty failures %d, slashing-protection violations %d\n", s.DutyFailures, s.SlashingViolations)
	for _, e := range s.DutyErrors {
		fmt.Fprintf(w, "  %s\n", e)
	}
	if s.Private != nil {
		p := s.Private
		fmt.Fprintf(w, "private attestations: %d attestations, %d proofs made, %d verified by the pool (%.1f/s), %d refused, %d without a proof, %d still to prove, %d of revoked keys, %d evidence\n",
			p.Attestations, p.ProofsMade, p.ProofsVerified, p.ProofsPerSecond, p.ProofsRefused, p.ProofsFailed, p.ProofsToMake, p.Revoked, len(p.Evidence))
		if p.PoolRestarts > 0 {
			fmt.Fprintf(w, "  the pool restarted %d time(s) during the run; %d proofs resent were duplicates\n", p.PoolRestarts, p.Duplicates)
		}
	} else {
		fmt.Fprintln(w, "private attestations: not in this build yet (proofs/s and evidence appear once the pool lands)")
	}
	fmt.Fprintf(w, "justified epoch %d, finalized epoch %d: ", s.JustifiedEpoch, s.FinalizedEpoch)
	if s.OK {
		fmt.Fprintln(w, "OK")
	} else {
		fmt.Fprintln(w, "NOT OK")
	}
}
