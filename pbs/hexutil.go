package pbs

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// hexTo decodes 0x-prefixed hex of exactly len(dst) bytes.
func hexTo(dst []byte, s string) error {
	if !strings.HasPrefix(s, "0x") {
		return fmt.Errorf("%q: 0x prefix missing", s)
	}
	if len(s)-2 != 2*len(dst) {
		return fmt.Errorf("%q: want %d bytes", s, len(dst))
	}
	if _, err := hex.Decode(dst, []byte(s[2:])); err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	return nil
}
