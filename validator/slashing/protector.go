package slashing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/zkvlabs/zkv/db"
)

// Strategy chooses how much history is kept (EIP-3076 names the two ends).
type Strategy int

const (
	// Complete keeps each validator's most recent History blocks and attestations with their
	// signing roots, so that identical messages may be signed again and out-of-order requests are
	// judged exactly; older records fold into the low watermark.
	Complete Strategy = iota
	// Minimal keeps only the low watermark: the highest signed slot, source and target. Every
	// new message must lie strictly above it; nothing may be signed twice.
	Minimal
)

func (s Strategy) String() string {
	switch s {
	case Complete:
		return "complete"
	case Minimal:
		return "minimal"
	}
	return fmt.Sprintf("strategy(%d)", int(s))
}

// Defaults for Config.
const (
	DefaultHistory   = 64
	DefaultMaxBatch  = 8192
	DefaultQueueSize = 16384
)

// Config configures a Protector. DB is required; the zero value of every other field works.
type Config struct {
	// DB holds the records. The Protector does not close it.
	DB *db.DB
	// GenesisValidatorsRoot identifies the network. A database first used with another root is
	// refused (ErrGenesisMismatch), and so is an interchange file of another network.
	GenesisValidatorsRoot Root
	Strategy              Strategy
	// History is how many of each validator's most recent blocks and attestations Complete keeps
	// (default DefaultHistory). It bounds memory (about 56 bytes a record) and the cost of an
	// out-of-order request; older records fold into the low watermark, which refuses only
	// requests below them. Ignored by Minimal.
	History int
	// MaxBatch is the most requests committed in one durable write (default DefaultMaxBatch).
	MaxBatch int
	// QueueSize bounds the requests waiting for the committer (default DefaultQueueSize). When it
	// is full, callers wait (until their context ends) rather than being refused.
	QueueSize int
	// Logger gets refusals (warn) and storage failures (error). Nil discards.
	Logger *slog.Logger
}

// Protector is EIP-3076 slashing protection for any number of validators: it decides every
// signing request and makes the record that guards it durable before it answers.
//
// One committer goroutine (Run) owns all state. Callers from any number of goroutines send it
// requests; it takes every request waiting (up to MaxBatch), decides them in arrival order against
// the state including earlier requests of the same batch, writes all new records in one synced
// badger transaction, and only then answers. So two conflicting requests for one key can never
// both be approved, and ten thousand validators cost a few fsyncs per epoch rather than ten
// thousand.
//
// One Protector per database: it assumes that it alone writes the slashing buckets.
//
// Callers see nil (sign now), a *SlashableError (errors.Is ErrSlashable), ErrClosed, their
// context's error, or a storage error; on anything but nil they must not sign.
type Protector struct {
	db       *db.DB
	gvr      Root
	strategy Strategy
	limit    int
	maxBatch int
	log      *slog.Logger

	reqs    chan *request
	done    chan struct{} // closed when Run returns
	started atomic.Bool

	// hist is read and written only by Run's goroutine once New has returned.
	hist map[Pubkey]*history
}

// Block is a block signing request.
type Block struct {
	Pubkey      Pubkey
	Slot        uint64
	SigningRoot Root
}

// Attestation is an attestation signing request.
type Attestation struct {
	Pubkey      Pubkey
	Source      uint64 // attestation.data.source.epoch
	Target      uint64 // attestation.data.target.epoch
	SigningRoot Root
}

type reqKind int

const (
	reqBlock reqKind = iota
	reqAttestation
	reqImport
	reqExport
)

type request struct {
	kind   reqKind
	block  Block
	att    Attestation
	ic     *Interchange     // reqImport
	stats  *ImportStats     // reqImport result
	export *[]validatorDump // reqExport result
	reply  chan error       // buffered: the committer never waits on a caller
}

// New checks the configuration and the database's network, and loads every validator's history.
// It starts nothing: call Run.
func New(cfg Config) (*Protector, error) {
	if cfg.DB == nil {
		return nil, errors.New("slashing: no database")
	}
	if cfg.Strategy != Complete && cfg.Strategy != Minimal {
		return nil, fmt.Errorf("slashing: unknown %v", cfg.Strategy)
	}
	if cfg.History < 0 || cfg.MaxBatch < 0 || cfg.QueueSize < 0 {
		return nil, errors.New("slashing: negative History, MaxBatch or QueueSize")
	}
	limit := cfg.History
	if limit == 0 {
		limit = DefaultHistory
	}
	if cfg.Strategy == Minimal {
		limit = 0
	}
	p := &Protector{
		db:       cfg.DB,
		gvr:      cfg.GenesisValidatorsRoot,
		strategy: cfg.Strategy,
		limit:    limit,
		maxBatch: orDefault(cfg.MaxBatch, DefaultMaxBatch),
		log:      cfg.Logger,
		reqs:     make(chan *request, orDefault(cfg.QueueSize, DefaultQueueSize)),
		done:     make(chan struct{}),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if err := checkGenesis(p.db, p.gvr); err != nil {
		return nil, fmt.Errorf("slashing: %w", err)
	}
	var stored map[Pubkey]*history
	if err := p.db.View(func(tx *db.Txn) error {
		var err error
		stored, err = loadAll(tx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("slashing: load: %w", err)
	}
	// A database written with a longer history (or the Complete strategy, now Minimal) is folded
	// to this configuration once, durably, so that memory and disk agree; so is one holding
	// records below its watermark (written before settle existed).
	p.hist = make(map[Pubkey]*history, len(stored))
	changed := make(map[Pubkey]*history)
	for pk, h := range stored {
		if len(h.blocks) > limit || len(h.atts) > limit || !h.settled() {
			c := h.clone()
			c.fold(limit)
			changed[pk] = c
		}
		p.hist[pk] = h
	}
	if len(changed) > 0 {
		if _, err := p.writeChanges(changed); err != nil {
			return nil, fmt.Errorf("slashing: fold history to %d records: %w", limit, err)
		}
	}
	return p, nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Run is the committer: it decides and records requests until ctx ends, then returns nil.
// Requests still queued then, and later ones, get ErrClosed. Run may be called once.
func (p *Protector) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("slashing: Run called twice")
	}
	defer close(p.done)
	batch := make([]*request, 0, p.maxBatch)
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-p.reqs:
			if r.kind == reqImport || r.kind == reqExport {
				p.special(r)
				continue
			}
			batch = append(batch[:0], r)
			var next *request
		drain:
			for len(batch) < p.maxBatch {
				select {
				case r := <-p.reqs:
					if r.kind == reqImport || r.kind == reqExport {
						next = r // after the signing requests before it
						break drain
					}
					batch = append(batch, r)
				default:
					break drain
				}
			}
			p.commit(batch)
			clear(batch) // drop references to answered requests
			if next != nil {
				p.special(next)
			}
		}
	}
}

// commit decides one batch in arrival order and records it durably before answering anyone.
func (p *Protector) commit(batch []*request) {
	touched := make(map[Pubkey]*history)
	results := make([]error, len(batch))
	state := func(pk Pubkey) *history {
		h := touched[pk]
		if h == nil {
			if old := p.hist[pk]; old != nil {
				h = old.clone()
			} else {
				h = &history{}
			}
			touched[pk] = h
		}
		return h
	}
	for i, r := range batch {
		switch r.kind {
		case reqBlock:
			b := r.block
			h := state(b.Pubkey)
			repeat, reason, existing := h.checkBlock(b.Slot, b.SigningRoot)
			if reason != 0 {
				results[i] = &SlashableError{Pubkey: b.Pubkey, Reason: reason, Attempted: fmt.Sprintf("block slot=%d", b.Slot), Existing: existing}
			} else if !repeat {
				h.addBlock(b.Slot, optRoot{b.SigningRoot, true}, p.limit)
			}
		case reqAttestation:
			a := r.att
			h := state(a.Pubkey)
			repeat, reason, existing := h.checkAttestation(a.Source, a.Target, a.SigningRoot)
			if reason != 0 {
				results[i] = &SlashableError{Pubkey: a.Pubkey, Reason: reason, Attempted: fmt.Sprintf("attestation source=%d target=%d", a.Source, a.Target), Existing: existing}
			} else if !repeat {
				h.addAttestation(a.Source, a.Target, optRoot{a.SigningRoot, true}, p.limit)
			}
		}
	}
	if _, err := p.writeChanges(touched); err != nil {
		p.log.Error("slashing protection records not written; refusing the batch", "requests", len(batch), "error", err)
		for i := range results {
			if results[i] == nil {
				results[i] = fmt.Errorf("slashing: record: %w", err)
			}
		}
	}
	for i, r := range batch {
		if err := results[i]; err != nil && errors.Is(err, ErrSlashable) {
			p.log.Warn("refused to sign", "error", err)
		}
		r.reply <- results[i]
	}
}

// Budget of one transaction, well inside badger's limit with db's 64 MiB memtable (15% of it,
// about 10 MiB and 100,000 entries). A full signing batch (three writes a request) fits.
const (
	maxTxnOps   = 50000
	maxTxnBytes = 6 << 20
)

// writeChanges makes the changed histories durable and installs them in memory. Each validator's
// change is atomic; all of them are one transaction unless they exceed its budget, in which case
// they are split between validators (only imports of long histories get there: a signing batch
// writes at most three keys per request). It returns how many transactions it used. On error the
// histories of the failed and later transactions stay as they were.
func (p *Protector) writeChanges(changed map[Pubkey]*history) (int, error) {
	keys := make([]Pubkey, 0, len(changed))
	for pk := range changed {
		keys = append(keys, pk)
	}
	slices.SortFunc(keys, func(a, b Pubkey) int { return compareBytes(a[:], b[:]) })
	var (
		ops     []op
		pending []Pubkey
		size    int
		txns    int
	)
	flush := func() error {
		if len(ops) > 0 {
			if err := p.db.Update(func(tx *db.Txn) error { return apply(tx, ops) }); err != nil {
				return err
			}
			txns++
		}
		for _, pk := range pending {
			p.hist[pk] = changed[pk]
		}
		ops, pending, size = ops[:0], pending[:0], 0
		return nil
	}
	for _, pk := range keys {
		n := len(ops)
		ops = diff(ops, pk, p.hist[pk], changed[pk])
		added := 0
		for _, o := range ops[n:] {
			added += len(o.key) + len(o.value) + 16
		}
		if n > 0 && (len(ops) > maxTxnOps || size+added > maxTxnBytes) {
			// This validator's writes start the next transaction.
			mine := slices.Clone(ops[n:])
			ops = ops[:n]
			if err := flush(); err != nil {
				return txns, err
			}
			ops = append(ops, mine...)
		}
		size += added
		pending = append(pending, pk)
	}
	return txns, flush()
}

func compareBytes(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

// send queues r and waits for its answer.
func (p *Protector) send(ctx context.Context, r *request) error {
	_, err := p.roundTrip(ctx, r)
	return err
}

// roundTrip queues r and waits for its answer; answered says whether the committer answered
// (and so whether it is done writing to r's result fields).
func (p *Protector) roundTrip(ctx context.Context, r *request) (answered bool, err error) {
	select {
	case p.reqs <- r:
	case <-ctx.Done():
		return false, ctx.Err()
	case <-p.done:
		return false, ErrClosed
	}
	select {
	case err := <-r.reply:
		return true, err
	case <-ctx.Done():
		// The record may still be written; the caller does not sign, which is safe.
		return false, ctx.Err()
	case <-p.done:
		// Run answers before it returns, so an answer that exists is already here.
		select {
		case err := <-r.reply:
			return true, err
		default:
			return false, ErrClosed
		}
	}
}

// CheckAndRecordBlock returns nil if the block may be signed; its record is then durable. Any
// other result means: do not sign.
func (p *Protector) CheckAndRecordBlock(ctx context.Context, b Block) error {
	return p.send(ctx, &request{kind: reqBlock, block: b, reply: make(chan error, 1)})
}

// CheckAndRecordAttestation returns nil if the attestation may be signed; its record is then
// durable. Any other result means: do not sign.
func (p *Protector) CheckAndRecordAttestation(ctx context.Context, a Attestation) error {
	return p.send(ctx, &request{kind: reqAttestation, att: a, reply: make(chan error, 1)})
}

// CheckAndRecordAttestations decides many attestations at once (one epoch's duties) and returns
// one result per request, in order, with the meaning of CheckAndRecordAttestation. Requests are
// decided in order, so a later request that conflicts with an earlier one for the same key is
// refused.
func (p *Protector) CheckAndRecordAttestations(ctx context.Context, as []Attestation) []error {
	errs := make([]error, len(as))
	reqs := make([]*request, len(as))
	sent := 0
	for i, a := range as {
		r := &request{kind: reqAttestation, att: a, reply: make(chan error, 1)}
		reqs[i] = r
		select {
		case p.reqs <- r:
			sent++
			continue
		case <-ctx.Done():
			errs[i] = ctx.Err()
		case <-p.done:
			errs[i] = ErrClosed
		}
		for j := i + 1; j < len(as); j++ {
			errs[j] = errs[i]
		}
		break
	}
	for i := range sent {
		select {
		case errs[i] = <-reqs[i].reply:
		case <-ctx.Done():
			errs[i] = ctx.Err()
		case <-p.done:
			select {
			case errs[i] = <-reqs[i].reply:
			default:
				errs[i] = ErrClosed
			}
		}
	}
	return errs
}
