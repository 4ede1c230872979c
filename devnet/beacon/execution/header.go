package execution

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
)

// emptyOmmersHash is keccak256(RLP([])): post-merge headers carry no ommers (EIP-3675).
var emptyOmmersHash = keccak256([]byte{0xc0})

// emptyRequestsHash is the EIP-7685 requests hash of a block without requests: sha256 of nothing.
var emptyRequestsHash = sha256.Sum256(nil)

// EIP-7685 request types of Prague (EIP-6110 deposits, EIP-7002 withdrawals, EIP-7251
// consolidations), as the consensus specs' get_execution_requests_list prefixes them.
const (
	depositRequestType       = 0x00
	withdrawalRequestType    = 0x01
	consolidationRequestType = 0x02
)

// ErrInvalidPayload is returned by BlockHash for a payload that cannot be hashed (nil, or no base
// fee).
var ErrInvalidPayload = errors.New("invalid execution payload")

// header is an execution block header. The fields after BaseFee were added by later forks
// (Shanghai, Cancun, Prague) and are encoded only when set, so that older real blocks can be
// checked against their hash too; a Prague header sets them all.
type header struct {
	ParentHash       [32]byte
	Coinbase         [20]byte
	StateRoot        [32]byte
	TxRoot           [32]byte
	ReceiptsRoot     [32]byte
	Bloom            [256]byte
	Number           uint64
	GasLimit         uint64
	GasUsed          uint64
	Time             uint64
	Extra            []byte
	MixDigest        [32]byte // prev_randao since the merge (EIP-4399)
	BaseFee          *uint256.Int
	WithdrawalsRoot  *[32]byte // Shanghai, EIP-4895
	BlobGasUsed      *uint64   // Cancun, EIP-4844
	ExcessBlobGas    *uint64   // Cancun, EIP-4844
	ParentBeaconRoot *[32]byte // Cancun, EIP-4788
	RequestsHash     *[32]byte // Prague, EIP-7685
}

// encode returns RLP(header) in the field order of the Yellow Paper extended by each fork:
// parentHash, ommersHash, coinbase, stateRoot, transactionsRoot, receiptsRoot, logsBloom,
// difficulty (0 since the merge), number, gasLimit, gasUsed, timestamp, extraData, mixHash,
// nonce (8 zero bytes since the merge), baseFeePerGas, withdrawalsRoot, blobGasUsed,
// excessBlobGas, parentBeaconBlockRoot, requestsHash.
func (h *header) encode() []byte {
	p := make([]byte, 0, 640)
	p = rlpAppendString(p, h.ParentHash[:])
	p = rlpAppendString(p, emptyOmmersHash[:])
	p = rlpAppendString(p, h.Coinbase[:])
	p = rlpAppendString(p, h.StateRoot[:])
	p = rlpAppendString(p, h.TxRoot[:])
	p = rlpAppendString(p, h.ReceiptsRoot[:])
	p = rlpAppendString(p, h.Bloom[:])
	p = rlpAppendUint(p, 0) // difficulty
	p = rlpAppendUint(p, h.Number)
	p = rlpAppendUint(p, h.GasLimit)
	p = rlpAppendUint(p, h.GasUsed)
	p = rlpAppendUint(p, h.Time)
	p = rlpAppendString(p, h.Extra)
	p = rlpAppendString(p, h.MixDigest[:])
	p = rlpAppendString(p, make([]byte, 8)) // nonce
	p = rlpAppendUint256(p, h.BaseFee)
	if h.WithdrawalsRoot != nil {
		p = rlpAppendString(p, h.WithdrawalsRoot[:])
	}
	if h.BlobGasUsed != nil {
		p = rlpAppendUint(p, *h.BlobGasUsed)
	}
	if h.ExcessBlobGas != nil {
		p = rlpAppendUint(p, *h.ExcessBlobGas)
	}
	if h.ParentBeaconRoot != nil {
		p = rlpAppendString(p, h.ParentBeaconRoot[:])
	}
	if h.RequestsHash != nil {
		p = rlpAppendString(p, h.RequestsHash[:])
	}
	return rlpAppendList(make([]byte, 0, rlpHeaderLen(len(p))+len(p)), p)
}

// hash is the block hash: keccak256(RLP(header)).
func (h *header) hash() phase0.Hash32 {
	return phase0.Hash32(keccak256(h.encode()))
}

// pragueHeader is the header of payload p under a Prague (Electra/Fulu) beacon block whose parent
// is parentBeaconBlockRoot and whose execution requests hash to requestsHash.
func pragueHeader(p *deneb.ExecutionPayload, parentBeaconBlockRoot phase0.Root, requestsHash [32]byte) (*header, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil", ErrInvalidPayload)
	}
	if p.BaseFeePerGas == nil {
		return nil, fmt.Errorf("%w: no base_fee_per_gas", ErrInvalidPayload)
	}
	wr := WithdrawalsRoot(p.Withdrawals)
	blobGasUsed, excessBlobGas := p.BlobGasUsed, p.ExcessBlobGas
	pbr := [32]byte(parentBeaconBlockRoot)
	return &header{
		ParentHash:       p.ParentHash,
		Coinbase:         p.FeeRecipient,
		StateRoot:        p.StateRoot,
		TxRoot:           TransactionsRoot(p.Transactions),
		ReceiptsRoot:     p.ReceiptsRoot,
		Bloom:            p.LogsBloom,
		Number:           p.BlockNumber,
		GasLimit:         p.GasLimit,
		GasUsed:          p.GasUsed,
		Time:             p.Timestamp,
		Extra:            p.ExtraData,
		MixDigest:        p.PrevRandao,
		BaseFee:          p.BaseFeePerGas,
		WithdrawalsRoot:  &wr,
		BlobGasUsed:      &blobGasUsed,
		ExcessBlobGas:    &excessBlobGas,
		ParentBeaconRoot: &pbr,
		RequestsHash:     &requestsHash,
	}, nil
}

// BlockHash returns the execution block hash of payload p carried by an Electra or Fulu beacon
// block whose parent_root is parentBeaconBlockRoot and whose body holds requests: keccak256 of the
// RLP-encoded Prague header built from the payload (EIP-7685 requests hash included). A nil
// requests is the same as no requests. It ignores p.BlockHash, so the caller compares.
func BlockHash(p *deneb.ExecutionPayload, parentBeaconBlockRoot phase0.Root, requests *electra.ExecutionRequests) (phase0.Hash32, error) {
	rh, err := RequestsHash(requests)
	if err != nil {
		return phase0.Hash32{}, err
	}
	h, err := pragueHeader(p, parentBeaconBlockRoot, rh)
	if err != nil {
		return phase0.Hash32{}, err
	}
	return h.hash(), nil
}

// TransactionsRoot returns the header's transactionsRoot: the root of the trie mapping RLP(i) to
// the i-th transaction's bytes as they appear in the payload (the EIP-2718 typed envelope, or the
// RLP list of a legacy transaction), which is what go-ethereum's DeriveSha stores. An empty
// transaction cannot be in a trie (an empty value means absent); it is stored as the RLP empty
// string so that the root stays defined, and Check refuses such a payload.
func TransactionsRoot(txs []bellatrix.Transaction) [32]byte {
	return listRoot(len(txs), func(i int) []byte {
		if len(txs[i]) == 0 {
			return []byte{0x80}
		}
		return txs[i]
	})
}

// WithdrawalsRoot returns the header's withdrawalsRoot (EIP-4895): the root of the trie mapping
// RLP(i) to RLP([index, validator_index, address, amount in gwei]) of the i-th withdrawal. A nil
// entry counts as a zero withdrawal.
func WithdrawalsRoot(ws []*capella.Withdrawal) [32]byte {
	buf := make([]byte, 0, 64)
	return listRoot(len(ws), func(i int) []byte {
		w := ws[i]
		if w == nil {
			w = &capella.Withdrawal{}
		}
		buf = buf[:0]
		buf = rlpAppendUint(buf, uint64(w.Index))
		buf = rlpAppendUint(buf, uint64(w.ValidatorIndex))
		buf = rlpAppendString(buf, w.Address[:])
		buf = rlpAppendUint(buf, uint64(w.Amount))
		return rlpAppendList(nil, buf)
	})
}

// RequestsHash returns the header's requestsHash (EIP-7685): sha256 over sha256(type || data) of
// each request type whose data is not empty, where data is the concatenated SSZ encoding of that
// type's requests (consensus specs, electra get_execution_requests_list). No requests (or nil)
// gives sha256 of nothing. It fails on a request that cannot be SSZ-encoded (a nil entry, a
// withdrawal_credentials that is not 32 bytes).
func RequestsHash(r *electra.ExecutionRequests) ([32]byte, error) {
	if r == nil {
		return emptyRequestsHash, nil
	}
	outer := sha256.New()
	add := func(typ byte, name string, n int, item func(i int) (sszMarshaler, bool)) error {
		if n == 0 {
			return nil
		}
		data := []byte{typ}
		for i := range n {
			m, ok := item(i)
			if !ok {
				return fmt.Errorf("requests hash: %s[%d] is nil", name, i)
			}
			var err error
			if data, err = m.MarshalSSZTo(data); err != nil {
				return fmt.Errorf("requests hash: %s[%d]: %w", name, i, err)
			}
		}
		inner := sha256.Sum256(data)
		outer.Write(inner[:])
		return nil
	}
	if err := add(depositRequestType, "deposits", len(r.Deposits), func(i int) (sszMarshaler, bool) {
		return r.Deposits[i], r.Deposits[i] != nil
	}); err != nil {
		return [32]byte{}, err
	}
	if err := add(withdrawalRequestType, "withdrawals", len(r.Withdrawals), func(i int) (sszMarshaler, bool) {
		return r.Withdrawals[i], r.Withdrawals[i] != nil
	}); err != nil {
		return [32]byte{}, err
	}
	if err := add(consolidationRequestType, "consolidations", len(r.Consolidations), func(i int) (sszMarshaler, bool) {
		return r.Consolidations[i], r.Consolidations[i] != nil
	}); err != nil {
		return [32]byte{}, err
	}
	var out [32]byte
	outer.Sum(out[:0])
	return out, nil
}

type sszMarshaler interface {
	MarshalSSZTo(dst []byte) ([]byte, error)
}
