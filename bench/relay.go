package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	builderelectra "github.com/attestantio/go-builder-client/api/electra"
	builderfulu "github.com/attestantio/go-builder-client/api/fulu"
	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/devnet/beacon"
	"github.com/zkvlabs/zkv/devnet/beacon/execution"
	"github.com/zkvlabs/zkv/mev"
	"github.com/zkvlabs/zkv/pbs"
	"github.com/zkvlabs/zkv/transport"
)

// relaySubmissionBytes is the transactions' size of every benchmark submission: 100
// transactions of 3,500 bytes, the 350 KB block the transport suite sends too.
const relaySubmissionBytes = 350_000

// relayBuilders is how many builders submit at once in the throughput and load scenarios.
const relayBuilders = 4

// RelayScenarios time zkv's relay (package mev) as builders and proposers use it, on 127.0.0.1:
// the devnet beacon node as the relay's beacon node, the relay on a synced badger database in a
// temporary directory, and a block simulator the relay calls over JSON-RPC as it calls an
// execution client (flashbots_validateBuilderSubmissionV4), answered by the devnet execution
// chain's block check (parent, number, timestamp, randao, withdrawals, gas, base fee, block hash).
// Every submission is a real 350 KB block for the slot's payload attributes, signed by a
// builder key; the relay decodes it, checks it, verifies the signature, has it simulated, stores
// it durably and enters it in the slot's auction.
//
// The beacon node's and the relay's clock is held inside slot 1, so that every bid stays a bid
// for the current slot however long the scenario runs.
func RelayScenarios() []Scenario {
	const held = "; the relay's clock is held in slot 1, so every bid is for the current slot"
	return []Scenario{
		{
			Name: "relay/getheader-under-load",
			Description: fmt.Sprintf("one proposer getHeader (SSZ, over HTTP) while %d builders submit 350 KB blocks back to back over HTTP%s",
				relayBuilders/2, held),
			Unit: "request", Latency: true,
			Setup: func(ctx context.Context, quick bool) (Prepared, error) { return relayGetHeaderUnderLoad(ctx, quick) },
		},
		{
			Name:        "relay/submissions-quic",
			Description: fmt.Sprintf("%d builders each submit one signed 350 KB block over the relay's QUIC door, concurrently: decode, checks, signature, simulation, durable store, auction%s", relayBuilders, held),
			Unit:        "submission", Peer: "relay/submissions-http",
			Setup: func(ctx context.Context, quick bool) (Prepared, error) { return relaySubmissions(ctx, quick, true) },
		},
		{
			Name:        "relay/submissions-http",
			Description: fmt.Sprintf("%d builders each POST one signed 350 KB block (SSZ) to /relay/v1/builder/blocks, concurrently: the same pipeline%s", relayBuilders, held),
			Unit:        "submission",
			Setup:       func(ctx context.Context, quick bool) (Prepared, error) { return relaySubmissions(ctx, quick, false) },
		},
		{
			Name:        "relay/submit-to-topbid-quic",
			Description: "from a builder's submission over QUIC to the proposer's getHeader (HTTP, SSZ) returning it as the top bid" + held,
			Unit:        "bid", Latency: true, Peer: "relay/submit-to-topbid-http",
			Setup: func(ctx context.Context, quick bool) (Prepared, error) { return relaySubmitToTopBid(ctx, quick, true) },
		},
		{
			Name:        "relay/submit-to-topbid-http",
			Description: "from a builder's submission over HTTP to the proposer's getHeader (HTTP, SSZ) returning it as the top bid" + held,
			Unit:        "bid", Latency: true,
			Setup: func(ctx context.Context, quick bool) (Prepared, error) { return relaySubmitToTopBid(ctx, quick, false) },
		},
	}
}

// relayRig is a running relay with its beacon node and simulator, a registered proposer for
// slot 1 and that slot's payload attributes.
type relayRig struct {
	run      *runner
	dir      string
	store    *db.DB
	relay    *mev.Relay
	url      string // the relay's plain HTTP base URL
	attrs    *mev.Attributes
	proposer phase0.BLSPubKey
	fee      bellatrix.ExecutionAddress
	chain    *execution.Chain // the builders' copy of the execution chain
	sim      *blockSimulator
	clients  []*http.Client
}

// relaySlot is the slot the rig's clock is held in.
const relaySlot = phase0.Slot(1)

func newRelayRig(ctx context.Context) (rig *relayRig, err error) {
	rig = &relayRig{run: newRunner(ctx)}
	defer func() {
		if err != nil {
			rig.close()
			rig = nil
		}
	}()
	if rig.dir, err = os.MkdirTemp("", "zkv-bench-relay-"); err != nil {
		return nil, err
	}
	// Genesis an hour ahead of the wall clock and a clock held in slot 1 of it: the node's and
	// the relay's slot timers sleep until then, and nothing moves while the scenario runs.
	slotTime := 2 * time.Second
	genesis := time.Now().Add(time.Hour).Truncate(time.Second)
	held := genesis.Add(time.Duration(relaySlot)*slotTime + slotTime/10)
	now := func() time.Time { return held }

	node, err := beacon.New(ctx, beacon.Config{Validators: 8, GenesisTime: genesis, SlotTime: slotTime, Now: now})
	if err != nil {
		return nil, fmt.Errorf("beacon node: %w", err)
	}
	nodeLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	nodeURL := "http://" + nodeLn.Addr().String()
	rig.run.run(func(c context.Context) error { return node.Run(c, nodeLn) })

	chainCfg := execution.Config{GenesisTime: uint64(genesis.Unix()), ChainID: beacon.DevnetChainID}
	if rig.chain, err = execution.NewChain(chainCfg); err != nil {
		return nil, err
	}
	simChain, err := execution.NewChain(chainCfg)
	if err != nil {
		return nil, err
	}
	rig.sim = &blockSimulator{chain: simChain}
	simURL, err := rig.serve(rig.sim)
	if err != nil {
		return nil, err
	}
	sim, err := mev.NewExecutionSimulator(simURL, 10*time.Second)
	if err != nil {
		return nil, err
	}

	if rig.store, err = db.Open(db.Config{Dir: rig.dir}); err != nil {
		return nil, err
	}
	bc, err := mev.NewBeaconClient(rig.run.ctx, []string{nodeURL}, nil)
	if err != nil {
		return nil, err
	}
	sk, err := bls.GenerateSecretKey()
	if err != nil {
		return nil, err
	}
	rig.relay, err = mev.New(ctx, mev.Config{SecretKey: sk, Beacon: bc, Store: mev.NewBadgerStore(rig.store), Now: now,
		BlockHasher: execution.BlockHash, GenesisForkVersion: &beacon.GenesisForkVersion, Registerer: prometheus.NewRegistry(), Simulator: sim})
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	relayLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rig.url = "http://" + relayLn.Addr().String()
	relayDone := make(chan error, 1)
	rig.run.run(func(c context.Context) error { err := rig.relay.Run(c, relayLn); relayDone <- err; return err })
	select {
	case <-rig.relay.Ready():
	case err := <-relayDone:
		return nil, fmt.Errorf("relay stopped: %v", err)
	case <-time.After(20 * time.Second):
		return nil, errors.New("the relay did not connect to the beacon node's events")
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	// Any request makes the node notice the slot and announce its payload attributes.
	if err := getOK(ctx, nodeURL+"/eth/v1/beacon/headers/head"); err != nil {
		return nil, err
	}
	parent, _ := rig.chain.Head()
	err = retryFor(ctx, 20*time.Second, func() error {
		if a, ok := rig.relay.Attributes(relaySlot, parent); ok {
			rig.attrs = a
			return nil
		}
		return fmt.Errorf("the relay has no payload attributes for slot %d", relaySlot)
	})
	if err != nil {
		return nil, err
	}
	rig.sim.setAttributes(rig.attrs)

	// The slot's proposer registers with the relay (builder domain, devnet genesis fork).
	duties, err := bc.ProposerDuties(ctx, 0)
	if err != nil {
		return nil, err
	}
	idx := -1
	for _, d := range duties {
		if d.Slot == relaySlot {
			idx, rig.proposer = int(d.ValidatorIndex), d.PubKey
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("no proposer duty for slot %d", relaySlot)
	}
	rig.fee = bellatrix.ExecutionAddress{0xfe, byte(idx)}
	msg := &builderapiv1.ValidatorRegistration{FeeRecipient: rig.fee, GasLimit: 36_000_000, Timestamp: held, Pubkey: rig.proposer}
	sig, err := pbs.Sign(node.Genesis().Secrets[idx], msg, pbs.BuilderDomain(beacon.GenesisForkVersion))
	if err != nil {
		return nil, err
	}
	if err := rig.relay.RegisterValidators(ctx, []*builderapiv1.SignedValidatorRegistration{{Message: msg, Signature: sig}}); err != nil {
		return nil, fmt.Errorf("register the proposer: %w", err)
	}
	return rig, nil
}

// serve serves h on a fresh 127.0.0.1 port until the rig closes.
func (rig *relayRig) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	rig.run.run(func(c context.Context) error { <-c.Done(); return srv.Close() })
	rig.run.run(func(context.Context) error { return srv.Serve(ln) })
	return "http://" + ln.Addr().String(), nil
}

func (rig *relayRig) close() {
	rig.run.close()
	for _, c := range rig.clients {
		c.CloseIdleConnections()
	}
	if rig.store != nil {
		rig.store.Close()
	}
	if rig.dir != "" {
		os.RemoveAll(rig.dir)
	}
}

// client is an HTTP client whose idle connections the rig closes.
func (rig *relayRig) client() *http.Client {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
	rig.clients = append(rig.clients, c)
	return c
}

// relayBuilder is a builder key with its submissions for the rig's slot, already built and
// signed, in both encodings.
type relayBuilder struct {
	subs   []*mev.Submission
	bodies [][]byte
	next   int
}

// builders makes n builders with per submissions each: real payloads on the slot's attributes,
// each with its own transactions and a value above the last, signed under the builder domain.
func (rig *relayRig) builders(n, per int) ([]*relayBuilder, error) {
	a := rig.attrs
	ea := execution.Attributes{Slot: a.Slot, ProposerIndex: a.ProposerIndex, ParentBlockRoot: a.ParentBeaconBlockRoot,
		ParentBlockHash: a.ParentBlockHash, ParentBlockNumber: a.ParentBlockNumber, Timestamp: a.Timestamp,
		PrevRandao: a.PrevRandao, SuggestedFeeRecipient: rig.fee, Withdrawals: a.Withdrawals}
	domain := pbs.BuilderDomain(beacon.GenesisForkVersion)
	out := make([]*relayBuilder, n)
	for b := range out {
		sk, err := bls.GenerateSecretKey()
		if err != nil {
			return nil, err
		}
		pk := phase0.BLSPubKey(sk.PublicKey().Bytes())
		rb := &relayBuilder{}
		for i := range per {
			var txs []bellatrix.Transaction
			for k := 0; k < relaySubmissionBytes; k += 3500 {
				tx := make(bellatrix.Transaction, 3500)
				tx[0], tx[1], tx[2], tx[3] = 0x02, byte(b), byte(i), byte(k/3500)
				txs = append(txs, tx)
			}
			value := uint256.NewInt(1_000_000_000 + uint64(b*per+i))
			p, reqs, err := rig.chain.Build(ea, txs, 21_000*uint64(len(txs)), value)
			if err != nil {
				return nil, fmt.Errorf("build: %w", err)
			}
			trace := &builderapiv1.BidTrace{Slot: uint64(a.Slot), ParentHash: p.ParentHash, BlockHash: p.BlockHash, BuilderPubkey: pk,
				ProposerPubkey: rig.proposer, ProposerFeeRecipient: rig.fee, GasLimit: p.GasLimit, GasUsed: p.GasUsed, Value: value}
			s := &mev.Submission{Version: spec.DataVersionElectra, Trace: trace, Payload: p, Requests: reqs,
				Bundle: &builderfulu.BlobsBundle{Commitments: []deneb.KZGCommitment{}, Proofs: []deneb.KZGProof{}, Blobs: []deneb.Blob{}}}
			if s.Signature, err = pbs.Sign(sk, trace, domain); err != nil {
				return nil, err
			}
			body, err := s.Encode(pbs.MediaSSZ)
			if err != nil {
				return nil, err
			}
			rb.subs = append(rb.subs, s)
			rb.bodies = append(rb.bodies, body)
		}
		out[b] = rb
	}
	return out, nil
}

// take returns the builder's next submission, round and round: each is submitted with
// cancellations, so an earlier one again replaces the builder's bid as a new bid would.
func (b *relayBuilder) take() (*mev.Submission, []byte) {
	i := b.next % len(b.subs)
	b.next++
	return b.subs[i], b.bodies[i]
}

// postSubmission POSTs an SSZ submission with cancellations, as builders do.
func (rig *relayRig) postSubmission(ctx context.Context, c *http.Client, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rig.url+"/relay/v1/builder/blocks?cancellations=1", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", pbs.MediaSSZ)
	req.Header.Set("Eth-Consensus-Version", "electra")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("submission refused: %s %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// getHeader asks for the slot's header as the proposer's sidecar does (SSZ) and returns the
// block hash of the bid served.
func (rig *relayRig) getHeader(ctx context.Context, c *http.Client) (phase0.Hash32, error) {
	url := fmt.Sprintf("%s/eth/v1/builder/header/%d/%#x/%#x", rig.url, relaySlot, rig.attrs.ParentBlockHash[:], rig.proposer[:])
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return phase0.Hash32{}, err
	}
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
	if resp.StatusCode != http.StatusOK {
		return phase0.Hash32{}, fmt.Errorf("getHeader: %s %s", resp.Status, bytes.TrimSpace(body))
	}
	var sb builderelectra.SignedBuilderBid
	if err := sb.UnmarshalSSZ(body); err != nil {
		return phase0.Hash32{}, fmt.Errorf("getHeader: %w", err)
	}
	return sb.Message.Header.BlockHash, nil
}

// quicBuilders opens the relay's QUIC door with one client per builder, each pinned by key.
func (rig *relayRig) quicBuilders(n int) ([]*transport.Client, error) {
	relayID, err := transport.GenerateIdentity()
	if err != nil {
		return nil, err
	}
	ids := make([]*transport.Identity, n)
	peers := make([]transport.PeerID, n)
	for i := range ids {
		if ids[i], err = transport.GenerateIdentity(); err != nil {
			return nil, err
		}
		peers[i] = ids[i].ID()
	}
	srv, err := rig.relay.QUICServer(relayID, transport.ServerConfig{Peers: peers})
	if err != nil {
		return nil, err
	}
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rig.run.run(srv.Run)
	out := make([]*transport.Client, n)
	for i, id := range ids {
		c, err := transport.NewClient(id, transport.ClientConfig{Addr: addr.String(), Server: relayID.ID()})
		if err != nil {
			return nil, err
		}
		rig.run.run(c.Run)
		out[i] = c
	}
	return out, nil
}

// submitQUIC sends a submission frame with cancellations and checks the relay's answer.
func submitQUIC(ctx context.Context, c *transport.Client, s *mev.Submission) error {
	f, err := mev.SubmissionFrame(s, true)
	if err != nil {
		return err
	}
	ans, err := c.Request(ctx, f)
	if err != nil {
		return err
	}
	slot, _, err := mev.ParseSubmitted(ans)
	if err != nil {
		return err
	}
	if slot != phase0.Slot(s.Trace.Slot) {
		return fmt.Errorf("relay accepted the submission for slot %d, sent for %d", slot, s.Trace.Slot)
	}
	return nil
}

func relayGetHeaderUnderLoad(ctx context.Context, quick bool) (Prepared, error) {
	rig, err := newRelayRig(ctx)
	if err != nil {
		return Prepared{}, err
	}
	per := 8
	if quick {
		per = 2
	}
	bs, err := rig.builders(relayBuilders/2, per)
	if err != nil {
		rig.close()
		return Prepared{}, err
	}
	ours := map[phase0.Hash32]bool{}
	for _, b := range bs {
		for _, s := range b.subs {
			ours[s.Payload.BlockHash] = true
		}
		// One accepted bid each before the load starts, so getHeader has a bid from the first.
		if err := rig.postSubmission(ctx, rig.client(), b.bodies[0]); err != nil {
			rig.close()
			return Prepared{}, err
		}
	}
	var loadErr atomic.Pointer[error]
	var submitted atomic.Int64
	for _, b := range bs {
		c := rig.client()
		rig.run.run(func(load context.Context) error {
			for load.Err() == nil {
				_, body := b.take()
				if err := rig.postSubmission(load, c, body); err != nil {
					if load.Err() == nil {
						loadErr.CompareAndSwap(nil, &err)
					}
					return err
				}
				submitted.Add(1)
			}
			return nil
		})
	}
	c := rig.client()
	op := func() error {
		if e := loadErr.Load(); e != nil {
			return fmt.Errorf("a builder's submission failed under load: %w", *e)
		}
		h, err := rig.getHeader(ctx, c)
		if err != nil {
			return err
		}
		if !ours[h] {
			return fmt.Errorf("getHeader served block %#x, which no builder submitted", h[:])
		}
		return nil
	}
	// The load must be running while the figure is taken: the first submissions under way.
	if err := retryFor(ctx, 20*time.Second, func() error {
		if submitted.Load() < int64(len(bs)) {
			return errors.New("the builders' load did not start")
		}
		return nil
	}); err != nil {
		rig.close()
		return Prepared{}, err
	}
	return Prepared{Op: op, Items: 1, Close: rig.close}, nil
}

func relaySubmissions(ctx context.Context, quick, overQUIC bool) (Prepared, error) {
	rig, err := newRelayRig(ctx)
	if err != nil {
		return Prepared{}, err
	}
	per := 8
	if quick {
		per = 2
	}
	bs, err := rig.builders(relayBuilders, per)
	if err != nil {
		rig.close()
		return Prepared{}, err
	}
	submit := make([]func(*mev.Submission, []byte) error, len(bs))
	if overQUIC {
		cs, err := rig.quicBuilders(len(bs))
		if err != nil {
			rig.close()
			return Prepared{}, err
		}
		for i, c := range cs {
			submit[i] = func(s *mev.Submission, _ []byte) error { return submitQUIC(ctx, c, s) }
		}
	} else {
		for i := range bs {
			c := rig.client()
			submit[i] = func(_ *mev.Submission, body []byte) error { return rig.postSubmission(ctx, c, body) }
		}
	}
	op := func() error {
		simulated := rig.sim.count.Load()
		errs := make([]error, len(bs))
		var wg sync.WaitGroup
		for i, b := range bs {
			s, body := b.take()
			wg.Go(func() { errs[i] = submit[i](s, body) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		// Accepted without simulation would be a pipeline that skipped its slowest step.
		if n := rig.sim.count.Load() - simulated; n != int64(len(bs)) {
			return fmt.Errorf("%d submissions accepted, %d simulated", len(bs), n)
		}
		return nil
	}
	// The QUIC clients dial in the background: the first round waits for them.
	if err := retryFor(ctx, 20*time.Second, op); err != nil {
		rig.close()
		return Prepared{}, fmt.Errorf("first submissions: %w", err)
	}
	return Prepared{Op: op, Items: len(bs), Close: rig.close}, nil
}

func relaySubmitToTopBid(ctx context.Context, quick, overQUIC bool) (Prepared, error) {
	rig, err := newRelayRig(ctx)
	if err != nil {
		return Prepared{}, err
	}
	per := 16
	if quick {
		per = 4
	}
	bs, err := rig.builders(1, per)
	if err != nil {
		rig.close()
		return Prepared{}, err
	}
	b := bs[0]
	var submit func(*mev.Submission, []byte) error
	if overQUIC {
		cs, err := rig.quicBuilders(1)
		if err != nil {
			rig.close()
			return Prepared{}, err
		}
		submit = func(s *mev.Submission, _ []byte) error { return submitQUIC(ctx, cs[0], s) }
	} else {
		c := rig.client()
		submit = func(_ *mev.Submission, body []byte) error { return rig.postSubmission(ctx, c, body) }
	}
	proposer := rig.client()
	op := func() error {
		s, body := b.take()
		simulated := rig.sim.count.Load()
		if err := submit(s, body); err != nil {
			return err
		}
		if rig.sim.count.Load() == simulated {
			return errors.New("the relay accepted a submission without simulating it")
		}
		// The builder's answer means the bid is in the auction: the proposer's next getHeader
		// must serve it.
		h, err := rig.getHeader(ctx, proposer)
		if err != nil {
			return err
		}
		if h != s.Payload.BlockHash {
			return fmt.Errorf("getHeader served %#x after the relay accepted %#x", h[:], s.Payload.BlockHash[:])
		}
		return nil
	}
	if err := retryFor(ctx, 20*time.Second, op); err != nil {
		rig.close()
		return Prepared{}, fmt.Errorf("first submission: %w", err)
	}
	return Prepared{Op: op, Items: 1, Close: rig.close}, nil
}

// getOK GETs url and wants a 200.
func getOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// blockSimulator is the execution client the relay simulates blocks with: the flashbots block
// validation call over JSON-RPC, answered by checking the block against the devnet execution
// chain (devnet/beacon/execution Chain.Check) for the slot's payload attributes.
type blockSimulator struct {
	chain *execution.Chain
	mu    sync.Mutex
	attrs *mev.Attributes
	count atomic.Int64 // blocks found valid
}

func (b *blockSimulator) setAttributes(a *mev.Attributes) {
	b.mu.Lock()
	b.attrs = a
	b.mu.Unlock()
}

// simRequest is the params[0] of flashbots_validateBuilderSubmissionV4 that the check needs.
type simRequest struct {
	Message               *builderapiv1.BidTrace     `json:"message"`
	ExecutionPayload      *deneb.ExecutionPayload    `json:"execution_payload"`
	ExecutionRequests     *electra.ExecutionRequests `json:"execution_requests"`
	ParentBeaconBlockRoot string                     `json:"parent_beacon_block_root"`
}

func (b *blockSimulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params []simRequest    `json:"params"`
	}
	answer := func(err error) {
		w.Header().Set("Content-Type", "application/json")
		out := map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": nil}
		if err != nil {
			out = map[string]any{"jsonrpc": "2.0", "id": req.ID, "error": map[string]any{"code": -32000, "message": err.Error()}}
		}
		_ = json.NewEncoder(w).Encode(out)
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		answer(fmt.Errorf("decode request: %w", err))
		return
	}
	if want, _ := mev.ValidationMethod(spec.DataVersionElectra); req.Method != want || len(req.Params) != 1 {
		answer(fmt.Errorf("method %q with %d params, want %s with one", req.Method, len(req.Params), want))
		return
	}
	answer(b.check(&req.Params[0]))
}

func (b *blockSimulator) check(req *simRequest) error {
	b.mu.Lock()
	a := b.attrs
	b.mu.Unlock()
	p, t := req.ExecutionPayload, req.Message
	switch {
	case a == nil:
		return errors.New("no payload attributes")
	case p == nil || t == nil:
		return errors.New("no payload or bid trace")
	case t.BlockHash != p.BlockHash:
		return errors.New("bid trace and payload name different blocks")
	case req.ParentBeaconBlockRoot != fmt.Sprintf("%#x", a.ParentBeaconBlockRoot[:]):
		return fmt.Errorf("parent beacon block root %s, the slot's is %#x", req.ParentBeaconBlockRoot, a.ParentBeaconBlockRoot[:])
	}
	ea := execution.Attributes{Slot: a.Slot, ProposerIndex: a.ProposerIndex, ParentBlockRoot: a.ParentBeaconBlockRoot,
		ParentBlockHash: a.ParentBlockHash, ParentBlockNumber: a.ParentBlockNumber, Timestamp: a.Timestamp,
		PrevRandao: a.PrevRandao, SuggestedFeeRecipient: p.FeeRecipient, Withdrawals: a.Withdrawals}
	if err := b.chain.Check(ea, p, req.ExecutionRequests); err != nil {
		return err
	}
	b.count.Add(1)
	return nil
}
