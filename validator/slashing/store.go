package slashing

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/zkvlabs/zkv/db"
)

// On-disk layout (the slashing rows of db's key schema; integers big-endian):
//
//	db.SlashingBlocks        pubkey(48) | slot(8)              -> signing root(32), or empty if unknown
//	db.SlashingAttestations  pubkey(48) | target(8) | source(8) -> signing root(32), or empty if unknown
//	db.SlashingWatermarks    pubkey(48)                         -> flags(1) | slot(8) | source(8) | target(8)
//	db.Meta                  "slashing.genesis_validators_root" -> 32 bytes
//
// Watermark flags: bit 0 the slot is set, bit 1 source and target are set.

const gvrKey = "slashing.genesis_validators_root"

const (
	flagSlot = 1 << 0
	flagAtt  = 1 << 1
)

func blockKey(pk Pubkey, slot uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, 56), pk[:]...), slot)
}

func attKey(pk Pubkey, target, source uint64) []byte {
	k := binary.BigEndian.AppendUint64(append(make([]byte, 0, 64), pk[:]...), target)
	return binary.BigEndian.AppendUint64(k, source)
}

func rootValue(r optRoot) []byte {
	if !r.known {
		return nil
	}
	return slices.Clone(r.r[:])
}

func decodeRoot(v []byte) (optRoot, error) {
	switch len(v) {
	case 0:
		return optRoot{}, nil
	case 32:
		var r optRoot
		copy(r.r[:], v)
		r.known = true
		return r, nil
	}
	return optRoot{}, fmt.Errorf("signing root of %d bytes", len(v))
}

func watermarkValue(w watermark) []byte {
	v := make([]byte, 25)
	if w.hasSlot {
		v[0] |= flagSlot
	}
	if w.hasAtt {
		v[0] |= flagAtt
	}
	binary.BigEndian.PutUint64(v[1:], w.slot)
	binary.BigEndian.PutUint64(v[9:], w.source)
	binary.BigEndian.PutUint64(v[17:], w.target)
	return v
}

func decodeWatermark(v []byte) (watermark, error) {
	if len(v) != 25 || v[0]&^(flagSlot|flagAtt) != 0 {
		return watermark{}, fmt.Errorf("watermark of %d bytes, flags %#x", len(v), v[0])
	}
	return watermark{
		hasSlot: v[0]&flagSlot != 0,
		slot:    binary.BigEndian.Uint64(v[1:]),
		hasAtt:  v[0]&flagAtt != 0,
		source:  binary.BigEndian.Uint64(v[9:]),
		target:  binary.BigEndian.Uint64(v[17:]),
	}, nil
}

// loadAll reads every validator's history. Records arrive in key order, which is the order the
// history slices keep.
func loadAll(tx *db.Txn) (map[Pubkey]*history, error) {
	hs := make(map[Pubkey]*history)
	get := func(k []byte) *history {
		pk := Pubkey(k[:48])
		h := hs[pk]
		if h == nil {
			h = &history{}
			hs[pk] = h
		}
		return h
	}
	err := tx.Iterate(db.SlashingBlocks, nil, func(k, v []byte) error {
		if len(k) != 56 {
			return fmt.Errorf("%w: block key %x", ErrCorrupt, k)
		}
		r, err := decodeRoot(v)
		if err != nil {
			return fmt.Errorf("%w: block %x: %v", ErrCorrupt, k, err)
		}
		h := get(k)
		h.blocks = append(h.blocks, blockRec{slot: binary.BigEndian.Uint64(k[48:]), root: r})
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = tx.Iterate(db.SlashingAttestations, nil, func(k, v []byte) error {
		if len(k) != 64 {
			return fmt.Errorf("%w: attestation key %x", ErrCorrupt, k)
		}
		r, err := decodeRoot(v)
		if err != nil {
			return fmt.Errorf("%w: attestation %x: %v", ErrCorrupt, k, err)
		}
		h := get(k)
		h.atts = append(h.atts, attRec{target: binary.BigEndian.Uint64(k[48:]), source: binary.BigEndian.Uint64(k[56:]), root: r})
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = tx.Iterate(db.SlashingWatermarks, nil, func(k, v []byte) error {
		if len(k) != 48 {
			return fmt.Errorf("%w: watermark key %x", ErrCorrupt, k)
		}
		w, err := decodeWatermark(v)
		if err != nil {
			return fmt.Errorf("%w: %x: %v", ErrCorrupt, k, err)
		}
		get(k).low = w
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		h.summarize()
	}
	return hs, nil
}

// op is one database write of a change set.
type op struct {
	bucket db.Bucket
	key    []byte
	value  []byte
	del    bool
}

// diff appends the writes that turn old (nil: nothing stored) into new.
func diff(ops []op, pk Pubkey, old, new *history) []op {
	if old == nil {
		old = &history{}
	}
	// Both block lists are sorted by slot: merge them.
	i, j := 0, 0
	for i < len(old.blocks) || j < len(new.blocks) {
		switch {
		case j == len(new.blocks) || (i < len(old.blocks) && old.blocks[i].slot < new.blocks[j].slot):
			ops = append(ops, op{bucket: db.SlashingBlocks, key: blockKey(pk, old.blocks[i].slot), del: true})
			i++
		case i == len(old.blocks) || new.blocks[j].slot < old.blocks[i].slot:
			ops = append(ops, op{bucket: db.SlashingBlocks, key: blockKey(pk, new.blocks[j].slot), value: rootValue(new.blocks[j].root)})
			j++
		default:
			if old.blocks[i].root != new.blocks[j].root {
				ops = append(ops, op{bucket: db.SlashingBlocks, key: blockKey(pk, new.blocks[j].slot), value: rootValue(new.blocks[j].root)})
			}
			i++
			j++
		}
	}
	less := func(a, b attRec) bool { return a.target < b.target || (a.target == b.target && a.source < b.source) }
	i, j = 0, 0
	for i < len(old.atts) || j < len(new.atts) {
		switch {
		case j == len(new.atts) || (i < len(old.atts) && less(old.atts[i], new.atts[j])):
			a := old.atts[i]
			ops = append(ops, op{bucket: db.SlashingAttestations, key: attKey(pk, a.target, a.source), del: true})
			i++
		case i == len(old.atts) || less(new.atts[j], old.atts[i]):
			a := new.atts[j]
			ops = append(ops, op{bucket: db.SlashingAttestations, key: attKey(pk, a.target, a.source), value: rootValue(a.root)})
			j++
		default:
			if a := new.atts[j]; old.atts[i].root != a.root {
				ops = append(ops, op{bucket: db.SlashingAttestations, key: attKey(pk, a.target, a.source), value: rootValue(a.root)})
			}
			i++
			j++
		}
	}
	if old.low != new.low {
		ops = append(ops, op{bucket: db.SlashingWatermarks, key: slices.Clone(pk[:]), value: watermarkValue(new.low)})
	}
	return ops
}

func apply(tx *db.Txn, ops []op) error {
	for _, o := range ops {
		var err error
		if o.del {
			err = tx.Delete(o.bucket, o.key)
		} else {
			err = tx.Put(o.bucket, o.key, o.value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkGenesis records gvr in a fresh database and refuses a database of another network.
func checkGenesis(d *db.DB, gvr Root) error {
	return d.Update(func(tx *db.Txn) error {
		v, err := tx.Get(db.Meta, []byte(gvrKey))
		if errors.Is(err, db.ErrNotFound) {
			return tx.Put(db.Meta, []byte(gvrKey), gvr[:])
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(v, gvr[:]) {
			return fmt.Errorf("%w: the database belongs to the network with genesis validators root 0x%x, not %v", ErrGenesisMismatch, v, gvr)
		}
		return nil
	})
}

// StoredGenesisValidatorsRoot returns the genesis validators root a database was first used
// with, and false if slashing protection never ran on it.
func StoredGenesisValidatorsRoot(d *db.DB) (Root, bool, error) {
	v, err := d.Get(db.Meta, []byte(gvrKey))
	if errors.Is(err, db.ErrNotFound) {
		return Root{}, false, nil
	}
	if err != nil {
		return Root{}, false, err
	}
	if len(v) != 32 {
		return Root{}, false, fmt.Errorf("%w: genesis validators root of %d bytes", ErrCorrupt, len(v))
	}
	return Root(v), true, nil
}
