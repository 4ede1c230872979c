package execution

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/capella"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

// eventVersion maps the Beacon API version names this package serves to go-eth2-client's.
func eventVersion(version string) (spec.DataVersion, error) {
	switch version {
	case "electra":
		return spec.DataVersionElectra, nil
	case "fulu":
		return spec.DataVersionFulu, nil
	}
	return spec.DataVersionUnknown, fmt.Errorf("%w: %q, want \"electra\" or \"fulu\"", ErrUnsupportedVersion, version)
}

// AttributesEvent converts attrs to go-eth2-client's payload_attributes event (version "electra"
// or "fulu"), for in-process consumers written against go-eth2-client.
//
// It is not what goes on the wire: go-eth2-client v0.27.1 models Electra/Fulu attributes as a
// "V4" that adds deposit_requests, withdrawal_requests and consolidation_requests (filled here
// with empty lists) and its decoder requires them, while the Beacon API (events,
// payload_attributes) and execution-apis give Prague PayloadAttributesV3, which has none. Serve
// AttributesEventJSON on the SSE stream.
func AttributesEvent(attrs Attributes, version string) (*apiv1.PayloadAttributesEvent, error) {
	v, err := eventVersion(version)
	if err != nil {
		return nil, err
	}
	return &apiv1.PayloadAttributesEvent{
		Version: v,
		Data: &apiv1.PayloadAttributesData{
			ProposerIndex:     attrs.ProposerIndex,
			ProposalSlot:      attrs.Slot,
			ParentBlockNumber: attrs.ParentBlockNumber,
			ParentBlockRoot:   attrs.ParentBlockRoot,
			ParentBlockHash:   attrs.ParentBlockHash,
			V4: &apiv1.PayloadAttributesV4{
				Timestamp:             attrs.Timestamp,
				PrevRandao:            attrs.PrevRandao,
				SuggestedFeeRecipient: attrs.SuggestedFeeRecipient,
				Withdrawals:           nonNilWithdrawals(attrs.Withdrawals),
				ParentBeaconBlockRoot: attrs.ParentBlockRoot,
				DepositRequests:       []*electra.DepositRequest{},
				WithdrawalRequests:    []*electra.WithdrawalRequest{},
				ConsolidationRequests: []*electra.ConsolidationRequest{},
			},
		},
	}, nil
}

// The Beacon API JSON of the payload_attributes event (beacon-APIs apis/eventstream/index.yaml):
// integers as quoted decimals, bytes as 0x-prefixed hex, payload_attributes the snake_case
// PayloadAttributesV3 of execution-apis (Prague keeps V3).
type eventJSON struct {
	Version string        `json:"version"`
	Data    eventDataJSON `json:"data"`
}

type eventDataJSON struct {
	ProposerIndex     string                `json:"proposer_index"`
	ProposalSlot      string                `json:"proposal_slot"`
	ParentBlockNumber string                `json:"parent_block_number"`
	ParentBlockRoot   string                `json:"parent_block_root"`
	ParentBlockHash   string                `json:"parent_block_hash"`
	PayloadAttributes payloadAttributesJSON `json:"payload_attributes"`
}

type payloadAttributesJSON struct {
	Timestamp             string                `json:"timestamp"`
	PrevRandao            string                `json:"prev_randao"`
	SuggestedFeeRecipient string                `json:"suggested_fee_recipient"`
	Withdrawals           []*capella.Withdrawal `json:"withdrawals"`
	ParentBeaconBlockRoot string                `json:"parent_beacon_block_root"`
}

// AttributesEventJSON returns the data line of the payload_attributes SSE event for attrs
// (version "electra" or "fulu") in exactly the Beacon API's shape:
//
//	{"version":"electra","data":{"proposer_index":"1","proposal_slot":"2","parent_block_number":"1",
//	 "parent_block_root":"0x…","parent_block_hash":"0x…","payload_attributes":{"timestamp":"…",
//	 "prev_randao":"0x…","suggested_fee_recipient":"0x…","withdrawals":[…],
//	 "parent_beacon_block_root":"0x…"}}}
//
// Relays built on the Beacon API spec (mev-boost-relay, this repository's) read it; go-eth2-client
// v0.27.1's decoder does not (see AttributesEvent), so read it with ParseAttributesEvent.
func AttributesEventJSON(attrs Attributes, version string) ([]byte, error) {
	if _, err := eventVersion(version); err != nil {
		return nil, err
	}
	return json.Marshal(eventJSON{
		Version: version,
		Data: eventDataJSON{
			ProposerIndex:     strconv.FormatUint(uint64(attrs.ProposerIndex), 10),
			ProposalSlot:      strconv.FormatUint(uint64(attrs.Slot), 10),
			ParentBlockNumber: strconv.FormatUint(attrs.ParentBlockNumber, 10),
			ParentBlockRoot:   fmt.Sprintf("%#x", attrs.ParentBlockRoot),
			ParentBlockHash:   fmt.Sprintf("%#x", attrs.ParentBlockHash),
			PayloadAttributes: payloadAttributesJSON{
				Timestamp:             strconv.FormatUint(attrs.Timestamp, 10),
				PrevRandao:            fmt.Sprintf("%#x", attrs.PrevRandao),
				SuggestedFeeRecipient: fmt.Sprintf("%#x", attrs.SuggestedFeeRecipient),
				Withdrawals:           nonNilWithdrawals(attrs.Withdrawals),
				ParentBeaconBlockRoot: fmt.Sprintf("%#x", attrs.ParentBlockRoot),
			},
		},
	})
}

// ParseAttributesEvent reads the data of a payload_attributes event in the Beacon API's shape (as
// AttributesEventJSON writes it, or a real beacon node sends it) and returns the attributes and
// the version. Unknown fields are ignored; a missing or malformed field is an error naming it.
func ParseAttributesEvent(data []byte) (Attributes, string, error) {
	var e eventJSON
	if err := json.Unmarshal(data, &e); err != nil {
		return Attributes{}, "", fmt.Errorf("payload_attributes event: %w", err)
	}
	if _, err := eventVersion(e.Version); err != nil {
		return Attributes{}, "", fmt.Errorf("payload_attributes event: %w", err)
	}
	var (
		a   Attributes
		err error
		d   = e.Data
		pa  = d.PayloadAttributes
		u64 = func(name, s string) uint64 {
			if err != nil {
				return 0
			}
			var v uint64
			if v, err = strconv.ParseUint(s, 10, 64); err != nil {
				err = fmt.Errorf("%s: %q is not a decimal uint64", name, s)
			}
			return v
		}
		hexN = func(name, s string, dst []byte) {
			if err != nil {
				return
			}
			b, derr := hex.DecodeString(strings.TrimPrefix(s, "0x"))
			if derr != nil || !strings.HasPrefix(s, "0x") || len(b) != len(dst) {
				err = fmt.Errorf("%s: %q is not 0x-prefixed hex of %d bytes", name, s, len(dst))
				return
			}
			copy(dst, b)
		}
	)
	a.ProposerIndex = phase0.ValidatorIndex(u64("proposer_index", d.ProposerIndex))
	a.Slot = phase0.Slot(u64("proposal_slot", d.ProposalSlot))
	a.ParentBlockNumber = u64("parent_block_number", d.ParentBlockNumber)
	hexN("parent_block_root", d.ParentBlockRoot, a.ParentBlockRoot[:])
	hexN("parent_block_hash", d.ParentBlockHash, a.ParentBlockHash[:])
	a.Timestamp = u64("payload_attributes.timestamp", pa.Timestamp)
	hexN("payload_attributes.prev_randao", pa.PrevRandao, a.PrevRandao[:])
	hexN("payload_attributes.suggested_fee_recipient", pa.SuggestedFeeRecipient, a.SuggestedFeeRecipient[:])
	var pbr phase0.Root
	hexN("payload_attributes.parent_beacon_block_root", pa.ParentBeaconBlockRoot, pbr[:])
	if err == nil && pbr != a.ParentBlockRoot {
		err = fmt.Errorf("payload_attributes.parent_beacon_block_root %#x differs from parent_block_root %#x", pbr, a.ParentBlockRoot)
	}
	if err == nil && pa.Withdrawals == nil {
		err = fmt.Errorf("payload_attributes.withdrawals missing")
	}
	for i, w := range pa.Withdrawals {
		if err == nil && w == nil {
			err = fmt.Errorf("payload_attributes.withdrawals[%d] is null", i)
		}
	}
	if err != nil {
		return Attributes{}, "", fmt.Errorf("payload_attributes event: %w", err)
	}
	a.Withdrawals = pa.Withdrawals
	return a, e.Version, nil
}

// nonNilWithdrawals returns ws, or an empty list for nil, so JSON says [] and not null.
func nonNilWithdrawals(ws []*capella.Withdrawal) []*capella.Withdrawal {
	if ws == nil {
		return []*capella.Withdrawal{}
	}
	return ws
}
