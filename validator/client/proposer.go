package client

import (
	"fmt"
	"math/big"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/validator/propconfig"
)

// WithProposerConfig sets per-validator proposer settings (fee recipient, gas limit, graffiti,
// builder on or off, boost factor, minimum bid); a field the config leaves unset keeps the value
// of WithFeeRecipient, WithGasLimit, WithGraffiti or WithBuilderBoostFactor. Run refuses a config
// with a section for a key it did not load.
func WithProposerConfig(c *propconfig.Config) Option {
	return func(o *options) { o.proposerConfig = c }
}

// proposerSettings are one validator's effective settings.
type proposerSettings struct {
	feeRecipient bellatrix.ExecutionAddress
	gasLimit     uint64
	graffiti     [32]byte
	builder      bool
	boost        *uint64  // nil: the beacon node's default
	minBid       *big.Int // nil: any builder payload
}

// settingsFor resolves pk's settings: its section, the config's default, then the options.
func (s *Service) settingsFor(pk phase0.BLSPubKey) proposerSettings {
	ps := proposerSettings{feeRecipient: s.o.feeRecipient, gasLimit: s.o.gasLimit, graffiti: s.o.graffiti,
		builder: true, boost: s.o.boost}
	s.mu.Lock()
	c := s.prop
	s.mu.Unlock()
	if c == nil {
		s.applyOverride(pk, &ps)
		return ps
	}
	v := c.For(pk)
	if v.FeeRecipient != nil {
		ps.feeRecipient = *v.FeeRecipient
	}
	if v.GasLimit != nil {
		ps.gasLimit = *v.GasLimit
	}
	if v.Graffiti != nil {
		ps.graffiti = *v.Graffiti
	}
	if v.BuilderEnabled != nil {
		ps.builder = *v.BuilderEnabled
	}
	if v.BoostFactor != nil {
		ps.boost = v.BoostFactor
	}
	ps.minBid = v.MinBid
	s.applyOverride(pk, &ps)
	if !ps.builder {
		// Beacon API produceBlockV3: builder_boost_factor 0 asks for a local payload.
		ps.boost = new(uint64)
	}
	return ps
}

// SetProposerConfig replaces the proposer config (nil: the options alone), for example when
// the file was edited. A config with a section for a key the client did not load is refused and
// the previous one kept. Once Run has loaded the keys, the next epoch's builder registrations
// are signed again with the new fee recipients and gas limits. It is safe to call at any time,
// from any goroutine.
func (s *Service) SetProposerConfig(c *propconfig.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c != nil && s.held != nil {
		if err := c.Check(s.held); err != nil {
			return err
		}
	}
	s.prop = c
	s.regsStale = true
	return nil
}

// holdKeys records the loaded keys and checks the config set with WithProposerConfig against them.
func (s *Service) holdKeys(held []phase0.BLSPubKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = held
	if s.prop != nil {
		if err := s.prop.Check(held); err != nil {
			return fmt.Errorf("--proposer-config: %w", err)
		}
	}
	return nil
}
