package frame

import (
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// zstdMaxWindow bounds the history a zstd frame may ask for. The Encoder never uses more than
// 8 MiB (klauspost/compress's largest default window), so a frame asking for more is hostile.
const zstdMaxWindow = 8 << 20

// zstdDecoder is shared: DecodeAll may run concurrently and keeps its own pool of decoder
// states. WithDecodeAllCapLimit makes it stop at the capacity of the destination, which the
// Reader sets to the frame's declared raw length; the memory and window caps are a second bound.
var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithDecoderMaxMemory(MaxPayload),
		zstd.WithDecoderMaxWindow(zstdMaxWindow),
		zstd.WithDecodeAllCapLimit(true),
	)
})

// Reader reads frames from an io.Reader. It is not safe for concurrent use.
type Reader struct {
	r    io.Reader
	lim  Limits
	max  int
	hdr  [MaxHeaderSize]byte
	wire []byte // the payload as read
	raw  []byte // the payload decompressed
	err  error  // sticky: the stream's framing is lost after any error
}

// NewReader returns a Reader of r that accepts the frames lim allows.
func NewReader(r io.Reader, lim Limits) *Reader {
	return &Reader{r: r, lim: lim, max: lim.maxSize()}
}

// ReadFrame reads the next frame. The payload is valid until the next call to ReadFrame.
//
// It returns io.EOF when the stream ends cleanly between frames, an *Error wrapping
// ErrUnknownType, ErrBadFlags, ErrTooLarge, ErrCorrupt or ErrTruncated for a frame it refuses,
// and the underlying reader's error otherwise.
func (r *Reader) ReadFrame() (Frame, error) {
	if r.err != nil {
		return Frame{}, r.err
	}
	if cap(r.wire) > retainMax {
		r.wire = nil
	}
	if cap(r.raw) > retainMax {
		r.raw = nil
	}
	f, err := r.readFrame()
	if err != nil {
		r.err = err
	}
	return f, err
}

func (r *Reader) readFrame() (Frame, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:HeaderSize]); err != nil {
		if err == io.EOF {
			return Frame{}, io.EOF
		}
		return Frame{}, truncated(0, err)
	}
	length := binary.BigEndian.Uint32(r.hdr[0:4])
	f := Frame{Type: Type(r.hdr[4]), Fork: Fork(r.hdr[5])}
	flags := Flags(r.hdr[6])
	if !r.lim.Types.Has(f.Type) {
		return Frame{}, &Error{Err: ErrUnknownType, Type: f.Type}
	}
	comp := flags & compressionMask
	if flags&^compressionMask != 0 || comp == compressionMask {
		return Frame{}, &Error{Err: ErrBadFlags, Type: f.Type, Flags: flags}
	}
	if uint64(length) > uint64(r.max) {
		return Frame{}, &Error{Err: ErrTooLarge, Type: f.Type, Size: int(length), Limit: r.max}
	}
	rawLen := int(length)
	if comp != 0 {
		if _, err := io.ReadFull(r.r, r.hdr[HeaderSize:MaxHeaderSize]); err != nil {
			return Frame{}, truncated(f.Type, err)
		}
		raw := binary.BigEndian.Uint32(r.hdr[HeaderSize:MaxHeaderSize])
		if uint64(raw) > uint64(r.max) {
			return Frame{}, &Error{Err: ErrTooLarge, Type: f.Type, Size: int(raw), Limit: r.max}
		}
		rawLen = int(raw)
	}
	wire, err := r.readPayload(int(length))
	if err != nil {
		return Frame{}, truncated(f.Type, err)
	}
	switch comp {
	case 0:
		f.Payload = wire
	case FlagSnappy:
		// Check snappy's own length header before Decode sizes its output by it.
		n, err := s2.DecodedLen(wire)
		if err != nil {
			return Frame{}, &Error{Err: ErrCorrupt, Type: f.Type, Cause: err}
		}
		if n != rawLen {
			return Frame{}, &Error{Err: ErrCorrupt, Type: f.Type, Size: n, Limit: rawLen}
		}
		out, err := s2.Decode(slices.Grow(r.raw[:0], rawLen), wire)
		if err != nil {
			return Frame{}, &Error{Err: ErrCorrupt, Type: f.Type, Cause: err}
		}
		r.raw, f.Payload = out, out
	case FlagZstd:
		dec, err := zstdDecoder()
		if err != nil {
			return Frame{}, err
		}
		// The capacity is the bound: with WithDecodeAllCapLimit the decoder never writes past
		// it, whatever sizes the zstd frames claim.
		dst := r.raw[:0]
		if cap(dst) < rawLen {
			dst = make([]byte, 0, rawLen)
		}
		out, err := dec.DecodeAll(wire, dst[:0:rawLen])
		if err != nil {
			return Frame{}, &Error{Err: ErrCorrupt, Type: f.Type, Cause: err}
		}
		if len(out) != rawLen {
			return Frame{}, &Error{Err: ErrCorrupt, Type: f.Type, Size: len(out), Limit: rawLen}
		}
		r.raw, f.Payload = out, out
	}
	return f, nil
}

// readPayload reads n bytes into the Reader's buffer. It grows the buffer as data arrives
// rather than by the declared length, so a peer that announces a large frame and then stalls
// holds little memory.
func (r *Reader) readPayload(n int) ([]byte, error) {
	if cap(r.wire) >= n {
		r.wire = r.wire[:n]
		_, err := io.ReadFull(r.r, r.wire)
		return r.wire, err
	}
	const chunk = 64 << 10
	buf := r.wire[:0]
	for len(buf) < n {
		next := min(n, len(buf)+max(chunk, len(buf)))
		buf = slices.Grow(buf, next-len(buf))
		m, err := io.ReadFull(r.r, buf[len(buf):next])
		buf = buf[:len(buf)+m]
		if err != nil {
			r.wire = buf
			return nil, err
		}
	}
	r.wire = buf
	return buf, nil
}

// truncated turns an early end of stream into ErrTruncated and passes other errors (a reset
// stream, a closed connection) through unchanged, so the caller sees the real cause.
func truncated(t Type, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{Err: ErrTruncated, Type: t}
	}
	return err
}
