package pbs

import (
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	ssz "github.com/ferranbt/fastssz"
)

// Limits of the execution payload's lists (deneb/electra beacon-chain.md presets).
const (
	maxTransactionsPerPayload = 1 << 20
	maxBytesPerTransaction    = 1 << 30
	maxWithdrawalsPerPayload  = 16
)

type transactionsList []bellatrix.Transaction

// HashTreeRootWith is hash_tree_root(List[Transaction, MAX_TRANSACTIONS_PER_PAYLOAD]).
func (t transactionsList) HashTreeRootWith(hh ssz.HashWalker) error {
	if len(t) > maxTransactionsPerPayload {
		return fmt.Errorf("%d transactions, at most %d", len(t), maxTransactionsPerPayload)
	}
	idx := hh.Index()
	for _, tx := range t {
		if len(tx) > maxBytesPerTransaction {
			return fmt.Errorf("transaction of %d bytes, at most %d", len(tx), maxBytesPerTransaction)
		}
		e := hh.Index()
		hh.AppendBytes32(tx)
		hh.MerkleizeWithMixin(e, uint64(len(tx)), (maxBytesPerTransaction+31)/32)
	}
	hh.MerkleizeWithMixin(idx, uint64(len(t)), maxTransactionsPerPayload)
	return nil
}

type withdrawalsList []*capella.Withdrawal

// HashTreeRootWith is hash_tree_root(List[Withdrawal, MAX_WITHDRAWALS_PER_PAYLOAD]).
func (w withdrawalsList) HashTreeRootWith(hh ssz.HashWalker) error {
	if len(w) > maxWithdrawalsPerPayload {
		return fmt.Errorf("%d withdrawals, at most %d", len(w), maxWithdrawalsPerPayload)
	}
	idx := hh.Index()
	for i, x := range w {
		if x == nil {
			return fmt.Errorf("withdrawal %d is nil", i)
		}
		if err := x.HashTreeRootWith(hh); err != nil {
			return err
		}
	}
	hh.MerkleizeWithMixin(idx, uint64(len(w)), maxWithdrawalsPerPayload)
	return nil
}

// WithdrawalsRoot is hash_tree_root of a payload's withdrawals, as its header carries it.
func WithdrawalsRoot(ws []*capella.Withdrawal) ([32]byte, error) {
	return hashRoot(withdrawalsList(ws))
}

// hashRoot runs one list through a pooled hasher.
func hashRoot(v interface{ HashTreeRootWith(ssz.HashWalker) error }) ([32]byte, error) {
	hh := ssz.DefaultHasherPool.Get()
	defer ssz.DefaultHasherPool.Put(hh)
	if err := v.HashTreeRootWith(hh); err != nil {
		return [32]byte{}, err
	}
	return hh.HashRoot()
}

// HeaderOf is the execution payload header of a payload (deneb/electra beacon-chain.md
// process_execution_payload: the lists replaced by their hash tree roots). A header and its
// payload share their hash tree root.
func HeaderOf(p *deneb.ExecutionPayload) (*deneb.ExecutionPayloadHeader, error) {
	if p == nil || p.BaseFeePerGas == nil {
		return nil, fmt.Errorf("payload incomplete")
	}
	txRoot, err := hashRoot(transactionsList(p.Transactions))
	if err != nil {
		return nil, fmt.Errorf("transactions root: %w", err)
	}
	wRoot, err := WithdrawalsRoot(p.Withdrawals)
	if err != nil {
		return nil, fmt.Errorf("withdrawals root: %w", err)
	}
	h := &deneb.ExecutionPayloadHeader{
		ParentHash: p.ParentHash, FeeRecipient: p.FeeRecipient, StateRoot: p.StateRoot, ReceiptsRoot: p.ReceiptsRoot,
		LogsBloom: p.LogsBloom, PrevRandao: p.PrevRandao, BlockNumber: p.BlockNumber, GasLimit: p.GasLimit,
		GasUsed: p.GasUsed, Timestamp: p.Timestamp, ExtraData: p.ExtraData, BaseFeePerGas: p.BaseFeePerGas,
		BlockHash: p.BlockHash, TransactionsRoot: txRoot, WithdrawalsRoot: wRoot,
		BlobGasUsed: p.BlobGasUsed, ExcessBlobGas: p.ExcessBlobGas,
	}
	return h, nil
}
