package execution

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	"github.com/holiman/uint256"
)

const testGenesisTime = 1_700_000_000

func newTestChain(t testing.TB, cfg Config) *Chain {
	t.Helper()
	if cfg.GenesisTime == 0 {
		cfg.GenesisTime = testGenesisTime
	}
	c, err := NewChain(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// attrsFor returns attributes for the slot after the head, as the beacon node would.
func attrsFor(c *Chain, slot phase0.Slot) Attributes {
	return c.NextAttributes(slot, phase0.ValidatorIndex(slot)+7, phase0.Root{byte(slot), 0xbb},
		testGenesisTime+12*uint64(slot), [32]byte{byte(slot), 0xaa}, bellatrix.ExecutionAddress{0xfe, byte(slot)})
}

// rehash sets p.BlockHash to the hash of what p now says, so a test can change one field and
// have Check fail on that field rather than on the hash.
func rehash(t testing.TB, p *deneb.ExecutionPayload, attrs Attributes, r *electra.ExecutionRequests) {
	t.Helper()
	h, err := BlockHash(p, attrs.ParentBlockRoot, r)
	if err != nil {
		t.Fatal(err)
	}
	p.BlockHash = h
}

func TestNewChain(t *testing.T) {
	c := newTestChain(t, Config{ChainID: 1337})
	g := c.Genesis()
	hash, number := c.Head()
	if number != 0 || hash != g.BlockHash || g.GasLimit != DefaultGasLimit || g.Timestamp != testGenesisTime ||
		g.BaseFeePerGas.Uint64() != InitialBaseFee {
		t.Fatalf("genesis: number %d hash %#x gas limit %d time %d base fee %v", number, hash, g.GasLimit, g.Timestamp, g.BaseFeePerGas)
	}
	// The genesis hash is the hash of its own header, like any block's.
	if h, err := BlockHash(g, phase0.Root{}, nil); err != nil || h != g.BlockHash {
		t.Fatalf("genesis BlockHash %#x, %v; want %#x", h, err, g.BlockHash)
	}
	// Another chain ID is another chain.
	if other := newTestChain(t, Config{ChainID: 1338}); other.Genesis().BlockHash == g.BlockHash {
		t.Fatal("chain ID does not change the genesis hash")
	}
	if p, ok := c.Payload(g.BlockHash); !ok || p != g {
		t.Fatal("genesis not found by hash")
	}

	bad := []struct {
		name string
		cfg  Config
	}{
		{"gas limit below minimum", Config{GasLimit: 4999}},
		{"genesis gas limit below minimum", Config{GenesisGasLimit: 100}},
		{"too many withdrawals", Config{WithdrawalsPerBlock: 17, WithdrawalValidators: 10}},
		{"negative withdrawals", Config{WithdrawalsPerBlock: -1}},
		{"withdrawals without validators", Config{WithdrawalsPerBlock: 2}},
	}
	for _, b := range bad {
		if _, err := NewChain(b.cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", b.name, err)
		}
	}
}

// TestBuildCheckImport runs the chain for a few slots: each local payload passes Check, Import
// makes it the head, and the gas limit, base fee and withdrawal indices move as the rules say.
func TestBuildCheckImport(t *testing.T) {
	c := newTestChain(t, Config{GasLimit: 60_000_000, GenesisGasLimit: 30_000_000, WithdrawalsPerBlock: 3, WithdrawalValidators: 5})
	wantGasLimit := uint64(30_000_000)
	wantBaseFee := uint256.NewInt(InitialBaseFee)
	nextIndex := capella.WithdrawalIndex(0)
	for slot := phase0.Slot(1); slot <= 6; slot++ {
		attrs := attrsFor(c, slot)
		var txs []bellatrix.Transaction
		var gasUsed uint64
		if slot%2 == 0 {
			txs = []bellatrix.Transaction{{0x02, 0x01, byte(slot)}, {0xf8, 0x01}}
			gasUsed = 2 * TxGas
		}
		parent := c.HeadPayload()
		p, requests, err := c.Build(attrs, txs, gasUsed, uint256.NewInt(uint64(slot)))
		if err != nil {
			t.Fatalf("slot %d: build: %v", slot, err)
		}
		wantGasLimit = min(wantGasLimit+wantGasLimit/1024-1, 60_000_000)
		if p.GasLimit != wantGasLimit {
			t.Fatalf("slot %d: gas limit %d, want %d", slot, p.GasLimit, wantGasLimit)
		}
		wantBaseFee = NextBaseFee(parent.GasLimit, parent.GasUsed, wantBaseFee)
		if !p.BaseFeePerGas.Eq(wantBaseFee) || (slot > 1 && !p.BaseFeePerGas.Lt(parent.BaseFeePerGas)) {
			t.Fatalf("slot %d: base fee %v, want %v, falling", slot, p.BaseFeePerGas, wantBaseFee)
		}
		if len(p.Withdrawals) != 3 || p.Withdrawals[0].Index != nextIndex || p.Withdrawals[2].Index != nextIndex+2 {
			t.Fatalf("slot %d: withdrawals %v, want indices from %d", slot, p.Withdrawals, nextIndex)
		}
		if p.ParentHash != parent.BlockHash || p.BlockNumber != uint64(slot) || p.Timestamp != attrs.Timestamp ||
			p.FeeRecipient != attrs.SuggestedFeeRecipient || p.PrevRandao != attrs.PrevRandao || p.GasUsed != gasUsed {
			t.Fatalf("slot %d: payload does not follow the attributes: %v", slot, p)
		}
		if h, err := BlockHash(p, attrs.ParentBlockRoot, requests); err != nil || h != p.BlockHash {
			t.Fatalf("slot %d: BlockHash %#x, %v; payload says %#x", slot, h, err, p.BlockHash)
		}
		if v, ok := c.Value(p.BlockHash); !ok || v.Uint64() != uint64(slot) {
			t.Fatalf("slot %d: value %v, %v", slot, v, ok)
		}
		if err := c.Check(attrs, p, requests); err != nil {
			t.Fatalf("slot %d: check of a local payload: %v", slot, err)
		}
		if err := c.Import(p); err != nil {
			t.Fatalf("slot %d: import: %v", slot, err)
		}
		if hash, number := c.Head(); hash != p.BlockHash || number != uint64(slot) {
			t.Fatalf("slot %d: head %#x/%d after import of %#x", slot, hash, number, p.BlockHash)
		}
		if got, ok := c.Payload(p.BlockHash); !ok || got != p {
			t.Fatalf("slot %d: imported payload not found", slot)
		}
		nextIndex += 3
	}
	// The sweep went round the 5 validators: 18 withdrawals, validator of the next is 18 mod 5.
	if ws := c.Withdrawals(7); ws[0].Index != 18 || ws[0].ValidatorIndex != 3 {
		t.Fatalf("next withdrawals %v, want index 18 validator 3", ws[0])
	}
}

// TestCheckRefusesEachField changes one thing of a valid payload (re-hashing it, unless the hash
// is what is wrong) and expects the error of that field.
func TestCheckRefusesEachField(t *testing.T) {
	c := newTestChain(t, Config{WithdrawalsPerBlock: 2, WithdrawalValidators: 4})
	// Move one block on so the parent has gas used and withdrawals have history.
	a1 := attrsFor(c, 1)
	p1, r1, err := c.Build(a1, []bellatrix.Transaction{{0x02, 0x01}}, 30_000_000, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Import(p1); err != nil {
		t.Fatal(err)
	}
	_ = r1

	rows := []struct {
		name    string
		mutate  func(a *Attributes, p *deneb.ExecutionPayload, r *electra.ExecutionRequests)
		noHash  bool  // leave the hash stale
		wantErr error // nil: Check must pass
		field   string
	}{
		{"valid", func(*Attributes, *deneb.ExecutionPayload, *electra.ExecutionRequests) {}, false, nil, ""},
		{"fee recipient is not checked", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.FeeRecipient = bellatrix.ExecutionAddress{0x42}
		}, false, nil, ""},
		{"parent_hash vs attributes", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.ParentHash[0] ^= 1
		}, false, ErrParentHash, "parent_hash"},
		{"parent not the head", func(a *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.ParentHash[0] ^= 1
			a.ParentBlockHash = p.ParentHash
		}, false, ErrUnknownParent, "parent_hash"},
		{"block_number", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.BlockNumber++
		}, false, ErrBlockNumber, "block_number"},
		{"attributes parent number", func(a *Attributes, _ *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			a.ParentBlockNumber++
		}, false, ErrBlockNumber, "block_number"},
		{"timestamp vs attributes", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.Timestamp++
		}, false, ErrTimestamp, "timestamp"},
		{"timestamp not after parent", func(a *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.Timestamp = testGenesisTime + 12 // the parent's
			a.Timestamp = p.Timestamp
		}, false, ErrTimestamp, "timestamp"},
		{"prev_randao", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.PrevRandao[31] ^= 1
		}, false, ErrPrevRandao, "prev_randao"},
		{"withdrawals count", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.Withdrawals = p.Withdrawals[:1]
		}, false, ErrWithdrawals, "withdrawals"},
		{"withdrawal index", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.Withdrawals[1] = &capella.Withdrawal{Index: 99, ValidatorIndex: p.Withdrawals[1].ValidatorIndex, Address: p.Withdrawals[1].Address, Amount: p.Withdrawals[1].Amount}
		}, false, ErrWithdrawals, "index"},
		{"withdrawal validator_index", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			w := *p.Withdrawals[0]
			w.ValidatorIndex++
			p.Withdrawals[0] = &w
		}, false, ErrWithdrawals, "validator_index"},
		{"withdrawal address", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			w := *p.Withdrawals[0]
			w.Address[0] ^= 1
			p.Withdrawals[0] = &w
		}, false, ErrWithdrawals, "address"},
		{"withdrawal amount", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			w := *p.Withdrawals[0]
			w.Amount++
			p.Withdrawals[0] = &w
		}, false, ErrWithdrawals, "amount"},
		{"withdrawal nil", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.Withdrawals[0] = nil
		}, false, ErrWithdrawals, "nil"},
		{"extra_data", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.ExtraData = make([]byte, 33)
		}, false, ErrExtraData, "extra_data"},
		{"gas_limit over the bound", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.GasLimit = DefaultGasLimit + DefaultGasLimit/1024
		}, false, ErrGasLimit, "gas_limit"},
		{"gas_used over gas_limit", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.Transactions = []bellatrix.Transaction{{0x02}}
			p.GasUsed = p.GasLimit + 1
		}, false, ErrGasUsed, "gas_used"},
		{"gas_used without transactions", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.GasUsed = 1
		}, false, ErrGasUsed, "gas_used"},
		{"gas_used under intrinsic", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.Transactions = []bellatrix.Transaction{{0x02}, {0x02}}
			p.GasUsed = 2*TxGas - 1
		}, false, ErrGasUsed, "gas_used"},
		{"base_fee_per_gas", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.BaseFeePerGas = new(uint256.Int).AddUint64(p.BaseFeePerGas, 1)
		}, false, ErrBaseFee, "base_fee_per_gas"},
		{"base_fee_per_gas nil", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.BaseFeePerGas = nil
		}, true, ErrBaseFee, "base_fee_per_gas"},
		{"blob_gas_used not whole blobs", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.BlobGasUsed = GasPerBlob + 1
		}, false, ErrBlobGasUsed, "blob_gas_used"},
		{"blob_gas_used over max", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.BlobGasUsed = MaxBlobGasPerBlock + GasPerBlob
		}, false, ErrBlobGasUsed, "blob_gas_used"},
		{"excess_blob_gas", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.ExcessBlobGas = GasPerBlob
		}, false, ErrExcessBlobGas, "excess_blob_gas"},
		{"empty transaction", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.Transactions = []bellatrix.Transaction{{}}
			p.GasUsed = TxGas
		}, false, ErrTransactions, "transaction 0"},
		{"transaction without envelope", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.Transactions = []bellatrix.Transaction{{0x02}, {0x85, 1, 2, 3, 4, 5}}
			p.GasUsed = 2 * TxGas
		}, false, ErrTransactions, "transaction 1"},
		{"requests entry nil", func(_ *Attributes, _ *deneb.ExecutionPayload, r *electra.ExecutionRequests) {
			r.Deposits = []*electra.DepositRequest{nil}
		}, true, ErrRequests, "deposits[0]"},
		{"requests not in the hash", func(_ *Attributes, _ *deneb.ExecutionPayload, r *electra.ExecutionRequests) {
			r.Withdrawals = []*electra.WithdrawalRequest{{Amount: 1}}
		}, true, ErrBlockHash, "block_hash"},
		{"parent beacon root not in the hash", func(a *Attributes, _ *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			a.ParentBlockRoot[0] ^= 1
		}, true, ErrBlockHash, "block_hash"},
		{"block_hash", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.BlockHash[0] ^= 1
		}, true, ErrBlockHash, "block_hash"},
		{"state root is not checked", func(_ *Attributes, p *deneb.ExecutionPayload, _ *electra.ExecutionRequests) {
			p.StateRoot[0] ^= 1
		}, false, nil, ""},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			attrs := attrsFor(c, 2)
			p, r, err := c.Build(attrs, nil, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Work on copies of the attributes' withdrawals so the payload's can change alone.
			attrs.Withdrawals = append([]*capella.Withdrawal{}, attrs.Withdrawals...)
			p.Withdrawals = append([]*capella.Withdrawal{}, p.Withdrawals...)
			row.mutate(&attrs, p, r)
			if !row.noHash {
				rehash(t, p, attrs, r)
			}
			err = c.Check(attrs, p, r)
			if row.wantErr == nil {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
				return
			}
			if !errors.Is(err, row.wantErr) {
				t.Fatalf("check: %v, want %v", err, row.wantErr)
			}
			if !strings.Contains(err.Error(), row.field) {
				t.Fatalf("check: %q does not name %q", err, row.field)
			}
		})
	}
	if err := c.Check(attrsFor(c, 2), nil, nil); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("nil payload: %v", err)
	}
}

// TestCheckBuilderPayload checks a payload a builder made by hand (not through Build): its own
// fee recipient, transactions, gas and extra data, and real execution requests.
func TestCheckBuilderPayload(t *testing.T) {
	c := newTestChain(t, Config{})
	attrs := attrsFor(c, 1)
	g := c.Genesis()
	p := &deneb.ExecutionPayload{
		ParentHash:    g.BlockHash,
		FeeRecipient:  bellatrix.ExecutionAddress{0xbb},
		StateRoot:     phase0.Root{1},
		ReceiptsRoot:  phase0.Root{2},
		PrevRandao:    attrs.PrevRandao,
		BlockNumber:   1,
		GasLimit:      g.GasLimit + g.GasLimit/1024 - 1,
		GasUsed:       3 * TxGas,
		Timestamp:     attrs.Timestamp,
		ExtraData:     []byte("builder"),
		BaseFeePerGas: uint256.NewInt(875_000_000),
		Transactions:  []bellatrix.Transaction{{0x02, 1}, {0x03, 2}, {0xc1, 0x80}},
		Withdrawals:   []*capella.Withdrawal{},
	}
	r := &electra.ExecutionRequests{
		Deposits:    []*electra.DepositRequest{{WithdrawalCredentials: make([]byte, 32), Amount: 32_000_000_000}},
		Withdrawals: []*electra.WithdrawalRequest{{Amount: 1}},
	}
	rehash(t, p, attrs, r)
	if err := c.Check(attrs, p, r); err != nil {
		t.Fatalf("builder payload: %v", err)
	}
	// Import recomputes the hash with the requests Check saw.
	if err := c.Import(p); err != nil {
		t.Fatalf("import: %v", err)
	}
}

func TestBuildRefuses(t *testing.T) {
	c := newTestChain(t, Config{})
	good := attrsFor(c, 1)
	rows := []struct {
		name    string
		attrs   func() Attributes
		txs     []bellatrix.Transaction
		gasUsed uint64
		wantErr error
	}{
		{"stale parent", func() Attributes { a := good; a.ParentBlockHash[0] ^= 1; return a }, nil, 0, ErrUnknownParent},
		{"parent number", func() Attributes { a := good; a.ParentBlockNumber = 5; return a }, nil, 0, ErrBlockNumber},
		{"timestamp not after parent", func() Attributes { a := good; a.Timestamp = testGenesisTime; return a }, nil, 0, ErrTimestamp},
		{"too many withdrawals", func() Attributes {
			a := good
			a.Withdrawals = make([]*capella.Withdrawal, 17)
			return a
		}, nil, 0, ErrWithdrawals},
		{"nil withdrawal", func() Attributes { a := good; a.Withdrawals = []*capella.Withdrawal{nil}; return a }, nil, 0, ErrWithdrawals},
		{"gas without transactions", func() Attributes { return good }, nil, 1, ErrGasUsed},
		{"gas over the limit", func() Attributes { return good }, []bellatrix.Transaction{{2}}, DefaultGasLimit + 1, ErrGasUsed},
		{"empty transaction", func() Attributes { return good }, []bellatrix.Transaction{{}}, TxGas, ErrTransactions},
	}
	for _, row := range rows {
		if _, _, err := c.Build(row.attrs(), row.txs, row.gasUsed, nil); !errors.Is(err, row.wantErr) {
			t.Errorf("%s: %v, want %v", row.name, err, row.wantErr)
		}
	}
}

func TestImportRefuses(t *testing.T) {
	c := newTestChain(t, Config{})
	a1 := attrsFor(c, 1)
	p1, _, err := c.Build(a1, nil, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A second candidate for the same slot (another randao) that will lose to p1.
	a1b := a1
	a1b.PrevRandao[5] = 9
	p1b, _, err := c.Build(a1b, nil, 0, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Changed after it was built: same claimed hash, other contents.
	changed := *p1
	changed.GasUsed = 0
	changed.ExtraData = []byte("changed")
	if err := c.Import(&changed); !errors.Is(err, ErrBlockHash) {
		t.Fatalf("changed payload: %v, want ErrBlockHash", err)
	}
	// Never built nor checked.
	unknown := *p1
	unknown.BlockHash[0] ^= 1
	if err := c.Import(&unknown); !errors.Is(err, ErrNotChecked) {
		t.Fatalf("unchecked payload: %v, want ErrNotChecked", err)
	}
	if err := c.Import(nil); !errors.Is(err, ErrInvalidPayload) {
		t.Fatalf("nil: %v", err)
	}
	if err := c.Import(p1); err != nil {
		t.Fatal(err)
	}
	// p1b's parent is no longer the head; neither is a block two ahead.
	if err := c.Import(p1b); !errors.Is(err, ErrUnknownParent) {
		t.Fatalf("sibling of the head: %v, want ErrUnknownParent", err)
	}
	skip := *p1
	skip.ParentHash = p1.BlockHash
	skip.BlockNumber = 3
	if err := c.Import(&skip); !errors.Is(err, ErrBlockNumber) {
		t.Fatalf("number gap: %v, want ErrBlockNumber", err)
	}
	// A payload checked against the old head is refused once the head moved.
	if err := c.Check(a1b, p1b, nil); !errors.Is(err, ErrUnknownParent) {
		t.Fatalf("check against the old head: %v, want ErrUnknownParent", err)
	}
	if hash, number := c.Head(); hash != p1.BlockHash || number != 1 {
		t.Fatalf("head %#x/%d, want p1", hash, number)
	}
}

// TestChainConcurrent runs readers against Build/Check/Import; it has teeth under -race.
func TestChainConcurrent(t *testing.T) {
	c := newTestChain(t, Config{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				hash, _ := c.Head()
				if _, ok := c.Payload(hash); !ok {
					t.Error("head not found by hash")
					return
				}
				_ = c.Withdrawals(0)
			}
		}()
	}
	for slot := phase0.Slot(1); slot <= 50; slot++ {
		a := attrsFor(c, slot)
		p, r, err := c.Build(a, nil, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Check(a, p, r); err != nil {
			t.Fatal(err)
		}
		if err := c.Import(p); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if _, n := c.Head(); n != 50 {
		t.Fatalf("head number %d", n)
	}
}

// TestWithdrawalsSweep: the simulated sweep is deterministic, and Import advances
// next_withdrawal_index and next_withdrawal_validator_index as capella process_withdrawals does
// for a full payload (past the last validator withdrawn), wrapping round the validator set.
func TestWithdrawalsSweep(t *testing.T) {
	cfg := Config{WithdrawalsPerBlock: MaxWithdrawalsPerPayload, WithdrawalValidators: 20}
	c, twin := newTestChain(t, cfg), newTestChain(t, cfg)
	if !reflect.DeepEqual(c.Withdrawals(1), twin.Withdrawals(1)) {
		t.Fatal("withdrawals are not deterministic")
	}
	if ws := newTestChain(t, Config{}).Withdrawals(1); ws == nil || len(ws) != 0 {
		t.Fatalf("default config: %v, want an empty list", ws)
	}
	for slot := phase0.Slot(1); slot <= 2; slot++ {
		a := attrsFor(c, slot)
		ws := a.Withdrawals
		wantFirstValidator := phase0.ValidatorIndex((16 * (uint64(slot) - 1)) % 20)
		if len(ws) != 16 || ws[0].Index != capella.WithdrawalIndex(16*(slot-1)) || ws[0].ValidatorIndex != wantFirstValidator {
			t.Fatalf("slot %d: first withdrawal %v, want index %d validator %d", slot, ws[0], 16*(slot-1), wantFirstValidator)
		}
		for i := 1; i < len(ws); i++ {
			if ws[i].Index != ws[i-1].Index+1 || ws[i].ValidatorIndex != (ws[i-1].ValidatorIndex+1)%20 {
				t.Fatalf("slot %d: withdrawal %d does not follow %d: %v after %v", slot, i, i-1, ws[i], ws[i-1])
			}
		}
		p, _, err := c.Build(a, nil, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Import(p); err != nil {
			t.Fatal(err)
		}
	}
	// A missed slot (no import) repeats the same withdrawals.
	if !reflect.DeepEqual(c.Withdrawals(3), c.Withdrawals(4)) {
		t.Fatal("withdrawals changed without an import")
	}
}
