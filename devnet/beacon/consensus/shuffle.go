package consensus

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// ErrEmptySet is returned when a selection (shuffle index, proposer, sync committee) is asked of
// an empty set of validators.
var ErrEmptySet = errors.New("empty validator set")

// ErrNoBalance is returned when every candidate has a zero effective balance: the spec's
// sampling loops (compute_proposer_index, get_next_sync_committee_indices) would never end.
var ErrNoBalance = errors.New("no candidate has an effective balance")

// maxShuffleCount bounds the list size of the shuffle: positions are hashed as
// uint_to_bytes(uint32(position // 256)), so larger lists would repeat sources (phase0
// compute_shuffled_index kept `assert index_count <= 2**40` for this reason).
const maxShuffleCount = 1 << 40

// ComputeShuffledIndex is phase0 compute_shuffled_index: the position that index moves to in the
// swap-or-not permutation of 0..count-1 for seed, over the given number of rounds
// (SHUFFLE_ROUND_COUNT). Each round costs two hashes; use Shuffle for whole lists.
func ComputeShuffledIndex(index, count uint64, seed [32]byte, rounds uint8) (uint64, error) {
	if count == 0 {
		return 0, fmt.Errorf("compute shuffled index: %w", ErrEmptySet)
	}
	if count > maxShuffleCount {
		return 0, fmt.Errorf("compute shuffled index: count %d above 2**40", count)
	}
	if index >= count {
		return 0, fmt.Errorf("compute shuffled index: index %d not below count %d", index, count)
	}
	var buf [37]byte // seed + round byte + uint32 bucket
	copy(buf[:32], seed[:])
	for r := 0; r < int(rounds); r++ {
		buf[32] = byte(r)
		h := sha256.Sum256(buf[:33])
		pivot := binary.LittleEndian.Uint64(h[:8]) % count
		flip := (pivot + count - index) % count
		position := max(index, flip)
		binary.LittleEndian.PutUint32(buf[33:], uint32(position/256))
		source := sha256.Sum256(buf[:37])
		if source[(position%256)/8]>>(position%8)&1 == 1 {
			index = flip
		}
	}
	return index, nil
}

// Shuffle returns out with out[i] = indices[ComputeShuffledIndex(i, len(indices), seed)],
// computed for the whole list at once as clients do. Each round of compute_shuffled_index is an
// involution that swaps the pairs {x, (pivot - x) mod n} whose larger member's source bit is
// set, so applying the rounds to the list in reverse order (round rounds-1 first) gives
// out[i] = indices[S_{rounds-1}(...S_0(i))]. A round walks the two mirrored ranges [0, pivot]
// and [pivot+1, n-1] once, n/2 swaps reading the source bits in order, with one pivot hash and
// one source hash per 256 positions: rounds*(1+n/256) hashes in all. An empty list gives an
// empty list; a list over 2**40 (which no memory holds) gives nil. indices is not modified.
func Shuffle(indices []uint64, seed [32]byte, rounds uint8) []uint64 {
	n := uint64(len(indices))
	if n == 0 {
		return []uint64{}
	}
	if n > maxShuffleCount {
		return nil
	}
	out := make([]uint64, n)
	copy(out, indices)
	buckets := (n + 255) / 256
	sources := make([]byte, buckets*32) // the source bit of position j is sources[j/8] >> (j%8)
	var buf [37]byte
	copy(buf[:32], seed[:])
	for r := int(rounds) - 1; r >= 0; r-- {
		buf[32] = byte(r)
		h := sha256.Sum256(buf[:33])
		pivot := binary.LittleEndian.Uint64(h[:8]) % n
		for b := uint64(0); b < buckets; b++ {
			binary.LittleEndian.PutUint32(buf[33:], uint32(b))
			s := sha256.Sum256(buf[:37])
			copy(sources[b*32:], s[:])
		}
		// Pairs (i, pivot-i) inside [0, pivot]; the larger member j decides. A middle element
		// pairs with itself and stays.
		for i, j := uint64(0), pivot; i < j; i, j = i+1, j-1 {
			if sources[j>>3]>>(j&7)&1 == 1 {
				out[i], out[j] = out[j], out[i]
			}
		}
		// Pairs (i, pivot+n-i) inside [pivot+1, n-1].
		for i, j := pivot+1, n-1; i < j; i, j = i+1, j-1 {
			if sources[j>>3]>>(j&7)&1 == 1 {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// Seed is phase0 get_seed given mix, the RANDAO mix at epoch + EPOCHS_PER_HISTORICAL_VECTOR -
// MIN_SEED_LOOKAHEAD - 1: hash(domain_type + uint_to_bytes(epoch) + mix).
func Seed(mix [32]byte, domainType [4]byte, epoch uint64) [32]byte {
	var buf [44]byte
	copy(buf[:4], domainType[:])
	binary.LittleEndian.PutUint64(buf[4:12], epoch)
	copy(buf[12:], mix[:])
	return sha256.Sum256(buf[:])
}

// CommitteeCountPerSlot is phase0 get_committee_count_per_slot for an epoch with activeCount
// active validators: max(1, min(MAX_COMMITTEES_PER_SLOT, active // SLOTS_PER_EPOCH //
// TARGET_COMMITTEE_SIZE)). A preset with a zero divisor gives 1.
func CommitteeCountPerSlot(activeCount uint64, p Preset) uint64 {
	if p.SlotsPerEpoch == 0 || p.TargetCommitteeSize == 0 {
		return 1
	}
	return max(1, min(p.MaxCommitteesPerSlot, activeCount/p.SlotsPerEpoch/p.TargetCommitteeSize))
}

// BeaconCommittee is phase0 get_beacon_committee (compute_committee) given the epoch's shuffled
// active indices (Shuffle of the active set with Seed(..., DomainBeaconAttester, epoch)): the
// slice [len*k/count, len*(k+1)/count) with k = (slot % SLOTS_PER_EPOCH)*committeesPerSlot +
// index and count = committeesPerSlot*SLOTS_PER_EPOCH. It returns a copy, or nil when index is
// not below committeesPerSlot or committeesPerSlot is 0 or above MAX_COMMITTEES_PER_SLOT (which
// get_committee_count_per_slot never returns).
func BeaconCommittee(shuffled []uint64, slot, index, committeesPerSlot uint64, p Preset) []uint64 {
	if committeesPerSlot == 0 || index >= committeesPerSlot || committeesPerSlot > p.MaxCommitteesPerSlot || p.SlotsPerEpoch == 0 {
		return nil
	}
	if hi, _ := bits.Mul64(committeesPerSlot, p.SlotsPerEpoch); hi != 0 {
		return nil
	}
	k := (slot%p.SlotsPerEpoch)*committeesPerSlot + index
	count := committeesPerSlot * p.SlotsPerEpoch
	n := uint64(len(shuffled))
	// len*k and len*(k+1) fit in 128 bits; the quotients are below len.
	start := mulDiv(n, k, count)
	end := mulDiv(n, k+1, count)
	out := make([]uint64, end-start)
	copy(out, shuffled[start:end])
	return out
}

// mulDiv returns a*b/c for c > 0 and a*b/c < 2**64.
func mulDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// ProposerSeed is the seed of phase0 get_beacon_proposer_index: hash(get_seed(state, epoch,
// DOMAIN_BEACON_PROPOSER) + uint_to_bytes(slot)), epochSeed being that get_seed.
func ProposerSeed(epochSeed [32]byte, slot uint64) [32]byte {
	var buf [40]byte
	copy(buf[:32], epochSeed[:])
	binary.LittleEndian.PutUint64(buf[32:], slot)
	return sha256.Sum256(buf[:])
}

// indexShuffler answers compute_shuffled_index for many indices of one (count, seed) by caching
// the per-round pivots and the per-(round, bucket) source hashes that indices share.
type indexShuffler struct {
	seed    [32]byte
	count   uint64
	pivots  []uint64
	sources map[uint64][32]byte // key: bucket*256 + round
}

func newIndexShuffler(count uint64, seed [32]byte, rounds uint8) *indexShuffler {
	s := &indexShuffler{seed: seed, count: count, pivots: make([]uint64, rounds), sources: make(map[uint64][32]byte)}
	var buf [33]byte
	copy(buf[:32], seed[:])
	for r := range s.pivots {
		buf[32] = byte(r)
		h := sha256.Sum256(buf[:])
		s.pivots[r] = binary.LittleEndian.Uint64(h[:8]) % count
	}
	return s
}

func (s *indexShuffler) index(index uint64) uint64 {
	for r, pivot := range s.pivots {
		flip := (pivot + s.count - index) % s.count
		position := max(index, flip)
		key := (position/256)<<8 | uint64(r)
		src, ok := s.sources[key]
		if !ok {
			var buf [37]byte
			copy(buf[:32], s.seed[:])
			buf[32] = byte(r)
			binary.LittleEndian.PutUint32(buf[33:], uint32(position/256))
			src = sha256.Sum256(buf[:])
			s.sources[key] = src
		}
		if src[(position%256)/8]>>(position%8)&1 == 1 {
			index = flip
		}
	}
	return index
}

// electraSample is the loop shared by Electra's compute_proposer_index and
// get_next_sync_committee_indices: walk the shuffled candidates, accepting candidate i when
// effective_balance * (2**16 - 1) >= MAX_EFFECTIVE_BALANCE_ELECTRA * random_value, random_value
// being the i%16-th little-endian uint16 of hash(seed + uint_to_bytes(i // 16)); stop after want
// acceptances.
func electraSample(active []uint64, seed [32]byte, effectiveBalance func(uint64) uint64, p Preset, want int) ([]uint64, error) {
	total := uint64(len(active))
	if total == 0 {
		return nil, ErrEmptySet
	}
	if effectiveBalance == nil {
		return nil, errors.New("nil effective balance function")
	}
	if total > maxShuffleCount {
		return nil, fmt.Errorf("active set of %d above 2**40", total)
	}
	anyBalance := false
	for _, v := range active {
		if effectiveBalance(v) > 0 {
			anyBalance = true
			break
		}
	}
	if !anyBalance {
		return nil, ErrNoBalance
	}
	const maxRandomValue = 1<<16 - 1
	sh := newIndexShuffler(total, seed, p.ShuffleRoundCount)
	out := make([]uint64, 0, want)
	var buf [40]byte
	copy(buf[:32], seed[:])
	var randomBytes [32]byte
	for i := uint64(0); len(out) < want; i++ {
		candidate := active[sh.index(i%total)]
		if i%16 == 0 {
			binary.LittleEndian.PutUint64(buf[32:], i/16)
			randomBytes = sha256.Sum256(buf[:])
		}
		offset := i % 16 * 2
		randomValue := uint64(binary.LittleEndian.Uint16(randomBytes[offset : offset+2]))
		// Compared in 128 bits so that a balance above the spec's range cannot wrap.
		lh, ll := bits.Mul64(effectiveBalance(candidate), maxRandomValue)
		rh, rl := bits.Mul64(p.MaxEffectiveBalanceElectra, randomValue)
		if lh > rh || (lh == rh && ll >= rl) {
			out = append(out, candidate)
		}
	}
	return out, nil
}

// ProposerIndex is Electra's compute_proposer_index (16-bit random values,
// MAX_EFFECTIVE_BALANCE_ELECTRA) over the active indices with seed = ProposerSeed(get_seed(state,
// epoch, DOMAIN_BEACON_PROPOSER), slot). effectiveBalance gives a validator's effective balance
// in gwei. An empty set gives ErrEmptySet; a set of zero balances ErrNoBalance.
func ProposerIndex(active []uint64, seed [32]byte, effectiveBalance func(index uint64) uint64, p Preset) (uint64, error) {
	out, err := electraSample(active, seed, effectiveBalance, p, 1)
	if err != nil {
		return 0, fmt.Errorf("compute proposer index: %w", err)
	}
	return out[0], nil
}

// SyncCommitteeIndices is Electra's get_next_sync_committee_indices: SYNC_COMMITTEE_SIZE
// indices, possibly repeated, sampled from the active set of the next sync committee period's
// first epoch with seed = get_seed(state, epoch, DOMAIN_SYNC_COMMITTEE).
func SyncCommitteeIndices(active []uint64, seed [32]byte, effectiveBalance func(index uint64) uint64, p Preset) ([]uint64, error) {
	if p.SyncCommitteeSize == 0 || p.SyncCommitteeSize > 1<<20 {
		return nil, fmt.Errorf("sync committee indices: sync committee size %d out of range", p.SyncCommitteeSize)
	}
	out, err := electraSample(active, seed, effectiveBalance, p, int(p.SyncCommitteeSize))
	if err != nil {
		return nil, fmt.Errorf("sync committee indices: %w", err)
	}
	return out, nil
}
