package execution

import (
	"testing"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
)

// BenchmarkBlockHash hashes a payload of 200 transactions of 200 bytes and 16 withdrawals: what
// a relay or the beacon node pays per payload checked.
func BenchmarkBlockHash(b *testing.B) {
	txs := make([]bellatrix.Transaction, 200)
	for i := range txs {
		tx := make([]byte, 200)
		tx[0] = 0x02
		for j := 1; j < len(tx); j++ {
			tx[j] = byte(i*31 + j)
		}
		txs[i] = tx
	}
	ws := make([]*capella.Withdrawal, 16)
	for i := range ws {
		ws[i] = &capella.Withdrawal{Index: capella.WithdrawalIndex(1000 + i), ValidatorIndex: phase0.ValidatorIndex(i), Amount: 17_000}
	}
	p := &deneb.ExecutionPayload{
		BlockNumber:   1,
		GasLimit:      36_000_000,
		GasUsed:       200 * TxGas,
		Timestamp:     1,
		BaseFeePerGas: uint256.NewInt(7),
		Transactions:  txs,
		Withdrawals:   ws,
	}
	b.ReportAllocs()
	b.SetBytes(200 * 200)
	for b.Loop() {
		if _, err := BlockHash(p, phase0.Root{1}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransactionsRoot isolates the transactions trie of the same payload.
func BenchmarkTransactionsRoot(b *testing.B) {
	txs := make([]bellatrix.Transaction, 200)
	for i := range txs {
		txs[i] = make([]byte, 200)
		txs[i][0] = 0x02
		txs[i][1] = byte(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = TransactionsRoot(txs)
	}
}
