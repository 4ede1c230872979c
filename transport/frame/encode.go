package frame

import (
	"encoding/binary"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Compression chooses how payloads are compressed, by size. Its zero value uses the defaults.
type Compression struct {
	// SnappyMin is the smallest payload worth compressing; shorter ones are sent as they are,
	// because a few saved bytes do not pay for the work. Zero means 512.
	SnappyMin int
	// ZstdMin is the smallest payload compressed with zstd; shorter ones use snappy. Zero
	// means 4 MiB. Measured on a 350 KB execution payload (transactions are mostly hashes,
	// signatures and packed calldata), zstd's fastest level saved 3% more than snappy at five
	// times snappy's CPU time (1.2 ms against 0.26 ms on 2 cores), which costs more latency
	// than the bytes save on any link faster than about 50 Mbit/s. So zstd is for bulk frames.
	ZstdMin int
	// Off sends every payload uncompressed.
	Off bool
}

// Encoder turns frames into bytes. It is a small value, safe for concurrent use.
type Encoder struct {
	snappyMin, zstdMin int
	off                bool
}

// NewEncoder returns an Encoder that compresses as c says.
func NewEncoder(c Compression) Encoder {
	e := Encoder{snappyMin: c.SnappyMin, zstdMin: c.ZstdMin, off: c.Off}
	if e.snappyMin <= 0 {
		e.snappyMin = 512
	}
	if e.zstdMin <= 0 {
		e.zstdMin = 4 << 20
	}
	return e
}

// zstdEncoder is shared: EncodeAll may run concurrently and keeps its own pool of GOMAXPROCS
// encoder states, so one instance is the pool. Level SpeedFastest: even bulk frames are on
// someone's latency path, and higher levels gain little on payloads full of hashes.
var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithEncoderCRC(true),
	)
})

// Append appends the encoding of f to dst and returns the extended slice. It refuses a
// payload above MaxPayload. A payload is sent compressed only when that makes the frame smaller.
func (e Encoder) Append(dst []byte, f Frame) ([]byte, error) {
	n := len(f.Payload)
	if n > MaxPayload {
		return dst, &Error{Err: ErrTooLarge, Type: f.Type, Size: n, Limit: MaxPayload}
	}
	var comp Flags
	switch {
	case e.off || n < e.snappyMin:
	case n < e.zstdMin:
		comp = FlagSnappy
	default:
		comp = FlagZstd
	}
	if comp != 0 {
		out, err := appendCompressed(dst, f, comp)
		if err != nil {
			return dst, err
		}
		// The 4-byte raw length is part of the price of compressing.
		if len(out)-len(dst) < HeaderSize+n {
			return out, nil
		}
	}
	dst = slices.Grow(dst, HeaderSize+n)
	dst = appendHeader(dst, uint32(n), f, 0)
	return append(dst, f.Payload...), nil
}

func appendHeader(dst []byte, length uint32, f Frame, flags Flags) []byte {
	dst = binary.BigEndian.AppendUint32(dst, length)
	return append(dst, byte(f.Type), byte(f.Fork), byte(flags))
}

func appendCompressed(dst []byte, f Frame, comp Flags) ([]byte, error) {
	start := len(dst)
	body := start + MaxHeaderSize
	var clen int
	switch comp {
	case FlagSnappy:
		bound := s2.MaxEncodedLen(len(f.Payload))
		dst = slices.Grow(dst, MaxHeaderSize+bound)
		// EncodeSnappy writes from the start of the slice it is given, so give it the space
		// after the header; it does not allocate when that space is large enough.
		clen = len(s2.EncodeSnappy(dst[body:body+bound], f.Payload))
		dst = dst[:body+clen]
	case FlagZstd:
		enc, err := zstdEncoder()
		if err != nil {
			return dst, err
		}
		// EncodeAll appends, so hand it dst with room for the header; it may reallocate.
		dst = slices.Grow(dst, MaxHeaderSize+len(f.Payload)/2)
		dst = enc.EncodeAll(f.Payload, dst[:body])
		clen = len(dst) - body
	}
	hdr := appendHeader(dst[start:start], uint32(clen), f, comp)
	binary.BigEndian.AppendUint32(hdr, uint32(len(f.Payload)))
	return dst, nil
}

// Writer writes frames to an io.Writer, one Write call per frame. It is not safe for
// concurrent use.
type Writer struct {
	w   io.Writer
	enc Encoder
	buf []byte
}

// NewWriter returns a Writer that encodes with enc and writes to w.
func NewWriter(w io.Writer, enc Encoder) *Writer {
	return &Writer{w: w, enc: enc}
}

// WriteFrame encodes f and writes it. It returns the number of bytes written.
func (w *Writer) WriteFrame(f Frame) (int, error) {
	b, err := w.enc.Append(w.buf[:0], f)
	if err != nil {
		return 0, err
	}
	// Keep the buffer for the next frame unless it grew for an unusually large one.
	if cap(b) <= retainMax {
		w.buf = b
	} else {
		w.buf = nil
	}
	return w.w.Write(b)
}

// retainMax is the largest buffer a Writer or Reader keeps between frames, so that one large
// frame does not pin its memory for the life of a long stream.
const retainMax = 1 << 20
