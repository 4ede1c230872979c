package slashing

import (
	"fmt"
	"slices"
	"sort"
)

// optRoot is a signing root that may be unknown: imported without one, or merged from two
// imported records that disagree. An unknown root never matches, so it never permits a repeat.
type optRoot struct {
	r     Root
	known bool
}

func (a optRoot) same(b optRoot) bool { return a.known && b.known && a.r == b.r }

type blockRec struct {
	slot uint64
	root optRoot
}

type attRec struct {
	source, target uint64
	root           optRoot
}

// watermark is the low watermark left by records folded out of the history: no block at a slot
// <= slot, and no attestation with source < source or target <= target may be signed. It is the
// maximum over everything folded, which is exactly what makes dropping those records safe: a new
// attestation (s, t) with s >= every folded source and t > every folded target can neither
// surround, be surrounded by, nor double a folded one (EIP-3076, "minimal" strategy).
type watermark struct {
	hasSlot        bool
	slot           uint64
	hasAtt         bool
	source, target uint64
}

func (w *watermark) foldBlock(slot uint64) {
	if !w.hasSlot || slot > w.slot {
		w.slot = slot
	}
	w.hasSlot = true
}

func (w *watermark) foldAtt(source, target uint64) {
	if !w.hasAtt {
		w.source, w.target, w.hasAtt = source, target, true
		return
	}
	w.source = max(w.source, source)
	w.target = max(w.target, target)
}

// history is the slashing protection state of one validator, the in-memory mirror of its
// records in the database. It is owned by the Protector's committer goroutine.
//
// The index for surround checks: attestations sorted by (target, source) plus the minimum and
// maximum source. A request for a new highest target (every honest duty) is decided in
// O(log n): nothing can surround it, and it surrounds a record only if some source exceeds its
// own, which maxSource answers. Out-of-order requests scan the records on one side of their
// target; n is bounded by the history length.
type history struct {
	blocks    []blockRec // sorted by slot, one record per slot
	atts      []attRec   // sorted by (target, source), one record per pair
	minSource uint64     // over atts, valid when len(atts) > 0
	maxSource uint64
	low       watermark
}

func (h *history) clone() *history {
	c := *h
	c.blocks = slices.Clone(h.blocks)
	c.atts = slices.Clone(h.atts)
	return &c
}

func (h *history) blockIndex(slot uint64) (int, bool) {
	i := sort.Search(len(h.blocks), func(i int) bool { return h.blocks[i].slot >= slot })
	return i, i < len(h.blocks) && h.blocks[i].slot == slot
}

// targetRange returns [lo, hi), the records with target t.
func (h *history) targetRange(t uint64) (lo, hi int) {
	lo = sort.Search(len(h.atts), func(i int) bool { return h.atts[i].target >= t })
	hi = lo
	for hi < len(h.atts) && h.atts[hi].target == t {
		hi++
	}
	return lo, hi
}

// checkBlock decides a block signing request. repeat is true when the identical block (same
// slot and signing root) is already recorded: signing it again is safe and needs no new record.
func (h *history) checkBlock(slot uint64, root Root) (repeat bool, reason Reason, existing string) {
	want := optRoot{root, true}
	if i, ok := h.blockIndex(slot); ok {
		if h.blocks[i].root.same(want) {
			return true, 0, ""
		}
		return false, DoubleProposal, "signed " + h.blocks[i].describe()
	}
	// EIP-3076 condition 3: nothing at or below the lowest slot we know of, except repeats.
	if len(h.blocks) > 0 && slot <= h.blocks[0].slot {
		return false, SlotBelowLowWatermark, fmt.Sprintf("lowest recorded block slot=%d", h.blocks[0].slot)
	}
	if h.low.hasSlot && slot <= h.low.slot {
		return false, SlotBelowLowWatermark, fmt.Sprintf("low watermark slot=%d", h.low.slot)
	}
	return false, 0, ""
}

// checkAttestation decides an attestation signing request, like checkBlock.
func (h *history) checkAttestation(source, target uint64, root Root) (repeat bool, reason Reason, existing string) {
	if source > target {
		return false, SourceAfterTarget, ""
	}
	want := optRoot{root, true}
	lo, hi := h.targetRange(target)
	if hi > lo {
		// A repeat only if the one record at this target is this very message; any other record
		// at the target (or two of them, from slashable imported data) makes it a double vote.
		if hi-lo == 1 && h.atts[lo].source == source && h.atts[lo].root.same(want) {
			return true, 0, ""
		}
		return false, DoubleVote, "signed " + h.atts[lo].describe()
	}
	// Records before lo have smaller targets: the new vote surrounds one with a larger source.
	if lo > 0 && h.maxSource > source {
		for _, a := range h.atts[:lo] {
			if a.source > source {
				return false, SurroundingVote, "signed " + a.describe()
			}
		}
	}
	// Records from lo on have larger targets: one with a smaller source surrounds the new vote.
	if lo < len(h.atts) && h.minSource < source {
		for _, a := range h.atts[lo:] {
			if a.source < source {
				return false, SurroundedVote, "signed " + a.describe()
			}
		}
	}
	// Not slashable with any record; EIP-3076 conditions 4 and 5 against everything recorded,
	// then the folded watermark.
	if len(h.atts) > 0 {
		if source < h.minSource {
			return false, SourceBelowLowWatermark, fmt.Sprintf("lowest recorded source=%d", h.minSource)
		}
		if target <= h.atts[0].target {
			return false, TargetBelowLowWatermark, fmt.Sprintf("lowest recorded target=%d", h.atts[0].target)
		}
	}
	if h.low.hasAtt {
		if source < h.low.source {
			return false, SourceBelowLowWatermark, fmt.Sprintf("low watermark source=%d", h.low.source)
		}
		if target <= h.low.target {
			return false, TargetBelowLowWatermark, fmt.Sprintf("low watermark target=%d", h.low.target)
		}
	}
	return false, 0, ""
}

// addBlock records a block (merging with a record at the same slot: roots that disagree become
// unknown) and folds the oldest records beyond limit into the watermark.
func (h *history) addBlock(slot uint64, root optRoot, limit int) {
	i, ok := h.blockIndex(slot)
	if ok {
		if !h.blocks[i].root.same(root) {
			h.blocks[i].root = optRoot{}
		}
	} else {
		h.blocks = slices.Insert(h.blocks, i, blockRec{slot, root})
	}
	if n := len(h.blocks) - limit; n > 0 {
		for _, b := range h.blocks[:n] {
			h.low.foldBlock(b.slot)
		}
		h.blocks = slices.Delete(h.blocks, 0, n)
	}
	h.settle()
}

// addAttestation records an attestation like addBlock. Two records at one target with different
// sources both stay: that is slashable imported data, and each constrains what may follow.
func (h *history) addAttestation(source, target uint64, root optRoot, limit int) {
	i := sort.Search(len(h.atts), func(i int) bool {
		a := h.atts[i]
		return a.target > target || (a.target == target && a.source >= source)
	})
	if i < len(h.atts) && h.atts[i].target == target && h.atts[i].source == source {
		if !h.atts[i].root.same(root) {
			h.atts[i].root = optRoot{}
		}
	} else {
		h.atts = slices.Insert(h.atts, i, attRec{source, target, root})
		if len(h.atts) == 1 {
			h.minSource, h.maxSource = source, source
		} else {
			h.minSource = min(h.minSource, source)
			h.maxSource = max(h.maxSource, source)
		}
	}
	if n := len(h.atts) - limit; n > 0 {
		for _, a := range h.atts[:n] {
			h.low.foldAtt(a.source, a.target)
		}
		h.atts = slices.Delete(h.atts, 0, n)
		h.summarize()
	}
	h.settle()
}

// settle folds every record at or below the watermark into it, keeping the watermark below
// every record. Export relies on that: it writes the watermark as the lowest records, and an
// EIP-3076 importer takes a file's lowest slot, source and target as its own watermark, so a
// record below ours would lower the importer's and let it sign what was folded away. Such
// records appear when older data is imported after folding, or when a history written under
// Minimal is reopened under Complete; they refuse nothing the watermark does not refuse.
func (h *history) settle() {
	if h.low.hasSlot {
		if n := sort.Search(len(h.blocks), func(i int) bool { return h.blocks[i].slot > h.low.slot }); n > 0 {
			h.blocks = slices.Delete(h.blocks, 0, n) // folding them leaves low.slot as it is
		}
	}
	if h.low.hasAtt {
		if n := sort.Search(len(h.atts), func(i int) bool { return h.atts[i].target > h.low.target }); n > 0 {
			// Their targets are at most low.target, but a source may exceed low.source.
			for _, a := range h.atts[:n] {
				h.low.foldAtt(a.source, a.target)
			}
			h.atts = slices.Delete(h.atts, 0, n)
			h.summarize()
		}
	}
}

// settled reports whether the watermark is below every record (see settle).
func (h *history) settled() bool {
	return !(h.low.hasSlot && len(h.blocks) > 0 && h.blocks[0].slot <= h.low.slot) &&
		!(h.low.hasAtt && len(h.atts) > 0 && h.atts[0].target <= h.low.target)
}

func (h *history) summarize() {
	h.minSource, h.maxSource = 0, 0
	for i, a := range h.atts {
		if i == 0 || a.source < h.minSource {
			h.minSource = a.source
		}
		if i == 0 || a.source > h.maxSource {
			h.maxSource = a.source
		}
	}
}

// fold applies limit to a history read from the database, which another configuration may
// have written with a longer history.
func (h *history) fold(limit int) {
	if n := len(h.blocks) - limit; n > 0 {
		for _, b := range h.blocks[:n] {
			h.low.foldBlock(b.slot)
		}
		h.blocks = slices.Delete(h.blocks, 0, n)
	}
	if n := len(h.atts) - limit; n > 0 {
		for _, a := range h.atts[:n] {
			h.low.foldAtt(a.source, a.target)
		}
		h.atts = slices.Delete(h.atts, 0, n)
	}
	h.summarize()
	h.settle()
}

func (b blockRec) describe() string { return fmt.Sprintf("block slot=%d", b.slot) }

func (a attRec) describe() string {
	return fmt.Sprintf("attestation source=%d target=%d", a.source, a.target)
}
