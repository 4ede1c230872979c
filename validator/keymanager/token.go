package keymanager

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// ErrTokenFileMode: the token file can be read or written by group or others.
var ErrTokenFileMode = errors.New("keymanager: token file is accessible to group or others")

// LoadOrCreateToken returns the bearer token in path (its first line). When the file does not
// exist it is created with mode 0600 holding a new random token (32 bytes from crypto/rand, as
// hex: URL-safe and opaque, as the keymanager API asks). A file that group or others may read
// or write is refused: anyone who reads the token can delete the keys and take their slashing
// protection data.
func LoadOrCreateToken(path string) (string, error) {
	if path == "" {
		return "", errors.New("keymanager: no token file specified")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			f.Close()
			os.Remove(path)
			return "", fmt.Errorf("keymanager: token: %w", err)
		}
		tok := hex.EncodeToString(b[:])
		if _, err := f.WriteString(tok + "\n"); err != nil {
			f.Close()
			os.Remove(path)
			return "", fmt.Errorf("keymanager: write token file: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return "", fmt.Errorf("keymanager: write token file: %w", err)
		}
		return tok, f.Close()
	case !errors.Is(err, fs.ErrExist):
		return "", fmt.Errorf("keymanager: create token file: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("keymanager: token file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("keymanager: token file %s is not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%w: %s has mode %#o, want 0600 (chmod 600 %s)", ErrTokenFileMode, path, st.Mode().Perm(), path)
	}
	r, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("keymanager: token file: %w", err)
	}
	defer r.Close()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("keymanager: token file %s is empty", path)
	}
	tok := strings.TrimSpace(line)
	if tok == "" {
		return "", fmt.Errorf("keymanager: token file %s is empty", path)
	}
	return tok, nil
}
