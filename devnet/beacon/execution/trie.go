package execution

import (
	"bytes"
	"slices"

	"golang.org/x/crypto/sha3"
)

// The Merkle-Patricia trie root of a fixed set of keys (Yellow Paper, appendix D), built in one
// pass from the sorted keys instead of by successive inserts: the root of a trie depends only on
// its contents, so both give the same hash. Only the root is kept; no node is stored.

// emptyTrieRoot is keccak256(RLP("")), the root of a trie with no entries (Yellow Paper, appendix
// D; go-ethereum types.EmptyRootHash).
var emptyTrieRoot = keccak256([]byte{0x80})

// trieEntry is one key and its value; the key is held as nibbles (half-bytes).
type trieEntry struct {
	nibbles []byte
	value   []byte
}

// trieRoot returns the root hash of the trie holding keys[i] -> values[i]. Keys must be distinct
// and values non-empty (an empty value means "absent" in a trie); listRoot guarantees both.
func trieRoot(keys, values [][]byte) [32]byte {
	if len(keys) == 0 {
		return emptyTrieRoot
	}
	entries := make([]trieEntry, len(keys))
	for i, k := range keys {
		entries[i] = trieEntry{nibbles: toNibbles(k), value: values[i]}
	}
	slices.SortFunc(entries, func(a, b trieEntry) int { return bytes.Compare(a.nibbles, b.nibbles) })
	root := encodeNode(entries, 0)
	// The root is always hashed, even when its encoding is shorter than 32 bytes.
	return keccak256(root)
}

// listRoot returns the root of the trie keyed by RLP(index) over the items in order: the
// transactions root and withdrawals root of a block (go-ethereum DeriveSha). item(i) returns the
// value stored at index i; it must not be empty.
func listRoot(n int, item func(i int) []byte) [32]byte {
	if n == 0 {
		return emptyTrieRoot
	}
	keys := make([][]byte, n)
	values := make([][]byte, n)
	keyBuf := make([]byte, 0, 3*n)
	for i := range n {
		start := len(keyBuf)
		keyBuf = rlpAppendUint(keyBuf, uint64(i))
		keys[i] = keyBuf[start:len(keyBuf):len(keyBuf)]
		values[i] = item(i)
	}
	return trieRoot(keys, values)
}

// encodeNode returns the RLP encoding of the node holding entries (sorted, all sharing the
// nibbles before depth).
func encodeNode(entries []trieEntry, depth int) []byte {
	if len(entries) == 1 {
		// Leaf: [hex-prefix(rest of key, leaf), value].
		e := entries[0]
		hp := hexPrefix(e.nibbles[depth:], true)
		n := rlpStringLen(hp) + rlpStringLen(e.value)
		node := rlpAppendHeader(make([]byte, 0, rlpHeaderLen(n)+n), 0xc0, n)
		node = rlpAppendString(node, hp)
		return rlpAppendString(node, e.value)
	}
	// The entries are sorted, so the prefix common to all is the one the first and last share.
	first, last := entries[0].nibbles[depth:], entries[len(entries)-1].nibbles[depth:]
	common := 0
	for common < len(first) && common < len(last) && first[common] == last[common] {
		common++
	}
	if common > 0 {
		// Extension: [hex-prefix(shared nibbles, extension), reference to the branch below].
		child := encodeNode(entries, depth+common)
		var payload []byte
		payload = rlpAppendString(payload, hexPrefix(first[:common], false))
		payload = appendRef(payload, child)
		return rlpAppendList(nil, payload)
	}
	// Branch: 16 children by next nibble, then the value of a key that ends here.
	var payload []byte
	var value []byte
	rest := entries
	if len(rest[0].nibbles) == depth {
		// Sorted first: a key that ends at this node is a prefix of the others.
		value = rest[0].value
		rest = rest[1:]
	}
	for nibble := byte(0); nibble < 16; nibble++ {
		n := 0
		for n < len(rest) && rest[n].nibbles[depth] == nibble {
			n++
		}
		if n == 0 {
			payload = append(payload, 0x80)
			continue
		}
		payload = appendRef(payload, encodeNode(rest[:n], depth+1))
		rest = rest[n:]
	}
	if value == nil {
		payload = append(payload, 0x80)
	} else {
		payload = rlpAppendString(payload, value)
	}
	return rlpAppendList(nil, payload)
}

// appendRef appends how a parent refers to a child node: the node itself when its encoding is
// shorter than 32 bytes, else the keccak256 of that encoding as a 32-byte string.
func appendRef(dst, node []byte) []byte {
	if len(node) < 32 {
		return append(dst, node...)
	}
	h := keccak256(node)
	return rlpAppendString(dst, h[:])
}

// hexPrefix is the hex-prefix encoding of a nibble path (Yellow Paper, appendix C): a flag nibble
// (2 for a leaf, +1 for an odd length), then the nibbles packed two per byte.
func hexPrefix(nibbles []byte, leaf bool) []byte {
	flag := byte(0)
	if leaf {
		flag = 2
	}
	out := make([]byte, 0, len(nibbles)/2+1)
	if len(nibbles)%2 == 1 {
		out = append(out, (flag+1)<<4|nibbles[0])
		nibbles = nibbles[1:]
	} else {
		out = append(out, flag<<4)
	}
	for i := 0; i < len(nibbles); i += 2 {
		out = append(out, nibbles[i]<<4|nibbles[i+1])
	}
	return out
}

// rlpStringLen is the length of the RLP encoding of the byte string b.
func rlpStringLen(b []byte) int {
	if len(b) == 1 && b[0] < 0x80 {
		return 1
	}
	return rlpHeaderLen(len(b)) + len(b)
}

func toNibbles(key []byte) []byte {
	n := make([]byte, 2*len(key))
	for i, b := range key {
		n[2*i] = b >> 4
		n[2*i+1] = b & 0x0f
	}
	return n
}

// keccak256 is the legacy Keccak-256 Ethereum uses (not NIST SHA3-256).
func keccak256(data ...[]byte) [32]byte {
	h := sha3.NewLegacyKeccak256()
	for _, d := range data {
		h.Write(d)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}
