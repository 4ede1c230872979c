package beacon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	ssz "github.com/ferranbt/fastssz"
	"github.com/rs/zerolog"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/beacon/beacontest"
)

// exchange is one HTTP exchange between go-eth2-client and the node, as seen on the wire.
type exchange struct {
	method, path, reqType, accept, respType string
	status                                  int
}

// recorder is go-eth2-client's transport: it notes the media types of every exchange, so a test
// can tell SSZ was really used where the client prefers it and JSON everywhere when enforced.
type recorder struct {
	mu  sync.Mutex
	log []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	r.mu.Lock()
	r.log = append(r.log, exchange{req.Method, req.URL.Path, req.Header.Get("Content-Type"), req.Header.Get("Accept"), resp.Header.Get("Content-Type"), resp.StatusCode})
	r.mu.Unlock()
	return resp, nil
}

// seen returns the successful exchanges of method on paths starting with prefix.
func (r *recorder) seen(method, prefix string) []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []exchange
	for _, e := range r.log {
		if e.method == method && strings.HasPrefix(e.path, prefix) && e.status == http.StatusOK {
			out = append(out, e)
		}
	}
	return out
}

// apiNet is a test net whose go-eth2-client runs in one of the two media modes.
type apiNet struct {
	*testNet
	svc     *eth2http.Service
	rec     *recorder
	json    bool
	builder *testBuilder
}

// apiModes are the two ways go-eth2-client talks: its default (SSZ where it asks for it) and
// WithEnforceJSON(true).
var apiModes = []struct {
	name string
	json bool
}{{"default-ssz", false}, {"enforce-json", true}}

// dial connects go-eth2-client's HTTP client to url with the recorder as its transport.
func dial(t *testing.T, url string, enforceJSON bool, rec *recorder) *eth2http.Service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := eth2http.New(ctx, eth2http.WithAddress(url), eth2http.WithLogLevel(zerolog.Disabled),
		eth2http.WithTimeout(20*time.Second), eth2http.WithEnforceJSON(enforceJSON),
		eth2http.WithHTTPClient(&http.Client{Transport: rec}))
	if err != nil {
		t.Fatalf("go-eth2-client: %v", err)
	}
	return s.(*eth2http.Service)
}

// newAPINet starts a node of n validators behind httptest on 127.0.0.1 with the settable clock at
// genesis, a test builder as its builder URL, and a signer driving duties through the client.
func newAPINet(t *testing.T, n int, enforceJSON bool, mod func(*beacon.Config)) *apiNet {
	t.Helper()
	b := newTestBuilder(t)
	ck := &clock{now: genesisTime}
	cfg := beacon.Config{Validators: n, GenesisTime: genesisTime, SlotTime: 2 * time.Second, Now: ck.Now, BuilderURL: b.url}
	if mod != nil {
		mod(&cfg)
	}
	node, err := beacon.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(node.Close) // no Run to close it
	srv := httptest.NewServer(node.Handler())
	t.Cleanup(srv.Close)
	rec := &recorder{}
	svc := dial(t, srv.URL, enforceJSON, rec)
	secrets := map[phase0.ValidatorIndex]*bls.SecretKey{}
	for i, sk := range node.Genesis().Secrets {
		secrets[phase0.ValidatorIndex(i)] = sk
	}
	s, err := beacontest.New(context.Background(), svc, secrets)
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	return &apiNet{testNet: &testNet{node: node, url: srv.URL, clock: ck, client: svc, signer: s}, svc: svc, rec: rec, json: enforceJSON, builder: b}
}

// testBuilder is a builder-API server on 127.0.0.1 that records the registrations a beacon node
// forwards to it and has no bids (204), so proposals stay local.
type testBuilder struct {
	url  string
	mu   sync.Mutex
	regs []json.RawMessage
}

func newTestBuilder(t *testing.T) *testBuilder {
	b := &testBuilder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/eth/v1/builder/validators":
			body, _ := io.ReadAll(r.Body)
			var regs []json.RawMessage
			if err := json.Unmarshal(body, &regs); err != nil {
				http.Error(w, `{"code":400,"message":"bad registrations"}`, http.StatusBadRequest)
				return
			}
			b.mu.Lock()
			b.regs = append(b.regs, regs...)
			b.mu.Unlock()
			w.WriteHeader(http.StatusOK)
		case strings.HasPrefix(r.URL.Path, "/eth/v1/builder/header/"):
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

func (b *testBuilder) registrations() []json.RawMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]json.RawMessage(nil), b.regs...)
}

// computeDomain is the spec's compute_domain (phase0 beacon-chain.md), written here with
// go-eth2-client's ForkData so that it does not share code with the node.
func computeDomain(t *testing.T, dt phase0.DomainType, version phase0.Version, gvr phase0.Root) phase0.Domain {
	t.Helper()
	fdr, err := (&phase0.ForkData{CurrentVersion: version, GenesisValidatorsRoot: gvr}).HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	var d phase0.Domain
	copy(d[:4], dt[:])
	copy(d[4:], fdr[:28])
	return d
}

// signRoot signs root under domain with validator i's devnet key.
func (an *apiNet) signRoot(t *testing.T, i phase0.ValidatorIndex, root phase0.Root, domain phase0.Domain) phase0.BLSSignature {
	t.Helper()
	sr, err := (&phase0.SigningData{ObjectRoot: root, Domain: domain}).HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	return phase0.BLSSignature(an.node.Genesis().Secrets[i].Sign(sr[:]).Bytes())
}

// verifyRoot checks sig is validator i's signature of root under domain.
func (an *apiNet) verifyRoot(t *testing.T, i phase0.ValidatorIndex, root phase0.Root, domain phase0.Domain, sig phase0.BLSSignature) bool {
	t.Helper()
	sr, err := (&phase0.SigningData{ObjectRoot: root, Domain: domain}).HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	pkb := an.node.Genesis().Validators[i].Pubkey
	pk, err := bls.PublicKeyFromBytes(pkb[:])
	if err != nil {
		t.Fatal(err)
	}
	s, err := bls.SignatureFromBytes(sig[:])
	if err != nil {
		return false
	}
	return bls.Verify(pk, sr[:], s)
}

func (an *apiNet) domain(t *testing.T, dt phase0.DomainType, e phase0.Epoch) phase0.Domain {
	t.Helper()
	d, err := an.svc.Domain(context.Background(), dt, e)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var (
	domainProposer      = phase0.DomainType{0x00, 0, 0, 0}
	domainRandao        = phase0.DomainType{0x02, 0, 0, 0}
	domainVoluntaryExit = phase0.DomainType{0x04, 0, 0, 0}
	domainBuilder       = phase0.DomainType{0x00, 0, 0, 0x01}
)

func isStatus(err error, code int) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.StatusCode == code
}

func (an *apiNet) epochOf(s phase0.Slot) phase0.Epoch {
	return phase0.Epoch(uint64(s) / an.node.Preset().SlotsPerEpoch)
}

func (an *apiNet) proposerOf(t *testing.T, slot phase0.Slot) phase0.ValidatorIndex {
	t.Helper()
	resp, err := an.svc.ProposerDuties(context.Background(), &api.ProposerDutiesOpts{Epoch: an.epochOf(slot)})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Data {
		if d.Slot == slot {
			return d.ValidatorIndex
		}
	}
	t.Fatalf("no proposer duty for slot %d", slot)
	return 0
}

// blockRoot is the root of the block at slot, or of the latest block before it (an empty slot).
func (an *apiNet) blockRootAtOrBefore(t *testing.T, slot phase0.Slot) phase0.Root {
	t.Helper()
	for s := slot; ; s-- {
		resp, err := an.svc.BeaconBlockRoot(context.Background(), &api.BeaconBlockRootOpts{Block: fmt.Sprint(s)})
		if err == nil {
			return *resp.Data
		}
		if !isStatus(err, http.StatusNotFound) || s == 0 {
			t.Fatalf("block root at slot %d: %v", s, err)
		}
	}
}

var testGraffiti = [32]byte{'z', 'k', 'v', ' ', 'a', 'p', 'i', ' ', 't', 'e', 's', 't'}

// proposeByHand asks produceBlockV3 for a block at slot, checks what it says, signs it as the
// slot's proposer and publishes it; it returns the signed block it published.
func (an *apiNet) proposeByHand(t *testing.T, slot phase0.Slot) *electra.SignedBeaconBlock {
	t.Helper()
	ctx := context.Background()
	e := an.epochOf(slot)
	prop := an.proposerOf(t, slot)
	head := an.blockRootAtOrBefore(t, slot-1)
	reveal := an.signRoot(t, prop, uintRoot(uint64(e)), an.domain(t, domainRandao, e))
	resp, err := an.svc.Proposal(ctx, &api.ProposalOpts{Slot: slot, RandaoReveal: reveal, Graffiti: testGraffiti})
	if err != nil {
		t.Fatalf("proposal at %d: %v", slot, err)
	}
	p := resp.Data
	if p.Version != spec.DataVersionElectra || p.Blinded || p.Electra == nil || p.ExecutionValue == nil || p.ConsensusValue == nil {
		t.Fatalf("proposal: version %s blinded %v electra %v values %v %v; want an unblinded Electra block with both values", p.Version, p.Blinded, p.Electra != nil, p.ExecutionValue, p.ConsensusValue)
	}
	blk := p.Electra.Block
	if blk.Slot != slot || blk.ProposerIndex != prop || blk.ParentRoot != head || blk.Body.RANDAOReveal != reveal || blk.Body.Graffiti != testGraffiti {
		t.Fatalf("proposal: slot %d proposer %d parent %s; want %d, %d, %s with our reveal and graffiti", blk.Slot, blk.ProposerIndex, blk.ParentRoot, slot, prop, head)
	}
	if want := uint64(genesisTime.Add(time.Duration(slot) * an.node.SlotTime()).Unix()); blk.Body.ExecutionPayload.Timestamp != want {
		t.Fatalf("payload timestamp %d, want the slot's start %d", blk.Body.ExecutionPayload.Timestamp, want)
	}
	root, err := blk.HashTreeRoot()
	if err != nil {
		t.Fatal(err)
	}
	signed := &electra.SignedBeaconBlock{Message: blk, Signature: an.signRoot(t, prop, root, an.domain(t, domainProposer, e))}
	err = an.svc.SubmitProposal(ctx, &api.SubmitProposalOpts{Proposal: &api.VersionedSignedProposal{Version: spec.DataVersionElectra,
		Electra: &apiv1electra.SignedBlockContents{SignedBlock: signed, KZGProofs: p.Electra.KZGProofs, Blobs: p.Electra.Blobs}}})
	if err != nil {
		t.Fatalf("publish block at %d: %v", slot, err)
	}
	return signed
}

// validatorList is the state's validators field, List[Validator, VALIDATOR_REGISTRY_LIMIT]:
// its hash_tree_root is the genesis validators root (phase0 beacon-chain.md, genesis).
type validatorList struct{ vs []*phase0.Validator }

func (l *validatorList) HashTreeRoot() ([32]byte, error) {
	h := ssz.NewHasher()
	idx := h.Index()
	for _, v := range l.vs {
		if err := v.HashTreeRootWith(h); err != nil {
			return [32]byte{}, err
		}
	}
	h.MerkleizeWithMixin(idx, uint64(len(l.vs)), 1<<40) // VALIDATOR_REGISTRY_LIMIT
	return h.HashRoot()
}

func uintRoot(v uint64) phase0.Root {
	var r phase0.Root
	for i := 0; i < 8; i++ {
		r[i] = byte(v >> (8 * i))
	}
	return r
}

// run is what a test net did before its endpoints are examined.
type run struct {
	byHand     *electra.SignedBeaconBlock // published at slot 1
	silent     phase0.ValidatorIndex      // never does anything
	finalities []*apiv1.Finality          // at the start of epochs 1..4
	reports    []beacontest.Report
}

// runNet drives four epochs (slots 1-31) of duties with one validator silent, the first block by
// hand, and stops at slot 32 after the signer's attestations and sync messages of that slot.
func runNet(t *testing.T, an *apiNet) *run {
	t.Helper()
	ctx := context.Background()
	r := &run{silent: 31}
	an.signer.Silent[r.silent] = true
	an.at(1, 0.1)
	r.byHand = an.proposeByHand(t, 1)
	data, _, err := an.signer.Attest(ctx, 1)
	if err != nil {
		t.Fatalf("attest at 1: %v", err)
	}
	if _, err := an.signer.SyncMessages(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := an.signer.Aggregate(ctx, 1, data); err != nil {
		t.Fatal(err)
	}
	if _, err := an.signer.Contribute(ctx, 1); err != nil {
		t.Fatal(err)
	}
	spe := phase0.Slot(an.node.Preset().SlotsPerEpoch)
	for slot := phase0.Slot(2); slot < 4*spe; slot++ {
		an.at(slot, 0.1)
		if slot%spe == 0 {
			f, err := an.svc.Finality(ctx, &api.FinalityOpts{State: "head"})
			if err != nil {
				t.Fatal(err)
			}
			r.finalities = append(r.finalities, f.Data)
		}
		rep, err := an.signer.Slot(ctx, slot)
		if err != nil {
			t.Fatalf("slot %d: %v", slot, err)
		}
		r.reports = append(r.reports, rep)
	}
	an.at(4*spe, 0.1)
	f, err := an.svc.Finality(ctx, &api.FinalityOpts{State: "head"})
	if err != nil {
		t.Fatal(err)
	}
	r.finalities = append(r.finalities, f.Data)
	if _, _, err := an.signer.Attest(ctx, 4*spe); err != nil {
		t.Fatal(err)
	}
	if _, err := an.signer.SyncMessages(ctx, 4*spe); err != nil {
		t.Fatal(err)
	}
	return r
}

// getJSON GETs path with Accept: application/json and decodes the answer into v.
func getJSON(t *testing.T, url, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+path, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET %s: Content-Type %q, want application/json", path, ct)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

// getSSZ GETs path preferring SSZ and returns the body (failing unless it is SSZ).
func getSSZ(t *testing.T, url, path string) ([]byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+path, nil)
	req.Header.Set("Accept", "application/octet-stream;q=1,application/json;q=0.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("GET %s as SSZ: %d %q %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return b, resp.Header
}

// TestAPIEndpoints checks every endpoint of the API list with go-eth2-client, in its
// default media mode (SSZ where it asks for it) and with WithEnforceJSON(true), against what the
// node must answer after four epochs of duties.
func TestAPIEndpoints(t *testing.T) {
	for _, mode := range apiModes {
		t.Run(mode.name, func(t *testing.T) {
			an := newAPINet(t, 32, mode.json, func(c *beacon.Config) { c.ShardCommitteePeriod = 1 })
			r := runNet(t, an)
			testEndpoints(t, an, r)
		})
	}
}

func testEndpoints(t *testing.T, an *apiNet, r *run) {
	ctx := context.Background()
	spe := an.node.Preset().SlotsPerEpoch
	cur := phase0.Slot(4 * spe)
	n := len(an.node.Genesis().Validators)
	all := make([]phase0.ValidatorIndex, n)
	for i := range all {
		all[i] = phase0.ValidatorIndex(i)
	}

	t.Run("node/version", func(t *testing.T) {
		resp, err := an.svc.NodeVersion(ctx, &api.NodeVersionOpts{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(resp.Data, beacon.Version) || !strings.Contains(resp.Data, "simulator") {
			t.Fatalf("version %q: want %s and the word simulator", resp.Data, beacon.Version)
		}
	})
	t.Run("node/syncing", func(t *testing.T) {
		resp, err := an.svc.NodeSyncing(ctx, &api.NodeSyncingOpts{})
		if err != nil {
			t.Fatal(err)
		}
		head, err := an.svc.BeaconBlockHeader(ctx, &api.BeaconBlockHeaderOpts{Block: "head"})
		if err != nil {
			t.Fatal(err)
		}
		hs := head.Data.Header.Message.Slot
		if resp.Data.HeadSlot != hs || resp.Data.SyncDistance != cur-hs || resp.Data.IsSyncing || resp.Data.IsOptimistic {
			t.Fatalf("syncing %+v: want head slot %d, distance %d, not syncing, not optimistic", resp.Data, hs, cur-hs)
		}
	})
	t.Run("node/health", func(t *testing.T) {
		// go-eth2-client has no call for health: plain HTTP, 200 with no body for a ready node.
		resp, err := http.Get(an.url + "/eth/v1/node/health")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(b) != 0 {
			t.Fatalf("health: %d %q, want 200 and no body", resp.StatusCode, b)
		}
	})
	t.Run("node/identity", func(t *testing.T) {
		// No go-eth2-client call: decode the spec's NetworkIdentity.
		var id struct {
			Data struct {
				PeerID             string   `json:"peer_id"`
				ENR                *string  `json:"enr"`
				P2PAddresses       []string `json:"p2p_addresses"`
				DiscoveryAddresses []string `json:"discovery_addresses"`
				Metadata           struct {
					SeqNumber string `json:"seq_number"`
					Attnets   string `json:"attnets"`
					Syncnets  string `json:"syncnets"`
				} `json:"metadata"`
			} `json:"data"`
		}
		getJSON(t, an.url, "/eth/v1/node/identity", &id)
		d := id.Data
		if d.PeerID == "" || d.ENR == nil || d.P2PAddresses == nil || d.DiscoveryAddresses == nil ||
			d.Metadata.SeqNumber != "0" || len(d.Metadata.Attnets) != 2+16 || len(d.Metadata.Syncnets) != 2+2 {
			t.Fatalf("identity %+v: want a peer id, the address lists and metadata (seq 0, 8-byte attnets, 1-byte syncnets)", d)
		}
	})
	t.Run("config/spec", func(t *testing.T) {
		resp, err := an.svc.Spec(ctx, &api.SpecOpts{})
		if err != nil {
			t.Fatal(err)
		}
		s := resp.Data
		checks := map[string]any{
			"SLOTS_PER_EPOCH":        uint64(8),
			"SECONDS_PER_SLOT":       2 * time.Second,
			"ELECTRA_FORK_EPOCH":     uint64(0),
			"ELECTRA_FORK_VERSION":   beacon.ElectraForkVersion,
			"GENESIS_FORK_VERSION":   beacon.GenesisForkVersion,
			"DOMAIN_BEACON_ATTESTER": phase0.DomainType{0x01, 0, 0, 0},
			"SYNC_COMMITTEE_SIZE":    uint64(512), // mainnet-shaped SSZ types on the minimal schedule (preset.go)
			"SHARD_COMMITTEE_PERIOD": uint64(1),
			"DEPOSIT_CHAIN_ID":       uint64(beacon.DevnetChainID),
		}
		for k, want := range checks {
			if got := s[k]; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("spec %s = %v (%T), want %v", k, got, got, want)
			}
		}
		if fulu, ok := s["FULU_FORK_EPOCH"].(uint64); !ok || fulu != uint64(beacon.FarFutureEpoch) {
			t.Errorf("FULU_FORK_EPOCH = %v, want FAR_FUTURE_EPOCH (Fulu not scheduled)", s["FULU_FORK_EPOCH"])
		}
	})
	t.Run("config/fork_schedule", func(t *testing.T) {
		resp, err := an.svc.ForkSchedule(ctx, &api.ForkScheduleOpts{})
		if err != nil {
			t.Fatal(err)
		}
		fs := resp.Data
		want := []phase0.Version{beacon.GenesisForkVersion, beacon.AltairForkVersion, beacon.BellatrixForkVersion,
			beacon.CapellaForkVersion, beacon.DenebForkVersion, beacon.ElectraForkVersion}
		if len(fs) != len(want) {
			t.Fatalf("fork schedule has %d forks, want %d (phase0 to Electra, Fulu unscheduled)", len(fs), len(want))
		}
		for i, f := range fs {
			prev := want[max(i-1, 0)]
			if f.CurrentVersion != want[i] || f.PreviousVersion != prev || f.Epoch != 0 {
				t.Errorf("fork %d: %+v, want %#x after %#x at epoch 0", i, f, want[i], prev)
			}
		}
	})
	t.Run("config/deposit_contract", func(t *testing.T) {
		resp, err := an.svc.DepositContract(ctx, &api.DepositContractOpts{})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Data.ChainID != beacon.DevnetChainID || !bytes.Equal(resp.Data.Address, beacon.DepositContractAddress[:]) {
			t.Fatalf("deposit contract %d %#x, want %d %#x", resp.Data.ChainID, resp.Data.Address, beacon.DevnetChainID, beacon.DepositContractAddress)
		}
	})
	t.Run("beacon/genesis", func(t *testing.T) {
		resp, err := an.svc.Genesis(ctx, &api.GenesisOpts{})
		if err != nil {
			t.Fatal(err)
		}
		g := resp.Data
		if g.GenesisValidatorsRoot != an.node.GenesisValidatorsRoot() || !g.GenesisTime.Equal(genesisTime) || g.GenesisForkVersion != beacon.GenesisForkVersion {
			t.Fatalf("genesis %+v: want the node's root %s, time %v, version %#x", g, an.node.GenesisValidatorsRoot(), genesisTime, beacon.GenesisForkVersion)
		}
		// The genesis validators root is hash_tree_root of the validator list: recompute it from the
		// validators the API lists.
		vs, err := an.svc.Validators(ctx, &api.ValidatorsOpts{State: "genesis", Indices: all})
		if err != nil {
			t.Fatal(err)
		}
		list := make([]*phase0.Validator, n)
		for i := range list {
			list[i] = vs.Data[phase0.ValidatorIndex(i)].Validator
		}
		root, err := (&validatorList{list}).HashTreeRoot()
		if err != nil {
			t.Fatal(err)
		}
		if root != g.GenesisValidatorsRoot {
			t.Fatalf("hash_tree_root of the genesis validators is %s, genesis says %s", phase0.Root(root), g.GenesisValidatorsRoot)
		}
	})
	t.Run("beacon/states/validators", func(t *testing.T) {
		pk5 := an.node.Genesis().Validators[5].Pubkey
		resp, err := an.svc.Validators(ctx, &api.ValidatorsOpts{State: "head", Indices: []phase0.ValidatorIndex{0, 3}, PubKeys: []phase0.BLSPubKey{pk5}})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != 3 {
			t.Fatalf("POST validators by 2 indices and a pubkey: %d answers", len(resp.Data))
		}
		for i, v := range resp.Data {
			if v.Index != i || v.Validator.PublicKey != an.node.Genesis().Validators[i].Pubkey || v.Status != apiv1.ValidatorStateActiveOngoing ||
				v.Balance != 32_000_000_000 || v.Validator.EffectiveBalance != 32_000_000_000 || v.Validator.ExitEpoch != beacon.FarFutureEpoch {
				t.Errorf("validator %d: %+v", i, v)
			}
		}
		none, err := an.svc.Validators(ctx, &api.ValidatorsOpts{State: "head", Indices: all, ValidatorStates: []apiv1.ValidatorState{apiv1.ValidatorStateExitedUnslashed}})
		if err != nil {
			t.Fatal(err)
		}
		if len(none.Data) != 0 {
			t.Fatalf("no validator has exited, yet %d are exited_unslashed", len(none.Data))
		}
		// GET with ids and a general status (go-eth2-client only POSTs).
		var got struct {
			Data []struct {
				Index  string `json:"index"`
				Status string `json:"status"`
			} `json:"data"`
			Finalized *bool `json:"finalized"`
		}
		getJSON(t, an.url, fmt.Sprintf("/eth/v1/beacon/states/head/validators?id=1,%s&id=7&status=active", pk5), &got)
		if len(got.Data) != 3 || got.Data[0].Index != "1" || got.Data[1].Index != "5" || got.Data[2].Index != "7" || got.Data[0].Status != "active_ongoing" || got.Finalized == nil {
			t.Fatalf("GET validators?id=1,pk5&id=7&status=active: %+v", got)
		}
		getJSON(t, an.url, "/eth/v1/beacon/states/head/validators?status=exited", &got)
		if len(got.Data) != 0 {
			t.Fatalf("GET validators?status=exited: %d answers, want none", len(got.Data))
		}
	})
	t.Run("beacon/states/finality_checkpoints", func(t *testing.T) {
		// Finality advances: nothing before epoch 2 is processed; at the start of epoch 3 epoch 2
		// is justified; at the start of epoch 4 epoch 3 is justified and 2 finalized.
		want := [][2]phase0.Epoch{{0, 0}, {0, 0}, {2, 0}, {3, 2}}
		if len(r.finalities) != len(want) {
			t.Fatalf("%d finality samples", len(r.finalities))
		}
		for i, f := range r.finalities {
			if f.Justified.Epoch != want[i][0] || f.Finalized.Epoch != want[i][1] {
				t.Errorf("start of epoch %d: justified %d finalized %d, want %d and %d", i+1, f.Justified.Epoch, f.Finalized.Epoch, want[i][0], want[i][1])
			}
		}
		last := r.finalities[len(r.finalities)-1]
		if last.Finalized.Root != an.blockRootAtOrBefore(t, phase0.Slot(2*spe)) || last.Justified.Root != an.blockRootAtOrBefore(t, phase0.Slot(3*spe)) {
			t.Errorf("checkpoint roots %s %s are not the epoch-boundary blocks", last.Finalized.Root, last.Justified.Root)
		}
		// The finalized state's finality names the same checkpoints as the genesis state did.
		g, err := an.svc.Finality(ctx, &api.FinalityOpts{State: "genesis"})
		if err != nil {
			t.Fatal(err)
		}
		if g.Data.Finalized.Epoch != 0 || g.Data.Justified.Epoch != 0 {
			t.Errorf("genesis state finality %+v", g.Data)
		}
	})
	t.Run("blocks", func(t *testing.T) {
		// Every block fetched is the block proposed: signed by the slot's proposer, linked to its
		// parent, its root the one the root and header endpoints give; the one published by hand is
		// byte for byte the one fetched. Empty slots are the silent validator's.
		prev := an.blockRootAtOrBefore(t, 0)
		var withAtts, withSync int
		for s := phase0.Slot(1); s < cur; s++ {
			resp, err := an.svc.SignedBeaconBlock(ctx, &api.SignedBeaconBlockOpts{Block: fmt.Sprint(s)})
			prop := an.proposerOf(t, s)
			if isStatus(err, http.StatusNotFound) {
				if prop != r.silent {
					t.Fatalf("slot %d has no block though its proposer %d is not silent", s, prop)
				}
				continue
			}
			if err != nil {
				t.Fatalf("block %d: %v", s, err)
			}
			if resp.Data.Version != spec.DataVersionElectra || resp.Data.Electra == nil {
				t.Fatalf("block %d of version %s", s, resp.Data.Version)
			}
			b := resp.Data.Electra
			r32, _ := b.Message.HashTreeRoot()
			root := phase0.Root(r32)
			if b.Message.Slot != s || b.Message.ProposerIndex != prop || b.Message.ParentRoot != prev {
				t.Fatalf("block %d: slot %d proposer %d parent %s, want proposer %d parent %s", s, b.Message.Slot, b.Message.ProposerIndex, b.Message.ParentRoot, prop, prev)
			}
			if !an.verifyRoot(t, prop, root, an.domain(t, domainProposer, an.epochOf(s)), b.Signature) {
				t.Fatalf("block %d: the signature is not its proposer's", s)
			}
			if s == 1 {
				want, _ := r.byHand.Message.HashTreeRoot()
				if root != want || b.Signature != r.byHand.Signature {
					t.Fatalf("block 1 fetched (%s) is not the block published (%s)", root, phase0.Root(want))
				}
			}
			br, err := an.svc.BeaconBlockRoot(ctx, &api.BeaconBlockRootOpts{Block: fmt.Sprint(s)})
			if err != nil || *br.Data != root {
				t.Fatalf("blocks/%d/root: %v %v, want %s", s, br, err, root)
			}
			h, err := an.svc.BeaconBlockHeader(ctx, &api.BeaconBlockHeaderOpts{Block: root.String()})
			if err != nil {
				t.Fatal(err)
			}
			bodyRoot, _ := b.Message.Body.HashTreeRoot()
			if h.Data.Root != root || !h.Data.Canonical || h.Data.Header.Message.BodyRoot != bodyRoot || h.Data.Header.Signature != b.Signature {
				t.Fatalf("header of %s: %+v", root, h.Data)
			}
			if len(b.Message.Body.Attestations) > 0 {
				withAtts++
			}
			if b.Message.Body.SyncAggregate.SyncCommitteeBits.Count() > 0 {
				withSync++
			}
			prev = root
		}
		if withAtts < int(cur)/2 || withSync < int(cur)/2 {
			t.Fatalf("only %d blocks carry attestations and %d sync aggregates of %d slots", withAtts, withSync, cur)
		}
		// The media types on the wire: SSZ both ways by default, JSON only when enforced.
		gets, posts, props := an.rec.seen("GET", "/eth/v2/beacon/blocks/"), an.rec.seen("POST", "/eth/v2/beacon/blocks"), an.rec.seen("GET", "/eth/v3/validator/blocks/")
		if len(gets) == 0 || len(posts) == 0 || len(props) == 0 {
			t.Fatalf("recorded %d block GETs, %d block POSTs, %d proposals", len(gets), len(posts), len(props))
		}
		wantType := "application/octet-stream"
		if an.json {
			wantType = "application/json"
		}
		for _, e := range append(append(gets, props...), posts...) {
			got := e.respType
			if e.method == http.MethodPost {
				got = e.reqType
			}
			if !strings.HasPrefix(got, wantType) {
				t.Fatalf("%s %s went as %q, want %s", e.method, e.path, got, wantType)
			}
		}
	})
	t.Run("beacon/headers", func(t *testing.T) {
		// go-eth2-client reads single headers only: the list by plain HTTP.
		type hdrs struct {
			Data []struct {
				Root      string `json:"root"`
				Canonical bool   `json:"canonical"`
				Header    struct {
					Message struct {
						Slot       string `json:"slot"`
						ParentRoot string `json:"parent_root"`
					} `json:"message"`
				} `json:"header"`
			} `json:"data"`
		}
		var h hdrs
		getJSON(t, an.url, "/eth/v1/beacon/headers", &h)
		head := an.blockRootAtOrBefore(t, cur)
		if len(h.Data) != 1 || h.Data[0].Root != head.String() || !h.Data[0].Canonical {
			t.Fatalf("headers (head): %+v, want the head %s", h, head)
		}
		getJSON(t, an.url, "/eth/v1/beacon/headers?slot=1", &h)
		one := an.blockRootAtOrBefore(t, 1)
		if len(h.Data) != 1 || h.Data[0].Root != one.String() || h.Data[0].Header.Message.Slot != "1" {
			t.Fatalf("headers?slot=1: %+v", h)
		}
		getJSON(t, an.url, "/eth/v1/beacon/headers?parent_root="+an.blockRootAtOrBefore(t, 0).String(), &h)
		if len(h.Data) != 1 || h.Data[0].Root != one.String() {
			t.Fatalf("headers?parent_root=genesis: %+v, want block 1", h)
		}
	})
	t.Run("validator/duties/proposer", func(t *testing.T) {
		for e := phase0.Epoch(0); e <= 4; e++ {
			resp, err := an.svc.ProposerDuties(ctx, &api.ProposerDutiesOpts{Epoch: e})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Data) != int(spe) {
				t.Fatalf("epoch %d: %d proposer duties", e, len(resp.Data))
			}
			for i, d := range resp.Data {
				if d.Slot != phase0.Slot(uint64(e)*spe+uint64(i)) || d.PubKey != an.node.Genesis().Validators[d.ValidatorIndex].Pubkey {
					t.Fatalf("epoch %d duty %d: %+v", e, i, d)
				}
			}
			// dependent_root: the block root at the last slot of the previous epoch (genesis for 0).
			want := an.blockRootAtOrBefore(t, 0)
			if e > 0 {
				want = an.blockRootAtOrBefore(t, phase0.Slot(uint64(e)*spe-1))
			}
			if got := resp.Metadata["dependent_root"]; got != want {
				t.Errorf("epoch %d: proposer dependent_root %s, want %s", e, got, want)
			}
		}
	})
	t.Run("validator/duties/attester", func(t *testing.T) {
		for _, e := range []phase0.Epoch{3, 4} {
			resp, err := an.svc.AttesterDuties(ctx, &api.AttesterDutiesOpts{Epoch: e, Indices: all})
			if err != nil {
				t.Fatal(err)
			}
			comms, err := an.svc.BeaconCommittees(ctx, &api.BeaconCommitteesOpts{State: "head", Epoch: &e})
			if err != nil {
				t.Fatal(err)
			}
			bySlot := map[phase0.Slot][]*apiv1.BeaconCommittee{}
			for _, c := range comms.Data {
				bySlot[c.Slot] = append(bySlot[c.Slot], c)
			}
			seen := map[phase0.ValidatorIndex]bool{}
			for _, d := range resp.Data {
				cs := bySlot[d.Slot]
				if int(d.CommitteeIndex) >= len(cs) || d.CommitteesAtSlot != uint64(len(cs)) {
					t.Fatalf("duty %+v: %d committees at its slot", d, len(cs))
				}
				c := cs[d.CommitteeIndex]
				if c.Index != d.CommitteeIndex || uint64(len(c.Validators)) != d.CommitteeLength || c.Validators[d.ValidatorCommitteeIndex] != d.ValidatorIndex {
					t.Fatalf("duty %+v disagrees with committee %+v", d, c)
				}
				if seen[d.ValidatorIndex] || d.PubKey != an.node.Genesis().Validators[d.ValidatorIndex].Pubkey {
					t.Fatalf("duty %+v: seen twice or wrong pubkey", d)
				}
				seen[d.ValidatorIndex] = true
			}
			if len(seen) != n {
				t.Fatalf("epoch %d: %d of %d validators have an attester duty", e, len(seen), n)
			}
			want := an.blockRootAtOrBefore(t, phase0.Slot(uint64(e-1)*spe-1))
			if got := resp.Metadata["dependent_root"]; got != want {
				t.Errorf("epoch %d: attester dependent_root %s, want %s", e, got, want)
			}
		}
	})
	t.Run("validator/duties/sync", func(t *testing.T) {
		resp, err := an.svc.SyncCommitteeDuties(ctx, &api.SyncCommitteeDutiesOpts{Epoch: 4, Indices: all})
		if err != nil {
			t.Fatal(err)
		}
		positions := map[phase0.CommitteeIndex]bool{}
		for _, d := range resp.Data {
			if d.PubKey != an.node.Genesis().Validators[d.ValidatorIndex].Pubkey {
				t.Fatalf("sync duty %+v: wrong pubkey", d)
			}
			for _, p := range d.ValidatorSyncCommitteeIndices {
				if positions[p] || p >= 512 {
					t.Fatalf("sync committee position %d repeated or out of range", p)
				}
				positions[p] = true
			}
		}
		if len(positions) != 512 {
			t.Fatalf("sync duties cover %d of the 512 positions", len(positions))
		}
	})
	t.Run("validator/attestation_data", func(t *testing.T) {
		resp, err := an.svc.AttestationData(ctx, &api.AttestationDataOpts{Slot: cur})
		if err != nil {
			t.Fatal(err)
		}
		d := resp.Data
		head := an.blockRootAtOrBefore(t, cur)
		fin, err := an.svc.Finality(ctx, &api.FinalityOpts{State: "head"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Slot != cur || d.Index != 0 || d.BeaconBlockRoot != head || d.Target.Epoch != 4 || d.Target.Root != head ||
			d.Source.Epoch != fin.Data.Justified.Epoch || d.Source.Root != fin.Data.Justified.Root {
			t.Fatalf("attestation data %+v: want head %s, target (4, head), source the justified %+v", d, head, fin.Data.Justified)
		}
		// The node also answers SSZ (go-eth2-client asks JSON only): the same data.
		b, _ := getSSZ(t, an.url, fmt.Sprintf("/eth/v1/validator/attestation_data?slot=%d&committee_index=0", cur))
		var s phase0.AttestationData
		if err := s.UnmarshalSSZ(b); err != nil {
			t.Fatal(err)
		}
		r1, _ := s.HashTreeRoot()
		r2, _ := d.HashTreeRoot()
		if r1 != r2 {
			t.Fatal("attestation data as SSZ differs from the JSON answer")
		}
	})
	t.Run("validator/aggregate_attestation", func(t *testing.T) {
		ad, err := an.svc.AttestationData(ctx, &api.AttestationDataOpts{Slot: cur})
		if err != nil {
			t.Fatal(err)
		}
		dr32, _ := ad.Data.HashTreeRoot()
		dataRoot := phase0.Root(dr32)
		e := phase0.Epoch(4)
		comms, err := an.svc.BeaconCommittees(ctx, &api.BeaconCommitteesOpts{State: "head", Epoch: &e})
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, c := range comms.Data {
			if c.Slot != cur {
				continue
			}
			members := 0
			for _, v := range c.Validators {
				if v != r.silent {
					members++
				}
			}
			resp, err := an.svc.AggregateAttestation(ctx, &api.AggregateAttestationOpts{Slot: cur, AttestationDataRoot: dataRoot, CommitteeIndex: c.Index})
			if err != nil {
				t.Fatalf("aggregate of committee %d: %v", c.Index, err)
			}
			a := resp.Data.Electra
			if resp.Data.Version != spec.DataVersionElectra || a == nil {
				t.Fatalf("aggregate of version %s", resp.Data.Version)
			}
			ar, _ := a.Data.HashTreeRoot()
			if ar != dataRoot || a.AggregationBits.Len() != uint64(len(c.Validators)) || int(a.AggregationBits.Count()) != members ||
				!a.CommitteeBits.BitAt(uint64(c.Index)) || a.CommitteeBits.Count() != 1 {
				t.Fatalf("aggregate of committee %d: %d of %d bits, want the %d members who attested", c.Index, a.AggregationBits.Count(), a.AggregationBits.Len(), members)
			}
			// The aggregate signature is the committee's: verify it against their keys.
			var pks []*bls.PublicKey
			for i, v := range c.Validators {
				if a.AggregationBits.BitAt(uint64(i)) {
					pkb := an.node.Genesis().Validators[v].Pubkey
					pk, _ := bls.PublicKeyFromBytes(pkb[:])
					pks = append(pks, pk)
				}
			}
			agg, err := bls.AggregatePublicKeys(pks)
			if err != nil {
				t.Fatal(err)
			}
			sr, _ := (&phase0.SigningData{ObjectRoot: dataRoot, Domain: an.domain(t, phase0.DomainType{0x01, 0, 0, 0}, 4)}).HashTreeRoot()
			sig, err := bls.SignatureFromBytes(a.Signature[:])
			if err != nil || !bls.Verify(agg, sr[:], sig) {
				t.Fatalf("aggregate of committee %d: the signature is not the members' aggregate", c.Index)
			}
			b, hdr := getSSZ(t, an.url, fmt.Sprintf("/eth/v2/validator/aggregate_attestation?slot=%d&attestation_data_root=%s&committee_index=%d", cur, dataRoot, c.Index))
			var s electra.Attestation
			if err := s.UnmarshalSSZ(b); err != nil || hdr.Get("Eth-Consensus-Version") != "electra" {
				t.Fatalf("aggregate as SSZ: %v, version %q", err, hdr.Get("Eth-Consensus-Version"))
			}
			r1, _ := s.HashTreeRoot()
			r2, _ := a.HashTreeRoot()
			if r1 != r2 {
				t.Fatal("aggregate as SSZ differs from the JSON answer")
			}
			checked++
		}
		if checked == 0 {
			t.Fatal("no committee at the slot")
		}
	})
	t.Run("validator/aggregate_and_proofs+contribution_and_proofs+pools", func(t *testing.T) {
		// The signer published through pool/attestations, pool/sync_committees,
		// aggregate_and_proofs and contribution_and_proofs with no error (a refused item fails
		// the call); count that each happened.
		var atts, aggs, syncs, contribs int
		for _, rep := range r.reports {
			atts += rep.Attestations
			aggs += rep.Aggregates
			syncs += rep.SyncMessages
			contribs += rep.Contributions
		}
		if atts < 29*len(r.reports)/8 || aggs == 0 || syncs == 0 || contribs == 0 {
			t.Fatalf("attestations %d, aggregates %d, sync messages %d, contributions %d", atts, aggs, syncs, contribs)
		}
		for _, p := range []string{"/eth/v2/beacon/pool/attestations", "/eth/v1/beacon/pool/sync_committees", "/eth/v2/validator/aggregate_and_proofs", "/eth/v1/validator/contribution_and_proofs"} {
			if len(an.rec.seen("POST", p)) == 0 {
				t.Errorf("no successful POST %s recorded", p)
			}
		}
	})
	t.Run("validator/sync_committee_contribution", func(t *testing.T) {
		head := an.blockRootAtOrBefore(t, cur)
		sd, err := an.svc.SyncCommitteeDuties(ctx, &api.SyncCommitteeDutiesOpts{Epoch: 4, Indices: all})
		if err != nil {
			t.Fatal(err)
		}
		want := map[uint64]int{}
		for _, d := range sd.Data {
			for _, p := range d.ValidatorSyncCommitteeIndices {
				if d.ValidatorIndex != r.silent {
					want[uint64(p)/128]++
				}
			}
		}
		for sub := uint64(0); sub < 4; sub++ {
			resp, err := an.svc.SyncCommitteeContribution(ctx, &api.SyncCommitteeContributionOpts{Slot: cur, SubcommitteeIndex: sub, BeaconBlockRoot: head})
			if err != nil {
				t.Fatalf("contribution of subcommittee %d: %v", sub, err)
			}
			c := resp.Data
			if c.Slot != cur || c.BeaconBlockRoot != head || c.SubcommitteeIndex != sub || int(c.AggregationBits.Count()) != want[sub] {
				t.Fatalf("contribution %d: %d bits, want %d", sub, c.AggregationBits.Count(), want[sub])
			}
		}
	})
	t.Run("validator/liveness", func(t *testing.T) {
		resp, err := an.svc.ValidatorLiveness(ctx, &api.ValidatorLivenessOpts{Epoch: 3, Indices: all})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != n {
			t.Fatalf("%d liveness answers", len(resp.Data))
		}
		for _, l := range resp.Data {
			if l.IsLive != (l.Index != r.silent) {
				t.Errorf("validator %d live %v in epoch 3", l.Index, l.IsLive)
			}
		}
	})
	t.Run("validator/beacon_committee_subscriptions", func(t *testing.T) {
		d, err := an.svc.AttesterDuties(ctx, &api.AttesterDutiesOpts{Epoch: 4, Indices: []phase0.ValidatorIndex{2}})
		if err != nil || len(d.Data) != 1 {
			t.Fatalf("duty: %v", err)
		}
		x := d.Data[0]
		sub := &apiv1.BeaconCommitteeSubscription{ValidatorIndex: 2, Slot: x.Slot, CommitteeIndex: x.CommitteeIndex, CommitteesAtSlot: x.CommitteesAtSlot, IsAggregator: true}
		if err := an.svc.SubmitBeaconCommitteeSubscriptions(ctx, []*apiv1.BeaconCommitteeSubscription{sub}); err != nil {
			t.Fatal(err)
		}
		bad := *sub
		bad.CommitteeIndex = phase0.CommitteeIndex(x.CommitteesAtSlot)
		if err := an.svc.SubmitBeaconCommitteeSubscriptions(ctx, []*apiv1.BeaconCommitteeSubscription{&bad}); !isStatus(err, 400) {
			t.Fatalf("subscription to committee %d of %d: %v, want 400", bad.CommitteeIndex, x.CommitteesAtSlot, err)
		}
	})
	t.Run("validator/sync_committee_subscriptions", func(t *testing.T) {
		sub := &apiv1.SyncCommitteeSubscription{ValidatorIndex: 3, SyncCommitteeIndices: []phase0.CommitteeIndex{0, 511}, UntilEpoch: 8}
		if err := an.svc.SubmitSyncCommitteeSubscriptions(ctx, []*apiv1.SyncCommitteeSubscription{sub}); err != nil {
			t.Fatal(err)
		}
		sub.SyncCommitteeIndices = []phase0.CommitteeIndex{512}
		if err := an.svc.SubmitSyncCommitteeSubscriptions(ctx, []*apiv1.SyncCommitteeSubscription{sub}); !isStatus(err, 400) {
			t.Fatalf("sync subscription to position 512 of 512: %v, want 400", err)
		}
	})
	t.Run("validator/register_validator", func(t *testing.T) {
		gvr := phase0.Root{} // builder-specs: DOMAIN_APPLICATION_BUILDER with the genesis fork version and a zero root
		dom := computeDomain(t, domainBuilder, beacon.GenesisForkVersion, gvr)
		reg := func(i phase0.ValidatorIndex, signer phase0.ValidatorIndex) *api.VersionedSignedValidatorRegistration {
			m := &apiv1.ValidatorRegistration{FeeRecipient: bellatrix.ExecutionAddress{0xfe, byte(i)}, GasLimit: 36_000_000,
				Timestamp: genesisTime.Add(time.Duration(cur) * an.node.SlotTime()), Pubkey: an.node.Genesis().Validators[i].Pubkey}
			root, _ := m.HashTreeRoot()
			return &api.VersionedSignedValidatorRegistration{Version: spec.BuilderVersionV1,
				V1: &apiv1.SignedValidatorRegistration{Message: m, Signature: an.signRoot(t, signer, root, dom)}}
		}
		before := len(an.builder.registrations())
		if err := an.svc.SubmitValidatorRegistrations(ctx, []*api.VersionedSignedValidatorRegistration{reg(4, 4), reg(6, 6)}); err != nil {
			t.Fatal(err)
		}
		got := an.builder.registrations()
		if len(got) != before+2 || !strings.Contains(string(got[before]), an.node.Genesis().Validators[4].Pubkey.String()) {
			t.Fatalf("the builder received %d registrations, want 2 more (the first of validator 4)", len(got)-before)
		}
		err := an.svc.SubmitValidatorRegistrations(ctx, []*api.VersionedSignedValidatorRegistration{reg(8, 9)})
		if !isStatus(err, 400) || !strings.Contains(err.Error(), "registration signature") {
			t.Fatalf("registration signed by another key: %v, want 400 invalid registration signature", err)
		}
		if len(an.builder.registrations()) != before+2 {
			t.Fatal("a refused registration was forwarded to the builder")
		}
	})
	t.Run("validator/prepare_beacon_proposer", func(t *testing.T) {
		// The next proposer's fee recipient is the one prepared: the proposal's payload pays it.
		next := cur + 1
		prop := an.proposerOf(t, next)
		fr := bellatrix.ExecutionAddress{0xfe, 0xe0, byte(prop)}
		if err := an.svc.SubmitProposalPreparations(ctx, []*apiv1.ProposalPreparation{{ValidatorIndex: prop, FeeRecipient: fr}}); err != nil {
			t.Fatal(err)
		}
		reveal := an.signRoot(t, prop, uintRoot(uint64(an.epochOf(next))), an.domain(t, domainRandao, an.epochOf(next)))
		resp, err := an.svc.Proposal(ctx, &api.ProposalOpts{Slot: next, RandaoReveal: reveal})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Data.Electra.Block.Body.ExecutionPayload.FeeRecipient; got != fr {
			t.Fatalf("payload fee recipient %s, want the prepared %s", got, fr)
		}
		err = an.svc.SubmitProposalPreparations(ctx, []*apiv1.ProposalPreparation{{ValidatorIndex: phase0.ValidatorIndex(n), FeeRecipient: fr}})
		if !isStatus(err, 400) {
			t.Fatalf("preparation for unknown validator %d: %v, want 400", n, err)
		}
	})
	t.Run("SSZ bodies: pool/attestations and register_validator", func(t *testing.T) {
		// go-eth2-client posts these as JSON; the node also takes SSZ (a list of fixed-size items).
		// The silent validator attests late (within the 32-slot window) for its epoch-3 duty.
		d, err := an.svc.AttesterDuties(ctx, &api.AttesterDutiesOpts{Epoch: 3, Indices: []phase0.ValidatorIndex{r.silent}})
		if err != nil || len(d.Data) != 1 {
			t.Fatalf("duty of %d: %v", r.silent, err)
		}
		ad, err := an.svc.AttestationData(ctx, &api.AttestationDataOpts{Slot: d.Data[0].Slot})
		if err != nil {
			t.Fatal(err)
		}
		dr, _ := ad.Data.HashTreeRoot()
		a := &electra.SingleAttestation{CommitteeIndex: d.Data[0].CommitteeIndex, AttesterIndex: r.silent, Data: ad.Data,
			Signature: an.signRoot(t, r.silent, dr, an.domain(t, phase0.DomainType{0x01, 0, 0, 0}, 3))}
		body, _ := a.MarshalSSZ()
		ssz := map[string]string{"Content-Type": "application/octet-stream", "Eth-Consensus-Version": "electra"}
		if code, _, b := request(t, http.MethodPost, an.url+"/eth/v2/beacon/pool/attestations", body, ssz); code != 200 {
			t.Fatalf("SSZ attestation: %d %s", code, b)
		}
		live, err := an.svc.ValidatorLiveness(ctx, &api.ValidatorLivenessOpts{Epoch: 3, Indices: []phase0.ValidatorIndex{r.silent}})
		if err != nil || !live.Data[0].IsLive {
			t.Fatalf("validator %d not live in epoch 3 after its SSZ attestation: %v", r.silent, err)
		}
		m := &apiv1.ValidatorRegistration{FeeRecipient: bellatrix.ExecutionAddress{0x55}, GasLimit: 30_000_000,
			Timestamp: genesisTime.Add(time.Duration(cur) * an.node.SlotTime()), Pubkey: an.node.Genesis().Validators[12].Pubkey}
		root, _ := m.HashTreeRoot()
		reg := &apiv1.SignedValidatorRegistration{Message: m, Signature: an.signRoot(t, 12, root, computeDomain(t, domainBuilder, beacon.GenesisForkVersion, phase0.Root{}))}
		body, _ = reg.MarshalSSZ()
		before := len(an.builder.registrations())
		if code, _, b := request(t, http.MethodPost, an.url+"/eth/v1/validator/register_validator", body, ssz); code != 200 {
			t.Fatalf("SSZ registration: %d %s", code, b)
		}
		if got := an.builder.registrations(); len(got) != before+1 || !strings.Contains(string(got[before]), m.Pubkey.String()) {
			t.Fatal("the SSZ registration was not forwarded to the builder")
		}
	})
	t.Run("SSZ body: aggregate_and_proofs", func(t *testing.T) {
		// Two aggregates of slot 32's first committee by two of its members, as an SSZ list of
		// variable-size items (offsets first): both are accepted and announced as aggregates.
		ad, err := an.svc.AttestationData(ctx, &api.AttestationDataOpts{Slot: cur})
		if err != nil {
			t.Fatal(err)
		}
		dr32, _ := ad.Data.HashTreeRoot()
		e := an.epochOf(cur)
		comms, err := an.svc.BeaconCommittees(ctx, &api.BeaconCommitteesOpts{State: "head", Epoch: &e})
		if err != nil {
			t.Fatal(err)
		}
		var c *apiv1.BeaconCommittee
		for _, x := range comms.Data {
			if x.Slot == cur && c == nil {
				c = x
			}
		}
		if c == nil || len(c.Validators) > 16 {
			t.Fatalf("committee at slot %d: %+v (every member of a committee of at most 16 is an aggregator)", cur, c)
		}
		agg, err := an.svc.AggregateAttestation(ctx, &api.AggregateAttestationOpts{Slot: cur, AttestationDataRoot: dr32, CommitteeIndex: c.Index})
		if err != nil {
			t.Fatal(err)
		}
		var items [][]byte
		for _, v := range c.Validators {
			if v == r.silent || len(items) == 2 {
				continue
			}
			proof := an.signRoot(t, v, uintRoot(uint64(cur)), an.domain(t, phase0.DomainType{0x05, 0, 0, 0}, e))
			m := &electra.AggregateAndProof{AggregatorIndex: v, Aggregate: agg.Data.Electra, SelectionProof: proof}
			mr, _ := m.HashTreeRoot()
			b, err := (&electra.SignedAggregateAndProof{Message: m, Signature: an.signRoot(t, v, mr, an.domain(t, phase0.DomainType{0x06, 0, 0, 0}, e))}).MarshalSSZ()
			if err != nil {
				t.Fatal(err)
			}
			items = append(items, b)
		}
		if len(items) != 2 {
			t.Fatalf("%d aggregators", len(items))
		}
		// SSZ list of variable-size items: one 4-byte little-endian offset per item, then the items.
		body := []byte{8, 0, 0, 0, byte(8 + len(items[0])), byte((8 + len(items[0])) >> 8), 0, 0}
		body = append(append(body, items[0]...), items[1]...)
		hdr := map[string]string{"Content-Type": "application/octet-stream", "Eth-Consensus-Version": "electra"}
		if code, _, b := request(t, http.MethodPost, an.url+"/eth/v2/validator/aggregate_and_proofs", body, hdr); code != 200 {
			t.Fatalf("SSZ aggregates: %d %s", code, b)
		}
	})
	t.Run("beacon/pool/voluntary_exits", func(t *testing.T) {
		// EIP-7044: exits are signed with the Capella fork version whatever the fork.
		dom := computeDomain(t, domainVoluntaryExit, beacon.CapellaForkVersion, an.node.GenesisValidatorsRoot())
		msg := &phase0.VoluntaryExit{Epoch: 4, ValidatorIndex: 9}
		root, _ := msg.HashTreeRoot()
		ex := &phase0.SignedVoluntaryExit{Message: msg, Signature: an.signRoot(t, 9, root, dom)}
		if err := an.svc.SubmitVoluntaryExit(ctx, ex); err != nil {
			t.Fatal(err)
		}
		pool, err := an.svc.VoluntaryExitPool(ctx, &api.VoluntaryExitPoolOpts{})
		if err != nil {
			t.Fatal(err)
		}
		if len(pool.Data) != 1 || pool.Data[0].Message.ValidatorIndex != 9 || pool.Data[0].Signature != ex.Signature {
			t.Fatalf("exit pool %+v, want validator 9's exit", pool.Data)
		}
		wrong := &phase0.SignedVoluntaryExit{Message: &phase0.VoluntaryExit{Epoch: 4, ValidatorIndex: 10},
			Signature: an.signRoot(t, 10, root, computeDomain(t, domainVoluntaryExit, beacon.ElectraForkVersion, an.node.GenesisValidatorsRoot()))}
		if err := an.svc.SubmitVoluntaryExit(ctx, wrong); !isStatus(err, 400) {
			t.Fatalf("exit signed with the Electra fork version: %v, want 400", err)
		}
	})
}
