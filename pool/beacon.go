package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/attestantio/go-eth2-client/api"
	eth2http "github.com/attestantio/go-eth2-client/http"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/rs/zerolog"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/prover"
)

// Beacon reads from a beacon node's standard Beacon API what a pool needs: the chain's clock
// and network (genesis, spec) and the validator set, through go-eth2-client, so any beacon
// node serves. It implements registry.ValidatorSet, with answers cached per epoch: a
// registration costs one request the first time a key is asked about in an epoch.
type Beacon struct {
	svc   *eth2http.Service
	clock Clock
	net   prover.Network

	mu    sync.Mutex
	epoch uint64
	cache map[[bls.PublicKeyLength]byte]validatorInfo
}

type validatorInfo struct {
	balance uint64
	active  bool
}

// NewBeacon connects to the beacon node at url and reads its genesis and spec.
func NewBeacon(ctx context.Context, url string, log *slog.Logger) (*Beacon, error) {
	if url == "" {
		return nil, errors.New("pool: no beacon node specified")
	}
	s, err := eth2http.New(ctx, eth2http.WithAddress(url), eth2http.WithLogLevel(zerolog.Disabled),
		eth2http.WithTimeout(30*time.Second))
	if err != nil {
		return nil, fmt.Errorf("beacon node %s: %w", url, err)
	}
	svc := s.(*eth2http.Service)
	g, err := svc.Genesis(ctx, &api.GenesisOpts{})
	if err != nil {
		return nil, fmt.Errorf("beacon node %s: genesis: %w", url, err)
	}
	sp, err := svc.Spec(ctx, &api.SpecOpts{})
	if err != nil {
		return nil, fmt.Errorf("beacon node %s: spec: %w", url, err)
	}
	b := &Beacon{svc: svc, cache: map[[bls.PublicKeyLength]byte]validatorInfo{}}
	b.clock.Genesis = g.Data.GenesisTime
	var ok bool
	if b.clock.SlotDuration, ok = sp.Data["SECONDS_PER_SLOT"].(time.Duration); !ok || b.clock.SlotDuration <= 0 {
		return nil, fmt.Errorf("beacon node %s: spec has no SECONDS_PER_SLOT", url)
	}
	if b.clock.SlotsPerEpoch, ok = sp.Data["SLOTS_PER_EPOCH"].(uint64); !ok || b.clock.SlotsPerEpoch == 0 {
		return nil, fmt.Errorf("beacon node %s: spec has no SLOTS_PER_EPOCH", url)
	}
	b.net = prover.Network{GenesisForkVersion: g.Data.GenesisForkVersion, GenesisValidatorsRoot: g.Data.GenesisValidatorsRoot}
	if log != nil {
		log.Info("beacon node", "url", url, "genesis", b.clock.Genesis, "slot", b.clock.SlotDuration, "slots_per_epoch", b.clock.SlotsPerEpoch)
	}
	return b, nil
}

// Clock returns the chain's clock.
func (b *Beacon) Clock() Clock { return b.clock }

// Network returns the chain's genesis fork version and genesis validators root.
func (b *Beacon) Network() prover.Network { return b.net }

// Validator implements registry.ValidatorSet from /eth/v1/beacon/states/head/validators:
// the key's effective balance and whether its status is active_*. A key the node does not
// know is (0, false, nil).
func (b *Beacon) Validator(pubkey [bls.PublicKeyLength]byte) (uint64, bool, error) {
	e, _ := b.clock.Epoch(time.Now())
	b.mu.Lock()
	if e != b.epoch {
		b.epoch, b.cache = e, map[[bls.PublicKeyLength]byte]validatorInfo{}
	}
	v, ok := b.cache[pubkey]
	b.mu.Unlock()
	if ok {
		return v.balance, v.active, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := b.svc.Validators(ctx, &api.ValidatorsOpts{State: "head", PubKeys: []phase0.BLSPubKey{pubkey}})
	if err != nil {
		return 0, false, fmt.Errorf("validator %#x: %w", pubkey[:8], err)
	}
	for _, val := range resp.Data {
		if val.Validator != nil && val.Validator.PublicKey == phase0.BLSPubKey(pubkey) {
			v = validatorInfo{balance: uint64(val.Validator.EffectiveBalance), active: val.Status.IsActive()}
			break
		}
	}
	b.mu.Lock()
	if b.epoch == e {
		b.cache[pubkey] = v
	}
	b.mu.Unlock()
	return v.balance, v.active, nil
}
