package mev

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	builderfulu "github.com/attestantio/go-builder-client/api/fulu"
	builderapiv1 "github.com/attestantio/go-builder-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/db"
)

// ErrNotFound is a Store's answer for a bid, payload or registration it does not hold.
var ErrNotFound = errors.New("mev: not found")

// BidRecord is what the relay keeps of an accepted submission besides its payload: the bid
// trace, what the data API reports, and whether it was submitted with cancellations.
type BidRecord struct {
	Version       spec.DataVersion       `json:"version"`
	Trace         *builderapiv1.BidTrace `json:"trace"`
	BlockNumber   uint64                 `json:"block_number"`
	NumTx         uint64                 `json:"num_tx"`
	ReceivedAt    time.Time              `json:"received_at"`
	Cancellations bool                   `json:"cancellations"`
	// Optimistic: accepted before its simulation finished (its builder's collateral covers it).
	Optimistic bool `json:"optimistic,omitempty"`
}

// Payload is a submission's execution payload with its blobs bundle. The Fulu bundle type
// serves Electra too (same fields; its proof list is the longer one).
type Payload struct {
	Version spec.DataVersion
	Bundle  *builderfulu.ExecutionPayloadAndBlobsBundle
}

// Delivery records the one blinded block a slot's payload was released for.
type Delivery struct {
	Slot phase0.Slot `json:"slot"`
	// BlockHash is the execution block delivered.
	BlockHash phase0.Hash32 `json:"block_hash"`
	// BlindedRoot is the hash tree root of the signed blinded block's message: a different
	// message for the same slot is proposer equivocation.
	BlindedRoot phase0.Root `json:"blinded_root"`
	// Trace is the delivered bid's trace (the proposer_payload_delivered data API).
	Trace       *builderapiv1.BidTrace `json:"trace"`
	BlockNumber uint64                 `json:"block_number"`
	NumTx       uint64                 `json:"num_tx"`
	DeliveredAt time.Time              `json:"delivered_at"`
}

// Store is what the relay keeps beyond its memory: bids and payloads until they are stale, the
// delivery record of each slot, and registrations. Writes are durable when they return (the
// delivered-once rule relies on it). BadgerStore is the one-machine implementation; replicas
// of a relay would share one over the network.
type Store interface {
	// PutBid keeps an accepted submission and its payload.
	PutBid(ctx context.Context, rec *BidRecord, p *Payload) error
	// Payload returns the payload of the bid for (slot, block hash), with its record.
	Payload(ctx context.Context, slot phase0.Slot, blockHash phase0.Hash32) (*BidRecord, *Payload, error)
	// Deliver records d as the slot's delivery unless one exists: it returns the record that
	// holds after the call (d, or the earlier one) and whether d was written.
	Deliver(ctx context.Context, d *Delivery) (*Delivery, bool, error)
	// Bids walks accepted bids of a slot (all slots when slot is nil), oldest key first.
	Bids(ctx context.Context, slot *phase0.Slot, fn func(*BidRecord) bool) error
	// Deliveries walks delivery records, lowest slot first.
	Deliveries(ctx context.Context, fn func(*Delivery) bool) error
	// PutRegistration keeps a validator's latest registration; Registrations walks them.
	PutRegistration(ctx context.Context, r *builderapiv1.SignedValidatorRegistration) error
	Registrations(ctx context.Context, fn func(*builderapiv1.SignedValidatorRegistration) bool) error
	// PutBuilderStatus keeps a builder's status; BuilderStatuses walks them.
	PutBuilderStatus(ctx context.Context, s *BuilderStatus) error
	BuilderStatuses(ctx context.Context, fn func(*BuilderStatus) bool) error
	// Demote records d and the builder's new status s in one durable write; Demotions walks
	// the records, lowest slot first.
	Demote(ctx context.Context, d *Demotion, s *BuilderStatus) error
	Demotions(ctx context.Context, fn func(*Demotion) bool) error
	// PutServed records, with the bid, which bid's header the relay served for the auction
	// (slot, parent, proposer): the payload is released only for a header the relay served.
	// Served reports the block hashes served for a slot and proposer.
	PutServed(ctx context.Context, slot phase0.Slot, parent phase0.Hash32, proposer phase0.BLSPubKey, blockHash phase0.Hash32) error
	Served(ctx context.Context, slot phase0.Slot, proposer phase0.BLSPubKey, blockHash phase0.Hash32) (bool, error)
}

// Key layout (db's schema table lists it too). Integers big-endian so keys sort by slot.
//
//	Bids       0x21  'b' | slot(8) | block_hash(32)   BidRecord as JSON             TTL
//	Payloads   0x22  'p' | slot(8) | block_hash(32)   version(1) | SSZ of the       TTL
//	                                                   ExecutionPayloadAndBlobsBundle (fulu type)
//	Payloads   0x22  'd' | slot(8)                    Delivery as JSON              DeliveryTTL
//	Payloads   0x22  's' | slot(8) | proposer(48) | block_hash(32)   parent hash(32)       DeliveryTTL
//	                 (a header the relay served: the payload is released only for one)
//	Registrations 0x20 "zkv/relay/registration/" | pubkey(48)   SSZ of SignedValidatorRegistration
//	Registrations 0x20 "zkv/relay/builder/" | pubkey(48)        BuilderStatus as JSON (no TTL)
//	Registrations 0x20 "zkv/relay/demotion/" | slot(8) | block_hash(32) | unix_nano(8)   Demotion as JSON (no TTL)
const (
	prefixBid      = 'b'
	prefixPayload  = 'p'
	prefixDelivery = 'd'
	prefixServed   = 's'
)

var (
	registrationPrefix  = []byte("zkv/relay/registration/")
	builderStatusPrefix = []byte("zkv/relay/builder/")
	demotionPrefix      = []byte("zkv/relay/demotion/")
)

// BadgerStore is a Store on zkv's badger database (package db).
type BadgerStore struct {
	d *db.DB
	// TTL bounds how long bids and payloads stay (default 7 days; a relay serves only current
	// slots, the data API looks back).
	TTL time.Duration
	// DeliveryTTL bounds delivery records (default 30 days): far longer than any slot a
	// proposer can still sign for, so the delivered-once rule outlives every request it guards.
	DeliveryTTL time.Duration
}

// NewBadgerStore returns a Store on d.
func NewBadgerStore(d *db.DB) *BadgerStore {
	return &BadgerStore{d: d, TTL: 7 * 24 * time.Hour, DeliveryTTL: 30 * 24 * time.Hour}
}

func slotKey(prefix byte, slot phase0.Slot, hash *phase0.Hash32) []byte {
	k := make([]byte, 1, 41)
	k[0] = prefix
	k = binary.BigEndian.AppendUint64(k, uint64(slot))
	if hash != nil {
		k = append(k, hash[:]...)
	}
	return k
}

var versionByte = map[spec.DataVersion]byte{spec.DataVersionElectra: 5, spec.DataVersionFulu: 6}

// PutBid implements Store: the record and the payload in one durable transaction.
func (s *BadgerStore) PutBid(_ context.Context, rec *BidRecord, p *Payload) error {
	vb, ok := versionByte[p.Version]
	if !ok {
		return fmt.Errorf("store payload of version %s", p.Version)
	}
	enc, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode bid record: %w", err)
	}
	// Sized once: appending 350 KB to a one-byte slice copies it a dozen times as it grows.
	body := make([]byte, 1, 1+p.Bundle.SizeSSZ())
	body[0] = vb
	body, err = p.Bundle.MarshalSSZTo(body)
	if err != nil {
		return fmt.Errorf("encode payload: %w", err)
	}
	slot, hash := phase0.Slot(rec.Trace.Slot), rec.Trace.BlockHash
	return s.d.Update(func(tx *db.Txn) error {
		if err := tx.PutTTL(db.Bids, slotKey(prefixBid, slot, &hash), enc, s.TTL); err != nil {
			return err
		}
		return tx.PutTTL(db.Payloads, slotKey(prefixPayload, slot, &hash), body, s.TTL)
	})
}

// Payload implements Store.
func (s *BadgerStore) Payload(_ context.Context, slot phase0.Slot, hash phase0.Hash32) (*BidRecord, *Payload, error) {
	var rec BidRecord
	p := &Payload{Bundle: &builderfulu.ExecutionPayloadAndBlobsBundle{}}
	err := s.d.View(func(tx *db.Txn) error {
		enc, err := tx.Get(db.Bids, slotKey(prefixBid, slot, &hash))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(enc, &rec); err != nil {
			return fmt.Errorf("decode bid record: %w", err)
		}
		body, err := tx.Get(db.Payloads, slotKey(prefixPayload, slot, &hash))
		if err != nil {
			return err
		}
		if len(body) < 1 {
			return errors.New("stored payload is empty")
		}
		for v, b := range versionByte {
			if b == body[0] {
				p.Version = v
			}
		}
		return p.Bundle.UnmarshalSSZ(body[1:])
	})
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil, fmt.Errorf("%w: no payload for slot %d block hash %#x", ErrNotFound, slot, hash[:])
	}
	if err != nil {
		return nil, nil, err
	}
	return &rec, p, nil
}

// Deliver implements Store. The check and the write are one transaction; badger refuses a
// concurrent conflicting commit, and the relay serialises deliveries besides.
func (s *BadgerStore) Deliver(_ context.Context, d *Delivery) (*Delivery, bool, error) {
	var existing *Delivery
	k := slotKey(prefixDelivery, d.Slot, nil)
	err := s.d.Update(func(tx *db.Txn) error {
		enc, err := tx.Get(db.Payloads, k)
		if err == nil {
			existing = &Delivery{}
			return json.Unmarshal(enc, existing)
		}
		if !errors.Is(err, db.ErrNotFound) {
			return err
		}
		enc, err = json.Marshal(d)
		if err != nil {
			return err
		}
		return tx.PutTTL(db.Payloads, k, enc, s.DeliveryTTL)
	})
	if err != nil {
		return nil, false, fmt.Errorf("record delivery of slot %d: %w", d.Slot, err)
	}
	if existing != nil {
		return existing, false, nil
	}
	return d, true, nil
}

// Bids implements Store.
func (s *BadgerStore) Bids(_ context.Context, slot *phase0.Slot, fn func(*BidRecord) bool) error {
	prefix := []byte{prefixBid}
	if slot != nil {
		prefix = slotKey(prefixBid, *slot, nil)
	}
	return s.d.View(func(tx *db.Txn) error {
		return tx.Iterate(db.Bids, prefix, func(_, v []byte) error {
			var rec BidRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode bid record: %w", err)
			}
			if !fn(&rec) {
				return db.ErrStop
			}
			return nil
		})
	})
}

// Deliveries implements Store.
func (s *BadgerStore) Deliveries(_ context.Context, fn func(*Delivery) bool) error {
	return s.d.View(func(tx *db.Txn) error {
		return tx.Iterate(db.Payloads, []byte{prefixDelivery}, func(_, v []byte) error {
			var d Delivery
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("decode delivery: %w", err)
			}
			if !fn(&d) {
				return db.ErrStop
			}
			return nil
		})
	})
}

// PutRegistration implements Store.
func (s *BadgerStore) PutRegistration(_ context.Context, r *builderapiv1.SignedValidatorRegistration) error {
	enc, err := r.MarshalSSZ()
	if err != nil {
		return fmt.Errorf("encode registration: %w", err)
	}
	return s.d.Put(db.Registrations, append(append([]byte{}, registrationPrefix...), r.Message.Pubkey[:]...), enc)
}

// Registrations implements Store.
func (s *BadgerStore) Registrations(_ context.Context, fn func(*builderapiv1.SignedValidatorRegistration) bool) error {
	return s.d.View(func(tx *db.Txn) error {
		return tx.Iterate(db.Registrations, registrationPrefix, func(_, v []byte) error {
			var r builderapiv1.SignedValidatorRegistration
			if err := r.UnmarshalSSZ(v); err != nil {
				return fmt.Errorf("decode registration: %w", err)
			}
			if !fn(&r) {
				return db.ErrStop
			}
			return nil
		})
	})
}

func bundleOf(p *deneb.ExecutionPayload, b *builderfulu.BlobsBundle) *builderfulu.ExecutionPayloadAndBlobsBundle {
	return &builderfulu.ExecutionPayloadAndBlobsBundle{ExecutionPayload: p, BlobsBundle: b}
}

func builderStatusKey(pk phase0.BLSPubKey) []byte {
	return append(append(make([]byte, 0, len(builderStatusPrefix)+48), builderStatusPrefix...), pk[:]...)
}

// PutBuilderStatus implements Store.
func (s *BadgerStore) PutBuilderStatus(_ context.Context, st *BuilderStatus) error {
	enc, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode builder status: %w", err)
	}
	return s.d.Put(db.Registrations, builderStatusKey(st.Pubkey), enc)
}

// BuilderStatuses implements Store.
func (s *BadgerStore) BuilderStatuses(_ context.Context, fn func(*BuilderStatus) bool) error {
	return s.d.View(func(tx *db.Txn) error {
		return tx.Iterate(db.Registrations, builderStatusPrefix, func(_, v []byte) error {
			var st BuilderStatus
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("decode builder status: %w", err)
			}
			if !fn(&st) {
				return db.ErrStop
			}
			return nil
		})
	})
}

// Demote implements Store.
func (s *BadgerStore) Demote(_ context.Context, d *Demotion, st *BuilderStatus) error {
	denc, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode demotion: %w", err)
	}
	senc, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode builder status: %w", err)
	}
	// The write's time in the key keeps every demotion of a bid (a failed delivery, then its
	// late simulation failing too) instead of the last one only.
	k := binary.BigEndian.AppendUint64(append([]byte{}, demotionPrefix...), uint64(d.Slot))
	k = append(k, d.BlockHash[:]...)
	k = binary.BigEndian.AppendUint64(k, uint64(time.Now().UnixNano()))
	return s.d.Update(func(tx *db.Txn) error {
		if err := tx.Put(db.Registrations, k, denc); err != nil {
			return err
		}
		return tx.Put(db.Registrations, builderStatusKey(st.Pubkey), senc)
	})
}

// Demotions implements Store.
func (s *BadgerStore) Demotions(_ context.Context, fn func(*Demotion) bool) error {
	return s.d.View(func(tx *db.Txn) error {
		return tx.Iterate(db.Registrations, demotionPrefix, func(_, v []byte) error {
			var d Demotion
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("decode demotion: %w", err)
			}
			if !fn(&d) {
				return db.ErrStop
			}
			return nil
		})
	})
}

func servedKey(slot phase0.Slot, proposer phase0.BLSPubKey, hash phase0.Hash32) []byte {
	k := slotKey(prefixServed, slot, nil)
	return append(append(k, proposer[:]...), hash[:]...)
}

// PutServed implements Store. It is a synced write: the record must hold after a crash for the
// payload of the served header to be released.
func (s *BadgerStore) PutServed(_ context.Context, slot phase0.Slot, parent phase0.Hash32, proposer phase0.BLSPubKey, hash phase0.Hash32) error {
	return s.d.Update(func(tx *db.Txn) error {
		return tx.PutTTL(db.Payloads, servedKey(slot, proposer, hash), parent[:], s.DeliveryTTL)
	})
}

// Served implements Store.
func (s *BadgerStore) Served(_ context.Context, slot phase0.Slot, proposer phase0.BLSPubKey, hash phase0.Hash32) (bool, error) {
	_, err := s.d.Get(db.Payloads, servedKey(slot, proposer, hash))
	if errors.Is(err, db.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
