//go:build !unix

package registry

import "os"

// lockFile does nothing where flock is missing: one process per registry file is then the
// operator's to ensure.
func lockFile(*os.File) error { return nil }
