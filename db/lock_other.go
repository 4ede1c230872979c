//go:build !unix

package db

// On systems without flock, badger's own directory lock still refuses a second opener; its
// error text is less direct than ErrLocked.
type dirLock struct{}

func lockDir(string) (*dirLock, error) { return &dirLock{}, nil }

func (*dirLock) release() {}
