// Package frame is the wire format of zkv's streams: length-prefixed, typed frames whose
// payload may be compressed. It reads and writes any io.Reader or io.Writer and knows nothing
// of QUIC, so the same codec serves QUIC streams, files and buffers.
//
// A frame on the wire (integers big-endian):
//
//	offset   size    field
//	0        4       length      payload bytes that follow the header, as sent (compressed size if compressed)
//	4        1       type        what the payload is; the application assigns types
//	5        1       fork        the consensus fork whose SSZ schema the payload follows, in
//	                             go-eth2-client's DataVersion numbering; 0 when the type has no SSZ form
//	6        1       flags       bits 0-1: compression (0 none, 1 snappy block, 2 zstd frame; 3 is invalid);
//	                             bits 2-7: zero
//	7        4       raw length  the payload's size after decompression; present only when compressed
//	7 or 11  length  payload
//
// A Reader accepts only the types in its Limits and refuses, before it allocates or
// decompresses anything, a frame whose length or raw length is above its MaxSize. The raw
// length is checked against the compressed data too (snappy's own length header; zstd decoding
// is capped at the raw length), so a small frame cannot expand past the limit.
//
// Any error other than a clean io.EOF between frames leaves the Reader unusable: after a
// refused or truncated frame the stream's framing can no longer be trusted.
package frame

import (
	"errors"
	"fmt"
	"math/bits"
)

// Type says what a frame's payload is.
type Type uint8

// Fork names the consensus fork whose SSZ schema a payload follows (go-eth2-client's
// spec.DataVersion numbering: 6 Electra, 7 Fulu). The codec carries it and does not interpret it.
type Fork uint8

// Flags is the frame header's flags byte.
type Flags uint8

// Compression values held in the low two bits of Flags.
const (
	FlagSnappy Flags = 1 // payload is one snappy block
	FlagZstd   Flags = 2 // payload is zstd frames
	// compressionMask covers the flag bits that name a compression; the others must be zero.
	compressionMask Flags = 3
)

const (
	// HeaderSize is the size of an uncompressed frame's header.
	HeaderSize = 7
	// MaxHeaderSize is the size of a compressed frame's header.
	MaxHeaderSize = 11
	// MaxPayload is the largest payload any frame may carry; Limits above it are lowered to it.
	// It is well above the 15 MiB the relay API accepts for a block submission.
	MaxPayload = 64 << 20
	// DefaultMaxSize is the MaxSize of a Limits that sets none.
	DefaultMaxSize = 1 << 20
)

// Frame is one message: its type, fork and decoded payload.
type Frame struct {
	Type    Type
	Fork    Fork
	Payload []byte
}

// TypeSet is a set of frame types. The zero TypeSet is empty.
type TypeSet [4]uint64

// Types returns the set of ts.
func Types(ts ...Type) TypeSet {
	var s TypeSet
	for _, t := range ts {
		s.Add(t)
	}
	return s
}

// TypeRange returns the set of types from lo to hi, both included.
func TypeRange(lo, hi Type) TypeSet {
	var s TypeSet
	for t := int(lo); t <= int(hi); t++ {
		s.Add(Type(t))
	}
	return s
}

// Add puts t in the set.
func (s *TypeSet) Add(t Type) { s[t>>6] |= 1 << (t & 63) }

// Has reports whether t is in the set.
func (s TypeSet) Has(t Type) bool { return s[t>>6]&(1<<(t&63)) != 0 }

// Union returns the types in s or o.
func (s TypeSet) Union(o TypeSet) TypeSet {
	for i := range s {
		s[i] |= o[i]
	}
	return s
}

// Len returns the number of types in the set.
func (s TypeSet) Len() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// Limits bounds what a Reader accepts: one kind of stream has one Limits.
type Limits struct {
	// Types lists the frame types the stream carries; any other type is refused with ErrUnknownType.
	Types TypeSet
	// MaxSize is the largest payload, before and after decompression. Zero means DefaultMaxSize;
	// a value above MaxPayload means MaxPayload.
	MaxSize int
}

func (l *Limits) maxSize() int {
	switch {
	case l.MaxSize <= 0:
		return DefaultMaxSize
	case l.MaxSize > MaxPayload:
		return MaxPayload
	}
	return l.MaxSize
}

// Errors a Reader or an Encoder returns, wrapped in an *Error.
var (
	ErrUnknownType = errors.New("unknown frame type")
	ErrBadFlags    = errors.New("bad frame flags")
	ErrTooLarge    = errors.New("frame too large")
	ErrCorrupt     = errors.New("corrupt compressed payload")
	ErrTruncated   = errors.New("truncated frame")
)

// Error is a frame the codec refused. Err is one of the package's sentinel errors, so
// errors.Is(err, ErrTooLarge) works on it; Cause is the lower-level error, if any.
type Error struct {
	Err   error
	Type  Type
	Flags Flags
	// For ErrTooLarge, Size is the declared length and Limit the bound it broke; for
	// ErrCorrupt, Size is the decoded size and Limit the raw length the header declared.
	// Both are zero when they do not apply.
	Size, Limit int
	Cause       error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("frame type %d: %v", e.Type, e.Err)
	switch e.Err {
	case ErrBadFlags:
		msg += fmt.Sprintf(": flags %#02x", uint8(e.Flags))
	case ErrTooLarge:
		msg += fmt.Sprintf(": %d bytes, limit %d", e.Size, e.Limit)
	case ErrCorrupt:
		if e.Limit > 0 {
			msg += fmt.Sprintf(": decodes to %d bytes, header says %d", e.Size, e.Limit)
		}
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap returns the sentinel and the cause.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}
