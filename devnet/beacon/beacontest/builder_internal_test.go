package beacontest

import (
	"testing"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/holiman/uint256"
)

// payloadHeader's transactions and withdrawals roots must make the header's hash_tree_root the
// payload's, as go-eth2-client's generated SSZ code computes it; a bid whose header differs could
// never be unblinded. Payloads with and without transactions and withdrawals, and one changed
// after the header was taken (which must no longer match).
func TestPayloadHeaderRoot(t *testing.T) {
	base := func() *deneb.ExecutionPayload {
		return &deneb.ExecutionPayload{BaseFeePerGas: uint256.NewInt(7), ExtraData: []byte("x"),
			Transactions: []bellatrix.Transaction{}, Withdrawals: []*capella.Withdrawal{}}
	}
	full := base()
	full.Transactions = []bellatrix.Transaction{{0x02, 0x01}, make([]byte, 100)}
	for i := range 3 {
		full.Withdrawals = append(full.Withdrawals, &capella.Withdrawal{Index: capella.WithdrawalIndex(i), Amount: 5})
	}
	for name, p := range map[string]*deneb.ExecutionPayload{"empty": base(), "transactions and withdrawals": full} {
		h, err := payloadHeader(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		hr, _ := h.HashTreeRoot()
		pr, _ := p.HashTreeRoot()
		if hr != pr {
			t.Fatalf("%s: header root %#x, payload root %#x", name, hr, pr)
		}
		p.Transactions = append(p.Transactions, bellatrix.Transaction{0x01})
		if pr2, _ := p.HashTreeRoot(); pr2 == hr {
			t.Fatalf("%s: a changed payload keeps the header's root", name)
		}
	}
}
