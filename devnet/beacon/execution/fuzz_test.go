package execution

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/attestantio/go-eth2-client/spec/bellatrix"
)

// rlpSplit is a test-only RLP decoder of one item (Yellow Paper appendix B): it returns whether
// the item is a list, its payload and the bytes after it, refusing non-canonical forms.
func rlpSplit(b []byte) (isList bool, payload, rest []byte, err error) {
	if len(b) == 0 {
		return false, nil, nil, errors.New("empty input")
	}
	p := b[0]
	switch {
	case p < 0x80:
		return false, b[:1], b[1:], nil
	case p < 0xb8, p >= 0xc0 && p < 0xf8:
		isList = p >= 0xc0
		n := int(p - 0x80)
		if isList {
			n = int(p - 0xc0)
		}
		if len(b) < 1+n {
			return false, nil, nil, errors.New("short")
		}
		if !isList && n == 1 && b[1] < 0x80 {
			return false, nil, nil, errors.New("non-canonical single byte")
		}
		return isList, b[1 : 1+n], b[1+n:], nil
	default:
		isList = p >= 0xf8
		ll := int(p - 0xb7)
		if isList {
			ll = int(p - 0xf7)
		}
		if len(b) < 1+ll || b[1] == 0 {
			return false, nil, nil, errors.New("bad long length")
		}
		var buf [8]byte
		copy(buf[8-ll:], b[1:1+ll])
		n := binary.BigEndian.Uint64(buf[:])
		if n < 56 || uint64(len(b)-1-ll) < n {
			return false, nil, nil, errors.New("bad long length")
		}
		return isList, b[1+ll : 1+ll+int(n)], b[1+ll+int(n):], nil
	}
}

// refTrieRoot is a second, map-based trie root straight from the Yellow Paper's c(J, i), without
// sorting: a check on trieRoot's sorted one-pass construction.
func refTrieRoot(kv map[string][]byte) [32]byte {
	if len(kv) == 0 {
		return emptyTrieRoot
	}
	nib := map[string][]byte{}
	for k, v := range kv {
		nib[string(toNibbles([]byte(k)))] = v
	}
	return keccak256(refNode(nib, 0))
}

func refNode(kv map[string][]byte, i int) []byte {
	if len(kv) == 1 {
		for k, v := range kv {
			return rlpAppendList(nil, rlpAppendString(rlpAppendString(nil, hexPrefix([]byte(k[i:]), true)), v))
		}
	}
	var any string
	for k := range kv {
		any = k
		break
	}
	common := len(any) - i
	for k := range kv {
		n := 0
		for n < common && i+n < len(k) && k[i+n] == any[i+n] {
			n++
		}
		common = n
	}
	if common > 0 {
		payload := rlpAppendString(nil, hexPrefix([]byte(any[i:i+common]), false))
		return rlpAppendList(nil, appendRef(payload, refNode(kv, i+common)))
	}
	var payload []byte
	for nibble := byte(0); nibble < 16; nibble++ {
		sub := map[string][]byte{}
		for k, v := range kv {
			if len(k) > i && k[i] == nibble {
				sub[k] = v
			}
		}
		if len(sub) == 0 {
			payload = append(payload, 0x80)
		} else {
			payload = appendRef(payload, refNode(sub, i+1))
		}
	}
	if v, ok := kv[any[:i]]; ok && len(any) >= i {
		payload = rlpAppendString(payload, v)
	} else {
		payload = append(payload, 0x80)
	}
	return rlpAppendList(nil, payload)
}

// FuzzRLPAndTrie encodes fuzzed strings and scalars and decodes them back, and builds tries
// from fuzzed entries: the one-pass root must equal the map-based reference whatever the input
// order, and the list roots must not panic on any transactions.
func FuzzRLPAndTrie(f *testing.F) {
	f.Add([]byte("\x02do\x04verb\x03dog\x05puppy\x04doge\x04coin\x05horse\x08stallion"), uint64(1024))
	f.Add([]byte("\x04key1\x03aaa\x06key1aa\x03bbb"), uint64(0))
	f.Add(bytes.Repeat([]byte{0x01, 0x80, 0x01, 0x7f}, 40), ^uint64(0))
	f.Add([]byte{}, uint64(127))
	f.Fuzz(func(t *testing.T, data []byte, n uint64) {
		// RLP: string and scalar round trips.
		enc := rlpAppendString(nil, data)
		isList, payload, rest, err := rlpSplit(enc)
		if err != nil || isList || len(rest) != 0 || !bytes.Equal(payload, data) {
			t.Fatalf("string %x: encoded %x, decoded %x rest %x: %v", data, enc, payload, rest, err)
		}
		enc = rlpAppendUint(nil, n)
		_, payload, rest, err = rlpSplit(enc)
		if err != nil || len(rest) != 0 || (len(payload) > 0 && payload[0] == 0) {
			t.Fatalf("uint %d: %x: %v", n, enc, err)
		}
		var buf [8]byte
		copy(buf[8-len(payload):], payload)
		if binary.BigEndian.Uint64(buf[:]) != n {
			t.Fatalf("uint %d: decoded %x", n, payload)
		}
		list := rlpAppendList(nil, data)
		if isList, payload, rest, err = rlpSplit(list); err != nil || !isList || len(rest) != 0 || !bytes.Equal(payload, data) {
			t.Fatalf("list of %x: %v", data, err)
		}

		// Trie: entries as (len, key, len, value) records; last write wins, empty values skipped.
		kv := map[string][]byte{}
		var order []string
		for d := data; len(d) > 0; {
			kl := int(d[0]) % 8
			d = d[1:]
			if len(d) < kl {
				break
			}
			k := string(d[:kl])
			d = d[kl:]
			if len(d) == 0 {
				break
			}
			vl := int(d[0]) % 40
			d = d[1:]
			if len(d) < vl {
				vl = len(d)
			}
			if vl > 0 {
				if _, seen := kv[k]; !seen {
					order = append(order, k)
				}
				kv[k] = bytes.Clone(d[:vl])
			}
			d = d[vl:]
		}
		var keys, values, rkeys, rvalues [][]byte
		for _, k := range order {
			keys = append(keys, []byte(k))
			values = append(values, kv[k])
		}
		for i := len(order) - 1; i >= 0; i-- {
			rkeys = append(rkeys, []byte(order[i]))
			rvalues = append(rvalues, kv[order[i]])
		}
		got, rev, want := trieRoot(keys, values), trieRoot(rkeys, rvalues), refTrieRoot(kv)
		if got != want || rev != want {
			t.Fatalf("trie of %q: root %x, reversed %x, reference %x", kv, got, rev, want)
		}

		// List roots of arbitrary transactions never panic and match the reference.
		txs := make([]bellatrix.Transaction, 0, len(data))
		lkv := map[string][]byte{}
		for i, b := range data {
			tx := bellatrix.Transaction(bytes.Repeat([]byte{b}, int(b)%5))
			txs = append(txs, tx)
			v := []byte(tx)
			if len(v) == 0 {
				v = []byte{0x80}
			}
			lkv[string(rlpAppendUint(nil, uint64(i)))] = v
		}
		if got, want := TransactionsRoot(txs), refTrieRoot(lkv); got != want {
			t.Fatalf("transactions root %x, reference %x", got, want)
		}
	})
}
