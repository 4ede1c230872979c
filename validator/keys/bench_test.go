package keys

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"testing"
)

var (
	benchKeystoreN     = flag.Uint64("keystore-n", 1<<14, "scrypt n of the keystores BenchmarkLoadDir decrypts (the EIP's is 262144)")
	benchKeystoreCount = flag.Int("keystore-count", 1000, "number of keystores BenchmarkLoadDir decrypts")
)

// BenchmarkLoadDir decrypts a directory of scrypt keystores (r=8, p=1; n from -keystore-n,
// default 2^14 = 1/16 of the EIP's work so that a run takes seconds, not minutes). Compare
// GOMAXPROCS values in separate processes:
//
//	go test -run '^$' -bench LoadDir -benchtime 1x -cpu 1 ./validator/keys
//	go test -run '^$' -bench LoadDir -benchtime 1x -cpu 2 ./validator/keys
func BenchmarkLoadDir(b *testing.B) {
	dir := b.TempDir()
	// Setup on every core, whatever -cpu says: only the load below is measured.
	prev := runtime.GOMAXPROCS(runtime.NumCPU())
	_, err := Create(context.Background(), CreateOptions{
		Dir: dir, Mnemonic: testMnemonic, Count: *benchKeystoreCount, Password: "password1",
		Encrypt: EncryptOptions{ScryptN: *benchKeystoreN, Limits: InsecureKDFLimits},
	})
	runtime.GOMAXPROCS(prev)
	if err != nil {
		b.Fatal(err)
	}
	b.Run(fmt.Sprintf("keystores=%d/scrypt-n=%d", *benchKeystoreCount, *benchKeystoreN), func(b *testing.B) {
		for b.Loop() {
			keys, err := LoadDir(context.Background(), dir, LoadOptions{Password: "password1", Limits: InsecureKDFLimits})
			if err != nil {
				b.Fatal(err)
			}
			if len(keys) != *benchKeystoreCount {
				b.Fatalf("%d keys", len(keys))
			}
		}
		b.ReportMetric(float64(*benchKeystoreCount)*float64(b.N)/b.Elapsed().Seconds(), "keystores/s")
		b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "workers")
	})
}

// BenchmarkDeriveChildSK is one EIP-2333 derive_child_SK (two 8160-byte HKDF expansions and 511
// SHA-256 hashes); a validator key is three of them below m/12381/3600.
func BenchmarkDeriveChildSK(b *testing.B) {
	seed, _ := MnemonicSeed(testMnemonic, "")
	master, err := DeriveMasterSK(seed)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := DeriveChildSK(master, uint32(i)); err != nil {
			b.Fatal(err)
		}
	}
}
