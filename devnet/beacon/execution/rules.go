package execution

import (
	"fmt"

	"github.com/holiman/uint256"
)

// Protocol constants of the rules a payload meets on top of its parent.
const (
	// GasLimitBoundDivisor bounds how far a block's gas limit may move from its parent's: by less
	// than parent/1024 (Yellow Paper eq. 47; go-ethereum params.GasLimitBoundDivisor).
	GasLimitBoundDivisor = 1024
	// MinGasLimit is the smallest gas limit a block may have (go-ethereum params.MinGasLimit).
	MinGasLimit = 5000
	// DefaultGasLimit is the gas-limit target when Config.GasLimit is zero: mainnet's since 2025.
	DefaultGasLimit = 36_000_000
	// InitialBaseFee is the genesis base fee, 1 gwei (EIP-1559 INITIAL_BASE_FEE).
	InitialBaseFee = 1_000_000_000
	// ElasticityMultiplier and BaseFeeChangeDenominator are EIP-1559's: the gas target is half
	// the limit and the base fee moves by at most 1/8 a block.
	ElasticityMultiplier     = 2
	BaseFeeChangeDenominator = 8
	// GasPerBlob is EIP-4844's blob gas per blob.
	GasPerBlob = 1 << 17
	// TargetBlobGasPerBlock and MaxBlobGasPerBlock are Prague's (EIP-7691: 6 and 9 blobs). The
	// devnet keeps them under Fulu too; it does not model Fulu's blob-parameter-only forks nor
	// EIP-7918's reserve price, which only matter once blobs push the excess above the target.
	TargetBlobGasPerBlock = 6 * GasPerBlob
	MaxBlobGasPerBlock    = 9 * GasPerBlob
	// MaxExtraDataBytes is the consensus specs' MAX_EXTRA_DATA_BYTES.
	MaxExtraDataBytes = 32
	// MaxWithdrawalsPerPayload is the consensus specs' MAX_WITHDRAWALS_PER_PAYLOAD.
	MaxWithdrawalsPerPayload = 16
	// TxGas is the intrinsic gas of the cheapest transaction (Yellow Paper G_transaction), so a
	// block of n transactions uses at least n*TxGas.
	TxGas = 21000
)

// NextGasLimit returns the gas limit of a block whose parent has parentGasLimit when the
// proposer's target is target: one step of at most parent/1024 - 1 toward the target (the
// largest step CheckGasLimit accepts), never below MinGasLimit. This is go-ethereum's
// CalcGasLimit, which builders and execution clients use for a registered gas limit.
func NextGasLimit(parentGasLimit, target uint64) uint64 {
	target = max(target, MinGasLimit)
	delta := parentGasLimit / GasLimitBoundDivisor
	if delta > 0 {
		delta-- // the bound is strict
	}
	switch {
	case parentGasLimit < target:
		return min(parentGasLimit+delta, target)
	case parentGasLimit > target:
		return max(parentGasLimit-delta, target)
	}
	return parentGasLimit
}

// CheckGasLimit reports whether gasLimit may follow parentGasLimit: it differs by less than
// parentGasLimit/1024 and is at least MinGasLimit (Yellow Paper eq. 47-49; EIP-1559 keeps the
// rule).
func CheckGasLimit(parentGasLimit, gasLimit uint64) error {
	diff := max(gasLimit, parentGasLimit) - min(gasLimit, parentGasLimit)
	if limit := parentGasLimit / GasLimitBoundDivisor; diff >= limit {
		return fmt.Errorf("%w: %d differs from the parent's %d by %d, must be less than %d",
			ErrGasLimit, gasLimit, parentGasLimit, diff, limit)
	}
	if gasLimit < MinGasLimit {
		return fmt.Errorf("%w: %d is below the minimum %d", ErrGasLimit, gasLimit, MinGasLimit)
	}
	return nil
}

// NextBaseFee returns the base fee per gas of a block whose parent had the given gas limit, gas
// used and base fee (EIP-1559): unchanged at the target (half the limit); above it up by
// base*(used-target)/target/8, at least 1 wei; below it down by base*(target-used)/target/8.
func NextBaseFee(parentGasLimit, parentGasUsed uint64, parentBaseFee *uint256.Int) *uint256.Int {
	base := new(uint256.Int)
	if parentBaseFee != nil {
		base.Set(parentBaseFee)
	}
	target := parentGasLimit / ElasticityMultiplier
	if parentGasUsed == target || target == 0 {
		return base
	}
	var diff uint64
	if parentGasUsed > target {
		diff = parentGasUsed - target
	} else {
		diff = target - parentGasUsed
	}
	// base*diff/target cannot overflow 512 bits; the quotient fits 256 since diff <= target
	// whenever used <= limit, and is clamped otherwise.
	delta, overflow := new(uint256.Int).MulDivOverflow(base, uint256.NewInt(diff), uint256.NewInt(target))
	if overflow {
		delta.SetAllOne()
	}
	delta.Div(delta, uint256.NewInt(BaseFeeChangeDenominator))
	if parentGasUsed > target {
		if delta.IsZero() {
			delta.SetOne() // at least 1 wei up
		}
		if sum, overflow := new(uint256.Int).AddOverflow(base, delta); !overflow {
			return sum
		}
		return new(uint256.Int).SetAllOne()
	}
	if delta.Gt(base) {
		return new(uint256.Int)
	}
	return base.Sub(base, delta)
}

// NextExcessBlobGas returns the excess blob gas of a block from its parent's excess and blob gas
// used (EIP-4844 calc_excess_blob_gas with Prague's target, EIP-7691).
func NextExcessBlobGas(parentExcessBlobGas, parentBlobGasUsed uint64) uint64 {
	sum := parentExcessBlobGas + parentBlobGasUsed
	if sum < parentExcessBlobGas {
		sum = ^uint64(0) // saturate: no checked parent gets here, but never wrap
	}
	if sum < TargetBlobGasPerBlock {
		return 0
	}
	return sum - TargetBlobGasPerBlock
}
