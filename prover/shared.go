package prover

import "sync"

// Sums shared between validators.
//
// A group's sums depend only on the group's wire values, which the digest names, not on whose
// proof they are part of. The wires of a tree level above the lowest are the same for every
// validator below the same node of the level beneath: four validators share level 1's, sixteen
// level 2's, and an operator whose keys sit together in the registry shares most of the tree
// between them. So a validator the prover has not seen (the first epoch after a restart without
// a persisted cache, or a new key) takes the levels another validator already computed, and
// only its own identity, leaf, lowest level and the epoch's values are new: its first proof
// costs a little more than a warm one instead of a whole proof's sums.
//
// Only groups that can be shared are kept here (wireGroup.shared): a validator's identity and
// lowest level are its own, and the per-validator cache holds them.

// sharedKey names a group's sums by content.
type sharedKey struct {
	group  int
	digest [32]byte
}

// sharedSums is a bounded map of sums by content. It keeps two generations: entries are put
// in the current one, a lookup that finds an entry in the previous one moves it to the
// current one, and when the current one is full the previous one is dropped. Entries used by
// many validators stay; an entry no other validator used goes after two generations.
type sharedSums struct {
	mu        sync.Mutex
	max       int // entries per generation
	cur, prev map[sharedKey]groupSums
}

func newSharedSums(max int) *sharedSums {
	return &sharedSums{max: max, cur: make(map[sharedKey]groupSums), prev: make(map[sharedKey]groupSums)}
}

// get returns the sums of group gi's wire values of digest d. On a nil store or a group that
// cannot be shared it finds nothing.
func (s *sharedSums) get(gi int, d [32]byte, shareable bool) (groupSums, bool) {
	if s == nil || !shareable {
		return groupSums{}, false
	}
	k := sharedKey{gi, d}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.cur[k]; ok {
		return v, true
	}
	v, ok := s.prev[k]
	if ok {
		delete(s.prev, k)
		s.insert(k, v)
	}
	return v, ok
}

func (s *sharedSums) put(gi int, d [32]byte, v groupSums) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.insert(sharedKey{gi, d}, v)
}

func (s *sharedSums) insert(k sharedKey, v groupSums) {
	if len(s.cur) >= s.max {
		s.prev, s.cur = s.cur, make(map[sharedKey]groupSums, s.max)
	}
	s.cur[k] = v
}

// Len returns the number of entries held.
func (s *sharedSums) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.cur) + len(s.prev)
}
