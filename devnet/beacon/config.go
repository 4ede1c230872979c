package beacon

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/devnet/beacon/consensus"
)

// DefaultMnemonic is the devnet's well-known mnemonic (the one test networks such as kurtosis
// use): its keys are public knowledge and must never hold value.
const DefaultMnemonic = "giant issue aisle success illegal bike spike question tent bar rely arctic volcano long crawl hungry vocal artwork sniff fantasy very lucky have athlete"

// DefaultKeystorePassword encrypts the devnet keystores. They are throwaway keys.
const DefaultKeystorePassword = "zkv-devnet-password"

// Fork versions of the devnet. Every fork up to Electra starts at genesis; Fulu at FuluEpoch.
var (
	GenesisForkVersion   = phase0.Version{0x10, 0x00, 0x00, 0x7a}
	AltairForkVersion    = phase0.Version{0x20, 0x00, 0x00, 0x7a}
	BellatrixForkVersion = phase0.Version{0x30, 0x00, 0x00, 0x7a}
	CapellaForkVersion   = phase0.Version{0x40, 0x00, 0x00, 0x7a}
	DenebForkVersion     = phase0.Version{0x50, 0x00, 0x00, 0x7a}
	ElectraForkVersion   = phase0.Version{0x60, 0x00, 0x00, 0x7a}
	FuluForkVersion      = phase0.Version{0x70, 0x00, 0x00, 0x7a}
)

// FarFutureEpoch is the spec's FAR_FUTURE_EPOCH.
const FarFutureEpoch = phase0.Epoch(1<<64 - 1)

// Config sets up a node. The zero value of every field but Validators has a working default.
type Config struct {
	// Validators is the size of the genesis validator set (at least one).
	Validators int
	// Mnemonic derives the validator keys (m/12381/3600/i/0/0); default DefaultMnemonic.
	Mnemonic string
	// Preset is consensus.Minimal (default: 8-slot epochs) or consensus.Mainnet.
	Preset consensus.Preset
	// SlotTime is SECONDS_PER_SLOT; default 2 s. Whole seconds, as the spec's config is.
	SlotTime time.Duration
	// GenesisTime; default: GenesisDelay after New has derived the keys, on a whole second.
	GenesisTime time.Time
	// GenesisDelay, when GenesisTime is zero, leaves clients time to start; default 0.
	GenesisDelay time.Duration
	// FuluEpoch schedules Fulu; nil leaves it unscheduled (FAR_FUTURE_EPOCH).
	FuluEpoch *phase0.Epoch
	// ShardCommitteePeriod is SHARD_COMMITTEE_PERIOD, the epochs a validator must be active before
	// it may exit; default the preset's (256 mainnet, 64 minimal).
	ShardCommitteePeriod uint64
	// BuilderURL is a builder-API endpoint (a relay, or mev-boost / zkv boost) asked for bids at
	// each proposal; empty proposes local payloads only.
	BuilderURL string
	// BuilderTimeout bounds getHeader; default 950 ms as mev-boost uses it.
	BuilderTimeout time.Duration
	// KeystoreDir, when set, receives the validators' EIP-2335 keystores (PBKDF2 with 2 rounds:
	// devnet-only, unsafe for real keys) and a password file.
	KeystoreDir string
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock; default time.Now. Tests that drive slots by hand replace it.
	Now func() time.Time
	// MaxBodyBytes caps a request body; default 16 MiB (a block with blobs fits).
	MaxBodyBytes int64

	// genesis, when set by this package's benchmarks, replaces key derivation.
	genesis *Genesis
}

func (c Config) withDefaults() (Config, error) {
	if c.Validators < 1 {
		return c, errors.New("beacon: at least one validator is needed")
	}
	if c.Validators > 1<<20 {
		return c, fmt.Errorf("beacon: %d validators is more than the devnet supports (%d)", c.Validators, 1<<20)
	}
	if c.Mnemonic == "" {
		c.Mnemonic = DefaultMnemonic
	}
	if c.Preset.Name == "" {
		c.Preset = consensus.Minimal
	}
	if c.SlotTime == 0 {
		c.SlotTime = 2 * time.Second
	}
	if c.SlotTime < time.Second || c.SlotTime%time.Second != 0 {
		return c, fmt.Errorf("beacon: slot time %v must be a whole number of seconds, at least 1", c.SlotTime)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ShardCommitteePeriod == 0 {
		c.ShardCommitteePeriod = 256
		if c.Preset.Name == consensus.Minimal.Name {
			c.ShardCommitteePeriod = 64
		}
	}
	if c.BuilderTimeout == 0 {
		c.BuilderTimeout = 950 * time.Millisecond
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 16 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
