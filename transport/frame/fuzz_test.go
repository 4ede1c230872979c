package frame

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary bytes to a Reader. Whatever it accepts must survive a round trip
// through the Encoder, with and without compression; whatever it refuses must be refused with
// an *Error or a truncation, never a panic.
func FuzzReader(f *testing.F) {
	enc := NewEncoder(Compression{SnappyMin: 16, ZstdMin: 256})
	seeds := [][]Frame{
		{{Type: 1, Payload: nil}},
		{{Type: 2, Fork: 6, Payload: []byte("hello")}},
		{{Type: 3, Fork: 7, Payload: compressible(100, 1)}},
		{{Type: 4, Payload: compressible(1000, 2)}},
		{{Type: 5, Payload: random(64, 3)}, {Type: 6, Payload: compressible(40, 4)}},
	}
	for _, fs := range seeds {
		var b []byte
		for _, fr := range fs {
			var err error
			if b, err = enc.Append(b, fr); err != nil {
				f.Fatal(err)
			}
		}
		f.Add(b)
	}
	f.Add(header(3, 7, 3, 3))
	f.Add(append(header(5, 1, FlagSnappy, 1<<16), 0x80, 0x80, 0x04, 0, 0))

	lim := Limits{Types: TypeRange(0, 200), MaxSize: 1 << 16}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), lim)
		for {
			fr, err := r.ReadFrame()
			if err == io.EOF {
				return
			}
			if err != nil {
				var fe *Error
				if !errors.As(err, &fe) {
					t.Fatalf("ReadFrame: %T %v, want *Error", err, err)
				}
				return
			}
			if len(fr.Payload) > lim.MaxSize {
				t.Fatalf("accepted a %d-byte payload over the %d limit", len(fr.Payload), lim.MaxSize)
			}
			for _, c := range []Compression{{Off: true}, {SnappyMin: 1, ZstdMin: 1 << 20}, {SnappyMin: 1, ZstdMin: 1}} {
				b, err := NewEncoder(c).Append(nil, fr)
				if err != nil {
					t.Fatalf("re-encode: %v", err)
				}
				again, err := NewReader(bytes.NewReader(b), lim).ReadFrame()
				if err != nil {
					t.Fatalf("re-read: %v", err)
				}
				if again.Type != fr.Type || again.Fork != fr.Fork || !bytes.Equal(again.Payload, fr.Payload) {
					t.Fatal("frame changed in the round trip")
				}
			}
		}
	})
}
