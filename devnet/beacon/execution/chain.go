package execution

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
)

// Attributes is what a proposer's payload must be built on (engine API PayloadAttributesV3 and
// the parent), and what the payload_attributes event carries.
type Attributes struct {
	Slot                  phase0.Slot
	ProposerIndex         phase0.ValidatorIndex
	ParentBlockRoot       phase0.Root   // the beacon parent (parent_beacon_block_root)
	ParentBlockHash       phase0.Hash32 // the execution parent
	ParentBlockNumber     uint64
	Timestamp             uint64
	PrevRandao            [32]byte
	SuggestedFeeRecipient bellatrix.ExecutionAddress
	Withdrawals           []*capella.Withdrawal
}

// Config configures a Chain. The zero value works: a chain at genesis time 0 with a 36M gas
// limit and no withdrawals.
type Config struct {
	// GenesisTime is the genesis block's timestamp (the beacon genesis time).
	GenesisTime uint64
	// GasLimit is the gas-limit target local payloads move toward (default 36,000,000).
	GasLimit uint64
	// GenesisGasLimit is the genesis block's gas limit (default GasLimit).
	GenesisGasLimit uint64
	// ChainID distinguishes devnets: it goes into the genesis state root, hence every hash.
	ChainID uint64
	// WithdrawalsPerBlock is how many withdrawals Withdrawals produces a block (0 to 16,
	// default 0: none). When set, WithdrawalValidators must be too.
	WithdrawalsPerBlock int
	// WithdrawalValidators is the number of validators the withdrawal sweep walks over.
	WithdrawalValidators uint64
}

// retainedBlocks is how many accepted payloads a Chain keeps for lookup by hash; older ones are
// dropped (a devnet's relay and builders only look near the head).
const retainedBlocks = 1024

// verified is what Import needs to recompute the hash of a payload Build made or Check
// accepted: the two hash inputs that are not in the payload.
type verified struct {
	number           uint64
	parentBeaconRoot phase0.Root
	requestsHash     [32]byte
	value            *uint256.Int
}

// Chain is the execution chain of the devnet: its head (hash, number, timestamp, gas limit, base
// fee) and the payloads it has accepted. It only ever extends its head (the devnet has no
// reorgs). Safe for concurrent use.
//
// Errors, each wrapped with the values involved (test with errors.Is): Build may return
// ErrUnknownParent, ErrBlockNumber, ErrTimestamp, ErrWithdrawals, ErrGasUsed, ErrTransactions;
// Check any of ErrInvalidPayload, ErrParentHash, ErrUnknownParent, ErrBlockNumber, ErrTimestamp,
// ErrPrevRandao, ErrWithdrawals, ErrExtraData, ErrGasLimit, ErrGasUsed, ErrBaseFee,
// ErrBlobGasUsed, ErrExcessBlobGas, ErrTransactions, ErrRequests, ErrBlockHash; Import
// ErrInvalidPayload, ErrUnknownParent, ErrBlockNumber, ErrNotChecked, ErrBlockHash.
type Chain struct {
	cfg     Config
	genesis *deneb.ExecutionPayload

	mu       sync.RWMutex
	head     *deneb.ExecutionPayload
	blocks   map[phase0.Hash32]*deneb.ExecutionPayload
	order    []phase0.Hash32 // accepted hashes, oldest first, at most retainedBlocks
	verified map[phase0.Hash32]verified
	// nextWithdrawalIndex and nextWithdrawalValidator mirror the beacon state's
	// next_withdrawal_index and next_withdrawal_validator_index for Withdrawals.
	nextWithdrawalIndex     capella.WithdrawalIndex
	nextWithdrawalValidator phase0.ValidatorIndex
}

// NewChain returns the chain at its genesis block: number 0, timestamp GenesisTime, gas limit
// GenesisGasLimit, base fee 1 gwei, no transactions, withdrawals or requests, a zero parent beacon
// block root (as execution clients hash a genesis with Cancun and Prague active) and a state root
// derived from ChainID. Its hash is computed like any other block's.
func NewChain(cfg Config) (*Chain, error) {
	if cfg.GasLimit == 0 {
		cfg.GasLimit = DefaultGasLimit
	}
	if cfg.GenesisGasLimit == 0 {
		cfg.GenesisGasLimit = cfg.GasLimit
	}
	switch {
	case cfg.GasLimit < MinGasLimit:
		return nil, fmt.Errorf("%w: gas limit %d below the minimum %d", ErrInvalidConfig, cfg.GasLimit, MinGasLimit)
	case cfg.GenesisGasLimit < MinGasLimit:
		return nil, fmt.Errorf("%w: genesis gas limit %d below the minimum %d", ErrInvalidConfig, cfg.GenesisGasLimit, MinGasLimit)
	case cfg.WithdrawalsPerBlock < 0 || cfg.WithdrawalsPerBlock > MaxWithdrawalsPerPayload:
		return nil, fmt.Errorf("%w: %d withdrawals per block, want 0 to %d", ErrInvalidConfig, cfg.WithdrawalsPerBlock, MaxWithdrawalsPerPayload)
	case cfg.WithdrawalsPerBlock > 0 && cfg.WithdrawalValidators == 0:
		return nil, fmt.Errorf("%w: withdrawals per block set without withdrawal validators", ErrInvalidConfig)
	}
	var chainID [8]byte
	binary.BigEndian.PutUint64(chainID[:], cfg.ChainID)
	g := &deneb.ExecutionPayload{
		StateRoot:     keccak256([]byte("zkv devnet genesis state"), chainID[:]),
		ReceiptsRoot:  emptyTrieRoot,
		GasLimit:      cfg.GenesisGasLimit,
		Timestamp:     cfg.GenesisTime,
		ExtraData:     []byte{},
		BaseFeePerGas: uint256.NewInt(InitialBaseFee),
		Transactions:  []bellatrix.Transaction{},
		Withdrawals:   []*capella.Withdrawal{},
	}
	h, err := pragueHeader(g, phase0.Root{}, emptyRequestsHash)
	if err != nil {
		return nil, err
	}
	g.BlockHash = h.hash()
	c := &Chain{
		cfg:      cfg,
		genesis:  g,
		head:     g,
		blocks:   map[phase0.Hash32]*deneb.ExecutionPayload{g.BlockHash: g},
		order:    []phase0.Hash32{g.BlockHash},
		verified: map[phase0.Hash32]verified{},
	}
	return c, nil
}

// Genesis returns the genesis block as a payload (for the beacon genesis state's
// latest_execution_payload_header). The caller must not modify it.
func (c *Chain) Genesis() *deneb.ExecutionPayload { return c.genesis }

// Head returns the hash and number of the chain's head.
func (c *Chain) Head() (hash phase0.Hash32, number uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.head.BlockHash, c.head.BlockNumber
}

// HeadPayload returns the head block. The caller must not modify it.
func (c *Chain) HeadPayload() *deneb.ExecutionPayload {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.head
}

// Payload returns an accepted block by hash, if it is among the last 1024. The caller must not
// modify it.
func (c *Chain) Payload(hash phase0.Hash32) (*deneb.ExecutionPayload, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, ok := c.blocks[hash]
	return p, ok
}

// Value returns the proposer's reward in wei given to Build for the payload with this hash, while
// that payload is not yet imported or superseded (the value of a local block for the
// Eth-Execution-Payload-Value header of produceBlockV3).
func (c *Chain) Value(hash phase0.Hash32) (*uint256.Int, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.verified[hash]
	if !ok || v.value == nil {
		return nil, false
	}
	return new(uint256.Int).Set(v.value), true
}

// Withdrawals returns the withdrawals a block on top of the current head carries, whatever slot
// it is for (slot is accepted so callers need not change if that ever matters). With
// Config.WithdrawalsPerBlock zero (the default) there are none. Otherwise the devnet simulates the
// consensus specs' partial-withdrawal sweep (capella get_expected_withdrawals) deterministically:
// WithdrawalsPerBlock withdrawals, indices consecutive from the state's next_withdrawal_index,
// validators consecutive (mod WithdrawalValidators) from next_withdrawal_validator_index, each of
// 1,000,000 + validator_index gwei to an address derived from the validator index. Import
// advances both indices as process_withdrawals does: next_withdrawal_index to the last index + 1,
// next_withdrawal_validator_index past the last validator when the payload is full, else by
// WithdrawalsPerBlock (the devnet's sweep bound). The beacon node must treat them as the
// state's expected withdrawals. A missed slot repeats them, as in the spec.
func (c *Chain) Withdrawals(slot phase0.Slot) []*capella.Withdrawal {
	_ = slot
	c.mu.RLock()
	defer c.mu.RUnlock()
	ws := make([]*capella.Withdrawal, 0, c.cfg.WithdrawalsPerBlock)
	for i := range c.cfg.WithdrawalsPerBlock {
		v := (uint64(c.nextWithdrawalValidator) + uint64(i)) % c.cfg.WithdrawalValidators
		var idx [8]byte
		binary.BigEndian.PutUint64(idx[:], v)
		addr := keccak256([]byte("zkv devnet withdrawal address"), idx[:])
		ws = append(ws, &capella.Withdrawal{
			Index:          c.nextWithdrawalIndex + capella.WithdrawalIndex(i),
			ValidatorIndex: phase0.ValidatorIndex(v),
			Address:        bellatrix.ExecutionAddress(addr[12:]),
			Amount:         phase0.Gwei(1_000_000 + v),
		})
	}
	return ws
}

// NextAttributes returns the attributes of a payload for slot on top of the current head, with
// the head as execution parent and the withdrawals of Withdrawals. The beacon node supplies what
// the beacon state decides: proposer, beacon parent, timestamp, randao mix and fee recipient.
func (c *Chain) NextAttributes(slot phase0.Slot, proposer phase0.ValidatorIndex, parentBlockRoot phase0.Root,
	timestamp uint64, prevRandao [32]byte, feeRecipient bellatrix.ExecutionAddress,
) Attributes {
	ws := c.Withdrawals(slot)
	hash, number := c.Head()
	return Attributes{
		Slot:                  slot,
		ProposerIndex:         proposer,
		ParentBlockRoot:       parentBlockRoot,
		ParentBlockHash:       hash,
		ParentBlockNumber:     number,
		Timestamp:             timestamp,
		PrevRandao:            prevRandao,
		SuggestedFeeRecipient: feeRecipient,
		Withdrawals:           ws,
	}
}

// Build makes the local payload for attrs, with no transactions or the given opaque ones using
// gasUsed gas (0 for an empty block): fee recipient, timestamp, prev_randao and withdrawals from
// attrs, the gas limit one step toward Config.GasLimit (NextGasLimit), the EIP-1559 base fee
// (NextBaseFee), the EIP-4844 excess blob gas, no blob gas used, empty execution requests and the
// hash from BlockHash. The state root, and the receipts root of a block with transactions, are
// stand-ins (this chain executes nothing). value is the proposer's reward in wei (nil means 0),
// kept for Value. The payload is recorded as checked, so Import accepts it as it is.
func (c *Chain) Build(attrs Attributes, txs []bellatrix.Transaction, gasUsed uint64, value *uint256.Int) (*deneb.ExecutionPayload, *electra.ExecutionRequests, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	parent := c.head
	if attrs.ParentBlockHash != parent.BlockHash {
		return nil, nil, fmt.Errorf("build: %w: attributes parent %#x, head %#x", ErrUnknownParent, attrs.ParentBlockHash, parent.BlockHash)
	}
	if attrs.ParentBlockNumber != parent.BlockNumber {
		return nil, nil, fmt.Errorf("build: %w: attributes parent number %d, head %d", ErrBlockNumber, attrs.ParentBlockNumber, parent.BlockNumber)
	}
	if attrs.Timestamp <= parent.Timestamp {
		return nil, nil, fmt.Errorf("build: %w: %d does not follow the parent's %d", ErrTimestamp, attrs.Timestamp, parent.Timestamp)
	}
	if len(attrs.Withdrawals) > MaxWithdrawalsPerPayload {
		return nil, nil, fmt.Errorf("build: %w: %d withdrawals, at most %d", ErrWithdrawals, len(attrs.Withdrawals), MaxWithdrawalsPerPayload)
	}
	gasLimit := NextGasLimit(parent.GasLimit, c.cfg.GasLimit)
	if err := checkTransactions(txs, gasUsed, gasLimit); err != nil {
		return nil, nil, fmt.Errorf("build: %w", err)
	}
	ws := make([]*capella.Withdrawal, len(attrs.Withdrawals))
	for i, w := range attrs.Withdrawals {
		if w == nil {
			return nil, nil, fmt.Errorf("build: %w: withdrawal %d is nil", ErrWithdrawals, i)
		}
		cp := *w
		ws[i] = &cp
	}
	txsCopy := make([]bellatrix.Transaction, len(txs))
	for i, tx := range txs {
		txsCopy[i] = bytes.Clone(tx)
	}
	txRoot := TransactionsRoot(txsCopy)
	wRoot := WithdrawalsRoot(ws)
	receiptsRoot := emptyTrieRoot
	if len(txs) > 0 {
		var used [8]byte
		binary.BigEndian.PutUint64(used[:], gasUsed)
		receiptsRoot = keccak256([]byte("zkv devnet receipts"), txRoot[:], used[:])
	}
	p := &deneb.ExecutionPayload{
		ParentHash:    parent.BlockHash,
		FeeRecipient:  attrs.SuggestedFeeRecipient,
		StateRoot:     keccak256([]byte("zkv devnet state"), parent.StateRoot[:], txRoot[:], wRoot[:]),
		ReceiptsRoot:  receiptsRoot,
		PrevRandao:    attrs.PrevRandao,
		BlockNumber:   parent.BlockNumber + 1,
		GasLimit:      gasLimit,
		GasUsed:       gasUsed,
		Timestamp:     attrs.Timestamp,
		ExtraData:     []byte("zkv devnet"),
		BaseFeePerGas: NextBaseFee(parent.GasLimit, parent.GasUsed, parent.BaseFeePerGas),
		Transactions:  txsCopy,
		Withdrawals:   ws,
		BlobGasUsed:   0,
		ExcessBlobGas: NextExcessBlobGas(parent.ExcessBlobGas, parent.BlobGasUsed),
	}
	requests := &electra.ExecutionRequests{
		Deposits:       []*electra.DepositRequest{},
		Withdrawals:    []*electra.WithdrawalRequest{},
		Consolidations: []*electra.ConsolidationRequest{},
	}
	h, err := pragueHeader(p, attrs.ParentBlockRoot, emptyRequestsHash)
	if err != nil {
		return nil, nil, fmt.Errorf("build: %w", err)
	}
	p.BlockHash = h.hash()
	v := new(uint256.Int)
	if value != nil {
		v.Set(value)
	}
	c.verified[p.BlockHash] = verified{
		number:           p.BlockNumber,
		parentBeaconRoot: attrs.ParentBlockRoot,
		requestsHash:     emptyRequestsHash,
		value:            v,
	}
	return p, requests, nil
}

// Check verifies a payload (built by anyone: a builder too) against attrs and the chain: the
// parent is the head and the attributes' parent, the block number follows it, timestamp,
// prev_randao and withdrawals are the attributes', extra_data fits, the gas limit keeps the
// bound, gas used fits the limit and the transactions, the base fee and excess blob gas follow
// the parent, blob gas used is whole blobs within the maximum, every transaction has an EIP-2718
// envelope, the requests encode, and BlockHash of the payload is payload.BlockHash. The fee
// recipient is not checked: a builder's payload pays the builder. Neither are the state root,
// receipts root and logs bloom, which need execution. A nil requests means none.
//
// The first failure is returned, wrapping the sentinel that names its field.
func (c *Chain) Check(attrs Attributes, p *deneb.ExecutionPayload, requests *electra.ExecutionRequests) error {
	if p == nil {
		return fmt.Errorf("check: %w: nil", ErrInvalidPayload)
	}
	c.mu.RLock()
	parent := c.head
	c.mu.RUnlock()
	if err := checkAgainst(parent, attrs, p); err != nil {
		return fmt.Errorf("check payload %#x: %w", p.BlockHash, err)
	}
	rh, err := RequestsHash(requests)
	if err != nil {
		return fmt.Errorf("check payload %#x: %w: %w", p.BlockHash, ErrRequests, err)
	}
	h, err := pragueHeader(p, attrs.ParentBlockRoot, rh)
	if err != nil {
		return fmt.Errorf("check payload %#x: %w", p.BlockHash, err)
	}
	if got := h.hash(); got != p.BlockHash {
		return fmt.Errorf("check payload: %w: payload says %#x, header hashes to %#x", ErrBlockHash, p.BlockHash, got)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.head != parent {
		// The head moved while hashing: the payload no longer builds on it.
		return fmt.Errorf("check payload %#x: %w: head moved to %#x", p.BlockHash, ErrUnknownParent, c.head.BlockHash)
	}
	prev := c.verified[p.BlockHash]
	c.verified[p.BlockHash] = verified{
		number:           p.BlockNumber,
		parentBeaconRoot: attrs.ParentBlockRoot,
		requestsHash:     rh,
		value:            prev.value,
	}
	return nil
}

// checkAgainst applies the rules that need only the parent, the attributes and the payload.
func checkAgainst(parent *deneb.ExecutionPayload, attrs Attributes, p *deneb.ExecutionPayload) error {
	if p.ParentHash != attrs.ParentBlockHash {
		return fmt.Errorf("%w: payload %#x, attributes %#x", ErrParentHash, p.ParentHash, attrs.ParentBlockHash)
	}
	if p.ParentHash != parent.BlockHash {
		return fmt.Errorf("%w: %#x, head %#x", ErrUnknownParent, p.ParentHash, parent.BlockHash)
	}
	if attrs.ParentBlockNumber != parent.BlockNumber {
		return fmt.Errorf("%w: attributes parent number %d, head %d", ErrBlockNumber, attrs.ParentBlockNumber, parent.BlockNumber)
	}
	if p.BlockNumber != parent.BlockNumber+1 {
		return fmt.Errorf("%w: %d, want %d", ErrBlockNumber, p.BlockNumber, parent.BlockNumber+1)
	}
	if p.Timestamp != attrs.Timestamp {
		return fmt.Errorf("%w: payload %d, attributes %d", ErrTimestamp, p.Timestamp, attrs.Timestamp)
	}
	if p.Timestamp <= parent.Timestamp {
		return fmt.Errorf("%w: %d does not follow the parent's %d", ErrTimestamp, p.Timestamp, parent.Timestamp)
	}
	if p.PrevRandao != attrs.PrevRandao {
		return fmt.Errorf("%w: payload %#x, attributes %#x", ErrPrevRandao, p.PrevRandao, attrs.PrevRandao)
	}
	if err := sameWithdrawals(p.Withdrawals, attrs.Withdrawals); err != nil {
		return err
	}
	if len(p.ExtraData) > MaxExtraDataBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrExtraData, len(p.ExtraData), MaxExtraDataBytes)
	}
	if err := CheckGasLimit(parent.GasLimit, p.GasLimit); err != nil {
		return err
	}
	if err := checkTransactions(p.Transactions, p.GasUsed, p.GasLimit); err != nil {
		return err
	}
	want := NextBaseFee(parent.GasLimit, parent.GasUsed, parent.BaseFeePerGas)
	if p.BaseFeePerGas == nil || !p.BaseFeePerGas.Eq(want) {
		return fmt.Errorf("%w: %v, want %v", ErrBaseFee, p.BaseFeePerGas, want)
	}
	if p.BlobGasUsed%GasPerBlob != 0 || p.BlobGasUsed > MaxBlobGasPerBlock {
		return fmt.Errorf("%w: %d, want a multiple of %d up to %d", ErrBlobGasUsed, p.BlobGasUsed, GasPerBlob, MaxBlobGasPerBlock)
	}
	if want := NextExcessBlobGas(parent.ExcessBlobGas, parent.BlobGasUsed); p.ExcessBlobGas != want {
		return fmt.Errorf("%w: %d, want %d", ErrExcessBlobGas, p.ExcessBlobGas, want)
	}
	return nil
}

// sameWithdrawals reports whether a payload carries exactly the attributes' withdrawals (consensus
// specs, capella process_withdrawals: the payload's list must equal get_expected_withdrawals).
func sameWithdrawals(got, want []*capella.Withdrawal) error {
	if len(got) != len(want) {
		return fmt.Errorf("%w: %d withdrawals, attributes have %d", ErrWithdrawals, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		switch {
		case g == nil || w == nil:
			return fmt.Errorf("%w: withdrawal %d is nil", ErrWithdrawals, i)
		case g.Index != w.Index:
			return fmt.Errorf("%w: withdrawal %d: index %d, want %d", ErrWithdrawals, i, g.Index, w.Index)
		case g.ValidatorIndex != w.ValidatorIndex:
			return fmt.Errorf("%w: withdrawal %d: validator_index %d, want %d", ErrWithdrawals, i, g.ValidatorIndex, w.ValidatorIndex)
		case g.Address != w.Address:
			return fmt.Errorf("%w: withdrawal %d: address %#x, want %#x", ErrWithdrawals, i, g.Address, w.Address)
		case g.Amount != w.Amount:
			return fmt.Errorf("%w: withdrawal %d: amount %d, want %d", ErrWithdrawals, i, g.Amount, w.Amount)
		}
	}
	return nil
}

// checkTransactions checks what can be checked of opaque transactions: each has an EIP-2718
// envelope (a type byte 0x00-0x7f, or a legacy RLP list 0xc0-0xff), gas used fits the limit, is 0
// for no transactions and at least TxGas a transaction.
func checkTransactions(txs []bellatrix.Transaction, gasUsed, gasLimit uint64) error {
	for i, tx := range txs {
		if len(tx) == 0 {
			return fmt.Errorf("%w: transaction %d is empty", ErrTransactions, i)
		}
		if b := tx[0]; b >= 0x80 && b < 0xc0 {
			return fmt.Errorf("%w: transaction %d starts with %#x, neither a type nor a list", ErrTransactions, i, b)
		}
	}
	if gasUsed > gasLimit {
		return fmt.Errorf("%w: %d exceeds gas_limit %d", ErrGasUsed, gasUsed, gasLimit)
	}
	if len(txs) == 0 && gasUsed != 0 {
		return fmt.Errorf("%w: %d with no transactions, want 0", ErrGasUsed, gasUsed)
	}
	if minGas := uint64(len(txs)) * TxGas; gasUsed < minGas {
		return fmt.Errorf("%w: %d for %d transactions, at least %d", ErrGasUsed, gasUsed, len(txs), minGas)
	}
	return nil
}

// Import makes a payload the new head, after the beacon block carrying it was accepted. The
// payload must extend the head and be one Build made or Check accepted, unchanged since (its hash
// is recomputed with the parent beacon root and requests Check saw). It advances the withdrawal
// indices Withdrawals uses. The chain keeps p; the caller must not modify it afterwards.
func (c *Chain) Import(p *deneb.ExecutionPayload) error {
	if p == nil {
		return fmt.Errorf("import: %w: nil", ErrInvalidPayload)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.ParentHash != c.head.BlockHash {
		return fmt.Errorf("import %#x: %w: parent %#x, head %#x", p.BlockHash, ErrUnknownParent, p.ParentHash, c.head.BlockHash)
	}
	if p.BlockNumber != c.head.BlockNumber+1 {
		return fmt.Errorf("import %#x: %w: %d, want %d", p.BlockHash, ErrBlockNumber, p.BlockNumber, c.head.BlockNumber+1)
	}
	v, ok := c.verified[p.BlockHash]
	if !ok {
		return fmt.Errorf("import %#x: %w", p.BlockHash, ErrNotChecked)
	}
	h, err := pragueHeader(p, v.parentBeaconRoot, v.requestsHash)
	if err != nil {
		return fmt.Errorf("import %#x: %w", p.BlockHash, err)
	}
	if got := h.hash(); got != p.BlockHash {
		return fmt.Errorf("import: %w: payload says %#x, header hashes to %#x (changed since Check?)", ErrBlockHash, p.BlockHash, got)
	}
	c.head = p
	c.blocks[p.BlockHash] = p
	c.order = append(c.order, p.BlockHash)
	if len(c.order) > retainedBlocks {
		delete(c.blocks, c.order[0])
		c.order = c.order[1:]
	}
	for hash, e := range c.verified {
		if e.number <= p.BlockNumber {
			delete(c.verified, hash)
		}
	}
	// Consensus specs, capella process_withdrawals (with the devnet's sweep bound).
	if n := len(p.Withdrawals); n > 0 {
		last := p.Withdrawals[n-1]
		c.nextWithdrawalIndex = last.Index + 1
		if c.cfg.WithdrawalValidators > 0 {
			if n == MaxWithdrawalsPerPayload {
				c.nextWithdrawalValidator = phase0.ValidatorIndex((uint64(last.ValidatorIndex) + 1) % c.cfg.WithdrawalValidators)
			} else {
				c.nextWithdrawalValidator = phase0.ValidatorIndex((uint64(c.nextWithdrawalValidator) + uint64(c.cfg.WithdrawalsPerBlock)) % c.cfg.WithdrawalValidators)
			}
		}
	}
	return nil
}
