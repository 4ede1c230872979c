package execution

import "errors"

// Errors of Chain.Check, Chain.Build and Chain.Import, one per field or rule, so a caller (the
// beacon node answering 400, the relay refusing a bid) can say which check failed. Each is wrapped
// with the values seen and expected; test with errors.Is.
var (
	// ErrParentHash: the payload's parent_hash is not the attributes' parent_block_hash.
	ErrParentHash = errors.New("parent_hash does not match the attributes")
	// ErrUnknownParent: the parent is not the chain's head (attributes or payload built on a
	// block the chain is not at).
	ErrUnknownParent = errors.New("parent_hash is not the chain head")
	// ErrBlockNumber: block_number is not the parent's plus one.
	ErrBlockNumber = errors.New("block_number is not parent + 1")
	// ErrTimestamp: timestamp differs from the attributes', or does not follow the parent's.
	ErrTimestamp = errors.New("timestamp invalid")
	// ErrPrevRandao: prev_randao differs from the attributes'.
	ErrPrevRandao = errors.New("prev_randao does not match the attributes")
	// ErrWithdrawals: the withdrawals differ from the attributes' (count, order or a field).
	ErrWithdrawals = errors.New("withdrawals do not match the attributes")
	// ErrExtraData: extra_data is longer than MAX_EXTRA_DATA_BYTES.
	ErrExtraData = errors.New("extra_data too long")
	// ErrGasLimit: gas_limit breaks the bound on its change from the parent, or the minimum.
	ErrGasLimit = errors.New("gas_limit out of bounds")
	// ErrGasUsed: gas_used exceeds gas_limit, or is impossible for the transactions.
	ErrGasUsed = errors.New("gas_used invalid")
	// ErrBaseFee: base_fee_per_gas is not the EIP-1559 value computed from the parent.
	ErrBaseFee = errors.New("base_fee_per_gas is not the EIP-1559 value")
	// ErrBlobGasUsed: blob_gas_used is not a multiple of GAS_PER_BLOB or exceeds the maximum.
	ErrBlobGasUsed = errors.New("blob_gas_used invalid")
	// ErrExcessBlobGas: excess_blob_gas is not the EIP-4844 value computed from the parent.
	ErrExcessBlobGas = errors.New("excess_blob_gas is not the EIP-4844 value")
	// ErrTransactions: a transaction is empty or has no valid EIP-2718 envelope byte.
	ErrTransactions = errors.New("transactions invalid")
	// ErrRequests: the execution requests cannot be encoded (nil entry, bad length).
	ErrRequests = errors.New("execution_requests invalid")
	// ErrBlockHash: block_hash is not the hash of the header the payload describes.
	ErrBlockHash = errors.New("block_hash does not match the payload")
	// ErrNotChecked: Import of a payload that neither Build made nor Check accepted.
	ErrNotChecked = errors.New("payload was not built or checked by this chain")
	// ErrInvalidConfig: NewChain was given a configuration it cannot run.
	ErrInvalidConfig = errors.New("invalid execution chain config")
	// ErrUnsupportedVersion: a payload_attributes event for a fork other than Electra or Fulu.
	ErrUnsupportedVersion = errors.New("unsupported payload attributes version")
)
