package beacon_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	eth2client "github.com/attestantio/go-eth2-client"
	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/beacon/beacontest"
)

// registeredFeeRecipient is what the validators register with the builder: a builder payload pays
// it, a local payload pays the node's default, so a block's fee recipient tells whose payload it is.
var registeredFeeRecipient = bellatrix.ExecutionAddress{0x42, 0x42, 0x42}

// builderNet is a test net whose node proposes through a test builder.
type builderNet struct {
	*testNet
	builder *beacontest.Builder
	eth2    interface {
		eth2client.ValidatorRegistrationsSubmitter
		eth2client.SignedBeaconBlockProvider
		eth2client.DomainProvider
	}
	logs *testLog
}

// lateClock lets the builder read the test net's clock, which exists only once the node does.
type lateClock struct {
	mu sync.Mutex
	c  *clock
}

func (l *lateClock) Now() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c == nil {
		return genesisTime
	}
	return l.c.Now()
}

// testLog shows the node's and the builder's logs with a failing test's output, and keeps them
// for tests that check why the node did what it did.
type testLog struct {
	t   *testing.T
	mu  sync.Mutex
	buf strings.Builder
}

func (l *testLog) Write(p []byte) (int, error) {
	l.t.Helper()
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// since returns what was logged after mark (a length of the log), and the new mark.
func (l *testLog) since(mark int) (string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	return s[mark:], len(s)
}

// newBuilderNet starts a test builder and a node proposing through it (mod adjusts the node's
// config), connects the builder to the node and returns both.
func newBuilderNet(t *testing.T, n int, mod func(*beacon.Config, *beacontest.Builder)) *builderNet {
	t.Helper()
	lc := &lateClock{}
	logs := &testLog{t: t}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b, err := beacontest.NewBuilder(beacontest.BuilderConfig{Now: lc.Now, Logger: logger})
	if err != nil {
		t.Fatalf("NewBuilder: %v", err)
	}
	t.Cleanup(b.Close)
	tn := newTestNet(t, n, func(c *beacon.Config) {
		c.BuilderURL = b.URL()
		c.Logger = logger
		c.BuilderTimeout = 5 * time.Second // -race on two shared cores; the builder answers in ms
		if mod != nil {
			mod(c, b)
		}
	})
	lc.mu.Lock()
	lc.c = tn.clock
	lc.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := b.Connect(ctx, tn.url); err != nil {
		t.Fatalf("builder Connect: %v", err)
	}
	e, ok := tn.client.(interface {
		eth2client.ValidatorRegistrationsSubmitter
		eth2client.SignedBeaconBlockProvider
		eth2client.DomainProvider
	})
	if !ok {
		t.Fatal("go-eth2-client service lacks registrations or blocks")
	}
	return &builderNet{testNet: tn, builder: b, eth2: e, logs: logs}
}

// registration is a validator registration of validator i, signed under the builder domain.
func (bn *builderNet) registration(t *testing.T, i phase0.ValidatorIndex, ts time.Time) *apiv1.SignedValidatorRegistration {
	t.Helper()
	sk := bn.node.Genesis().Secrets[i]
	msg := &apiv1.ValidatorRegistration{FeeRecipient: registeredFeeRecipient, GasLimit: 36_000_000, Timestamp: ts,
		Pubkey: phase0.BLSPubKey(sk.PublicKey().Bytes())}
	return &apiv1.SignedValidatorRegistration{Message: msg, Signature: bn.signBuilder(t, sk, msg)}
}

func (bn *builderNet) signBuilder(t *testing.T, sk *bls.SecretKey, msg *apiv1.ValidatorRegistration) phase0.BLSSignature {
	t.Helper()
	domain, err := bn.eth2.GenesisDomain(context.Background(), domainBuilder)
	if err != nil {
		t.Fatalf("builder domain: %v", err)
	}
	root, err := msg.HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	return signRoot(t, sk, root, domain)
}

func signRoot(t *testing.T, sk *bls.SecretKey, root phase0.Root, domain phase0.Domain) phase0.BLSSignature {
	t.Helper()
	sr, err := (&phase0.SigningData{ObjectRoot: root, Domain: domain}).HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	return phase0.BLSSignature(sk.Sign(sr[:]).Bytes())
}

func (bn *builderNet) submitRegistrations(regs ...*apiv1.SignedValidatorRegistration) error {
	vs := make([]*api.VersionedSignedValidatorRegistration, len(regs))
	for i, r := range regs {
		vs[i] = &api.VersionedSignedValidatorRegistration{Version: spec.BuilderVersionV1, V1: r}
	}
	return bn.eth2.SubmitValidatorRegistrations(context.Background(), vs)
}

// registerAll registers every validator with the builder through the node.
func (bn *builderNet) registerAll(t *testing.T) {
	t.Helper()
	var regs []*apiv1.SignedValidatorRegistration
	for i := range bn.node.Genesis().Validators {
		regs = append(regs, bn.registration(t, phase0.ValidatorIndex(i), bn.clock.Now()))
	}
	if err := bn.submitRegistrations(regs...); err != nil {
		t.Fatalf("register validators: %v", err)
	}
}

// proposer is the proposer of slot, by the node's duties.
func (bn *builderNet) proposer(t *testing.T, slot phase0.Slot) phase0.ValidatorIndex {
	t.Helper()
	e := phase0.Epoch(uint64(slot) / bn.node.Preset().SlotsPerEpoch)
	resp, err := bn.client.ProposerDuties(context.Background(), &api.ProposerDutiesOpts{Epoch: e})
	if err != nil {
		t.Fatalf("proposer duties: %v", err)
	}
	for _, d := range resp.Data {
		if d.Slot == slot {
			return d.ValidatorIndex
		}
	}
	t.Fatalf("no proposer duty for slot %d", slot)
	return 0
}

func (bn *builderNet) sign(t *testing.T, i phase0.ValidatorIndex, root phase0.Root, dt phase0.DomainType, e phase0.Epoch) phase0.BLSSignature {
	t.Helper()
	domain, err := bn.client.Domain(context.Background(), dt, e)
	if err != nil {
		t.Fatalf("domain: %v", err)
	}
	return signRoot(t, bn.node.Genesis().Secrets[i], root, domain)
}

func (bn *builderNet) randaoReveal(t *testing.T, slot phase0.Slot) phase0.BLSSignature {
	t.Helper()
	e := phase0.Epoch(uint64(slot) / bn.node.Preset().SlotsPerEpoch)
	var root phase0.Root
	binary.LittleEndian.PutUint64(root[:8], uint64(e))
	return bn.sign(t, bn.proposer(t, slot), root, domainRandao, e)
}

// produce asks the node for a proposal at slot with the given builder_boost_factor (nil: none).
func (bn *builderNet) produce(t *testing.T, slot phase0.Slot, boost *uint64) *api.VersionedProposal {
	t.Helper()
	resp, err := bn.client.Proposal(context.Background(), &api.ProposalOpts{Slot: slot, RandaoReveal: bn.randaoReveal(t, slot), BuilderBoostFactor: boost})
	if err != nil {
		t.Fatalf("produce block at slot %d: %v", slot, err)
	}
	return resp.Data
}

// head returns the head block's slot and execution payload.
func (bn *builderNet) head(t *testing.T) (phase0.Slot, *deneb.ExecutionPayload) {
	t.Helper()
	resp, err := bn.eth2.SignedBeaconBlock(context.Background(), &api.SignedBeaconBlockOpts{Block: "head"})
	if err != nil {
		t.Fatalf("head block: %v", err)
	}
	var m *electra.BeaconBlock
	switch {
	case resp.Data.Electra != nil:
		m = resp.Data.Electra.Message
	case resp.Data.Fulu != nil:
		m = resp.Data.Fulu.Message
	default:
		t.Fatalf("head block of version %s", resp.Data.Version)
	}
	return m.Slot, m.Body.ExecutionPayload
}

// proposeAt moves the clock into slot and has the signer propose; it returns whether the block was
// blinded and the error of the proposal.
func (bn *builderNet) proposeAt(t *testing.T, slot phase0.Slot) (bool, error) {
	t.Helper()
	bn.at(slot, 0.1)
	proposed, blinded, err := bn.signer.Propose(context.Background(), slot)
	if err == nil && !proposed {
		t.Fatalf("slot %d: the signer holds every key but did not propose", slot)
	}
	return blinded, err
}

// wantBuilderHead checks the head is the block of slot and carries the payload the builder bid.
func (bn *builderNet) wantBuilderHead(t *testing.T, slot phase0.Slot) {
	t.Helper()
	hs, hp := bn.head(t)
	bp, ok := bn.builder.BidPayload(slot)
	if !ok {
		t.Fatalf("the builder bid nothing for slot %d", slot)
	}
	if hs != slot || hp.BlockHash != bp.BlockHash || hp.FeeRecipient != registeredFeeRecipient {
		t.Fatalf("head: slot %d payload %#x fee recipient %#x; want slot %d with the builder's payload %#x paying %#x",
			hs, hp.BlockHash, hp.FeeRecipient, slot, bp.BlockHash, registeredFeeRecipient)
	}
}

// wantLocalHead checks the head is the block of slot with a local payload (the node's default fee
// recipient, not the registered one).
func (bn *builderNet) wantLocalHead(t *testing.T, slot phase0.Slot) {
	t.Helper()
	hs, hp := bn.head(t)
	if hs != slot || hp.FeeRecipient != bellatrix.ExecutionAddress(beacon.WithdrawalAddress) {
		t.Fatalf("head: slot %d fee recipient %#x; want slot %d with a local payload paying %#x", hs, hp.FeeRecipient, slot, beacon.WithdrawalAddress)
	}
}

// A blinded proposal through the builder from end to end: registrations forwarded, produceBlockV3
// answering a blinded block with the Eth-Execution-Payload-Blinded/-Value headers, the signed
// blinded block submitted, the builder revealing its payload once, and the block with the builder's
// payload as head; then several slots in a row, the builder following the node's execution chain.
func TestBuilderBlindedProposalEndToEnd(t *testing.T) {
	bn := newBuilderNet(t, 16, nil)
	bn.registerAll(t)
	if c := bn.builder.Counts(); c.Registrations != 16 {
		t.Fatalf("builder holds %d registrations, want the 16 forwarded", c.Registrations)
	}
	ctx := context.Background()
	slot := phase0.Slot(1)
	bn.at(slot, 0.1)
	proposer := bn.proposer(t, slot)
	reveal := bn.randaoReveal(t, slot)

	// produceBlockV3 by hand, to read its headers.
	resp, err := http.Get(fmt.Sprintf("%s/eth/v3/validator/blocks/%d?randao_reveal=%#x", bn.url, slot, reveal))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("produceBlockV3: %d %s", resp.StatusCode, body)
	}
	value := "100000000000000000" // BuilderConfig's default bid, 0.1 ETH
	if got := resp.Header.Get("Eth-Execution-Payload-Blinded"); got != "true" {
		t.Fatalf("Eth-Execution-Payload-Blinded %q, want true", got)
	}
	if got := resp.Header.Get("Eth-Execution-Payload-Value"); got != value {
		t.Fatalf("Eth-Execution-Payload-Value %q, want the bid's %s", got, value)
	}
	if got := resp.Header.Get("Eth-Consensus-Version"); got != "electra" {
		t.Fatalf("Eth-Consensus-Version %q, want electra", got)
	}
	var out struct {
		Data *apiv1electra.BlindedBeaconBlock `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Data == nil {
		t.Fatalf("blinded block: %v", err)
	}
	bp, ok := bn.builder.BidPayload(slot)
	if !ok || out.Data.Body.ExecutionPayloadHeader.BlockHash != bp.BlockHash {
		t.Fatal("the blinded block does not carry the builder's header")
	}

	root, err := out.Data.HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	signed := &apiv1electra.SignedBlindedBeaconBlock{Message: out.Data, Signature: bn.sign(t, proposer, root, domainProposer, 0)}
	if err := bn.client.SubmitBlindedProposal(ctx, &api.SubmitBlindedProposalOpts{Proposal: &api.VersionedSignedBlindedProposal{
		Version: spec.DataVersionElectra, Electra: signed}}); err != nil {
		t.Fatalf("submit blinded block: %v", err)
	}
	if c := bn.builder.Counts(); c.Payloads != 1 {
		t.Fatalf("builder revealed %d payloads, want 1", c.Payloads)
	}
	bn.wantBuilderHead(t, slot)

	// The builder reveals a slot's payload once: the same signed block again is refused.
	sb, err := json.Marshal(signed)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, bn.builder.URL()+"/eth/v1/builder/blinded_blocks", bytes.NewReader(sb))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Eth-Consensus-Version", "electra")
	again, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(again.Body)
	_ = again.Body.Close()
	if again.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), "already delivered") {
		t.Fatalf("second reveal of slot %d: %d %s, want 400 already delivered", slot, again.StatusCode, msg)
	}

	// Slot after slot, through the signer: every block blinded, each on the previous builder block.
	for s := slot + 1; s <= slot+4; s++ {
		blinded, err := bn.proposeAt(t, s)
		if err != nil || !blinded {
			t.Fatalf("slot %d: blinded %v, err %v; want a blinded block", s, blinded, err)
		}
		bn.wantBuilderHead(t, s)
	}
	if c := bn.builder.Counts(); c.Payloads != 5 || c.PayloadsRefused != 1 {
		t.Fatalf("builder counts %+v, want 5 payloads revealed and 1 refused", c)
	}
}

// builder_boost_factor weighs the bid against the local payload (produceBlockV3: bid value times
// factor / 100, integer arithmetic, against the local value). The devnet's local payloads are
// worth 0, so a factor of 0 forces local and otherwise a bid loses only when value*factor < 100.
func TestBuilderBoostFactor(t *testing.T) {
	bn := newBuilderNet(t, 16, nil)
	bn.registerAll(t)
	slot := phase0.Slot(1)
	bn.at(slot, 0.1)
	u := func(v uint64) *uint64 { return &v }
	cases := []struct {
		name    string
		value   uint64
		boost   *uint64
		blinded bool
		asked   bool // whether the node asks the builder at all
	}{
		{"default factor", 1, nil, true, true},
		{"factor 0 forces local", 1_000_000, u(0), false, false},
		{"99 wei at factor 1 rounds to 0", 99, u(1), false, true},
		{"100 wei at factor 1 is worth 1", 100, u(1), true, true},
		{"factor 100", 99, u(100), true, true},
		{"factor above 100", 1, u(1000), true, true},
	}
	for _, c := range cases {
		bn.builder.SetValue(uint256.NewInt(c.value))
		before := bn.builder.Counts().Headers
		p := bn.produce(t, slot, c.boost)
		asked := bn.builder.Counts().Headers > before
		if p.Blinded != c.blinded || asked != c.asked {
			t.Fatalf("%s: blinded %v (asked the builder %v), want %v (%v)", c.name, p.Blinded, asked, c.blinded, c.asked)
		}
		want := uint64(0)
		if c.blinded {
			want = c.value
		}
		if p.ExecutionValue == nil || p.ExecutionValue.Uint64() != want {
			t.Fatalf("%s: execution value %v, want %d", c.name, p.ExecutionValue, want)
		}
	}
}

// Without a registration the node does not ask the builder: the proposal is local. Once the
// proposer registers, the same slot's proposal is blinded.
func TestBuilderNeedsRegistration(t *testing.T) {
	bn := newBuilderNet(t, 16, nil)
	slot := phase0.Slot(1)
	bn.at(slot, 0.1)
	if p := bn.produce(t, slot, nil); p.Blinded {
		t.Fatal("blinded proposal for a proposer that never registered")
	}
	if c := bn.builder.Counts(); c.Headers != 0 {
		t.Fatalf("the node asked the builder %d times for an unregistered proposer", c.Headers)
	}
	if err := bn.submitRegistrations(bn.registration(t, bn.proposer(t, slot), bn.clock.Now())); err != nil {
		t.Fatalf("register the proposer: %v", err)
	}
	if p := bn.produce(t, slot, nil); !p.Blinded {
		t.Fatal("local proposal for a registered proposer with a builder bidding")
	}
}

// A builder that bids nothing, signs badly or bids on the wrong parent costs the proposer nothing
// but the builder's payload: the node proposes a local block, which becomes the head. A builder
// that reveals a payload other than its header's gets the blinded block refused with the reason,
// and the slot is missed. After each, the node serves the next slot, through the builder again.
func TestBuilderFaults(t *testing.T) {
	bn := newBuilderNet(t, 16, nil)
	bn.registerAll(t)
	slot := phase0.Slot(1)
	// Why the node went local, as it logs it: go-builder-client itself drops a bid on another
	// parent than the one asked ("parent hash mismatch"), before the node's own check.
	faults := []struct {
		mode   beacontest.BuilderMode
		reason string
	}{
		{beacontest.BuilderNoBid, "builder has no bid"},
		{beacontest.BuilderBadSignature, "invalid bid signature"},
		{beacontest.BuilderWrongParent, "parent hash mismatch"},
	}
	_, mark := bn.logs.since(0)
	for _, f := range faults {
		mode := f.mode
		bn.builder.SetMode(mode)
		before := bn.builder.Counts()
		blinded, err := bn.proposeAt(t, slot)
		if err != nil || blinded {
			t.Fatalf("%s: blinded %v, err %v; want a local block", mode, blinded, err)
		}
		var logged string
		if logged, mark = bn.logs.since(mark); !strings.Contains(logged, f.reason) {
			t.Fatalf("%s: the node's log does not say %q:\n%s", mode, f.reason, logged)
		}
		after := bn.builder.Counts()
		if after.Headers != before.Headers+1 {
			t.Fatalf("%s: the node asked the builder %d times, want 1", mode, after.Headers-before.Headers)
		}
		if mode != beacontest.BuilderNoBid && after.Bids != before.Bids+1 {
			t.Fatalf("%s: the builder served %d bids, want 1", mode, after.Bids-before.Bids)
		}
		bn.wantLocalHead(t, slot)
		slot++

		bn.builder.SetMode(beacontest.BuilderHonest)
		if blinded, err := bn.proposeAt(t, slot); err != nil || !blinded {
			t.Fatalf("after %s: blinded %v, err %v; want a blinded block", mode, blinded, err)
		}
		bn.wantBuilderHead(t, slot)
		slot++
	}

	bn.builder.SetMode(beacontest.BuilderPayloadMismatch)
	t.Cleanup(func() { bn.builder.SetMode(beacontest.BuilderHonest) })
	prev, _ := bn.head(t)
	_, err := bn.proposeAt(t, slot)
	t.Logf("payload mismatch refused: %v", err)
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "execution payload hash mismatch") {
		t.Fatalf("payload mismatch: %v, want the blinded block refused with a reason", err)
	}
	if hs, _ := bn.head(t); hs != prev {
		t.Fatalf("head moved to slot %d on a refused blinded block", hs)
	}
	slot++
	bn.builder.SetMode(beacontest.BuilderHonest)
	if blinded, err := bn.proposeAt(t, slot); err != nil || !blinded {
		t.Fatalf("after a mismatched payload: blinded %v, err %v; want a blinded block", blinded, err)
	}
	bn.wantBuilderHead(t, slot)
}

// Registrations are checked by the node before it forwards them (builder domain signature, a
// validator of the network, a timestamp not in the future): the good ones reach the builder, the
// bad ones are refused, each with its reason.
func TestBuilderRegistrations(t *testing.T) {
	bn := newBuilderNet(t, 8, nil)
	now := bn.clock.Now()

	badSig := bn.registration(t, 1, now)
	badSig.Signature = bn.registration(t, 2, now).Signature

	stranger, err := bls.GenerateSecretKey()
	if err != nil {
		t.Fatal(err)
	}
	unknown := &apiv1.SignedValidatorRegistration{Message: &apiv1.ValidatorRegistration{FeeRecipient: registeredFeeRecipient,
		GasLimit: 36_000_000, Timestamp: now, Pubkey: phase0.BLSPubKey(stranger.PublicKey().Bytes())}}
	unknown.Signature = bn.signBuilder(t, stranger, unknown.Message)

	future := bn.registration(t, 3, now.Add(time.Minute))

	err = bn.submitRegistrations(bn.registration(t, 0, now), badSig, unknown, future)
	if err == nil {
		t.Fatal("registrations with a bad signature, an unknown key and a future timestamp accepted")
	}
	for _, reason := range []string{"400", "invalid registration signature", "is not a validator of this network", "is in the future"} {
		if !strings.Contains(err.Error(), reason) {
			t.Errorf("refusal %q does not say %q", err, reason)
		}
	}
	if c := bn.builder.Counts(); c.Registrations != 1 {
		t.Fatalf("builder holds %d registrations, want only the good one", c.Registrations)
	}
	if _, ok := bn.builder.Registration(phase0.BLSPubKey(bn.node.Genesis().Secrets[0].PublicKey().Bytes())); !ok {
		t.Fatal("the good registration did not reach the builder")
	}

	// The builder checks what it is sent too: a registration signed by another key is refused.
	body, err := json.Marshal([]*apiv1.SignedValidatorRegistration{badSig})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(bn.builder.URL()+"/eth/v1/builder/validators", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), "invalid signature") {
		t.Fatalf("builder took a badly signed registration: %d %s", resp.StatusCode, msg)
	}
	// And the node keeps serving registrations.
	if err := bn.submitRegistrations(bn.registration(t, 4, now)); err != nil {
		t.Fatalf("registration after refusals: %v", err)
	}
	// A registration older than the one the node holds is stale.
	if err := bn.submitRegistrations(bn.registration(t, 4, now.Add(-time.Minute))); err == nil || !strings.Contains(err.Error(), "older than the last one") {
		t.Fatalf("stale registration: %v, want refused as older than the last one", err)
	}
	if c := bn.builder.Counts(); c.Registrations != 2 || c.RegistrationsRefused != 1 {
		t.Fatalf("builder counts %+v, want 2 registrations and 1 refused", c)
	}
}

// Across the Fulu fork the builder path goes on: the builder signs Fulu bids from the first Fulu
// slot (it reads the fork from the payload_attributes event), the node takes them and the builder
// reveals the payload in the Fulu shape.
func TestBuilderAcrossFulu(t *testing.T) {
	fulu := phase0.Epoch(1)
	bn := newBuilderNet(t, 16, func(c *beacon.Config, _ *beacontest.Builder) { c.FuluEpoch = &fulu })
	bn.registerAll(t)
	spe := phase0.Slot(bn.node.Preset().SlotsPerEpoch)
	for s := spe - 1; s <= spe+1; s++ {
		bn.at(s, 0.1)
		p := bn.produce(t, s, nil)
		want := spec.DataVersionElectra
		if s >= spe {
			want = spec.DataVersionFulu
		}
		if !p.Blinded || p.Version != want {
			t.Fatalf("slot %d: blinded %v version %s, want a blinded %s block", s, p.Blinded, p.Version, want)
		}
		if blinded, err := bn.proposeAt(t, s); err != nil || !blinded {
			t.Fatalf("slot %d: blinded %v, err %v; want a blinded block", s, blinded, err)
		}
		bn.wantBuilderHead(t, s)
	}
}

// A builder URL that names the builder's key (http://0xPUBKEY@host, as mev-boost takes relays)
// makes the node take bids signed by that key only.
func TestBuilderPinnedKey(t *testing.T) {
	for _, right := range []bool{false, true} {
		t.Run(fmt.Sprintf("right key %v", right), func(t *testing.T) {
			bn := newBuilderNet(t, 16, func(c *beacon.Config, b *beacontest.Builder) {
				key := phase0.BLSPubKey(bn0Key.PublicKey().Bytes()) // a key that is not the builder's
				if right {
					key = b.Pubkey()
				}
				c.BuilderURL = strings.Replace(c.BuilderURL, "http://", fmt.Sprintf("http://%#x@", key), 1)
			})
			bn.registerAll(t)
			bn.at(1, 0.1)
			_, mark := bn.logs.since(0)
			if p := bn.produce(t, 1, nil); p.Blinded != right {
				t.Fatalf("blinded %v, want %v", p.Blinded, right)
			}
			if logged, _ := bn.logs.since(mark); !right && !strings.Contains(logged, "the builder URL names") {
				t.Fatalf("the node's log does not say it refused a bid from another key:\n%s", logged)
			}
		})
	}
}

// bn0Key is a BLS key no test builder holds.
var bn0Key = func() *bls.SecretKey {
	sk, err := bls.SecretKeyFromBigInt(big.NewInt(424242))
	if err != nil {
		panic(err)
	}
	return sk
}()

// A builder slower than the node's getHeader budget costs the proposer its bid, not its block.
func TestBuilderSlow(t *testing.T) {
	bn := newBuilderNet(t, 16, func(c *beacon.Config, _ *beacontest.Builder) { c.BuilderTimeout = 300 * time.Millisecond })
	bn.registerAll(t)
	bn.builder.SetDelay(time.Minute)
	_, mark := bn.logs.since(0)
	if blinded, err := bn.proposeAt(t, 1); err != nil || blinded {
		t.Fatalf("slow builder: blinded %v, err %v; want a local block", blinded, err)
	}
	if logged, _ := bn.logs.since(mark); !strings.Contains(logged, "builder bid unavailable") {
		t.Fatalf("the node's log does not say the bid was unavailable:\n%s", logged)
	}
	bn.wantLocalHead(t, 1)
	bn.builder.SetDelay(0)
	if blinded, err := bn.proposeAt(t, 2); err != nil || !blinded {
		t.Fatalf("builder back to speed: blinded %v, err %v; want a blinded block", blinded, err)
	}
	bn.wantBuilderHead(t, 2)
}

// A blinded block the proposer did not sign never reaches the builder: the node refuses it with
// the reason, and the builder reveals nothing; the proposer's own signature then goes through.
func TestBuilderForgedBlindedBlock(t *testing.T) {
	bn := newBuilderNet(t, 16, nil)
	bn.registerAll(t)
	slot := phase0.Slot(1)
	bn.at(slot, 0.1)
	p := bn.produce(t, slot, nil)
	if !p.Blinded {
		t.Fatal("want a blinded proposal")
	}
	root, err := p.ElectraBlinded.HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	proposer := p.ElectraBlinded.ProposerIndex
	submit := func(signer phase0.ValidatorIndex) error {
		return bn.client.SubmitBlindedProposal(context.Background(), &api.SubmitBlindedProposalOpts{Proposal: &api.VersionedSignedBlindedProposal{
			Version: spec.DataVersionElectra, Electra: &apiv1electra.SignedBlindedBeaconBlock{Message: p.ElectraBlinded,
				Signature: bn.sign(t, signer, root, domainProposer, 0)}}})
	}
	err = submit((proposer + 1) % 16)
	if err == nil || !strings.Contains(err.Error(), "invalid signature") {
		t.Fatalf("blinded block signed by another validator: %v, want refused for its signature", err)
	}
	if c := bn.builder.Counts(); c.Payloads != 0 || c.PayloadsRefused != 0 {
		t.Fatalf("a forged blinded block reached the builder: %+v", c)
	}
	if err := submit(proposer); err != nil {
		t.Fatalf("blinded block signed by its proposer: %v", err)
	}
	bn.wantBuilderHead(t, slot)
}
