package pbs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	builderclient "github.com/attestantio/go-builder-client"
	builderapi "github.com/attestantio/go-builder-client/api"
	builderfulu "github.com/attestantio/go-builder-client/api/fulu"
	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	builderhttp "github.com/attestantio/go-builder-client/http"
	builderspec "github.com/attestantio/go-builder-client/spec"
	consensusapi "github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
	"github.com/rs/zerolog"
)

// ErrNoBid: no relay answered getHeader with an acceptable bid (204 to the proposer).
var ErrNoBid = errors.New("pbs: no bid")

// ErrNoPayload: no relay that served the header returned its payload.
var ErrNoPayload = errors.New("pbs: no relay returned the payload")

// RelayEntry is a relay the sidecar asks: its base URL and the key its bids must be signed by
// (given as the URL's user, http://0xPUBKEY@host, as mev-boost takes relays).
type RelayEntry struct {
	URL    string
	Pubkey phase0.BLSPubKey
}

// ParseRelayURL reads http(s)://0xPUBKEY@host[:port]; the pubkey is required, since a relay's
// bids are only as good as the key they are checked against.
func ParseRelayURL(s string) (RelayEntry, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return RelayEntry{}, fmt.Errorf("relay URL %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return RelayEntry{}, fmt.Errorf("relay URL %q: scheme http or https", s)
	}
	if u.User == nil || u.User.Username() == "" {
		return RelayEntry{}, fmt.Errorf("relay URL %q: the relay's public key is missing (http://0xPUBKEY@host)", s)
	}
	var pk phase0.BLSPubKey
	if err := hexTo(pk[:], u.User.Username()); err != nil {
		return RelayEntry{}, fmt.Errorf("relay URL %q: public key: %w", s, err)
	}
	u.User = nil
	return RelayEntry{URL: strings.TrimSuffix(u.String(), "/"), Pubkey: pk}, nil
}

// BoostConfig configures a Boost.
type BoostConfig struct {
	// Relays, at least one.
	Relays []RelayEntry
	// GenesisForkVersion of the network (the builder domain's input).
	GenesisForkVersion phase0.Version
	// MinBid in wei: bids below it are ignored (mev-boost -min-bid).
	MinBid *uint256.Int
	// HeaderSoft is when getHeader returns what has arrived if it has a bid (default 750 ms);
	// HeaderHard when it returns regardless (default 950 ms, the proposer's budget).
	HeaderSoft, HeaderHard time.Duration
	// PayloadTimeout bounds getPayload (default 4 s); RegisterTimeout registrations (3 s).
	PayloadTimeout, RegisterTimeout time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
}

// Boost is the proposer's sidecar: it asks every relay for a header and picks the best bid,
// fans registrations out, and gets the payload from the relays that served the chosen header.
type Boost struct {
	cfg    BoostConfig
	domain phase0.Domain
	log    *slog.Logger
	relays []boostRelay

	mu     sync.Mutex
	served map[servedKey][]int // relays that offered a block hash for a slot
	// checked remembers bids that passed CheckBid, by relay, parent and the signed bid's root:
	// relays answer every getHeader of a slot with the same signed bid, and its BLS
	// verification (about a millisecond) would otherwise dominate getHeader under load.
	checked map[checkedKey]struct{}
}

type checkedKey struct {
	relay  int
	parent phase0.Hash32
	root   phase0.Root
}

// getPayload retries: attempts per relay and the pause between them.
const (
	payloadAttempts   = 3
	payloadRetryDelay = 100 * time.Millisecond
)

// maxChecked bounds the checked-bid cache; it is emptied when full.
const maxChecked = 4096

type servedKey struct {
	slot phase0.Slot
	hash phase0.Hash32
}

type boostRelay struct {
	RelayEntry
	svc builderclient.Service
	hc  *http.Client
}

// NewBoost checks cfg and makes one builder-API client per relay; ctx bounds their lives.
func NewBoost(ctx context.Context, cfg BoostConfig) (*Boost, error) {
	if len(cfg.Relays) == 0 {
		return nil, errors.New("pbs: no relay specified")
	}
	if cfg.HeaderHard <= 0 {
		cfg.HeaderHard = 950 * time.Millisecond
	}
	if cfg.HeaderSoft <= 0 || cfg.HeaderSoft > cfg.HeaderHard {
		cfg.HeaderSoft = min(750*time.Millisecond, cfg.HeaderHard)
	}
	if cfg.PayloadTimeout <= 0 {
		cfg.PayloadTimeout = 4 * time.Second
	}
	if cfg.RegisterTimeout <= 0 {
		cfg.RegisterTimeout = 3 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Boost{cfg: cfg, domain: BuilderDomain(cfg.GenesisForkVersion), log: cfg.Logger.With("component", "boost"), served: map[servedKey][]int{}, checked: map[checkedKey]struct{}{}}
	for _, r := range cfg.Relays {
		svc, err := builderhttp.New(ctx, builderhttp.WithAddress(r.URL), builderhttp.WithLogLevel(zerolog.Disabled), builderhttp.WithTimeout(cfg.PayloadTimeout))
		if err != nil {
			return nil, fmt.Errorf("pbs: relay %s: %w", r.URL, err)
		}
		b.relays = append(b.relays, boostRelay{RelayEntry: r, svc: svc, hc: &http.Client{Timeout: cfg.PayloadTimeout}})
	}
	return b, nil
}

// RegisterValidators sends the registrations to every relay in parallel; it succeeds when one
// relay accepts them (mev-boost's rule).
func (b *Boost) RegisterValidators(ctx context.Context, regs []*builderapiv1.SignedValidatorRegistration) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.RegisterTimeout)
	defer cancel()
	vr := make([]*builderapi.VersionedSignedValidatorRegistration, len(regs))
	for i, r := range regs {
		vr[i] = &builderapi.VersionedSignedValidatorRegistration{Version: builderspec.BuilderVersionV1, V1: r}
	}
	errs := make([]error, len(b.relays))
	var wg sync.WaitGroup
	for i, r := range b.relays {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.svc.(builderclient.ValidatorRegistrationsSubmitter).SubmitValidatorRegistrations(ctx, &builderapi.SubmitValidatorRegistrationsOpts{Registrations: vr})
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		if err == nil {
			ok++
		} else {
			b.log.Warn("relay refused registrations", "relay", b.relays[i].URL, "error", err)
		}
	}
	b.log.Info("registrations", "count", len(regs), "relays_ok", ok, "relays_failed", len(errs)-ok)
	if ok == 0 {
		return fmt.Errorf("no relay accepted the registrations: %w", errors.Join(errs...))
	}
	return nil
}

// GetHeader asks every relay for (slot, parent, pubkey) and returns the best acceptable bid:
// checked with CheckBid (the relay's key, the builder-domain signature, the parent hash, a
// non-zero value of at least MinBid, the slot's fork when version is known), highest value,
// ties to the smaller block hash. It returns at the soft deadline if a bid has arrived, at the
// hard deadline regardless; ErrNoBid when none is acceptable.
func (b *Boost) GetHeader(ctx context.Context, slot phase0.Slot, parent phase0.Hash32, pubkey phase0.BLSPubKey) (*builderspec.VersionedSignedBuilderBid, error) {
	start := time.Now()
	hctx, cancel := context.WithTimeout(ctx, b.cfg.HeaderHard)
	defer cancel()
	type answer struct {
		i   int
		bid *builderspec.VersionedSignedBuilderBid
		err error
	}
	answers := make(chan answer, len(b.relays))
	for i, r := range b.relays {
		go func() {
			res, err := r.svc.(builderclient.BuilderBidProvider).BuilderBid(hctx, &builderapi.BuilderBidOpts{Slot: slot, ParentHash: parent, PubKey: pubkey})
			a := answer{i: i, err: err}
			if err == nil && res != nil {
				a.bid = res.Data
			}
			answers <- a
		}()
	}
	soft := time.NewTimer(b.cfg.HeaderSoft)
	defer soft.Stop()
	var best *builderspec.VersionedSignedBuilderBid
	var bestRelays []int
	answered, failed, noBid := 0, 0, 0
	pending := len(b.relays)
loop:
	for pending > 0 {
		select {
		case a := <-answers:
			pending--
			switch {
			case a.err != nil:
				failed++
				b.log.Debug("relay getHeader failed", "relay", b.relays[a.i].URL, "error", a.err)
				continue
			case a.bid == nil || a.bid.IsEmpty():
				noBid++
				continue
			}
			answered++
			if err := b.checkBid(a.i, a.bid, parent); err != nil {
				b.log.Warn("relay bid refused", "relay", b.relays[a.i].URL, "slot", slot, "error", err)
				continue
			}
			switch cmp := compareBids(a.bid, best); {
			case cmp > 0:
				best, bestRelays = a.bid, []int{a.i}
			case cmp == 0:
				bestRelays = append(bestRelays, a.i) // the same block from another relay
			}
		case <-soft.C:
			if best != nil {
				break loop
			}
		case <-hctx.Done():
			break loop
		}
	}
	b.log.Info("getHeader", "slot", slot, "relays", len(b.relays), "bids", answered, "no_bid", noBid, "failed", failed,
		"timed_out", pending, "ms", time.Since(start).Milliseconds())
	if best == nil {
		return nil, ErrNoBid
	}
	h, _ := best.BlockHash()
	b.mu.Lock()
	b.served[servedKey{slot, h}] = bestRelays
	for k := range b.served {
		if k.slot+64 < slot {
			delete(b.served, k)
		}
	}
	b.mu.Unlock()
	return best, nil
}

// checkBid is CheckBid with the relay's key and MinBid, remembering bids that passed.
func (b *Boost) checkBid(relay int, bid *builderspec.VersionedSignedBuilderBid, parent phase0.Hash32) error {
	var root phase0.Root
	var rootErr error
	switch {
	case bid.Version == spec.DataVersionElectra && bid.Electra != nil:
		root, rootErr = bid.Electra.HashTreeRoot()
	case bid.Version == spec.DataVersionFulu && bid.Fulu != nil:
		root, rootErr = bid.Fulu.HashTreeRoot()
	default:
		rootErr = errors.New("not an electra or fulu bid")
	}
	key := checkedKey{relay: relay, parent: parent, root: root}
	if rootErr == nil {
		b.mu.Lock()
		_, ok := b.checked[key]
		b.mu.Unlock()
		if ok && (b.cfg.MinBid == nil || !mustValue(bid).Lt(b.cfg.MinBid)) {
			return nil
		}
	}
	if err := CheckBid(bid, b.domain, BidChecks{ParentHash: parent, RelayPubkey: b.relays[relay].Pubkey, MinValue: b.cfg.MinBid}); err != nil {
		return err
	}
	if rootErr == nil {
		b.mu.Lock()
		if len(b.checked) >= maxChecked {
			clear(b.checked)
		}
		b.checked[key] = struct{}{}
		b.mu.Unlock()
	}
	return nil
}

func mustValue(bid *builderspec.VersionedSignedBuilderBid) *uint256.Int {
	v, err := bid.Value()
	if err != nil || v == nil {
		return uint256.NewInt(0)
	}
	return v
}

// compareBids orders bids: higher value first, then the smaller block hash (DESIGN.md's tie
// rule); a nil bid is the lowest.
func compareBids(a, b *builderspec.VersionedSignedBuilderBid) int {
	if b == nil {
		return 1
	}
	va, _ := a.Value()
	vb, _ := b.Value()
	if c := va.Cmp(vb); c != 0 {
		return c
	}
	ha, _ := a.BlockHash()
	hb, _ := b.BlockHash()
	return -bytes.Compare(ha[:], hb[:])
}

// GetPayload sends the signed blinded block to the relays that served its header and returns
// the first payload that matches the header (v1). With publish (v2) the relays publish the block
// and nothing is returned.
func (b *Boost) GetPayload(ctx context.Context, p *consensusapi.VersionedSignedBlindedProposal, publish bool) (*builderapi.VersionedSubmitBlindedBlockResponse, error) {
	blk, err := BlindedBlock(p)
	if err != nil {
		return nil, err
	}
	header := blk.Message.Body.ExecutionPayloadHeader
	b.mu.Lock()
	relays := b.served[servedKey{blk.Message.Slot, header.BlockHash}]
	b.mu.Unlock()
	if len(relays) == 0 {
		// A header this sidecar did not serve (a restart): ask every relay.
		for i := range b.relays {
			relays = append(relays, i)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PayloadTimeout)
	defer cancel()
	type answer struct {
		resp *builderapi.VersionedSubmitBlindedBlockResponse
		err  error
	}
	answers := make(chan answer, len(relays))
	for _, i := range relays {
		r := b.relays[i]
		go func() {
			if publish {
				answers <- answer{err: r.publish(ctx, p)}
				return
			}
			// Up to payloadAttempts tries, payloadRetryDelay apart, within the timeout (the
			// payload is worth a block: mev-boost retries too).
			var err error
			for attempt := range payloadAttempts {
				if attempt > 0 {
					select {
					case <-ctx.Done():
						answers <- answer{err: fmt.Errorf("%s: %w (after %d attempts: %v)", r.URL, ctx.Err(), attempt, err)}
						return
					case <-time.After(payloadRetryDelay):
					}
				}
				var full *builderapi.Response[*consensusapi.VersionedSignedProposal]
				full, err = r.svc.(builderclient.UnblindedProposalProvider).UnblindProposal(ctx, &builderapi.UnblindProposalOpts{Proposal: p})
				if err != nil {
					err = fmt.Errorf("%s: %w", r.URL, err)
					continue
				}
				resp, perr := payloadOf(full.Data, header)
				answers <- answer{resp: resp, err: perr}
				return
			}
			answers <- answer{err: err}
		}()
	}
	var errs []error
	for range relays {
		a := <-answers
		if a.err == nil {
			return a.resp, nil // the others are cancelled when this returns
		}
		errs = append(errs, a.err)
	}
	return nil, fmt.Errorf("%w: %w", ErrNoPayload, errors.Join(errs...))
}

// payloadOf takes the payload and blobs out of an unblinded block and checks the payload
// against the header the proposer signed.
func payloadOf(full *consensusapi.VersionedSignedProposal, header *deneb.ExecutionPayloadHeader) (*builderapi.VersionedSubmitBlindedBlockResponse, error) {
	if full == nil {
		return nil, errors.New("no block")
	}
	var payload *deneb.ExecutionPayload
	var commitments []deneb.KZGCommitment
	var proofs []deneb.KZGProof
	var blobs []deneb.Blob
	switch {
	case full.Version == spec.DataVersionElectra && full.Electra != nil && full.Electra.SignedBlock != nil:
		payload, commitments = full.Electra.SignedBlock.Message.Body.ExecutionPayload, full.Electra.SignedBlock.Message.Body.BlobKZGCommitments
		proofs, blobs = full.Electra.KZGProofs, full.Electra.Blobs
	case full.Version == spec.DataVersionFulu && full.Fulu != nil && full.Fulu.SignedBlock != nil:
		payload, commitments = full.Fulu.SignedBlock.Message.Body.ExecutionPayload, full.Fulu.SignedBlock.Message.Body.BlobKZGCommitments
		proofs, blobs = full.Fulu.KZGProofs, full.Fulu.Blobs
	default:
		return nil, fmt.Errorf("block of version %s", full.Version)
	}
	if err := CheckPayload(header, payload); err != nil {
		return nil, err
	}
	return PayloadResponse(full.Version, payload, &builderfulu.BlobsBundle{Commitments: commitments, Proofs: proofs, Blobs: blobs})
}

// publish posts the signed blinded block to the relay's v2 endpoint (202: the relay publishes).
func (r boostRelay) publish(ctx context.Context, p *consensusapi.VersionedSignedBlindedProposal) error {
	blk, err := BlindedBlock(p)
	if err != nil {
		return err
	}
	body, err := blk.MarshalJSON()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL+"/eth/v2/builder/blinded_blocks", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", MediaJSON)
	req.Header.Set(VersionHeader, p.Version.String())
	resp, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", r.URL, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("%s: status %d: %s", r.URL, resp.StatusCode, msg)
	}
	return nil
}

// Status reports whether at least one relay answers its status endpoint.
func (b *Boost) Status(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ok := make(chan bool, len(b.relays))
	for _, r := range b.relays {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+"/eth/v1/builder/status", nil)
			resp, err := r.hc.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			ok <- err == nil && resp.StatusCode == http.StatusOK
		}()
	}
	for range b.relays {
		if <-ok {
			return nil
		}
	}
	return errors.New("no relay is available")
}
