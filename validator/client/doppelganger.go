package client

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// DefaultDoppelgangerEpochs is how many whole epochs the client watches before it signs.
const DefaultDoppelgangerEpochs = 2

// ErrDoppelganger: the beacon node saw one of this client's validators active while this client
// was not signing: the keys run somewhere else too, and signing here could be slashed. Returned
// by Run wrapped in a *DoppelgangerError.
var ErrDoppelganger = errors.New("doppelganger detected")

// DoppelgangerError names the validators seen live elsewhere. It matches ErrDoppelganger.
type DoppelgangerError struct {
	Epoch   phase0.Epoch
	Indices []phase0.ValidatorIndex
}

func (e *DoppelgangerError) Error() string {
	return fmt.Sprintf("doppelganger detected: validators %v were live in epoch %d while this client signed nothing; "+
		"the same keys run elsewhere: stop the other client (or this one) before anything is slashed", e.Indices, e.Epoch)
}

// Is makes errors.Is(err, ErrDoppelganger) true.
func (e *DoppelgangerError) Is(target error) bool { return target == ErrDoppelganger }

// doppelganger is the watch at start: the client signs nothing from epoch start through epoch
// last, and asks the beacon node's liveness endpoint about every epoch after start up to the
// current one. Epoch start itself is not judged: this client may have signed in it before a
// restart, and its own messages must not look like a doppelganger's.
type doppelganger struct {
	start, last phase0.Epoch
}

// watching reports whether epoch e is still inside the watch (no signing).
func (d *doppelganger) watching(e phase0.Epoch) bool { return d != nil && e <= d.last }

// checkLiveness asks about the client's validators (see live).
func (s *Service) checkLiveness(ctx context.Context, d *doppelganger, cur phase0.Epoch) error {
	_, indices := s.validatorSet()
	if e, live := s.live(ctx, d, cur, indices); len(live) > 0 {
		return &DoppelgangerError{Epoch: e, Indices: live}
	}
	return nil
}

// live asks the liveness endpoint about indices for the epochs after d's start, up to its last,
// among the previous and current epoch of cur (the Beacon API's liveness covers those two), and
// returns the first epoch in which some were live, with them. Not knowing is not a
// doppelganger: the watch goes on, and the epoch is asked again at the next slot.
func (s *Service) live(ctx context.Context, d *doppelganger, cur phase0.Epoch, indices []phase0.ValidatorIndex) (phase0.Epoch, []phase0.ValidatorIndex) {
	epochs := []phase0.Epoch{cur}
	if cur > 0 {
		epochs = []phase0.Epoch{cur - 1, cur}
	}
	for _, e := range epochs {
		if e <= d.start || e > d.last {
			continue
		}
		resp, err := s.bn.ValidatorLiveness(ctx, &api.ValidatorLivenessOpts{Epoch: e, Indices: indices})
		if err != nil {
			s.log.Warn("doppelganger check: liveness unknown", "epoch", e, "error", err)
			continue
		}
		var live []phase0.ValidatorIndex
		for _, l := range resp.Data {
			if l.IsLive && slices.Contains(indices, l.Index) {
				live = append(live, l.Index)
			}
		}
		if len(live) > 0 {
			slices.Sort(live)
			return e, slices.Compact(live)
		}
	}
	return 0, nil
}
