package keys

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Path is an EIP-2333 derivation path: the child indices below the master key.
type Path []uint32

// EIP-2334 constants: purpose 12381 (the curve), coin type 3600 (Ethereum consensus).
const (
	PathPurpose  = 12381
	PathCoinType = 3600
)

// WithdrawalPath is EIP-2334's withdrawal key of validator i: m/12381/3600/i/0.
func WithdrawalPath(i uint32) Path { return Path{PathPurpose, PathCoinType, i, 0} }

// SigningPath is EIP-2334's signing key of validator i: m/12381/3600/i/0/0.
func SigningPath(i uint32) Path { return Path{PathPurpose, PathCoinType, i, 0, 0} }

// ErrInvalidPath: a derivation path does not parse.
var ErrInvalidPath = errors.New("keys: invalid derivation path")

// ParsePath parses "m/a/b/c" (EIP-2334 notation) with decimal indices below 2^32. "m" alone is
// the master key. Any purpose parses; EIP2334Index says whether a path is a validator key.
func ParsePath(s string) (Path, error) {
	parts := strings.Split(s, "/")
	if parts[0] != "m" {
		return nil, fmt.Errorf("%w %q: must start with \"m\"", ErrInvalidPath, s)
	}
	p := make(Path, 0, len(parts)-1)
	for _, c := range parts[1:] {
		// Decimal digits only: no sign, no hardened marker (EIP-2333 has no hardened keys),
		// no leading zeros that would give two spellings of one path.
		if c == "" || strings.TrimLeft(c, "0123456789") != "" || (len(c) > 1 && c[0] == '0') {
			return nil, fmt.Errorf("%w %q: index %q is not a decimal number", ErrInvalidPath, s, c)
		}
		v, err := strconv.ParseUint(c, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w %q: index %q is not below 2^32", ErrInvalidPath, s, c)
		}
		p = append(p, uint32(v))
	}
	return p, nil
}

// String formats the path as "m/a/b/c".
func (p Path) String() string {
	var b strings.Builder
	b.WriteString("m")
	for _, i := range p {
		b.WriteByte('/')
		b.WriteString(strconv.FormatUint(uint64(i), 10))
	}
	return b.String()
}

// EIP2334Index returns i if p is m/12381/3600/i/0/0 (a signing key) or m/12381/3600/i/0 (a
// withdrawal key), and whether it is one of those.
func (p Path) EIP2334Index() (i uint32, signing, ok bool) {
	if len(p) < 4 || p[0] != PathPurpose || p[1] != PathCoinType || p[3] != 0 {
		return 0, false, false
	}
	switch {
	case len(p) == 4:
		return p[2], false, true
	case len(p) == 5 && p[4] == 0:
		return p[2], true, true
	}
	return 0, false, false
}
