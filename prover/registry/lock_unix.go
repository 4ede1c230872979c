//go:build unix

package registry

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on the store file, so that two processes (two
// 'zkv prover register' at once) never append to one registry file. The kernel drops the lock
// with the process and with the descriptor.
func lockFile(f *os.File) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("%w: %s is in use by another process", ErrStoreLocked, f.Name())
		}
		return fmt.Errorf("open registry store: lock %s: %w", f.Name(), err)
	}
	return nil
}
