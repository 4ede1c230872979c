package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"

	"github.com/zkvlabs/zkv/validator/keys"
)

// keystoreScryptN is the scrypt cost of the keys suite's keystores: 2^14, a sixteenth of the
// EIP-2335 default 2^18 (r=8, p=1), so a run takes seconds; decryption time scales linearly
// with n, so a real keystore costs 16 times the figure. Quick mode uses 2^12.
func keystoreScryptN(quick bool) uint64 {
	if quick {
		return 1 << 12
	}
	return 1 << 14
}

// KeysScenarios time loading a directory of EIP-2335 scrypt keystores with keys.LoadDir, which
// decrypts on every core (GOMAXPROCS workers): the start-up cost of a validator client.
func KeysScenarios() []Scenario {
	return []Scenario{{
		Name:        "keys/load-dir",
		Description: "decrypt a directory of scrypt keystores on GOMAXPROCS workers (keys.LoadDir)",
		Unit:        "keystore",
		Note: "scrypt n = 2^14 (2^12 in quick mode) instead of the EIP-2335 default 2^18; time is linear " +
			"in n, so a default keystore costs 16x (64x) the time per keystore shown",
		Setup: func(ctx context.Context, quick bool) (Prepared, error) {
			dir, err := os.MkdirTemp("", "zkv-bench-keys-")
			if err != nil {
				return Prepared{}, err
			}
			mnemonic, err := keys.NewMnemonic()
			if err != nil {
				os.RemoveAll(dir)
				return Prepared{}, err
			}
			// Four keystores per worker so that every core stays busy to the end.
			count := 4 * runtime.GOMAXPROCS(0)
			const password = "bench-password"
			if _, err := keys.Create(ctx, keys.CreateOptions{
				Dir: dir, Mnemonic: mnemonic, Count: count, Password: password,
				Encrypt: keys.EncryptOptions{ScryptN: keystoreScryptN(quick), Limits: keys.InsecureKDFLimits},
			}); err != nil {
				os.RemoveAll(dir)
				return Prepared{}, err
			}
			op := func() error {
				ks, err := keys.LoadDir(ctx, dir, keys.LoadOptions{Password: password, Limits: keys.InsecureKDFLimits})
				if err != nil {
					return err
				}
				if len(ks) != count {
					return fmt.Errorf("loaded %d keystores, want %d", len(ks), count)
				}
				return nil
			}
			return Prepared{Op: op, Items: count, Close: func() { os.RemoveAll(dir) }}, nil
		},
	}}
}
