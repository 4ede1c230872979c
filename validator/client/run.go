package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/attestantio/go-eth2-client/api"
	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/rs/zerolog"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/validator/keys"
	"github.com/zkvlabs/zkv/validator/signer"
	"github.com/zkvlabs/zkv/validator/slashing"
)

// Run loads the keys, connects to the beacon node, opens slashing protection and runs duties
// until ctx ends. Then it lets the duties in flight finish (WithShutdownGrace), stops slashing
// protection and closes the database, so that every signature that left the process has its
// record on disk. It returns nil on a clean stop.
func (s *Service) Run(ctx context.Context) error {
	ks, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer zeroize(ks)

	d := s.o.db
	if d == nil {
		if d, err = db.Open(db.Config{Dir: s.o.dbDir, Logger: s.log}); err != nil {
			return err
		}
		defer d.Close()
	}
	prot, err := slashing.New(slashing.Config{DB: d, GenesisValidatorsRoot: slashing.Root(s.net.GenesisValidatorsRoot()), Logger: s.log})
	if err != nil {
		return err
	}
	// Slashing protection and the database outlive ctx: they stop only after the duties in
	// flight have finished.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var bgWG sync.WaitGroup
	bgWG.Go(func() {
		if err := prot.Run(bg); err != nil {
			s.log.Error("slashing protection stopped", "error", err)
		}
	})
	if s.o.db == nil {
		bgWG.Go(func() { _ = d.Run(bg) })
	}
	defer func() { stopBG(); bgWG.Wait() }()

	if s.sig, err = signer.New(s.net, prot, ks); err != nil {
		return err
	}
	if err := s.holdKeys(s.sig.PublicKeys()); err != nil {
		return err
	}
	if err := s.startKeyManagement(d, prot, ks); err != nil {
		return err
	}
	defer s.stopKeyManagement()
	if err := s.resolveIndices(ctx); err != nil {
		return err
	}
	if s.o.registrations {
		if err := s.signRegistrations(); err != nil {
			return err
		}
	}
	return s.loop(ctx)
}

// connect loads the keys, connects to the beacon node and learns the network.
func (s *Service) connect(ctx context.Context) ([]*keys.Key, error) {
	ks, err := keys.LoadDir(ctx, s.o.keystoreDir, keys.LoadOptions{Password: s.o.password, Limits: s.o.kdfLimits,
		Progress: s.o.progress, Logger: s.log})
	if err != nil {
		return nil, err
	}
	if s.bn = s.o.beaconNode; s.bn == nil {
		f, err := s.dial(ctx)
		if err != nil {
			zeroize(ks)
			return nil, err
		}
		s.bn, s.nodes = f, f
	}
	if err := s.learnNetwork(ctx); err != nil {
		zeroize(ks)
		return nil, err
	}
	if s.nodes != nil {
		s.nodes.setSlot(s.spec.slotDuration)
	}
	return ks, nil
}

// dial makes one go-eth2-client HTTP service per beacon node URL. With several, a node that is
// down at start is no error (it joins when the health check sees it); with one, it is.
func (s *Service) dial(ctx context.Context) (*fallback, error) {
	bns := make([]BeaconNode, 0, len(s.o.beaconURLs))
	for _, url := range s.o.beaconURLs {
		svc, err := eth2http.New(ctx, eth2http.WithAddress(url), eth2http.WithLogLevel(zerolog.Disabled),
			eth2http.WithTimeout(s.o.timeout), eth2http.WithAllowDelayedStart(len(s.o.beaconURLs) > 1))
		if err != nil {
			return nil, fmt.Errorf("connect to beacon node %s: %w", url, err)
		}
		bn, ok := svc.(BeaconNode)
		if !ok {
			return nil, errors.New("go-eth2-client service lacks a provider the validator needs")
		}
		bns = append(bns, bn)
	}
	f := newFallback(bns, s.o.beaconURLs, s.o.timeout, s.log)
	f.m = s.m
	return f, nil
}

// zeroize wipes the secret keys.
func zeroize(ks []*keys.Key) {
	for _, k := range ks {
		k.Secret.Zeroize()
	}
}

// resolveIndices finds the validator index of every key (keys the chain does not know yet are
// logged and skipped).
func (s *Service) resolveIndices(ctx context.Context) error {
	pks := s.sig.PublicKeys()
	resp, err := s.bn.Validators(ctx, &api.ValidatorsOpts{State: "head", PubKeys: pks})
	if err != nil {
		return fmt.Errorf("validator indices: %w", err)
	}
	s.m.keys.Set(float64(len(pks)))
	s.m.setStatuses(resp.Data)
	s.mu.Lock()
	s.vals = map[phase0.ValidatorIndex]phase0.BLSPubKey{}
	for idx, v := range resp.Data {
		if v.Validator == nil {
			continue
		}
		s.vals[idx] = v.Validator.PublicKey
		s.indices = append(s.indices, idx)
	}
	s.mu.Unlock()
	if len(s.vals) < len(pks) {
		s.log.Warn("keys unknown to the beacon node are idle", "unknown", len(pks)-len(s.vals))
	}
	if len(s.vals) == 0 {
		return fmt.Errorf("none of the %d keys is a validator on this network", len(pks))
	}
	s.log.Info("validators", "keys", len(pks), "known", len(s.vals))
	return nil
}

// headSignal is closed when the head event of its slot arrives.
type headSignal struct {
	ch    chan struct{}
	root  phase0.Root
	fired bool
}

func (s *Service) headSignalLocked(slot phase0.Slot) *headSignal {
	h, ok := s.heads[slot]
	if !ok {
		h = &headSignal{ch: make(chan struct{})}
		s.heads[slot] = h
	}
	return h
}

// onHead records the slot's head and checks the duties' dependent roots: a head event whose
// dependent roots differ from those of the duties held means a reorg changed them (Beacon API,
// events "head"; attester duties of epoch e depend on previous_duty_dependent_root, proposer
// duties of e and attester duties of e+1 on current_duty_dependent_root).
func (s *Service) onHead(_ context.Context, ev *apiv1.HeadEvent) {
	if ev == nil {
		return
	}
	e := s.net.EpochOf(ev.Slot)
	s.brk.observe(ev.Slot)
	s.mu.Lock()
	h := s.headSignalLocked(ev.Slot)
	if !h.fired {
		h.fired, h.root = true, ev.Block
		close(h.ch)
	}
	stale := false
	if d := s.duties[e]; d != nil && (d.attesterDep != ev.PreviousDutyDependentRoot || d.proposerDep != ev.CurrentDutyDependentRoot) {
		stale = true
	}
	if d := s.duties[e+1]; d != nil && d.attesterDep != ev.CurrentDutyDependentRoot {
		stale = true
	}
	s.mu.Unlock()
	if stale {
		select {
		case s.refetch <- struct{}{}:
		default: // a refetch is already pending
		}
	}
}

// loop starts each slot's duties at the slot's start, and the epoch's tasks at each epoch's
// first slot, until ctx ends; then it waits for the work in flight.
func (s *Service) loop(ctx context.Context) error {
	s.stop = ctx.Done()
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var wg sync.WaitGroup
	defer wg.Wait()

	// go-eth2-client's event stream runs until its context ends: end it when loop returns.
	evCtx, cancelEv := context.WithCancel(ctx)
	defer cancelEv()
	if err := s.bn.Events(evCtx, &api.EventsOpts{Topics: []string{"head"}, HeadHandler: s.onHead}); err != nil {
		return fmt.Errorf("subscribe to head events: %w", err)
	}
	s.brk.watchFrom(s.currentSlot() + 1)
	wg.Go(func() { s.refetcher(evCtx, work) })
	wg.Go(func() { s.watchHealth(evCtx) })
	if s.nodes != nil {
		// A quarter slot: a primary back within a slot's first quarter serves that slot's
		// attestation.
		wg.Go(func() { s.nodes.run(evCtx, s.spec.slotDuration/4) })
	}

	if !s.waitUntil(ctx, s.genesis) {
		return s.drain(ctx, cancelWork, &wg)
	}
	slot := s.currentSlot()
	var dg *doppelganger
	if n := s.o.doppelganger; n > 0 {
		start := s.net.EpochOf(slot)
		dg = &doppelganger{start: start, last: start + phase0.Epoch(n)}
		s.log.Info("doppelganger protection: watching before signing anything", "epochs", n, "signing_from_epoch", dg.last+1)
	} else {
		s.log.Warn("doppelganger protection is off: if these keys run anywhere else, both clients may be slashed")
	}
	first := true
	var startEpoch phase0.Epoch
	for {
		if !s.waitUntil(ctx, s.slotStart(slot)) {
			break
		}
		if cur := s.currentSlot(); cur > slot+1 {
			s.log.Warn("slots skipped: the process was stalled", "from", slot, "to", cur)
			slot = cur
		}
		e := s.net.EpochOf(slot)
		if first || uint64(slot)%s.spec.slotsPerEpoch == 0 {
			if first {
				startEpoch = e
			}
			s.epochStart(work, &wg, e, first, dg.watching(e))
			first = false
		}
		if e > startEpoch && uint64(slot)%s.spec.slotsPerEpoch == summarySlot(s.spec.slotsPerEpoch) {
			s.summarize(e - 1)
		}
		if dg != nil {
			if err := s.checkLiveness(ctx, dg, e); err != nil {
				s.log.Warn("refusing to sign", "error", err)
				cancelEv()
				cancelWork() // nothing is being signed during the watch
				wg.Wait()
				return err
			}
			if dg.watching(e) {
				slot++
				continue
			}
			s.log.Info("doppelganger protection: no other instance seen; signing", "epoch", e)
			dg = nil
		}
		s.watchAddedKeys(work, e)
		slotCtx, cancel := context.WithDeadline(work, s.slotStart(slot+2))
		this := slot
		wg.Go(func() { defer cancel(); s.runSlot(slotCtx, this) })
		slot++
	}
	cancelEv()
	return s.drain(ctx, cancelWork, &wg)
}

// drain lets the duties in flight finish for the shutdown grace, then cancels them.
func (s *Service) drain(_ context.Context, cancelWork context.CancelFunc, wg *sync.WaitGroup) error {
	if s.o.grace == 0 {
		cancelWork()
	} else {
		t := time.AfterFunc(s.o.grace, cancelWork)
		defer t.Stop()
	}
	wg.Wait()
	s.log.Info("validator stopped")
	return nil
}

// summarySlot is the slot of an epoch, counted from its first, at whose start the previous
// epoch's summary is written: the second, since a slot's duties may run until the start of the
// slot after next (runSlot's deadline), so the last slot's are all reported by then.
func summarySlot(slotsPerEpoch uint64) uint64 { return min(2, slotsPerEpoch-1) }

// epochStart does the once-an-epoch work: duties of e (now) and e+1 (in the background),
// proposer preparation and builder registrations (not while doppelganger
// protection watches: this instance does not yet speak for its validators).
func (s *Service) epochStart(ctx context.Context, wg *sync.WaitGroup, e phase0.Epoch, first, watching bool) {
	if _, err := s.dutiesFor(ctx, e); err != nil {
		s.log.Warn("duties", "epoch", e, "error", err)
	}
	wg.Go(func() {
		if _, err := s.dutiesFor(ctx, e+1); err != nil {
			s.log.Warn("duties", "epoch", e+1, "error", err)
		}
	})
	s.mu.Lock()
	for slot := range s.heads {
		if s.net.EpochOf(slot)+1 < e {
			delete(s.heads, slot)
		}
	}
	for slot := range s.blinded {
		if s.net.EpochOf(slot)+1 < e {
			delete(s.blinded, slot)
		}
	}
	for ep := range s.duties {
		if ep+1 < e {
			delete(s.duties, ep)
		}
	}
	s.mu.Unlock()
	if watching {
		return
	}
	wg.Go(func() { s.prepareProposers(ctx) })
	wg.Go(func() { s.refreshStatuses(ctx) })
	if s.o.registrations {
		s.mu.Lock()
		stale := s.regsStale
		s.regsStale = false
		s.mu.Unlock()
		if stale {
			// SetProposerConfig changed fee recipients or gas limits.
			if err := s.signRegistrations(); err != nil {
				s.log.Warn("builder registrations", "error", err)
			}
		}
		wg.Go(func() { s.submitRegistrations(ctx) })
	}
}

// refetcher refetches the current and next epoch's duties when a head event showed their
// dependent root changed.
func (s *Service) refetcher(ctx, work context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-work.Done():
			return
		case <-s.refetch:
		}
		e := s.net.EpochOf(s.currentSlot())
		s.log.Info("dependent root changed: refetching duties", "epoch", e)
		for _, ep := range []phase0.Epoch{e, e + 1} {
			if _, err := s.fetchDuties(work, ep); err != nil {
				s.log.Warn("duties", "epoch", ep, "error", err)
			}
		}
	}
}
