package mev

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// hexInto decodes 0x-prefixed hex of exactly len(dst) bytes.
func hexInto(dst []byte, s string) error {
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return fmt.Errorf("%q: 0x prefix missing", s)
	}
	if len(s)-2 != 2*len(dst) {
		return fmt.Errorf("%q: want %d bytes", s, len(dst))
	}
	_, err := hex.Decode(dst, []byte(s[2:]))
	if err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	return nil
}
