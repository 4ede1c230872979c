package execution

import "github.com/holiman/uint256"

// RLP encoding (Ethereum Yellow Paper, appendix B; ethereum.org "Recursive-length prefix"): only
// the encoder, since the package never reads RLP from the outside. All functions append to dst so
// that a header or a trie node is built in one buffer.

// rlpAppendString appends the RLP encoding of the byte string b.
func rlpAppendString(dst, b []byte) []byte {
	if len(b) == 1 && b[0] < 0x80 {
		// A single byte below 0x80 is its own encoding.
		return append(dst, b[0])
	}
	dst = rlpAppendHeader(dst, 0x80, len(b))
	return append(dst, b...)
}

// rlpAppendUint appends the RLP encoding of v as a scalar: big-endian with no leading zero bytes,
// so 0 is the empty string (0x80).
func rlpAppendUint(dst []byte, v uint64) []byte {
	switch {
	case v == 0:
		return append(dst, 0x80)
	case v < 0x80:
		return append(dst, byte(v))
	}
	n := byteLen(v)
	dst = append(dst, 0x80+byte(n))
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// rlpAppendUint256 appends the RLP encoding of the scalar v (nil encodes as 0).
func rlpAppendUint256(dst []byte, v *uint256.Int) []byte {
	if v == nil || v.IsZero() {
		return append(dst, 0x80)
	}
	if v.IsUint64() {
		return rlpAppendUint(dst, v.Uint64())
	}
	b := v.Bytes32()
	i := 0
	for i < len(b) && b[i] == 0 {
		i++
	}
	return rlpAppendString(dst, b[i:])
}

// rlpAppendList appends the RLP encoding of a list whose items are already encoded and
// concatenated in payload.
func rlpAppendList(dst, payload []byte) []byte {
	dst = rlpAppendHeader(dst, 0xc0, len(payload))
	return append(dst, payload...)
}

// rlpAppendHeader appends the prefix of a string (offset 0x80) or list (offset 0xc0) whose payload
// is n bytes long: one byte up to 55 bytes, else the length of the length, then the length.
func rlpAppendHeader(dst []byte, offset byte, n int) []byte {
	if n <= 55 {
		return append(dst, offset+byte(n))
	}
	u := uint64(n)
	l := byteLen(u)
	dst = append(dst, offset+55+byte(l))
	for i := l - 1; i >= 0; i-- {
		dst = append(dst, byte(u>>(8*i)))
	}
	return dst
}

// rlpHeaderLen is the length of the prefix rlpAppendHeader writes for an n-byte payload.
func rlpHeaderLen(n int) int {
	if n <= 55 {
		return 1
	}
	return 1 + byteLen(uint64(n))
}

// byteLen is the number of bytes of v in big-endian without leading zeros (0 for 0).
func byteLen(v uint64) int {
	n := 0
	for v > 0 {
		n++
		v >>= 8
	}
	return n
}
