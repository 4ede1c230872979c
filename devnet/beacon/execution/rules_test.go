package execution

import (
	"errors"
	"testing"

	"github.com/holiman/uint256"
)

// TestNextBaseFeeVectors checks NextBaseFee against rows of ethereumjs's EIP-1559 base-fee
// vectors (ethereumjs-monorepo packages/block/test/testdata/eip1559baseFee.json, commit 36cd6908),
// computed independently of this package; the parent's gas limit is twice its target.
func TestNextBaseFeeVectors(t *testing.T) {
	rows := []struct{ parentBaseFee, parentGasUsed, parentTarget, want uint64 }{
		{1000000000, 10000000, 5000000, 1125000000},
		{1000000000, 10000000, 6000000, 1083333333},
		{1000000000, 10000000, 9000000, 1013888888},
		{1000000000, 7000000, 8000000, 984375000},
		{1100000000, 9000000, 7000000, 1139285714},
		{1086250000, 9000000, 8000000, 1103222656},
		{1072671875, 9000000, 6000000, 1139713867},
		{1059263476, 10001000, 7000000, 1116028649},
		{1059276716, 16000000, 9000000, 1162261952},
		{1049238967, 0, 1000000, 918084097},
		{1049238967, 0, 9000000, 918084097},
		{1049238967, 10000000, 8000000, 1082027684},
		{0, 10000000, 9000000, 1},
		{1, 10000000, 9000000, 2},
		{2, 10000000, 9000000, 3},
		{7, 10000000, 5000000, 8},
	}
	for _, r := range rows {
		got := NextBaseFee(2*r.parentTarget, r.parentGasUsed, uint256.NewInt(r.parentBaseFee))
		if got.Uint64() != r.want || !got.IsUint64() {
			t.Errorf("base %d, used %d, target %d: %v, want %d", r.parentBaseFee, r.parentGasUsed, r.parentTarget, got, r.want)
		}
	}
}

func TestNextBaseFeeEdges(t *testing.T) {
	const limit = 36_000_000
	cases := []struct {
		name       string
		used, base uint64
		want       uint64
	}{
		{"at target: unchanged", limit / 2, 1_000_000_000, 1_000_000_000},
		{"full block: +1/8", limit, 1_000_000_000, 1_125_000_000},
		{"empty block: -1/8", 0, 1_000_000_000, 875_000_000},
		{"one gas over target: at least +1", limit/2 + 1, 7, 8},
		{"one gas over target, 1 gwei: rounds down", limit/2 + 1, 1_000_000_000, 1_000_000_006},
		{"one gas under target: rounds to no change", limit/2 - 1, 7, 7},
		{"7 wei empty: floor keeps 7", 0, 7, 7},
		{"8 wei empty: 7", 0, 8, 7},
		{"0 wei at target", limit / 2, 0, 0},
	}
	for _, c := range cases {
		if got := NextBaseFee(limit, c.used, uint256.NewInt(c.base)); got.Uint64() != c.want {
			t.Errorf("%s: %v, want %d", c.name, got, c.want)
		}
	}
	// The parent's base fee is not modified.
	parent := uint256.NewInt(1000)
	_ = NextBaseFee(limit, 0, parent)
	if parent.Uint64() != 1000 {
		t.Error("NextBaseFee modified its argument")
	}
	// Overflowing values saturate instead of wrapping.
	huge := new(uint256.Int).SetAllOne()
	if got := NextBaseFee(limit, limit, huge); !got.Eq(huge) {
		t.Errorf("max base fee, full block: %v", got)
	}
}

func TestGasLimitRule(t *testing.T) {
	const parent = 36_000_000
	const bound = parent / GasLimitBoundDivisor // 35,156
	cases := []struct {
		gasLimit uint64
		ok       bool
	}{
		{parent, true},
		{parent + bound - 1, true},
		{parent - bound + 1, true},
		{parent + bound, false},
		{parent - bound, false},
		{parent + 10*bound, false},
	}
	for _, c := range cases {
		err := CheckGasLimit(parent, c.gasLimit)
		if c.ok && err != nil {
			t.Errorf("%d after %d: %v", c.gasLimit, parent, err)
		}
		if !c.ok && !errors.Is(err, ErrGasLimit) {
			t.Errorf("%d after %d: %v, want ErrGasLimit", c.gasLimit, parent, err)
		}
	}
	// The minimum holds even within the bound (reachable only from a parent under it).
	if err := CheckGasLimit(4096, 4097); !errors.Is(err, ErrGasLimit) {
		t.Errorf("4097 after 4096: %v, want ErrGasLimit", err)
	}
	if err := CheckGasLimit(5120, 5116); err != nil {
		t.Errorf("5116 after 5120: %v", err)
	}

	// NextGasLimit takes the largest step CheckGasLimit allows, and stops on the target.
	steps := []struct{ parent, target, want uint64 }{
		{parent, parent, parent},
		{parent, 60_000_000, parent + bound - 1},
		{parent, 1, parent - bound + 1},
		{parent, parent + 10, parent + 10},
		{parent, parent - 10, parent - 10},
		{6000, 0, 6000 - (6000/1024 - 1)},
		{5001, 0, 5000}, // the target is raised to the minimum
	}
	for _, s := range steps {
		got := NextGasLimit(s.parent, s.target)
		if got != s.want {
			t.Errorf("NextGasLimit(%d, %d) = %d, want %d", s.parent, s.target, got, s.want)
		}
		if err := CheckGasLimit(s.parent, got); err != nil {
			t.Errorf("NextGasLimit(%d, %d) = %d breaks the rule: %v", s.parent, s.target, got, err)
		}
	}
}

func TestNextExcessBlobGas(t *testing.T) {
	cases := []struct{ excess, used, want uint64 }{
		{0, 0, 0},
		{0, TargetBlobGasPerBlock - GasPerBlob, 0},
		{0, TargetBlobGasPerBlock, 0},
		{0, MaxBlobGasPerBlock, MaxBlobGasPerBlock - TargetBlobGasPerBlock},
		{GasPerBlob, TargetBlobGasPerBlock, GasPerBlob},
		{10 * GasPerBlob, 0, 4 * GasPerBlob},
		{^uint64(0), GasPerBlob, ^uint64(0) - TargetBlobGasPerBlock}, // saturates, no wrap
	}
	for _, c := range cases {
		if got := NextExcessBlobGas(c.excess, c.used); got != c.want {
			t.Errorf("NextExcessBlobGas(%d, %d) = %d, want %d", c.excess, c.used, got, c.want)
		}
	}
}
