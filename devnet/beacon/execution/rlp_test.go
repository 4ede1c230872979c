package execution

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/holiman/uint256"
)

// TestRLPSpecExamples encodes the examples of the RLP specification (ethereum.org, "Recursive-
// length prefix (RLP) serialization", Examples section; the Yellow Paper appendix B gives the
// same rules).
func TestRLPSpecExamples(t *testing.T) {
	str := func(s string) []byte { return rlpAppendString(nil, []byte(s)) }
	list := func(items ...[]byte) []byte { return rlpAppendList(nil, bytes.Join(items, nil)) }
	lorem := "Lorem ipsum dolor sit amet, consectetur adipisicing elit"
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{`"dog"`, str("dog"), "83646f67"},
		{`["cat","dog"]`, list(str("cat"), str("dog")), "c88363617483646f67"},
		{`""`, str(""), "80"},
		{`[]`, list(), "c0"},
		{`0`, rlpAppendUint(nil, 0), "80"},
		{`"\x00"`, rlpAppendString(nil, []byte{0x00}), "00"},
		{`"\x0f"`, rlpAppendString(nil, []byte{0x0f}), "0f"},
		{`15`, rlpAppendUint(nil, 15), "0f"},
		{`"\x04\x00"`, rlpAppendString(nil, []byte{0x04, 0x00}), "820400"},
		{`1024`, rlpAppendUint(nil, 1024), "820400"},
		{`[ [], [[]], [ [], [[]] ] ]`, list(list(), list(list()), list(list(), list(list()))), "c7c0c1c0c3c0c1c0"},
		{`lorem (56 bytes)`, str(lorem), "b838" + hex.EncodeToString([]byte(lorem))},
		// Scalars at the byte-length edges, and uint256 agreeing with uint64.
		{`127`, rlpAppendUint(nil, 127), "7f"},
		{`128`, rlpAppendUint(nil, 128), "8180"},
		{`2^64-1`, rlpAppendUint(nil, ^uint64(0)), "88ffffffffffffffff"},
		{`uint256 0`, rlpAppendUint256(nil, new(uint256.Int)), "80"},
		{`uint256 nil`, rlpAppendUint256(nil, nil), "80"},
		{`uint256 1024`, rlpAppendUint256(nil, uint256.NewInt(1024)), "820400"},
		{`uint256 2^64`, rlpAppendUint256(nil, new(uint256.Int).Lsh(uint256.NewInt(1), 64)), "89010000000000000000"},
	}
	for _, c := range cases {
		if got := hex.EncodeToString(c.got); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	// A 1024-byte string: long form with a two-byte length.
	long := rlpAppendString(nil, make([]byte, 1024))
	if !bytes.Equal(long[:3], []byte{0xb9, 0x04, 0x00}) || len(long) != 1027 {
		t.Errorf("1024-byte string header %x, length %d", long[:3], len(long))
	}
	if rlpHeaderLen(1024) != 3 || rlpHeaderLen(55) != 1 || rlpHeaderLen(56) != 2 {
		t.Error("rlpHeaderLen disagrees with rlpAppendHeader")
	}
}
