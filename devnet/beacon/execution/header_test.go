package execution

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

func mustHex32(t testing.TB, s string) [32]byte {
	t.Helper()
	b := mustHex(t, s)
	if len(b) != 32 {
		t.Fatalf("hex %q: %d bytes, want 32", s, len(b))
	}
	return [32]byte(b)
}

func TestEmptyRoots(t *testing.T) {
	// Yellow Paper appendix D / go-ethereum types.EmptyRootHash: keccak256(RLP("")).
	const emptyRoot = "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
	for name, got := range map[string][32]byte{
		"transactions nil":   TransactionsRoot(nil),
		"transactions empty": TransactionsRoot([]bellatrix.Transaction{}),
		"withdrawals nil":    WithdrawalsRoot(nil),
		"withdrawals empty":  WithdrawalsRoot([]*capella.Withdrawal{}),
	} {
		if hex.EncodeToString(got[:]) != emptyRoot {
			t.Errorf("%s: root %x, want %s", name, got, emptyRoot)
		}
	}
	// go-ethereum types.EmptyUncleHash: keccak256(RLP([])).
	if got := hex.EncodeToString(emptyOmmersHash[:]); got != "1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347" {
		t.Errorf("ommers hash %s", got)
	}
	// EIP-7685: a block without requests has requests_hash = sha256(b"").
	for name, r := range map[string]*electra.ExecutionRequests{"nil": nil, "empty": {}} {
		got, err := RequestsHash(r)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got[:]) != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
			t.Errorf("requests hash (%s) %x", name, got)
		}
	}
}

// TestMainnetPragueBlockHash recomputes the hash of Ethereum mainnet block 24,630,100 (0x177d354,
// timestamp 0x69b09d6b, after Prague) from its header fields. Source: the eth_getBlockByNumber
// JSON in the test "test_block" of github.com/sergey-melnychuk/yevm, yevm-core/src/call.rs
// (commit 9f5f05e9); its transactions array was edited to hold a transaction of another block, so
// only the header fields, which carry their own hash, are used here. A header encoder that got
// any field, its order or its RLP wrong would not reproduce the keccak256.
func TestMainnetPragueBlockHash(t *testing.T) {
	baseFee := uint256.NewInt(0x246edf3)
	wr := mustHex32(t, "0x76abcbef0846a5bd065d0207581dacc3cf8df4ec2ba0a8e4d4fbbe97864b82ee")
	pbr := mustHex32(t, "0xd9b957562f8477151f61eddc77bcad7451ef62eab8f4fe470402073a794e8bba")
	rh := mustHex32(t, "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	blobGasUsed, excessBlobGas := uint64(0x40000), uint64(0xa2a720e)
	h := header{
		ParentHash:       mustHex32(t, "0x63ce16602b2afe4089fa8e0a2c16be1a2dea1c4d30b65bd717d9398ddd5fba23"),
		Coinbase:         [20]byte(mustHex(t, "0xdadb0d80178819f2319190d340ce9a924f783711")),
		StateRoot:        mustHex32(t, "0x41ebb402f36d0ce15799e98d1aca83bbb5d4b08d1b6572e73b388e4ece192916"),
		TxRoot:           mustHex32(t, "0x3b889eb9fa0713d2e1d9e90725d45fd04ec4a550a7a390639c243c5f3b2c6215"),
		ReceiptsRoot:     mustHex32(t, "0x52fc280ab6b1db61781dae4cc5f81b7ddd484eae78320bdd8161d5b2fe8e7719"),
		Bloom:            [256]byte(mustHex(t, "0xfffffef97ffdf7dfb75fbbfeffffdfffffbeefffffbbffff6ffffdffbffffaf9df7fff7f7fff6ffbffffdfdffbffffff76fffffcbf7ffbfffffeefffffff7df7bffffffdefffff8fdfdf7f7ceffdffff7ff77affe7ef5ff5fbfff57ff7eeadfffffffabfff7bdffbbfbffcfffdefffeffefffffffff5fffefdffdffbffffdfdffbffe7fffffffffdffebf7e37fdfe977f7fbdfefdffddffffffffff5f97ffffdfbffdf7fffffbff9feff77afffefffeef77ffff7fff6fffeffd77ffffeefefdb7bffffff7f7ffdfbff7ffffffffefdffdffddffffffefffffffefdfbf7fdffef7fffff3bdf7fff6cefffdfffdf7ffffeffbfbffffdafffdfbf7efdbeffff7fff")),
		Number:           0x177d354,
		GasLimit:         0x3938700,
		GasUsed:          0x1a4ed69,
		Time:             0x69b09d6b,
		Extra:            mustHex(t, "0x4275696c6465724e6574202842656176657229"), // "BuilderNet (Beaver)"
		MixDigest:        mustHex32(t, "0xf824cbc0bffaa4862fffafa96c2cce90898dda8b97fc3eaa6a85ac38075991e5"),
		BaseFee:          baseFee,
		WithdrawalsRoot:  &wr,
		BlobGasUsed:      &blobGasUsed,
		ExcessBlobGas:    &excessBlobGas,
		ParentBeaconRoot: &pbr,
		RequestsHash:     &rh,
	}
	const want = "6c4c6ea047f0ca4bcb0b0fbbcc2e50061d8dd24ba1ab8a22a6d3583a497c3c82"
	if got := h.hash(); hex.EncodeToString(got[:]) != want {
		t.Fatalf("mainnet block 24630100: hash %x, want %s", got, want)
	}
	// Any field changed changes the hash: the test is not blind to a field.
	h.RequestsHash = nil
	if got := h.hash(); hex.EncodeToString(got[:]) == want {
		t.Fatal("hash unchanged without requestsHash")
	}
}

// goerliBlock is a real Goerli block of the Deneb fork, slot 7470051, execution block 10,429,037,
// with 115 transactions (blob transactions among them) and 16 withdrawals. Source:
// flashbots/mev-boost-relay testdata/signedBeaconBlockContentsDeneb_Goerli.json.gz (commit
// 7781f99d), of which testdata/goerli_deneb_slot7470051.json.gz keeps the beacon block's
// parent_root and execution_payload unchanged.
type goerliBlock struct {
	Source           string                  `json:"source"`
	ParentRoot       string                  `json:"parent_root"`
	ExecutionPayload *deneb.ExecutionPayload `json:"execution_payload"`
}

func loadGoerliBlock(t testing.TB) (*deneb.ExecutionPayload, phase0.Root) {
	t.Helper()
	f, err := os.Open("testdata/goerli_deneb_slot7470051.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var b goerliBlock
	if err := json.NewDecoder(zr).Decode(&b); err != nil {
		t.Fatal(err)
	}
	return b.ExecutionPayload, phase0.Root(mustHex32(t, b.ParentRoot))
}

// TestGoerliDenebBlockHash rebuilds the Cancun header of a real block from its beacon-chain
// execution payload: the transactions root (115 raw transactions) and the withdrawals root (16
// withdrawals) are computed here, and the header they go into must hash to the block_hash the
// execution client produced. That is a known answer for both list-trie roots.
func TestGoerliDenebBlockHash(t *testing.T) {
	p, parentRoot := loadGoerliBlock(t)
	if len(p.Transactions) != 115 || len(p.Withdrawals) != 16 {
		t.Fatalf("fixture: %d transactions, %d withdrawals", len(p.Transactions), len(p.Withdrawals))
	}
	h, err := pragueHeader(p, parentRoot, [32]byte{})
	if err != nil {
		t.Fatal(err)
	}
	h.RequestsHash = nil // a Cancun header ends at parentBeaconBlockRoot
	if got := h.hash(); got != p.BlockHash {
		t.Fatalf("goerli block 10429037: hash %x, want %x", got, p.BlockHash)
	}
	// The same block with one transaction dropped or one withdrawal changed has another hash.
	h.TxRoot = TransactionsRoot(p.Transactions[1:])
	if h.hash() == p.BlockHash {
		t.Fatal("hash unchanged with a transaction dropped")
	}
	h.TxRoot = TransactionsRoot(p.Transactions)
	w := *p.Withdrawals[15]
	w.Amount++
	ws := append(append([]*capella.Withdrawal{}, p.Withdrawals[:15]...), &w)
	wr := WithdrawalsRoot(ws)
	h.WithdrawalsRoot = &wr
	if h.hash() == p.BlockHash {
		t.Fatal("hash unchanged with a withdrawal amount changed")
	}
}

// TestRequestsHashLayout computes EIP-7685's hash by hand for one deposit and one consolidation:
// each request type's data is the SSZ of its requests laid out field by field (consensus specs,
// electra DepositRequest = pubkey 48 | withdrawal_credentials 32 | amount u64le | signature 96 |
// index u64le; ConsolidationRequest = source_address 20 | source_pubkey 48 | target_pubkey 48),
// prefixed by the type byte; types without requests (withdrawals here) are left out.
func TestRequestsHashLayout(t *testing.T) {
	d := &electra.DepositRequest{
		Pubkey:                phase0.BLSPubKey{0x11},
		WithdrawalCredentials: append([]byte{0x01}, make([]byte, 31)...),
		Amount:                32_000_000_000,
		Signature:             phase0.BLSSignature{0x22},
		Index:                 7,
	}
	cr := &electra.ConsolidationRequest{SourceAddress: bellatrix.ExecutionAddress{0x33}, SourcePubkey: phase0.BLSPubKey{0x44}, TargetPubkey: phase0.BLSPubKey{0x55}}
	depositData := []byte{0x00}
	depositData = append(depositData, d.Pubkey[:]...)
	depositData = append(depositData, d.WithdrawalCredentials...)
	depositData = binary.LittleEndian.AppendUint64(depositData, uint64(d.Amount))
	depositData = append(depositData, d.Signature[:]...)
	depositData = binary.LittleEndian.AppendUint64(depositData, d.Index)
	consData := []byte{0x02}
	consData = append(consData, cr.SourceAddress[:]...)
	consData = append(consData, cr.SourcePubkey[:]...)
	consData = append(consData, cr.TargetPubkey[:]...)
	h1, h2 := sha256.Sum256(depositData), sha256.Sum256(consData)
	want := sha256.Sum256(append(h1[:], h2[:]...))

	got, err := RequestsHash(&electra.ExecutionRequests{
		Deposits:       []*electra.DepositRequest{d},
		Withdrawals:    []*electra.WithdrawalRequest{},
		Consolidations: []*electra.ConsolidationRequest{cr},
	})
	if err != nil || got != want {
		t.Fatalf("requests hash %x, %v; want %x", got, err, want)
	}
	// Bad input is an error, not a panic.
	if _, err := RequestsHash(&electra.ExecutionRequests{Deposits: []*electra.DepositRequest{{WithdrawalCredentials: []byte{1}}}}); err == nil {
		t.Error("short withdrawal_credentials accepted")
	}
	if _, err := RequestsHash(&electra.ExecutionRequests{Consolidations: []*electra.ConsolidationRequest{nil}}); err == nil {
		t.Error("nil consolidation accepted")
	}
}

func TestBlockHashRefuses(t *testing.T) {
	if _, err := BlockHash(nil, phase0.Root{}, nil); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("nil payload: %v", err)
	}
	if _, err := BlockHash(&deneb.ExecutionPayload{}, phase0.Root{}, nil); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("no base fee: %v", err)
	}
	p := &deneb.ExecutionPayload{BaseFeePerGas: uint256.NewInt(7)}
	bad := &electra.ExecutionRequests{Withdrawals: []*electra.WithdrawalRequest{nil}}
	if _, err := BlockHash(p, phase0.Root{}, bad); err == nil {
		t.Error("nil withdrawal request accepted")
	}
	// The parent beacon block root and the requests are part of the hash.
	h0, _ := BlockHash(p, phase0.Root{}, nil)
	h1, _ := BlockHash(p, phase0.Root{1}, nil)
	h2, _ := BlockHash(p, phase0.Root{}, &electra.ExecutionRequests{Withdrawals: []*electra.WithdrawalRequest{{}}})
	if h0 == h1 || h0 == h2 || h1 == h2 {
		t.Error("parent beacon root or requests do not change the hash")
	}
}
