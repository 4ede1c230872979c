package bls

// HashToG2ForTest exposes the ciphersuite hash (compressed) to the external test package.
func HashToG2ForTest(msg []byte) []byte {
	h := hashToG2(msg)
	b := h.Bytes()
	return b[:]
}
