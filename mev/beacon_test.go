package mev

import (
	"context"
	"strings"
	"testing"

	"github.com/attestantio/go-eth2-client/spec"
)

// The Beacon API's payload_attributes event (beacon-APIs eventstream example, Electra with
// PayloadAttributesV3), and unknown fields ignored.
func TestParseAttributesEvent(t *testing.T) {
	data := `{"version":"electra","data":{"proposer_index":"123","proposal_slot":"10","parent_block_number":"9",
"parent_block_root":"0x0000000000000000000000000000000000000000000000000000000000000001",
"parent_block_hash":"0x0000000000000000000000000000000000000000000000000000000000000002",
"payload_attributes":{"timestamp":"1700000000","prev_randao":"0x0000000000000000000000000000000000000000000000000000000000000003",
"suggested_fee_recipient":"0x0000000000000000000000000000000000000004",
"withdrawals":[{"index":"5","validator_index":"6","address":"0x0000000000000000000000000000000000000007","amount":"8"}],
"parent_beacon_block_root":"0x0000000000000000000000000000000000000000000000000000000000000001","deposit_requests":[]}}}`
	a, err := ParseAttributesEvent([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != spec.DataVersionElectra || a.Slot != 10 || a.ProposerIndex != 123 || a.ParentBlockNumber != 9 || a.Timestamp != 1700000000 ||
		a.ParentBlockHash[31] != 2 || a.PrevRandao[31] != 3 || a.ParentBeaconBlockRoot[31] != 1 || len(a.Withdrawals) != 1 || a.Withdrawals[0].Amount != 8 {
		t.Fatalf("parsed %+v", a)
	}
	for _, bad := range []string{
		strings.Replace(data, `"electra"`, `"deneb"`, 1),
		strings.Replace(data, `"proposal_slot":"10"`, `"proposal_slot":"x"`, 1),
		strings.Replace(data, `"prev_randao":"0x00`, `"prev_randao":"0x0`, 1),
		`{`,
	} {
		if _, err := ParseAttributesEvent([]byte(bad)); err == nil {
			t.Errorf("accepted %.80s", bad)
		}
	}
}

func TestReadEvents(t *testing.T) {
	in := "event: head\ndata: {\"a\":\ndata: 1}\n\n: comment\nevent: payload_attributes\ndata: x\n\n"
	var got []string
	if err := readEvents(strings.NewReader(in), func(topic string, data []byte) { got = append(got, topic+"="+string(data)) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "head={\"a\":\n1}" || got[1] != "payload_attributes=x" {
		t.Fatalf("%q", got)
	}
}

// New names each missing dependency; a beacon node that fails is an error, not a panic.
func TestNewChecksDependencies(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "no secret key"},
		{Config{SecretKey: testKey(t)}, "no beacon node"},
		{Config{SecretKey: testKey(t), Beacon: &BeaconClient{}}, "no store"},
	} {
		if _, err := New(ctx, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	if _, err := NewBeaconClient(ctx, nil, nil); err == nil {
		t.Error("no beacon URL accepted")
	}
}
