package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

var allTypes = TypeRange(0, 255)

// compressible returns n bytes that look like SSZ: fixed-width little-endian fields, zero
// padding and a few repeated 20-byte addresses.
func compressible(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	addrs := make([][]byte, 8)
	for i := range addrs {
		addrs[i] = make([]byte, 20)
		for j := range addrs[i] {
			addrs[i][j] = byte(rng.Uint32())
		}
	}
	b := make([]byte, 0, n+64)
	for len(b) < n {
		b = append(b, addrs[rng.IntN(len(addrs))]...)
		b = binary.LittleEndian.AppendUint64(b, uint64(rng.IntN(1<<20)))
		b = append(b, make([]byte, 12)...)
	}
	return b[:n]
}

func random(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func encode(t testing.TB, c Compression, fs ...Frame) []byte {
	t.Helper()
	var out []byte
	enc := NewEncoder(c)
	for _, f := range fs {
		var err error
		if out, err = enc.Append(out, f); err != nil {
			t.Fatalf("encode type %d: %v", f.Type, err)
		}
	}
	return out
}

func TestLayout(t *testing.T) {
	got := encode(t, Compression{}, Frame{Type: 3, Fork: 6, Payload: []byte("abc")})
	want := []byte{0, 0, 0, 3, 3, 6, 0, 'a', 'b', 'c'}
	if !bytes.Equal(got, want) {
		t.Fatalf("raw frame = % x, want % x", got, want)
	}

	payload := compressible(2000, 1)
	got = encode(t, Compression{}, Frame{Type: 9, Fork: 7, Payload: payload})
	if got[4] != 9 || got[5] != 7 || Flags(got[6]) != FlagSnappy {
		t.Fatalf("snappy frame header = % x, want type 9, fork 7, flags 1", got[:MaxHeaderSize])
	}
	if n := binary.BigEndian.Uint32(got[0:4]); int(n) != len(got)-MaxHeaderSize {
		t.Fatalf("length field %d, want %d", n, len(got)-MaxHeaderSize)
	}
	if n := binary.BigEndian.Uint32(got[7:11]); int(n) != len(payload) {
		t.Fatalf("raw length field %d, want %d", n, len(payload))
	}
	dec, err := s2.Decode(nil, got[MaxHeaderSize:])
	if err != nil || !bytes.Equal(dec, payload) {
		t.Fatalf("snappy body does not decode to the payload: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		comp    Compression
		payload []byte
		flags   Flags
	}{
		{"empty", Compression{}, nil, 0},
		{"small stays raw", Compression{}, compressible(200, 1), 0},
		{"1KB snappy", Compression{}, compressible(1024, 2), FlagSnappy},
		{"350KB snappy", Compression{}, compressible(350_000, 3), FlagSnappy},
		{"5MB zstd", Compression{}, compressible(5<<20, 3), FlagZstd},
		{"incompressible stays raw", Compression{}, random(100_000, 4), 0},
		{"off", Compression{Off: true}, compressible(100_000, 5), 0},
		{"snappy only", Compression{SnappyMin: 1, ZstdMin: 1 << 30}, compressible(100_000, 6), FlagSnappy},
		{"zstd small", Compression{SnappyMin: 64, ZstdMin: 64}, compressible(300, 7), FlagZstd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Frame{Type: 42, Fork: 6, Payload: tt.payload}
			wire := encode(t, tt.comp, in)
			if got := Flags(wire[6]); got != tt.flags {
				t.Fatalf("flags = %d, want %d", got, tt.flags)
			}
			r := NewReader(bytes.NewReader(wire), Limits{Types: Types(42), MaxSize: 8 << 20})
			out, err := r.ReadFrame()
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if out.Type != in.Type || out.Fork != in.Fork || !bytes.Equal(out.Payload, in.Payload) {
				t.Fatalf("frame changed in the round trip: type %d fork %d, %d bytes", out.Type, out.Fork, len(out.Payload))
			}
			if _, err := r.ReadFrame(); err != io.EOF {
				t.Fatalf("after the last frame: %v, want io.EOF", err)
			}
		})
	}
}

func TestStreamOfFrames(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, NewEncoder(Compression{}))
	var want []Frame
	for i := range 200 {
		var p []byte
		switch i % 4 {
		case 0:
			p = compressible(100+i, uint64(i))
		case 1:
			p = compressible(5000+i, uint64(i))
		case 2:
			p = compressible(70_000+i, uint64(i))
			if i == 2 {
				p = compressible(5<<20+i, uint64(i))
			}
		case 3:
			p = random(3000+i, uint64(i))
		}
		f := Frame{Type: Type(1 + i%5), Fork: Fork(i % 8), Payload: p}
		want = append(want, f)
		n, err := w.WriteFrame(f)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("WriteFrame wrote nothing")
		}
	}
	r := NewReader(&buf, Limits{Types: TypeRange(1, 5), MaxSize: 8 << 20})
	for i, w := range want {
		got, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if got.Type != w.Type || got.Fork != w.Fork || !bytes.Equal(got.Payload, w.Payload) {
			t.Fatalf("frame %d differs", i)
		}
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("end: %v, want io.EOF", err)
	}
}

// header builds a frame header by hand, for frames the Encoder would never write.
func header(length uint32, t Type, flags Flags, raw ...uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, length)
	b = append(b, byte(t), 0, byte(flags))
	for _, r := range raw {
		b = binary.BigEndian.AppendUint32(b, r)
	}
	return b
}

func TestReaderRefuses(t *testing.T) {
	const limit = 4096
	big := compressible(3000, 9)
	snappyBody := s2.EncodeSnappy(nil, big)
	zenc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	zstdBody := zenc.EncodeAll(big, nil)
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

	tests := []struct {
		name  string
		input []byte
		want  error
	}{
		{"unknown type", cat(header(3, 99, 0), []byte("abc")), ErrUnknownType},
		{"reserved flag bit", cat(header(3, 1, 0x04), []byte("abc")), ErrBadFlags},
		{"compression 3", cat(header(3, 1, 3, 3), []byte("abc")), ErrBadFlags},
		{"length over limit", header(limit+1, 1, 0), ErrTooLarge},
		{"length near 4 GiB", header(0xffffffff, 1, 0), ErrTooLarge},
		{"raw length over limit", cat(header(uint32(len(snappyBody)), 1, FlagSnappy, limit+1), snappyBody), ErrTooLarge},
		{"truncated header", []byte{0, 0, 0}, ErrTruncated},
		{"truncated raw length", cat(header(10, 1, FlagSnappy), []byte{0, 0}), ErrTruncated},
		{"truncated payload", cat(header(10, 1, 0), []byte("abc")), ErrTruncated},
		{"garbage snappy", cat(header(8, 1, FlagSnappy, 100), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), ErrCorrupt},
		{"snappy length disagrees", cat(header(uint32(len(snappyBody)), 1, FlagSnappy, 100), snappyBody), ErrCorrupt},
		{"snappy body cut", cat(header(uint32(len(snappyBody)-10), 1, FlagSnappy, uint32(len(big))), snappyBody[:len(snappyBody)-10]), ErrCorrupt},
		{"garbage zstd", cat(header(8, 1, FlagZstd, 100), []byte("notzstd!")), ErrCorrupt},
		{"zstd longer than declared", cat(header(uint32(len(zstdBody)), 1, FlagZstd, 100), zstdBody), ErrCorrupt},
		{"zstd shorter than declared", cat(header(uint32(len(zstdBody)), 1, FlagZstd, uint32(len(big)+1)), zstdBody), ErrCorrupt},
		{"zstd flipped byte", cat(header(uint32(len(zstdBody)), 1, FlagZstd, uint32(len(big))), flip(zstdBody, len(zstdBody)/2)), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tt.input), Limits{Types: Types(1, 2), MaxSize: limit})
			_, err := r.ReadFrame()
			if !errors.Is(err, tt.want) {
				t.Fatalf("ReadFrame: %v, want %v", err, tt.want)
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("ReadFrame: %T, want *Error", err)
			}
			if _, again := r.ReadFrame(); again != err {
				t.Fatalf("second ReadFrame: %v, want the same error", again)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x55
	return c
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Err: ErrTooLarge, Type: 4, Size: 5000, Limit: 4096}, "frame type 4: frame too large: 5000 bytes, limit 4096"},
		{&Error{Err: ErrBadFlags, Type: 1, Flags: 0x84}, "frame type 1: bad frame flags: flags 0x84"},
		{&Error{Err: ErrCorrupt, Type: 2, Size: 10, Limit: 100}, "frame type 2: corrupt compressed payload: decodes to 10 bytes, header says 100"},
		{&Error{Err: ErrUnknownType, Type: 99}, "frame type 99: unknown frame type"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// A compression bomb: a few KB of zstd that expands to 64 MiB. Declared honestly it is refused
// before decoding; declared small, decoding stops at the declared size.
func TestCompressionBomb(t *testing.T) {
	zenc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		t.Fatal(err)
	}
	bomb := zenc.EncodeAll(make([]byte, 64<<20), nil)
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb is %d bytes; it should be tiny", len(bomb))
	}
	lim := Limits{Types: Types(1), MaxSize: 1 << 20}

	honest := append(header(uint32(len(bomb)), 1, FlagZstd, 64<<20), bomb...)
	if _, err := NewReader(bytes.NewReader(honest), lim).ReadFrame(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("honest bomb: %v, want ErrTooLarge", err)
	}

	lying := append(header(uint32(len(bomb)), 1, FlagZstd, 1000), bomb...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = NewReader(bytes.NewReader(lying), lim).ReadFrame()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("lying bomb: %v, want ErrCorrupt", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("decoding the bomb allocated %d bytes; it must stop near the declared 1000", grew)
	}

	// Snappy carries its own decoded length; a block claiming 4 GiB must not be believed.
	sbomb := binary.AppendUvarint(nil, 0xfffffff0)
	sbomb = append(sbomb, 0, 0, 0, 0)
	frame := append(header(uint32(len(sbomb)), 1, FlagSnappy, 1000), sbomb...)
	if _, err := NewReader(bytes.NewReader(frame), lim).ReadFrame(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("snappy bomb: %v, want ErrCorrupt", err)
	}
}

// A peer that announces a large frame and sends little holds little memory.
func TestStalledLargeFrame(t *testing.T) {
	in := append(header(8<<20, 1, 0), make([]byte, 1000)...)
	r := NewReader(bytes.NewReader(in), Limits{Types: Types(1), MaxSize: 16 << 20})
	if _, err := r.ReadFrame(); !errors.Is(err, ErrTruncated) {
		t.Fatalf("ReadFrame: %v, want ErrTruncated", err)
	}
	if c := cap(r.wire); c > 256<<10 {
		t.Fatalf("reader grew its buffer to %d bytes for 1000 received", c)
	}
}

func TestEncoderRefusesOversize(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 64 MiB")
	}
	_, err := NewEncoder(Compression{}).Append(nil, Frame{Type: 1, Payload: make([]byte, MaxPayload+1)})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append: %v, want ErrTooLarge", err)
	}
}

func TestReaderPassesStreamErrors(t *testing.T) {
	boom := errors.New("stream reset by peer")
	r := NewReader(io.MultiReader(bytes.NewReader(header(100, 1, 0)), errReader{boom}), Limits{Types: Types(1)})
	if _, err := r.ReadFrame(); !errors.Is(err, boom) {
		t.Fatalf("ReadFrame: %v, want the reader's own error", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestTypeSet(t *testing.T) {
	s := Types(0, 63, 64, 255)
	for _, ty := range []Type{0, 63, 64, 255} {
		if !s.Has(ty) {
			t.Errorf("set lacks %d", ty)
		}
	}
	for _, ty := range []Type{1, 62, 65, 128, 254} {
		if s.Has(ty) {
			t.Errorf("set has %d", ty)
		}
	}
	if n := TypeRange(10, 20).Union(Types(200)).Len(); n != 12 {
		t.Errorf("Len = %d, want 12", n)
	}
	if n := allTypes.Len(); n != 256 {
		t.Errorf("full range Len = %d", n)
	}
}

func TestSmallFrameAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	var buf bytes.Buffer
	buf.Grow(1 << 16)
	w := NewWriter(&buf, NewEncoder(Compression{}))
	small := Frame{Type: 1, Payload: compressible(200, 1)}
	snappy := Frame{Type: 1, Payload: compressible(2000, 1)}
	for _, f := range []Frame{small, snappy} {
		if _, err := w.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
		buf.Reset()
		if n := testing.AllocsPerRun(100, func() {
			buf.Reset()
			if _, err := w.WriteFrame(f); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("WriteFrame of %d bytes: %v allocations, want 0", len(f.Payload), n)
		}
		wire := bytes.Clone(buf.Bytes())
		br := bytes.NewReader(wire)
		r := NewReader(br, Limits{Types: Types(1)})
		if _, err := r.ReadFrame(); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() {
			br.Reset(wire)
			if _, err := r.ReadFrame(); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("ReadFrame of %d bytes: %v allocations, want 0", len(f.Payload), n)
		}
	}
}

func BenchmarkCodec(b *testing.B) {
	for _, size := range []int{200, 1024, 350_000} {
		p := compressible(size, 1)
		for _, c := range []struct {
			name string
			c    Compression
		}{{"raw", Compression{Off: true}}, {"snappy", Compression{SnappyMin: 1, ZstdMin: 1 << 30}}, {"zstd", Compression{SnappyMin: 1, ZstdMin: 1}}} {
			f := Frame{Type: 1, Payload: p}
			enc := NewEncoder(c.c)
			wire, err := enc.Append(nil, f)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("encode/%s/%d", c.name, size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				buf := make([]byte, 0, len(wire)+1024)
				for range b.N {
					buf, _ = enc.Append(buf[:0], f)
				}
				b.ReportMetric(float64(len(wire)), "wire-bytes")
			})
			b.Run(fmt.Sprintf("decode/%s/%d", c.name, size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				br := bytes.NewReader(wire)
				r := NewReader(br, Limits{Types: Types(1)})
				for range b.N {
					br.Reset(wire)
					if _, err := r.ReadFrame(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
