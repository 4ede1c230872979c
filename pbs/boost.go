package pbs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
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
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/zkvlabs/zkv/transport"
)

// ErrNoBid: no relay answered getHeader with an acceptable bid (204 to the proposer).
var ErrNoBid = errors.New("pbs: no bid")

// ErrLateInSlot: getHeader came later into its slot than BoostConfig.LateInSlot allows, so no
// relay is asked and the proposer builds its own block (204). It wraps ErrNoBid.
var ErrLateInSlot = fmt.Errorf("%w: too late in the slot", ErrNoBid)

// ErrNoPayload: no relay that served the header returned its payload.
var ErrNoPayload = errors.New("pbs: no relay returned the payload")

// BoostConfig configures a Boost.
type BoostConfig struct {
	// Relays is the default relay set; at least one.
	Relays []RelayEntry
	// MinBid in wei: bids below it are ignored (mev-boost -min-bid); the default policy's.
	MinBid *uint256.Int
	// Proposers are per-validator relay sets and min-bids (RelayConfig.Proposers); optional.
	Proposers map[phase0.BLSPubKey]RelayPolicy
	// GenesisForkVersion of the network (the builder domain's input).
	GenesisForkVersion phase0.Version
	// GenesisTime and SlotDuration place slots in time (slot s starts at GenesisTime +
	// s*SlotDuration). With a zero GenesisTime there is no late-in-slot cut-off and no QUIC
	// stream path (a streamed bid's slot is read from its timestamp). SlotDuration defaults to 12 s.
	GenesisTime  time.Time
	SlotDuration time.Duration
	// LateInSlot is how far into its slot getHeader is still answered (default 2 s, mev-boost's
	// late_in_slot_time_ms): later, the proposer gets 204 and builds locally, and a request
	// made earlier gets only the time left until then.
	LateInSlot time.Duration
	// HeaderSoft is when getHeader returns what has arrived if it has a bid (default 750 ms);
	// HeaderHard when it returns regardless (default 950 ms, the proposer's budget). A caller's
	// X-Timeout-Ms and LateInSlot shorten both.
	HeaderSoft, HeaderHard time.Duration
	// PayloadTimeout bounds getPayload (default 4 s); RegisterTimeout registrations (3 s).
	PayloadTimeout, RegisterTimeout time.Duration
	// DownAfter is how many calls in a row a relay may fail before status reports it down
	// (default 3). A relay is down until its first successful call.
	DownAfter int
	// Identity is the sidecar's QUIC transport identity, which relays with a QUIC door pin;
	// required when a relay entry names one.
	Identity *transport.Identity
	// Registerer receives the metrics; when it is also a prometheus.Gatherer, Handler serves
	// them at /metrics. Nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
}

// Boost is the proposer's sidecar: it asks every relay of the proposer's set for a header
// (taking a relay's bid from its QUIC top-bid stream when it has one there) and picks the best
// bid, fans registrations out, and gets the payload from the relays that served the chosen
// header. Run keeps the QUIC streams; without Run every relay is asked over HTTP.
type Boost struct {
	ctx    context.Context // NewBoost's: every relay's clients live at most as long as it
	cfg    BoostConfig
	domain phase0.Domain
	log    *slog.Logger
	m      *boostMetrics
	state  atomic.Pointer[boostState]

	mu     sync.Mutex
	served map[servedKey][]*relay // relays that offered a block hash for a slot
	// checked remembers bids that passed CheckBid, by relay, parent and the signed bid's root:
	// relays answer every getHeader of a slot with the same signed bid, and its BLS
	// verification (about a millisecond) would otherwise dominate getHeader under load.
	checked map[checkedKey]struct{}
	encoded map[encodedKey][]byte // encodings of chosen bids, by root and media type
	runCtx  context.Context       // set while Run runs: streams of relays added by a reload start in it
	streams sync.WaitGroup
}

// boostState is one relay configuration in force: swapped whole by SetRelayConfig, read
// without a lock by every request.
type boostState struct {
	def       policyRelays
	proposers map[phase0.BLSPubKey]policyRelays
	all       []*relay
	byKey     map[string]*relay
}

type policyRelays struct {
	relays []*relay
	minBid *uint256.Int
}

func (s *boostState) policy(pk phase0.BLSPubKey) policyRelays {
	if p, ok := s.proposers[pk]; ok {
		return p
	}
	return s.def
}

type checkedKey struct {
	relay  string
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

// NewBoost checks cfg and makes one client per relay; ctx bounds their lives. Their clients
// hold goroutines until ctx ends, so a caller ends it when it is done with the boost.
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
	if cfg.SlotDuration <= 0 {
		cfg.SlotDuration = 12 * time.Second
	}
	if cfg.LateInSlot <= 0 {
		cfg.LateInSlot = 2 * time.Second
	}
	if cfg.PayloadTimeout <= 0 {
		cfg.PayloadTimeout = 4 * time.Second
	}
	if cfg.RegisterTimeout <= 0 {
		cfg.RegisterTimeout = 3 * time.Second
	}
	if cfg.DownAfter <= 0 {
		cfg.DownAfter = 3
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Boost{ctx: ctx, cfg: cfg, domain: BuilderDomain(cfg.GenesisForkVersion), log: cfg.Logger.With("component", "boost"), m: newBoostMetrics(),
		served: map[servedKey][]*relay{}, checked: map[checkedKey]struct{}{}, encoded: map[encodedKey][]byte{}}
	if err := b.SetRelayConfig(RelayConfig{Default: RelayPolicy{Relays: cfg.Relays, MinBid: cfg.MinBid}, Proposers: cfg.Proposers}); err != nil {
		return nil, err
	}
	if err := b.m.register(cfg.Registerer); err != nil {
		for _, r := range b.state.Load().all {
			r.close()
		}
		return nil, err
	}
	return b, nil
}

// SetRelayConfig puts c in force from the next request on (the config file, read again on
// SIGHUP). Relays it keeps keep their health and streams; relays it drops stop their streams.
// An invalid c is refused and the previous configuration stays.
func (b *Boost) SetRelayConfig(c RelayConfig) error {
	err := b.setRelayConfig(c)
	result := "ok"
	if err != nil {
		result = "refused"
	}
	b.m.configReloads.WithLabelValues(result).Inc()
	return err
}

func (b *Boost) setRelayConfig(c RelayConfig) error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("pbs: relay config: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.state.Load()
	st := &boostState{proposers: make(map[phase0.BLSPubKey]policyRelays, len(c.Proposers)), byKey: map[string]*relay{}}
	var added []*relay
	resolve := func(p RelayPolicy) (policyRelays, error) {
		out := policyRelays{minBid: p.MinBid}
		for _, e := range p.Relays {
			k := e.String()
			r := st.byKey[k]
			if r == nil && old != nil {
				r = old.byKey[k]
			}
			if r == nil {
				if e.QUICAddr != "" && b.cfg.Identity == nil {
					return out, fmt.Errorf("pbs: relay %s has a QUIC door but the boost has no QUIC identity", e.URL)
				}
				var err error
				if r, err = b.newRelay(e); err != nil {
					return out, err
				}
				added = append(added, r)
			}
			if st.byKey[k] == nil {
				st.byKey[k] = r
				st.all = append(st.all, r)
			}
			if !slices.Contains(out.relays, r) {
				out.relays = append(out.relays, r)
			}
		}
		return out, nil
	}
	err := func() error {
		var err error
		if st.def, err = resolve(c.Default); err != nil {
			return err
		}
		for pk, p := range c.Proposers {
			if st.proposers[pk], err = resolve(p); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		// A refused config must not leave behind the clients it made for relays before the
		// one that failed: nothing refers to them.
		for _, r := range added {
			r.close()
		}
		return err
	}
	b.state.Store(st)
	if old != nil {
		for k, r := range old.byKey {
			if st.byKey[k] == nil {
				r.close()
			}
		}
	}
	if b.runCtx != nil {
		for _, r := range added {
			b.startStreamLocked(r)
		}
	}
	for _, r := range added {
		b.m.relayUp(r.name, false)
	}
	return nil
}

// newRelay makes a relay's clients. Its HTTP client keeps enough idle connections for
// getHeader at a thousand requests a second.
func (b *Boost) newRelay(e RelayEntry) (*relay, error) {
	u, err := url.Parse(e.URL)
	if err != nil {
		return nil, fmt.Errorf("pbs: relay %s: %w", e.URL, err)
	}
	// go-builder-client's New starts a goroutine that waits for its context to end, so the
	// context must end when the relay does (dropped by a reload, or the boost's ctx ended):
	// with one that never ends, every relay ever configured would keep a goroutine.
	ctx, cancel := context.WithCancel(b.ctx)
	svc, err := builderhttp.New(ctx, builderhttp.WithAddress(e.URL), builderhttp.WithLogLevel(zerolog.Disabled), builderhttp.WithTimeout(b.cfg.PayloadTimeout))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("pbs: relay %s: %w", e.URL, err)
	}
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: true}
	// A relay's kept-alive connections (a goroutine or two each) go with it rather than after
	// the idle timeout.
	context.AfterFunc(ctx, tr.CloseIdleConnections)
	// A relay is down until it first answers: status must not call a relay that never
	// answered up (mev-boost's status fails when no relay answers).
	r := &relay{RelayEntry: e, key: e.String(), name: u.Host, svc: svc, hc: &http.Client{Transport: tr, Timeout: b.cfg.PayloadTimeout},
		cancel: cancel, fails: b.cfg.DownAfter, lastErr: "no answer yet"}
	if e.QUICAddr != "" {
		r.stream = newBidStream()
	}
	return r, nil
}

// RegisterValidators sends each registration to the relays of its validator's set, every relay
// in parallel; it succeeds when one relay accepts (mev-boost's rule).
func (b *Boost) RegisterValidators(ctx context.Context, regs []*builderapiv1.SignedValidatorRegistration) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.RegisterTimeout)
	defer cancel()
	st := b.state.Load()
	per := map[*relay][]*builderapiv1.SignedValidatorRegistration{}
	var order []*relay
	for _, reg := range regs {
		if reg == nil || reg.Message == nil {
			return errors.New("pbs: incomplete registration")
		}
		for _, r := range st.policy(reg.Message.Pubkey).relays {
			if per[r] == nil {
				order = append(order, r)
			}
			per[r] = append(per[r], reg)
		}
	}
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	for i, r := range order {
		wg.Go(func() {
			start := time.Now()
			errs[i] = r.register(ctx, per[r])
			b.m.relayLatency(endpointRegister, r.name, time.Since(start))
			r.record(errs[i], b.m, b.cfg.DownAfter)
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		if err == nil {
			ok++
		} else {
			b.log.Warn("relay refused registrations", "relay", order[i].URL, "error", err)
		}
	}
	b.log.Info("registrations", "count", len(regs), "relays_ok", ok, "relays_failed", len(errs)-ok)
	if ok == 0 && len(regs) > 0 {
		return fmt.Errorf("no relay accepted the registrations: %w", errors.Join(errs...))
	}
	return nil
}

// register posts registrations to the relay's registerValidator (JSON).
func (r *relay) register(ctx context.Context, regs []*builderapiv1.SignedValidatorRegistration) error {
	body, err := json.Marshal(regs)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL+"/eth/v1/builder/validators", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", MediaJSON)
	req.Header.Set(HeaderDateMilliseconds, strconv.FormatInt(time.Now().UnixMilli(), 10))
	resp, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", r.URL, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d: %s", r.URL, resp.StatusCode, msg)
	}
	return nil
}

// slotStart is when slot begins by the configured genesis.
func (b *Boost) slotStart(slot phase0.Slot) time.Time {
	return b.cfg.GenesisTime.Add(time.Duration(slot) * b.cfg.SlotDuration)
}

// GetHeader asks every relay of pubkey's set for (slot, parent, pubkey) and returns the best
// acceptable bid: checked with CheckBid (the relay's key, the builder-domain signature, the
// parent hash, a non-zero value, the slot's fork when known) and at least the set's min-bid;
// highest value, ties to the smaller block hash. A relay whose QUIC top-bid stream already
// holds the auction's bid answers from it; the others over HTTP. A winner that came only by
// streams is confirmed by its relays over HTTP before it is returned (a relay releases a
// payload only for a header it served); what they serve takes its place.
//
// Timing as mev-boost: the budget is the least of HeaderHard, ctx's deadline (the caller's
// X-Timeout-Ms) and the time left until LateInSlot into the slot; with none left it returns
// ErrLateInSlot at once. It returns at the soft deadline if a bid has arrived, when the budget
// ends regardless; ErrNoBid when no bid is acceptable.
func (b *Boost) GetHeader(ctx context.Context, slot phase0.Slot, parent phase0.Hash32, pubkey phase0.BLSPubKey) (*builderspec.VersionedSignedBuilderBid, error) {
	bid, _, err := b.getHeader(ctx, slot, parent, pubkey)
	return bid, err
}

// getHeader is GetHeader that also returns the chosen signed bid's root, the key of its
// encodings in the cache.
func (b *Boost) getHeader(ctx context.Context, slot phase0.Slot, parent phase0.Hash32, pubkey phase0.BLSPubKey) (*builderspec.VersionedSignedBuilderBid, phase0.Root, error) {
	start := time.Now()
	now := b.cfg.Now()
	st := b.state.Load()
	pol := st.policy(pubkey)
	budget := b.cfg.HeaderHard
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl))
	}
	var into time.Duration
	timed := !b.cfg.GenesisTime.IsZero()
	if timed {
		into = now.Sub(b.slotStart(slot))
		if into >= 0 {
			b.m.msIntoSlot.WithLabelValues(endpointHeader).Observe(float64(into.Milliseconds()))
		}
		if left := b.cfg.LateInSlot - into; left < budget {
			budget = left
			if budget <= 0 {
				b.m.getHeaders.WithLabelValues("late").Inc()
				b.log.Info("getHeader too late in the slot: no relay asked, the proposer builds locally", "slot", slot,
					"ms_into_slot", into.Milliseconds(), "late_in_slot_ms", b.cfg.LateInSlot.Milliseconds())
				return nil, phase0.Root{}, ErrLateInSlot
			}
		}
	}
	if budget <= 0 {
		b.m.getHeaders.WithLabelValues("no_bid").Inc()
		return nil, phase0.Root{}, fmt.Errorf("%w: the caller's deadline has passed", ErrNoBid)
	}
	soft := min(b.cfg.HeaderSoft, budget)
	hctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	type answer struct {
		r    *relay
		bid  *builderspec.VersionedSignedBuilderBid
		err  error
		path string
	}
	answers := make(chan answer, len(pol.relays))
	pending := 0
	var streamed []answer
	var asked []*relay // over HTTP
	var timestamp uint64
	if timed {
		timestamp = uint64(b.slotStart(slot).Unix())
	}
	for _, r := range pol.relays {
		if r.stream != nil && timed {
			if bid := r.stream.get(streamKey{timestamp: timestamp, parent: parent}); bid != nil {
				streamed = append(streamed, answer{r: r, bid: bid, path: pathQUIC})
				continue
			}
		}
		pending++
		asked = append(asked, r)
		go func() {
			bid, err := r.getHeader(hctx, slot, parent, pubkey, now, budget, b.m)
			// A relay cut off by our own return at the soft deadline, or by a caller's budget
			// shorter than the soft deadline, has not failed.
			if err == nil || (hctx.Err() != context.Canceled && budget >= b.cfg.HeaderSoft) {
				r.record(err, b.m, b.cfg.DownAfter)
			}
			answers <- answer{r: r, bid: bid, err: err, path: pathHTTP}
		}()
	}
	var cands []candidate
	var bids, noBid, failed, refused, viaQUIC int
	answered := make(map[*relay]bool, len(asked))
	// accept checks a bid as every bid is checked, whichever path it came by.
	accept := func(r *relay, bid *builderspec.VersionedSignedBuilderBid, path string) (candidate, string) {
		if bid == nil || bid.IsEmpty() {
			return candidate{}, "no_bid"
		}
		root, err := b.checkBid(r, bid, parent)
		if err != nil {
			b.log.Warn("relay bid refused", "relay", r.URL, "slot", slot, "path", path, "error", err)
			return candidate{}, "refused"
		}
		v := mustValue(bid)
		b.m.bidValues.WithLabelValues(r.name).Observe(weiToETH(v))
		if pol.minBid != nil && v.Lt(pol.minBid) {
			b.m.belowMinBid.WithLabelValues(r.name).Inc()
			return candidate{}, "below_min_bid"
		}
		return candidate{r: r, bid: bid, root: root, path: path}, "bid"
	}
	take := func(a answer) {
		answered[a.r] = true
		if a.err != nil {
			failed++
			result := "failed"
			if errors.Is(a.err, context.DeadlineExceeded) {
				result = "timed_out"
			}
			b.m.relayAnswers.WithLabelValues(a.r.name, a.path, result).Inc()
			b.log.Debug("relay getHeader failed", "relay", a.r.URL, "slot", slot, "error", a.err)
			return
		}
		c, result := accept(a.r, a.bid, a.path)
		b.m.relayAnswers.WithLabelValues(a.r.name, a.path, result).Inc()
		switch result {
		case "bid":
			bids++
			if a.path == pathQUIC {
				viaQUIC++
			}
			cands = append(cands, c)
		case "no_bid":
			noBid++
		default:
			refused++
		}
	}
	for _, a := range streamed {
		take(a)
	}
	softC := time.After(soft)
loop:
	for pending > 0 {
		select {
		case a := <-answers:
			pending--
			take(a)
		case <-softC:
			if len(cands) > 0 {
				break loop
			}
		case <-hctx.Done():
			break loop
		}
	}
	for _, r := range asked {
		if !answered[r] {
			b.m.relayAnswers.WithLabelValues(r.name, pathHTTP, "timed_out").Inc()
		}
	}
	// A zkv relay releases a payload only for a header it served through getHeader
	// (mev/proposer.go), and a streamed top bid was not served: while the winner came only by
	// streams, its relays confirm it over HTTP, and what they serve takes its place.
	best, bestRoot, bestRelays := pickBid(cands)
	confirmed := 0
	for best != nil && !servedOverHTTP(cands, best) {
		cands = b.confirmStreamed(hctx, cands, best, bestRelays, accept, slot, parent, pubkey, now, budget)
		confirmed++
		best, bestRoot, bestRelays = pickBid(cands)
	}
	b.log.Info("getHeader", "slot", slot, "relays", len(pol.relays), "bids", bids, "quic", viaQUIC, "confirmed", confirmed, "no_bid", noBid,
		"refused", refused, "failed", failed, "timed_out", pending, "ms_into_slot", into.Milliseconds(), "ms", time.Since(start).Milliseconds())
	if best == nil {
		b.m.getHeaders.WithLabelValues("no_bid").Inc()
		return nil, phase0.Root{}, ErrNoBid
	}
	b.m.getHeaders.WithLabelValues("bid").Inc()
	b.m.winningValue.Observe(weiToETH(mustValue(best)))
	h, _ := best.BlockHash()
	for _, r := range bestRelays {
		r.mu.Lock()
		r.lastSlot = max(r.lastSlot, slot)
		r.mu.Unlock()
		b.m.lastSlot.WithLabelValues(r.name).Set(float64(slot))
	}
	b.mu.Lock()
	b.served[servedKey{slot, h}] = bestRelays
	for k := range b.served {
		if k.slot+64 < slot {
			delete(b.served, k)
		}
	}
	b.mu.Unlock()
	return best, bestRoot, nil
}

// candidate is an acceptable bid and how it came: over HTTP (the relay served its header) or
// on the relay's QUIC stream.
type candidate struct {
	r    *relay
	bid  *builderspec.VersionedSignedBuilderBid
	root phase0.Root
	path string
}

// pickBid is the best candidate (highest value, then the smaller block hash), its root, and
// every relay that offered that block.
func pickBid(cands []candidate) (*builderspec.VersionedSignedBuilderBid, phase0.Root, []*relay) {
	var best *builderspec.VersionedSignedBuilderBid
	var root phase0.Root
	var relays []*relay
	for _, c := range cands {
		switch cmp := compareBids(c.bid, best); {
		case cmp > 0:
			best, root, relays = c.bid, c.root, []*relay{c.r}
		case cmp == 0:
			relays = append(relays, c.r) // the same block from another relay
		}
	}
	return best, root, relays
}

// servedOverHTTP reports whether a relay served best's header over HTTP.
func servedOverHTTP(cands []candidate, best *builderspec.VersionedSignedBuilderBid) bool {
	for _, c := range cands {
		if c.path == pathHTTP && compareBids(c.bid, best) == 0 {
			return true
		}
	}
	return false
}

// confirmStreamed asks the relays of a winning streamed bid for their header over HTTP, in
// parallel, and puts what each serves (checked like any bid; nothing on a failure) in place of
// its streamed candidate.
func (b *Boost) confirmStreamed(ctx context.Context, cands []candidate, best *builderspec.VersionedSignedBuilderBid, relays []*relay,
	accept func(*relay, *builderspec.VersionedSignedBuilderBid, string) (candidate, string),
	slot phase0.Slot, parent phase0.Hash32, pubkey phase0.BLSPubKey, now time.Time, budget time.Duration) []candidate {
	type answer struct {
		c      candidate
		result string
	}
	out := make([]answer, len(relays))
	var wg sync.WaitGroup
	for i, r := range relays {
		wg.Go(func() {
			bid, err := r.getHeader(ctx, slot, parent, pubkey, now, budget, b.m)
			r.record(err, b.m, b.cfg.DownAfter)
			if err != nil {
				out[i].result = "failed"
				return
			}
			out[i].c, out[i].result = accept(r, bid, pathHTTP)
		})
	}
	wg.Wait()
	streamedHash, _ := best.BlockHash()
	kept := slices.DeleteFunc(cands, func(c candidate) bool { return c.path == pathQUIC && slices.Contains(relays, c.r) })
	for i, a := range out {
		result := a.result
		if result == "bid" {
			if h, _ := a.c.bid.BlockHash(); h == streamedHash {
				result = "same"
			} else {
				result = "changed"
			}
			kept = append(kept, a.c)
		}
		b.m.streamConfirms.WithLabelValues(relays[i].name, result).Inc()
	}
	return kept
}

// weiToETH is v in ETH as a float, for metrics.
func weiToETH(v *uint256.Int) float64 {
	return v.Float64() / 1e18
}

// checkBid is CheckBid with the relay's key, remembering bids that passed; it returns the
// signed bid's root (zero when it has none). The min-bid is the caller's: it depends on the
// proposer.
func (b *Boost) checkBid(r *relay, bid *builderspec.VersionedSignedBuilderBid, parent phase0.Hash32) (phase0.Root, error) {
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
	key := checkedKey{relay: r.key, parent: parent, root: root}
	if rootErr == nil {
		b.mu.Lock()
		_, ok := b.checked[key]
		b.mu.Unlock()
		if ok {
			return root, nil
		}
	}
	if err := CheckBid(bid, b.domain, BidChecks{ParentHash: parent, RelayPubkey: r.Pubkey}); err != nil {
		return phase0.Root{}, err
	}
	if rootErr == nil {
		b.mu.Lock()
		if len(b.checked) >= maxChecked {
			clear(b.checked)
		}
		b.checked[key] = struct{}{}
		b.mu.Unlock()
	}
	return root, nil
}

type encodedKey struct {
	root  phase0.Root
	media string
}

// encodedBid is bid in media (JSON or SSZ), remembered by its root: every getHeader of a slot
// returns the same few bids, and encoding one in JSON costs more than the rest of getHeader.
func (b *Boost) encodedBid(bid *builderspec.VersionedSignedBuilderBid, root phase0.Root, media string) ([]byte, error) {
	key := encodedKey{root, media}
	if root != (phase0.Root{}) {
		b.mu.Lock()
		out, ok := b.encoded[key]
		b.mu.Unlock()
		if ok {
			return out, nil
		}
	}
	var out []byte
	var err error
	if media == MediaSSZ {
		sb := bid.Electra
		if bid.Version == spec.DataVersionFulu {
			sb = bid.Fulu
		}
		out, err = sb.MarshalSSZ()
	} else {
		out, err = bid.MarshalJSON()
	}
	if err != nil || root == (phase0.Root{}) {
		return out, err
	}
	b.mu.Lock()
	if len(b.encoded) >= maxChecked {
		clear(b.encoded)
	}
	b.encoded[key] = out
	b.mu.Unlock()
	return out, nil
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
		relays = b.state.Load().all
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PayloadTimeout)
	defer cancel()
	type answer struct {
		resp *builderapi.VersionedSubmitBlindedBlockResponse
		err  error
	}
	answers := make(chan answer, len(relays))
	endpoint := endpointPayload
	if publish {
		endpoint = endpointPayloadV2
	}
	for _, r := range relays {
		go func() {
			start := time.Now()
			defer func() { b.m.relayLatency(endpoint, r.name, time.Since(start)) }()
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
func (r *relay) publish(ctx context.Context, p *consensusapi.VersionedSignedBlindedProposal) error {
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

// RelayHealth is one relay's state as status reports it.
type RelayHealth struct {
	URL string `json:"url"`
	// Up is false once the relay has failed BoostConfig.DownAfter calls in a row.
	Up bool `json:"up"`
	// Failures is how many calls in a row it has failed; LastError the last one's error.
	Failures  int    `json:"consecutive_failures"`
	LastError string `json:"last_error,omitempty"`
	// Stream is whether the sidecar is subscribed to its QUIC top-bid stream (absent without one).
	Stream *bool `json:"quic_stream,omitempty"`
	// LastSlot is the last slot it served the chosen header for.
	LastSlot uint64 `json:"last_slot"`
}

// Status asks every relay's status endpoint, counts the answer as one of its calls, and
// reports each relay's health. As mev-boost's status, it fails (503 over HTTP) only when no
// relay is up.
func (b *Boost) Status(ctx context.Context) ([]RelayHealth, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	all := b.state.Load().all
	var wg sync.WaitGroup
	for _, r := range all {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+"/eth/v1/builder/status", nil)
			start := time.Now()
			resp, err := r.hc.Do(req)
			b.m.relayLatency(endpointStatus, r.name, time.Since(start))
			if err == nil {
				resp.Body.Close()
				b.m.relayStatus(resp.StatusCode, endpointStatus, r.name)
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("%w: %d", errRelayStatus, resp.StatusCode)
				}
			}
			r.record(err, b.m, b.cfg.DownAfter)
		})
	}
	wg.Wait()
	out := make([]RelayHealth, len(all))
	up := 0
	for i, r := range all {
		r.mu.Lock()
		out[i] = RelayHealth{URL: r.URL, Up: r.fails < b.cfg.DownAfter, Failures: r.fails, LastError: r.lastErr, LastSlot: uint64(r.lastSlot)}
		r.mu.Unlock()
		if r.stream != nil {
			live := r.stream.isLive()
			out[i].Stream = &live
		}
		if out[i].Up {
			up++
		}
	}
	if up == 0 {
		return out, errors.New("all relays are unavailable")
	}
	return out, nil
}
