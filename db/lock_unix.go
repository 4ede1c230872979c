//go:build unix

package db

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFileName is zkv's own lock beside badger's; flock locks belong to the open file, so a
// second Open in the same process is refused as well as one in another process. The kernel drops
// the lock when the process dies, so a crash never leaves a stale lock behind.
const lockFileName = "zkv.lock"

type dirLock struct{ f *os.File }

func lockDir(dir string) (*dirLock, error) {
	p := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("db: open lock file %s: %w", p, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: database at %s is in use by another process", ErrLocked, dir)
		}
		return nil, fmt.Errorf("db: lock %s: %w", p, err)
	}
	return &dirLock{f: f}, nil
}

func (l *dirLock) release() {
	if l == nil {
		return
	}
	// Closing the descriptor releases the flock.
	l.f.Close()
}
