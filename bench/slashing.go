package bench

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/validator/slashing"
)

// epochKeys is the validator count of the slashing suite: an operator with 10,000 keys signs
// 10,000 attestations per epoch, each checked and recorded durably before it is signed.
const epochKeys = 10_000

// SlashingScenarios time EIP-3076 slashing protection on a real, synced badger database in a
// temporary directory: one epoch of attestations for 10,000 keys, submitted as one batch as
// the validator's attester does.
func SlashingScenarios() []Scenario {
	return []Scenario{{
		Name:        "slashing/epoch-10k",
		Description: "check and record one epoch of attestations for 10,000 keys (synced badger, batch)",
		Unit:        "epoch",
		Latency:     true,
		Setup: func(ctx context.Context, quick bool) (Prepared, error) {
			dir, err := os.MkdirTemp("", "zkv-bench-slashing-")
			if err != nil {
				return Prepared{}, err
			}
			d, err := db.Open(db.Config{Dir: dir})
			if err != nil {
				os.RemoveAll(dir)
				return Prepared{}, err
			}
			p, err := slashing.New(slashing.Config{DB: d})
			if err != nil {
				d.Close()
				os.RemoveAll(dir)
				return Prepared{}, err
			}
			runCtx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Go(func() { _ = p.Run(runCtx) }) // ends with runCtx; Close waits for it
			closeAll := func() {
				cancel()
				wg.Wait()
				d.Close()
				os.RemoveAll(dir)
			}
			reqs := make([]slashing.Attestation, epochKeys)
			epoch := uint64(0)
			op := func() error {
				// Each epoch's attestation for every key: source e, target e+1, a fresh root,
				// never slashable, so every request is written (EIP-3076: a new target).
				for i := range reqs {
					var pk slashing.Pubkey
					pk[0], pk[1], pk[2] = 0xa0, byte(i>>8), byte(i)
					reqs[i] = slashing.Attestation{Pubkey: pk, Source: epoch, Target: epoch + 1}
					reqs[i].SigningRoot[0], reqs[i].SigningRoot[1] = byte(epoch>>8), byte(epoch)
				}
				epoch++
				for i, err := range p.CheckAndRecordAttestations(ctx, reqs) {
					if err != nil {
						return fmt.Errorf("request %d: %w", i, err)
					}
				}
				return nil
			}
			return Prepared{Op: op, Items: 1, Close: closeAll}, nil
		},
	}}
}
