// Package testvectors finds the conformance data (Ethereum BLS vectors, EIP-2333/2335 vectors,
// EIP-3076 interchange tests) that lives outside the repository, in ../shared/testdata beside the
// project root, or wherever ZKV_TESTDATA points. Tests call Dir and are skipped with a clear
// message when the data is absent; the data is never copied into the project.
package testvectors

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvVar names the environment variable that overrides the test data location.
const EnvVar = "ZKV_TESTDATA"

// Locate returns the test data directory, or "" when it cannot be found.
func Locate() string {
	if d := os.Getenv(EnvVar); d != "" {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
		return ""
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	// Walk up to the module root (the directory holding go.mod), then look beside it.
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "testdata")
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				return d
			}
			return ""
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

// Dir returns the sub-directory sub of the test data (for example "bls"), or skips the test
// with a message that says where the data was looked for.
func Dir(t testing.TB, sub string) string {
	t.Helper()
	root := Locate()
	if root == "" {
		t.Skipf("conformance data not found: set %s or place it in ../shared/testdata beside the project root", EnvVar)
	}
	d := filepath.Join(root, sub)
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		t.Skipf("conformance data %q not found under %s", sub, root)
	}
	return d
}
