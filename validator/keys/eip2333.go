package keys

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// curveOrder is r, the order of the BLS12-381 groups: secret keys live in [1, r).
var curveOrder, _ = new(big.Int).SetString("52435875175126190479447740508185965837690552500527637822603658699938581184513", 10)

// ErrShortSeed: EIP-2333 requires a seed of at least 32 bytes.
var ErrShortSeed = errors.New("keys: seed shorter than 32 bytes")

// lamportChunks is EIP-2333's 255 Lamport chunks of K = 32 bytes, per side.
const lamportChunks = 255

// hkdfModR is EIP-2333's HKDF_mod_r: HKDF-SHA256 over IKM || I2OSP(0, 1) with a salt that is
// hashed again on each retry, expanded to L = 48 bytes (ceil(3 * ceil(log2 r) / 16)) and reduced
// mod r, retrying on the (negligible) zero result.
func hkdfModR(ikm, keyInfo []byte) (*big.Int, error) {
	const l = 48
	salt := []byte("BLS-SIG-KEYGEN-SALT-")
	secret := make([]byte, len(ikm)+1) // IKM || I2OSP(0, 1)
	copy(secret, ikm)
	defer wipe(secret)
	info := make([]byte, len(keyInfo)+2) // key_info || I2OSP(L, 2)
	copy(info, keyInfo)
	binary.BigEndian.PutUint16(info[len(keyInfo):], l)
	for {
		h := sha256.Sum256(salt)
		salt = h[:]
		prk, err := hkdf.Extract(sha256.New, secret, salt)
		if err != nil {
			return nil, err
		}
		okm, err := hkdf.Expand(sha256.New, prk, string(info), l)
		wipe(prk)
		if err != nil {
			return nil, err
		}
		sk := new(big.Int).SetBytes(okm)
		wipe(okm)
		sk.Mod(sk, curveOrder)
		if sk.Sign() != 0 {
			return sk, nil
		}
	}
}

// ikmToLamportSK is EIP-2333's IKM_to_lamport_SK: 255 chunks of 32 bytes from one HKDF.
func ikmToLamportSK(ikm, salt []byte) ([]byte, error) {
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	defer wipe(prk)
	return hkdf.Expand(sha256.New, prk, "", 32*lamportChunks)
}

// parentSKToLamportPK is EIP-2333's parent_SK_to_lamport_PK: the hash of the hashes of the
// Lamport secret chunks derived from the parent key and from its bitwise complement.
func parentSKToLamportPK(parent *big.Int, index uint32) ([32]byte, error) {
	var salt [4]byte
	binary.BigEndian.PutUint32(salt[:], index)
	ikm := parent.FillBytes(make([]byte, 32))
	defer wipe(ikm)
	notIKM := make([]byte, 32)
	defer wipe(notIKM)
	for i, b := range ikm {
		notIKM[i] = ^b
	}
	pk := sha256.New()
	for _, in := range [][]byte{ikm, notIKM} {
		lamport, err := ikmToLamportSK(in, salt[:])
		if err != nil {
			return [32]byte{}, err
		}
		for c := range lamportChunks {
			h := sha256.Sum256(lamport[32*c : 32*(c+1)])
			pk.Write(h[:])
		}
		wipe(lamport)
	}
	var out [32]byte
	pk.Sum(out[:0])
	return out, nil
}

func deriveChild(parent *big.Int, index uint32) (*big.Int, error) {
	lpk, err := parentSKToLamportPK(parent, index)
	if err != nil {
		return nil, err
	}
	return hkdfModR(lpk[:], nil)
}

func deriveMaster(seed []byte) (*big.Int, error) {
	if len(seed) < 32 {
		return nil, fmt.Errorf("%w (%d bytes)", ErrShortSeed, len(seed))
	}
	return hkdfModR(seed, nil)
}

// DeriveMasterSK is EIP-2333's derive_master_SK: the root of the key tree of a seed of at least
// 32 bytes (a BIP-39 seed is 64).
func DeriveMasterSK(seed []byte) (*bls.SecretKey, error) {
	sk, err := deriveMaster(seed)
	if err != nil {
		return nil, err
	}
	defer wipeInt(sk)
	return bls.SecretKeyFromBigInt(sk)
}

// DeriveChildSK is EIP-2333's derive_child_SK.
func DeriveChildSK(parent *bls.SecretKey, index uint32) (*bls.SecretKey, error) {
	b := parent.Bytes()
	p := new(big.Int).SetBytes(b[:])
	wipe(b[:])
	defer wipeInt(p)
	sk, err := deriveChild(p, index)
	if err != nil {
		return nil, err
	}
	defer wipeInt(sk)
	return bls.SecretKeyFromBigInt(sk)
}

// DerivePath derives the key at path (EIP-2334) from seed.
func DerivePath(seed []byte, path Path) (*bls.SecretKey, error) {
	sk, err := deriveMaster(seed)
	if err != nil {
		return nil, err
	}
	for _, i := range path {
		next, err := deriveChild(sk, i)
		wipeInt(sk)
		if err != nil {
			return nil, err
		}
		sk = next
	}
	defer wipeInt(sk)
	return bls.SecretKeyFromBigInt(sk)
}

func wipe(b []byte) { clear(b) }

// wipeInt overwrites a big.Int's words. math/big may have copied them during arithmetic; this
// clears the final value, which is what stays reachable.
func wipeInt(x *big.Int) {
	clear(x.Bits())
	x.SetInt64(0)
}
