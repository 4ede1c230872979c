package beacon

import (
	"encoding/json"
	"fmt"
	"net/http"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/altair"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
	ssz "github.com/ferranbt/fastssz"
)

func (n *Node) epochParam(w http.ResponseWriter, r *http.Request) (phase0.Epoch, bool) {
	e, err := parseUint(r.PathValue("epoch"), "epoch")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return 0, false
	}
	return phase0.Epoch(e), true
}

// epochAndIndices reads the {epoch} of the path and the body's list of validator indices, the
// request of the duty and liveness endpoints; it answers the error itself when ok is false.
func (n *Node) epochAndIndices(w http.ResponseWriter, r *http.Request) (phase0.Epoch, []phase0.ValidatorIndex, bool) {
	e, ok := n.epochParam(w, r)
	if !ok {
		return 0, nil, false
	}
	body, _, ok := n.readBody(w, r, false)
	if !ok {
		return 0, nil, false
	}
	indices, err := indexList(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return 0, nil, false
	}
	return e, indices, true
}

func (n *Node) getProposerDuties(w http.ResponseWriter, r *http.Request) {
	e, ok := n.epochParam(w, r)
	if !ok {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	ei, err := n.epoch(e)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := make([]*apiv1.ProposerDuty, len(ei.proposers))
	for i, p := range ei.proposers {
		out[i] = &apiv1.ProposerDuty{PubKey: n.gen.Validators[p].Pubkey, Slot: n.epochStart(e) + phase0.Slot(i), ValidatorIndex: p}
	}
	writeData(w, out, map[string]any{"dependent_root": n.dependentRoot(e).String(), "execution_optimistic": false})
}

func (n *Node) postAttesterDuties(w http.ResponseWriter, r *http.Request) {
	e, indices, ok := n.epochAndIndices(w, r)
	if !ok {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	ei, err := n.epoch(e)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := []*apiv1.AttesterDuty{}
	for _, idx := range indices {
		if int(idx) >= len(n.gen.Validators) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown validator index %d", idx))
			return
		}
		d, ok := ei.duty[idx]
		if !ok {
			continue // not active in this epoch
		}
		out = append(out, &apiv1.AttesterDuty{PubKey: n.gen.Validators[idx].Pubkey, Slot: d.slot, ValidatorIndex: idx,
			CommitteeIndex: d.committee, CommitteeLength: d.committeeLength, CommitteesAtSlot: ei.committeesPerSlot, ValidatorCommitteeIndex: d.position})
	}
	dep := n.st.genesis.root
	if e > 0 {
		dep = n.dependentRoot(e - 1)
	}
	writeData(w, out, map[string]any{"dependent_root": dep.String(), "execution_optimistic": false})
}

func (n *Node) postSyncDuties(w http.ResponseWriter, r *http.Request) {
	e, indices, ok := n.epochAndIndices(w, r)
	if !ok {
		return
	}
	out, err := n.SyncDuties(e, indices)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeData(w, out, map[string]any{"execution_optimistic": false})
}

func (n *Node) getAttestationData(w http.ResponseWriter, r *http.Request) {
	if !acceptable(r, true) {
		writeError(w, http.StatusNotAcceptable, "this endpoint answers application/json or application/octet-stream")
		return
	}
	q := r.URL.Query()
	slot, err := parseUint(q.Get("slot"), "slot")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if _, err := parseUint(q.Get("committee_index"), "committee_index"); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	d, err := n.AttestationData(phase0.Slot(slot))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeMaybeSSZ(w, r, d, nil)
}

// writeMaybeSSZ answers v as SSZ when the client prefers it, else as {"data": v, ...extra}.
func writeMaybeSSZ(w http.ResponseWriter, r *http.Request, v ssz.Marshaler, extra map[string]any) {
	if acceptsSSZ(r) {
		b, err := v.MarshalSSZ()
		if err != nil {
			writeError(w, http.StatusInternalServerError, "encode: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", contentSSZ)
		_, _ = w.Write(b)
		return
	}
	writeData(w, v, extra)
}

func (n *Node) getAggregate(w http.ResponseWriter, r *http.Request) {
	if !acceptable(r, true) {
		writeError(w, http.StatusNotAcceptable, "this endpoint answers application/json or application/octet-stream")
		return
	}
	q := r.URL.Query()
	root, err := parseRoot(q.Get("attestation_data_root"), "attestation_data_root")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	slot, err := parseUint(q.Get("slot"), "slot")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ci, err := parseUint(q.Get("committee_index"), "committee_index")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	a, err := n.AggregateAttestation(phase0.Slot(slot), phase0.CommitteeIndex(ci), root)
	if err != nil {
		n.stateError(w, err)
		return
	}
	version := n.forkAt(n.slotEpoch(phase0.Slot(slot))).String()
	w.Header().Set("Eth-Consensus-Version", version)
	writeMaybeSSZ(w, r, a, map[string]any{"version": version})
}

// decodeList decodes a JSON array, or an SSZ list of fixed-size items of size itemSize (0: the
// items are variable-size and the list starts with 4-byte offsets).
func decodeList[T any, P interface {
	*T
	UnmarshalSSZ([]byte) error
}](body []byte, isSSZ bool, itemSize int) ([]*T, error) {
	if !isSSZ {
		var out []*T
		if err := decodeJSON(body, &out); err != nil {
			return nil, err
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("malformed body: empty list")
		}
		return out, nil
	}
	var parts [][]byte
	if itemSize > 0 {
		if len(body)%itemSize != 0 {
			return nil, fmt.Errorf("malformed SSZ body: %d bytes is not a list of %d-byte items", len(body), itemSize)
		}
		for i := 0; i < len(body); i += itemSize {
			parts = append(parts, body[i:i+itemSize])
		}
	} else {
		if len(body) < 4 {
			return nil, fmt.Errorf("malformed SSZ body: too short")
		}
		first := int(ssz.UnmarshallUint32(body[:4]))
		if first%4 != 0 || first == 0 || first > len(body) {
			return nil, fmt.Errorf("malformed SSZ body: bad first offset %d", first)
		}
		offs := make([]int, first/4)
		for i := range offs {
			offs[i] = int(ssz.UnmarshallUint32(body[4*i:]))
			if offs[i] > len(body) || (i > 0 && offs[i] < offs[i-1]) {
				return nil, fmt.Errorf("malformed SSZ body: bad offset %d", offs[i])
			}
		}
		for i, o := range offs {
			end := len(body)
			if i+1 < len(offs) {
				end = offs[i+1]
			}
			parts = append(parts, body[o:end])
		}
	}
	out := make([]*T, len(parts))
	for i, p := range parts {
		out[i] = new(T)
		if err := P(out[i]).UnmarshalSSZ(p); err != nil {
			return nil, fmt.Errorf("malformed SSZ item %d: %w", i, err)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("malformed body: empty list")
	}
	return out, nil
}

func (n *Node) postAttestations(w http.ResponseWriter, r *http.Request) {
	body, isSSZ, ok := n.readBody(w, r, true)
	if !ok {
		return
	}
	if _, err := consensusVersion(r); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	atts, err := decodeList[electra.SingleAttestation](body, isSSZ, (&electra.SingleAttestation{Data: &phase0.AttestationData{}}).SizeSSZ())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeFailures(w, "attestations", n.SubmitAttestations(atts))
}

func (n *Node) postAggregates(w http.ResponseWriter, r *http.Request) {
	body, isSSZ, ok := n.readBody(w, r, true)
	if !ok {
		return
	}
	if _, err := consensusVersion(r); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	items, err := decodeList[electra.SignedAggregateAndProof](body, isSSZ, 0)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeFailures(w, "aggregates", n.SubmitAggregateAndProofs(items))
}

func (n *Node) postSyncMessages(w http.ResponseWriter, r *http.Request) {
	body, _, ok := n.readBody(w, r, false)
	if !ok {
		return
	}
	msgs, err := decodeList[altair.SyncCommitteeMessage](body, false, 0)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeFailures(w, "sync committee messages", n.SubmitSyncMessages(msgs))
}

func (n *Node) getContribution(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	slot, err := parseUint(q.Get("slot"), "slot")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	sub, err := parseUint(q.Get("subcommittee_index"), "subcommittee_index")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	root, err := parseRoot(q.Get("beacon_block_root"), "beacon_block_root")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	c, err := n.SyncContribution(phase0.Slot(slot), sub, root)
	if err != nil {
		n.stateError(w, err)
		return
	}
	writeData(w, c, nil)
}

func (n *Node) postContributions(w http.ResponseWriter, r *http.Request) {
	body, _, ok := n.readBody(w, r, false)
	if !ok {
		return
	}
	items, err := decodeList[altair.SignedContributionAndProof](body, false, 0)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeFailures(w, "contributions", n.SubmitContributions(items))
}

func (n *Node) postVoluntaryExit(w http.ResponseWriter, r *http.Request) {
	ex := &phase0.SignedVoluntaryExit{}
	if !n.readJSON(w, r, ex) {
		return
	}
	if err := n.SubmitVoluntaryExit(ex); err != nil {
		writeError(w, http.StatusBadRequest, "voluntary exit refused: "+err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (n *Node) getVoluntaryExits(w http.ResponseWriter, _ *http.Request) {
	n.mu.Lock()
	out := make([]*phase0.SignedVoluntaryExit, 0, len(n.st.exitPool))
	for _, ex := range n.st.exitPool {
		out = append(out, ex)
	}
	n.mu.Unlock()
	writeData(w, out, nil)
}

func (n *Node) postCommitteeSubscriptions(w http.ResponseWriter, r *http.Request) {
	var subs []*apiv1.BeaconCommitteeSubscription
	if !n.readJSON(w, r, &subs) {
		return
	}
	for i, s := range subs {
		if s == nil || int(s.ValidatorIndex) >= len(n.gen.Validators) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("subscription %d: unknown validator index", i))
			return
		}
		if uint64(s.CommitteeIndex) >= s.CommitteesAtSlot || s.CommitteesAtSlot > n.preset.MaxCommitteesPerSlot {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("subscription %d: committee index %d out of range (%d committees at slot)", i, s.CommitteeIndex, s.CommitteesAtSlot))
			return
		}
	}
	// The devnet has no gossip subnets to join: a valid subscription needs nothing more.
	w.WriteHeader(http.StatusOK)
}

func (n *Node) postSyncSubscriptions(w http.ResponseWriter, r *http.Request) {
	var subs []*apiv1.SyncCommitteeSubscription
	if !n.readJSON(w, r, &subs) {
		return
	}
	for i, s := range subs {
		if s == nil || int(s.ValidatorIndex) >= len(n.gen.Validators) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("subscription %d: unknown validator index", i))
			return
		}
		for _, p := range s.SyncCommitteeIndices {
			if uint64(p) >= n.preset.SyncCommitteeSize {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("subscription %d: sync committee index %d out of range", i, p))
				return
			}
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (n *Node) postPrepareProposer(w http.ResponseWriter, r *http.Request) {
	var preps []*apiv1.ProposalPreparation
	if !n.readJSON(w, r, &preps) {
		return
	}
	if err := n.PrepareProposers(preps); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (n *Node) postRegisterValidator(w http.ResponseWriter, r *http.Request) {
	body, isSSZ, ok := n.readBody(w, r, true)
	if !ok {
		return
	}
	regs, err := decodeList[apiv1.SignedValidatorRegistration](body, isSSZ, 180)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeFailures(w, "registrations", n.RegisterValidators(r.Context(), regs))
}

func (n *Node) postLiveness(w http.ResponseWriter, r *http.Request) {
	e, indices, ok := n.epochAndIndices(w, r)
	if !ok {
		return
	}
	out, err := n.Liveness(e, indices)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeData(w, out, nil)
}

var _ = json.Marshal
