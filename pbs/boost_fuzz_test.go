package pbs_test

import (
	"strings"
	"testing"

	"github.com/zkvlabs/zkv/pbs"
)

// FuzzParseRelayURL: whatever parses prints back (String) to a URL that parses to the same entry.
func FuzzParseRelayURL(f *testing.F) {
	pk := "0x" + strings.Repeat("ab", 48)
	id := strings.Repeat("cd", 32)
	for _, s := range []string{"http://" + pk + "@127.0.0.1:18550", "https://" + pk + "@relay.example/path/",
		"http://" + pk + "@[::1]:1#quic=[::1]:9000@" + id, "http://" + pk + "@h:1#quic=h:2@0x" + id, "http://h:1", "#quic="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := pbs.ParseRelayURL(s)
		if err != nil {
			return
		}
		back, err := pbs.ParseRelayURL(e.String())
		if err != nil {
			t.Fatalf("%q parsed to %+v, whose String %q does not parse: %v", s, e, e.String(), err)
		}
		if back != e {
			t.Fatalf("%q: %+v, then %+v through %q", s, e, back, e.String())
		}
	})
}

// FuzzParseRelayConfig: any input gives a config or an error, never a panic; a config's relays
// all print back to URLs that parse.
func FuzzParseRelayConfig(f *testing.F) {
	pk := "0x" + strings.Repeat("ab", 48)
	f.Add([]byte("builder_relays_groups:\n  g: [\"http://" + pk + "@h:1\"]\ndefault_config:\n  builder_relays: [g]\n  min_bid: \"0.1\"\nproposer_config:\n  \"" + pk + "\": {min_bid: \"1\"}\n"))
	f.Add([]byte(`{"default_config": {"builder_relays": ["http://` + pk + `@h:1"]}}`))
	f.Add([]byte("default_config: {min_bid: 1e400}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := pbs.ParseRelayConfig(data)
		if err != nil {
			return
		}
		all := append([]pbs.RelayEntry(nil), c.Default.Relays...)
		for _, p := range c.Proposers {
			all = append(all, p.Relays...)
		}
		for _, e := range all {
			if _, err := pbs.ParseRelayURL(e.String()); err != nil {
				t.Fatalf("relay %+v prints as %q, which does not parse: %v", e, e.String(), err)
			}
		}
	})
}
