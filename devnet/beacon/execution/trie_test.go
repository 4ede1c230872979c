package execution

import (
	"encoding/hex"
	"strings"
	"testing"
)

// TestTrieVectors checks trieRoot against the trie tests of ethereum/tests (TrieTests/
// trietest.json, commit e489c3cf): each test applies its inserts and deletions (null) in order
// and expects a root. Keys and values starting with 0x are hex, others are ASCII. They cover
// leaves, extensions, branches with a value (a key that is a prefix of another), and nodes under
// 32 bytes embedded in their parent.
func TestTrieVectors(t *testing.T) {
	type op struct{ k, v string } // v == "" is a deletion (null)
	tests := []struct {
		name string
		ops  []op
		root string
	}{
		{"emptyValues", []op{
			{"do", "verb"}, {"ether", "wookiedoo"}, {"horse", "stallion"}, {"shaman", "horse"},
			{"doge", "coin"}, {"ether", ""}, {"dog", "puppy"}, {"shaman", ""},
		}, "5991bb8c6514148a29db676a14ac506cd2cd5775ace63c30a4fe457715e9ac84"},
		{"jeff", []op{
			{"0x0000000000000000000000000000000000000000000000000000000000000045", "0x22b224a1420a802ab51d326e29fa98e34c4f24ea"},
			{"0x0000000000000000000000000000000000000000000000000000000000000046", "0x67706c2076330000000000000000000000000000000000000000000000000000"},
			{"0x0000000000000000000000000000000000000000000000000000001234567890", "0x697c7b8c961b56f675d570498424ac8de1a918f6"},
			{"0x000000000000000000000000697c7b8c961b56f675d570498424ac8de1a918f6", "0x1234567890"},
			{"0x0000000000000000000000007ef9e639e2733cb34e4dfc576d4b23f72db776b2", "0x4655474156000000000000000000000000000000000000000000000000000000"},
			{"0x000000000000000000000000ec4f34c97e43fbb2816cfd95e388353c7181dab1", "0x4e616d6552656700000000000000000000000000000000000000000000000000"},
			{"0x4655474156000000000000000000000000000000000000000000000000000000", "0x7ef9e639e2733cb34e4dfc576d4b23f72db776b2"},
			{"0x4e616d6552656700000000000000000000000000000000000000000000000000", "0xec4f34c97e43fbb2816cfd95e388353c7181dab1"},
			{"0x0000000000000000000000000000000000000000000000000000001234567890", ""},
			{"0x000000000000000000000000697c7b8c961b56f675d570498424ac8de1a918f6", "0x6f6f6f6820736f2067726561742c207265616c6c6c793f000000000000000000"},
			{"0x6f6f6f6820736f2067726561742c207265616c6c6c793f000000000000000000", "0x697c7b8c961b56f675d570498424ac8de1a918f6"},
		}, "9f6221ebb8efe7cff60a716ecb886e67dd042014be444669f0159d8e68b42100"},
		{"insert-middle-leaf", []op{
			{"key1aa", "0123456789012345678901234567890123456789xxx"},
			{"key1", "0123456789012345678901234567890123456789Very_Long"},
			{"key2bb", "aval3"},
			{"key2", "short"},
			{"key3cc", "aval3"},
			{"key3", "1234567890123456789012345678901"},
		}, "cb65032e2f76c48b82b5c24b3db8f670ce73982869d38cd39a624f23d62a9e89"},
		{"branchingTests (all deleted)", []op{
			{"0x04110d816c380812a427968ece99b1c963dfbce6", "something"},
			{"0x095e7baea6a6c7c4c2dfeb977efac326af552d87", "something"},
			{"0x04110d816c380812a427968ece99b1c963dfbce6", ""},
			{"0x095e7baea6a6c7c4c2dfeb977efac326af552d87", ""},
		}, "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"},
	}
	decode := func(s string) []byte {
		if strings.HasPrefix(s, "0x") {
			b, err := hex.DecodeString(s[2:])
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		return []byte(s)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := map[string][]byte{}
			for _, o := range tc.ops {
				if o.v == "" {
					delete(state, string(decode(o.k)))
				} else {
					state[string(decode(o.k))] = decode(o.v)
				}
			}
			var keys, values [][]byte
			for k, v := range state {
				keys = append(keys, []byte(k))
				values = append(values, v)
			}
			got := trieRoot(keys, values)
			if hex.EncodeToString(got[:]) != tc.root {
				t.Fatalf("root %x, want %s", got, tc.root)
			}
		})
	}
}

func TestHexPrefix(t *testing.T) {
	// Yellow Paper appendix C, and the examples of ethereum.org's "Merkle Patricia Trie" page.
	cases := []struct {
		nibbles []byte
		leaf    bool
		want    string
	}{
		{[]byte{1, 2, 3, 4, 5}, false, "112345"},
		{[]byte{0, 1, 2, 3, 4, 5}, false, "00012345"},
		{[]byte{0, 0xf, 1, 0xc, 0xb, 8}, true, "200f1cb8"},
		{[]byte{0xf, 1, 0xc, 0xb, 8}, true, "3f1cb8"},
		{nil, true, "20"},
	}
	for _, c := range cases {
		if got := hex.EncodeToString(hexPrefix(c.nibbles, c.leaf)); got != c.want {
			t.Errorf("hexPrefix(%x, %v) = %s, want %s", c.nibbles, c.leaf, got, c.want)
		}
	}
}
