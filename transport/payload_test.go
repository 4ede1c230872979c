package transport

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
)

// executionPayload builds an SSZ-encoded Deneb/Electra execution payload whose transactions
// add up to at least txBytes. The transactions are RLP-encoded like mainnet's: EIP-1559
// ERC-20 transfers, plain ETH transfers, DEX swaps with ABI-encoded calldata, some larger
// contract calls, some legacy and blob transactions, a few access lists, each with a random
// signature. Addresses repeat the way they do on mainnet (a few popular contracts, many
// one-off senders and recipients). This is what the compression figures are measured on.
func executionPayload(tb testing.TB, txBytes int, seed uint64) []byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	g := &txGen{rng: rng}
	for range 20 {
		g.tokens = append(g.tokens, g.bytes(20))
	}
	for range 6 {
		g.routers = append(g.routers, g.bytes(20))
	}
	var txs []bellatrix.Transaction
	total := 0
	for total < txBytes {
		tx := g.tx()
		txs = append(txs, tx)
		total += len(tx)
	}
	p := &deneb.ExecutionPayload{
		BlockNumber:   21_000_000 + rng.Uint64N(1000),
		GasLimit:      36_000_000,
		GasUsed:       30_000_000 + rng.Uint64N(6_000_000),
		Timestamp:     1_740_000_000 + rng.Uint64N(1_000_000),
		ExtraData:     []byte("beaverbuild.org"),
		BaseFeePerGas: uint256.NewInt(3_000_000_000 + rng.Uint64N(1_000_000_000)),
		Transactions:  txs,
		BlobGasUsed:   6 * 131072,
		ExcessBlobGas: rng.Uint64N(1 << 24),
	}
	copy(p.ParentHash[:], g.bytes(32))
	copy(p.FeeRecipient[:], g.bytes(20))
	copy(p.StateRoot[:], g.bytes(32))
	copy(p.ReceiptsRoot[:], g.bytes(32))
	copy(p.PrevRandao[:], g.bytes(32))
	copy(p.BlockHash[:], g.bytes(32))
	// A full block's logs bloom has most bits set.
	for i := range p.LogsBloom {
		p.LogsBloom[i] = byte(rng.Uint32() | rng.Uint32())
	}
	for i := range 16 {
		w := &capella.Withdrawal{
			Index:          capella.WithdrawalIndex(80_000_000 + i),
			ValidatorIndex: phase0.ValidatorIndex(rng.Uint64N(1_100_000)),
			Amount:         phase0.Gwei(10_000_000 + rng.Uint64N(10_000_000)),
		}
		copy(w.Address[:], g.bytes(20))
		p.Withdrawals = append(p.Withdrawals, w)
	}
	b, err := p.MarshalSSZ()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

type txGen struct {
	rng     *rand.Rand
	tokens  [][]byte
	routers [][]byte
	nonce   uint64
}

func (g *txGen) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return b
}

// word returns a 32-byte ABI word holding a number of n random low bytes.
func (g *txGen) word(n int) []byte {
	w := make([]byte, 32)
	copy(w[32-n:], g.bytes(n))
	return w
}

func (g *txGen) addrWord(a []byte) []byte { return append(make([]byte, 12), a...) }

func (g *txGen) pick(set [][]byte) []byte { return set[g.rng.IntN(len(set))] }

func (g *txGen) tx() []byte {
	g.nonce++
	var to, data []byte
	value := uint64(0)
	switch r := g.rng.IntN(100); {
	case r < 35: // ERC-20 transfer(address,uint256)
		to = g.pick(g.tokens)
		data = append([]byte{0xa9, 0x05, 0x9c, 0xbb}, g.addrWord(g.bytes(20))...)
		data = append(data, g.word(6+g.rng.IntN(6))...)
	case r < 60: // ETH transfer
		to = g.bytes(20)
		value = g.rng.Uint64N(5e18)
	case r < 85: // DEX swap: amounts, a path of token addresses, recipient, deadline
		to = g.pick(g.routers)
		data = g.bytes(4)
		data = append(data, g.word(9)...)
		data = append(data, g.word(9)...)
		data = append(data, g.word(1)...) // offset of the path
		data = append(data, g.addrWord(g.bytes(20))...)
		data = append(data, g.word(4)...) // deadline
		hops := 2 + g.rng.IntN(3)
		data = append(data, g.word(1)...)
		for range hops {
			data = append(data, g.addrWord(g.pick(g.tokens))...)
		}
		if g.rng.IntN(3) == 0 { // multicall wrappers repeat the structure
			data = append(data, data[4:]...)
		}
	default: // larger contract call: MEV bots, bridges, mints; partly packed, partly ABI words
		to = g.bytes(20)
		data = g.bytes(4 + 200 + g.rng.IntN(1500))
		for range 4 + g.rng.IntN(12) {
			data = append(data, g.word(g.rng.IntN(20))...)
		}
	}
	r, s := g.bytes(32), g.bytes(32)
	switch k := g.rng.IntN(100); {
	case k < 6: // legacy, EIP-155
		return rlpList(rlpUint(g.nonce), rlpUint(20e9+g.rng.Uint64N(30e9)), rlpUint(21000+g.rng.Uint64N(400000)),
			rlpBytes(to), rlpUint(value), rlpBytes(data), rlpUint(37+g.rng.Uint64N(2)), rlpBytes(r), rlpBytes(s))
	case k < 9: // blob transaction (type 3): the payload carries the versioned hashes only
		var hashes [][]byte
		for range 1 + g.rng.IntN(6) {
			hashes = append(hashes, rlpBytes(append([]byte{0x01}, g.bytes(31)...)))
		}
		body := rlpList(rlpUint(1), rlpUint(g.nonce), rlpUint(1e9), rlpUint(30e9), rlpUint(21000),
			rlpBytes(to), rlpUint(0), rlpBytes(nil), rlpList(), rlpUint(1e9+g.rng.Uint64N(1e10)),
			rlpList(hashes...), rlpUint(g.rng.Uint64N(2)), rlpBytes(r), rlpBytes(s))
		return append([]byte{0x03}, body...)
	}
	access := rlpList()
	if g.rng.IntN(100) < 8 {
		var keys [][]byte
		for range 1 + g.rng.IntN(4) {
			keys = append(keys, rlpBytes(g.word(1+g.rng.IntN(3))))
		}
		access = rlpList(rlpList(rlpBytes(g.pick(g.tokens)), rlpList(keys...)))
	}
	body := rlpList(rlpUint(1), rlpUint(g.nonce), rlpUint(1e8+g.rng.Uint64N(3e9)), rlpUint(5e9+g.rng.Uint64N(40e9)),
		rlpUint(21000+g.rng.Uint64N(600000)), rlpBytes(to), rlpUint(value), rlpBytes(data), access,
		rlpUint(g.rng.Uint64N(2)), rlpBytes(r), rlpBytes(s))
	return append([]byte{0x02}, body...)
}

func rlpUint(x uint64) []byte {
	if x == 0 {
		return []byte{0x80}
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], x)
	i := 0
	for b[i] == 0 {
		i++
	}
	return rlpBytes(b[i:])
}

func rlpBytes(b []byte) []byte {
	if len(b) == 1 && b[0] < 0x80 {
		return []byte{b[0]}
	}
	return append(rlpHeader(0x80, len(b)), b...)
}

func rlpList(items ...[]byte) []byte {
	n := 0
	for _, it := range items {
		n += len(it)
	}
	out := rlpHeader(0xc0, n)
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

func rlpHeader(base byte, n int) []byte {
	if n < 56 {
		return []byte{base + byte(n)}
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	i := 0
	for b[i] == 0 {
		i++
	}
	return append([]byte{base + 55 + byte(8-i)}, b[i:]...)
}

func TestExecutionPayloadShape(t *testing.T) {
	b := executionPayload(t, 350_000, 1)
	var p deneb.ExecutionPayload
	if err := p.UnmarshalSSZ(b); err != nil {
		t.Fatalf("generated payload is not valid SSZ: %v", err)
	}
	if len(p.Transactions) < 300 || len(b) < 350_000 {
		t.Fatalf("%d transactions in %d bytes: too small to stand for a full block", len(p.Transactions), len(b))
	}
	for i, tx := range p.Transactions {
		if tx[0] != 0x02 && tx[0] != 0x03 && tx[0] < 0xc0 {
			t.Fatalf("transaction %d starts with %#x: neither typed nor an RLP list", i, tx[0])
		}
	}
}
