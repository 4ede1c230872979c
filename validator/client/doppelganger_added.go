package client

import (
	"context"
	"errors"
	"os"
	"slices"

	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/validator/keys"
)

// Keys added while the client runs (the keymanager API's import) get the same doppelganger
// watch as the keys loaded at the start: the client signs nothing with them for the configured
// number of whole epochs after the one they were added in, and asks the beacon node's liveness
// endpoint about them; only then are they handed to the signer. A group seen live elsewhere is
// never used: its keystores are deleted again and the client says why. Without this, importing
// a key that still runs on the old machine (the common migration mistake) would be slashable
// at the next slot.

// watchedKeys are keys added together, waiting out their doppelganger watch.
type watchedKeys struct {
	dg      doppelganger
	keys    []*keys.Key
	pks     []phase0.BLSPubKey
	indices []phase0.ValidatorIndex // from the beacon node, once it knows them
	byIndex map[phase0.ValidatorIndex]phase0.BLSPubKey
}

// watchAddedKeys runs at every slot while the client signs: it judges the watched groups on the
// epochs the liveness endpoint covers and hands the groups whose watch is over to the signer.
func (s *Service) watchAddedKeys(ctx context.Context, cur phase0.Epoch) {
	s.km.mu.Lock()
	defer s.km.mu.Unlock()
	if !s.km.running || len(s.km.watched) == 0 {
		return
	}
	// This runs before the slot's duties: a slow beacon node must not hold them up.
	ctx, cancel := context.WithTimeout(ctx, s.spec.slotDuration/6)
	defer cancel()
	var keep []*watchedKeys
	for _, w := range s.km.watched {
		if len(w.pks) == 0 {
			continue // emptied by RemoveKeys
		}
		if w.indices == nil {
			resp, err := s.bn.Validators(ctx, &api.ValidatorsOpts{State: "head", PubKeys: w.pks})
			if err == nil {
				w.indices, w.byIndex = []phase0.ValidatorIndex{}, map[phase0.ValidatorIndex]phase0.BLSPubKey{}
				for idx, v := range resp.Data {
					if v.Validator != nil {
						w.indices = append(w.indices, idx)
						w.byIndex[idx] = v.Validator.PublicKey
					}
				}
			}
		}
		if len(w.indices) > 0 {
			if _, live := s.live(ctx, &w.dg, cur, w.indices); len(live) > 0 {
				// Only the keys seen live are dropped; the rest of the group goes on being watched.
				var pks []phase0.BLSPubKey
				for _, idx := range live {
					pks = append(pks, w.byIndex[idx])
				}
				s.log.Error("doppelganger: keys added through the keymanager API are live elsewhere; they will not sign here and their keystores are deleted",
					"epoch", cur, "validators", live)
				s.forget(pks)
				if len(w.pks) == 0 {
					continue
				}
			}
		}
		if w.dg.watching(cur) {
			keep = append(keep, w)
			continue
		}
		if err := s.sig.AddKeys(w.keys); err != nil {
			s.log.Error("added keys: cannot start signing with them", "error", err)
			s.forget(slices.Clone(w.pks))
			continue
		}
		s.mu.Lock()
		s.held = append(slices.Clone(s.held), w.pks...)
		s.regsStale = true
		s.mu.Unlock()
		s.addValidators(ctx, w.pks)
		s.log.Info("doppelganger protection: added keys not seen elsewhere; signing with them", "count", len(w.pks), "epoch", cur)
	}
	s.km.watched = keep
}

// forget drops pks for good (s.km.mu held): out of their watched groups, held no more,
// keystores deleted.
func (s *Service) forget(pks []phase0.BLSPubKey) {
	s.unwatch(pks)
	for _, pk := range pks {
		if k, ok := s.km.keys[pk]; ok && k.File != "" {
			if err := os.Remove(k.File); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.log.Warn("delete keystore", "file", k.File, "error", err)
			}
		}
		delete(s.km.keys, pk)
	}
}

// unwatch removes pks from the watched groups (RemoveKeys; s.km.mu held) and reports which
// were there. Emptied groups stay in the list (with no keys) until watchAddedKeys drops them.
func (s *Service) unwatch(pks []phase0.BLSPubKey) map[phase0.BLSPubKey]bool {
	out := map[phase0.BLSPubKey]bool{}
	for _, w := range s.km.watched {
		var ks []*keys.Key
		var rest []phase0.BLSPubKey
		for i, pk := range w.pks {
			if slices.Contains(pks, pk) {
				out[pk] = true
				w.keys[i].Secret.Zeroize()
				continue
			}
			ks, rest = append(ks, w.keys[i]), append(rest, pk)
		}
		if len(rest) != len(w.pks) {
			w.keys, w.pks = ks, rest
			w.indices = slices.DeleteFunc(w.indices, func(idx phase0.ValidatorIndex) bool { return out[w.byIndex[idx]] })
		}
	}
	return out
}
