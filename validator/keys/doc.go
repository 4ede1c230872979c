// Package keys owns validator keys at rest: BIP-39 mnemonics (English), EIP-2333 key derivation
// (HKDF_mod_r and the Lamport tree), EIP-2334 paths, EIP-2335 keystores (scrypt or PBKDF2,
// AES-128-CTR, SHA-256 checksum) read and written, and loading a directory of keystores in
// parallel. It does not sign (package crypto/bls does) and does not decide what may be signed
// (package validator/slashing does).
//
// Keystores are written with mode 0600 and atomically (a temporary file, fsync, link to the
// final name, fsync of the directory), never over an existing file. Reading refuses KDF
// parameters outside KDFLimits: too weak to protect a key, or so costly that one file could
// exhaust the machine. Loading is all or nothing: one bad file (wrong password, corrupt, a key
// held twice) fails the load, and the keys decrypted so far are wiped. Loading stops at the
// first failure (a wrong password should not cost one scrypt run per file), so the error names
// the file or files that failed before it stopped, each with its reason, and says how many
// keystores were not checked. The scrypt memory of parallel decryption and encryption is bounded
// together, counting all that scrypt allocates (128*r*(n+p) + 256*r bytes).
//
// Secrets never appear in errors or logs: errors name files, pubkeys and positions (a mnemonic's
// word number), never key material, passwords or mnemonic words.
package keys
