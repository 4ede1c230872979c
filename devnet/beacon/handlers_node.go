package beacon

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/devnet/beacon/consensus"
)

// Version is what GET /eth/v1/node/version reports.
const Version = "zkv-devnet-beacon/v0.1.0"

// DepositContractAddress is the devnet's nominal deposit contract (it has no execution state).
var DepositContractAddress = [20]byte{0x00, 0x00, 0x00, 0x00, 0x21, 0x9a, 0xb5, 0x40, 0x35, 0x6c, 0xbb, 0x83, 0x9c, 0xbe, 0x05, 0x30, 0x3d, 0x77, 0x05, 0xfa}

func (n *Node) getVersion(w http.ResponseWriter, _ *http.Request) {
	writeData(w, map[string]string{"version": fmt.Sprintf("%s/%s-%s (simulator)", Version, runtime.GOOS, runtime.GOARCH)}, nil)
}

func (n *Node) getSyncing(w http.ResponseWriter, _ *http.Request) {
	n.mu.Lock()
	head := n.st.head.slot
	n.mu.Unlock()
	cur := n.currentSlot()
	writeData(w, map[string]any{
		"head_slot": fmt.Sprint(head), "sync_distance": fmt.Sprint(uint64(cur - min(cur, head))),
		"is_syncing": false, "is_optimistic": false, "el_offline": false,
	}, nil)
}

func (n *Node) getHealth(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }

func (n *Node) getIdentity(w http.ResponseWriter, _ *http.Request) {
	writeData(w, map[string]any{
		"peer_id": "16Uiu2HAmzkvDevnetSimulatorNoPeerToPeerNetwork", "enr": "",
		"p2p_addresses": []string{}, "discovery_addresses": []string{},
		"metadata": map[string]string{"seq_number": "0", "attnets": "0x0000000000000000", "syncnets": "0x00"},
	}, nil)
}

// specValues is the node's config/spec: the preset, the devnet's configuration and the domains.
func (n *Node) specValues() map[string]string {
	m := n.preset.Values()
	fulu := FarFutureEpoch
	if n.cfg.FuluEpoch != nil {
		fulu = *n.cfg.FuluEpoch
	}
	hexv := func(v phase0.Version) string { return fmt.Sprintf("%#x", v[:]) }
	cfg := map[string]string{
		"CONFIG_NAME":                               "zkv-devnet",
		"PRESET_BASE":                               "mainnet",
		"SECONDS_PER_SLOT":                          fmt.Sprint(uint64(n.cfg.SlotTime.Seconds())),
		"SLOT_DURATION_MS":                          fmt.Sprint(n.cfg.SlotTime.Milliseconds()),
		"MIN_GENESIS_TIME":                          fmt.Sprint(n.cfg.GenesisTime.Unix()),
		"MIN_GENESIS_ACTIVE_VALIDATOR_COUNT":        fmt.Sprint(len(n.gen.Validators)),
		"GENESIS_DELAY":                             "0",
		"GENESIS_FORK_VERSION":                      hexv(GenesisForkVersion),
		"ALTAIR_FORK_VERSION":                       hexv(AltairForkVersion),
		"ALTAIR_FORK_EPOCH":                         "0",
		"BELLATRIX_FORK_VERSION":                    hexv(BellatrixForkVersion),
		"BELLATRIX_FORK_EPOCH":                      "0",
		"CAPELLA_FORK_VERSION":                      hexv(CapellaForkVersion),
		"CAPELLA_FORK_EPOCH":                        "0",
		"DENEB_FORK_VERSION":                        hexv(DenebForkVersion),
		"DENEB_FORK_EPOCH":                          "0",
		"ELECTRA_FORK_VERSION":                      hexv(ElectraForkVersion),
		"ELECTRA_FORK_EPOCH":                        "0",
		"FULU_FORK_VERSION":                         hexv(FuluForkVersion),
		"FULU_FORK_EPOCH":                           fmt.Sprint(uint64(fulu)),
		"SHARD_COMMITTEE_PERIOD":                    fmt.Sprint(n.cfg.ShardCommitteePeriod),
		"MIN_VALIDATOR_WITHDRAWABILITY_DELAY":       "256",
		"ETH1_FOLLOW_DISTANCE":                      "16",
		"SECONDS_PER_ETH1_BLOCK":                    "14",
		"DEPOSIT_CHAIN_ID":                          fmt.Sprint(DevnetChainID),
		"DEPOSIT_NETWORK_ID":                        fmt.Sprint(DevnetChainID),
		"DEPOSIT_CONTRACT_ADDRESS":                  fmt.Sprintf("%#x", DepositContractAddress[:]),
		"TERMINAL_TOTAL_DIFFICULTY":                 "0",
		"INACTIVITY_SCORE_BIAS":                     "4",
		"INACTIVITY_SCORE_RECOVERY_RATE":            "16",
		"EJECTION_BALANCE":                          "16000000000",
		"MIN_PER_EPOCH_CHURN_LIMIT":                 "4",
		"CHURN_LIMIT_QUOTIENT":                      "65536",
		"MAX_PER_EPOCH_ACTIVATION_CHURN_LIMIT":      "8",
		"MIN_PER_EPOCH_CHURN_LIMIT_ELECTRA":         "128000000000",
		"MAX_PER_EPOCH_ACTIVATION_EXIT_CHURN_LIMIT": "256000000000",
		"PROPOSER_SCORE_BOOST":                      "40",
		"REORG_HEAD_WEIGHT_THRESHOLD":               "20",
		"REORG_PARENT_WEIGHT_THRESHOLD":             "160",
		"REORG_MAX_EPOCHS_SINCE_FINALIZATION":       "2",
		"ATTESTATION_PROPAGATION_SLOT_RANGE":        fmt.Sprint(attestationPropagationSlotRange),
		"MAXIMUM_GOSSIP_CLOCK_DISPARITY":            "500",
		"MAX_REQUEST_BLOCKS_DENEB":                  "128",
		"MAX_BLOBS_PER_BLOCK_ELECTRA":               "9",
		"BLOB_SIDECAR_SUBNET_COUNT_ELECTRA":         "9",
		"DOMAIN_BEACON_PROPOSER":                    fmt.Sprintf("%#x", consensus.DomainBeaconProposer[:]),
		"DOMAIN_BEACON_ATTESTER":                    fmt.Sprintf("%#x", consensus.DomainBeaconAttester[:]),
		"DOMAIN_RANDAO":                             fmt.Sprintf("%#x", consensus.DomainRandao[:]),
		"DOMAIN_DEPOSIT":                            fmt.Sprintf("%#x", consensus.DomainDeposit[:]),
		"DOMAIN_VOLUNTARY_EXIT":                     fmt.Sprintf("%#x", consensus.DomainVoluntaryExit[:]),
		"DOMAIN_SELECTION_PROOF":                    fmt.Sprintf("%#x", consensus.DomainSelectionProof[:]),
		"DOMAIN_AGGREGATE_AND_PROOF":                fmt.Sprintf("%#x", consensus.DomainAggregateAndProof[:]),
		"DOMAIN_SYNC_COMMITTEE":                     fmt.Sprintf("%#x", consensus.DomainSyncCommittee[:]),
		"DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF":     fmt.Sprintf("%#x", consensus.DomainSyncCommitteeSelectionProof[:]),
		"DOMAIN_CONTRIBUTION_AND_PROOF":             fmt.Sprintf("%#x", consensus.DomainContributionAndProof[:]),
		"DOMAIN_APPLICATION_BUILDER":                fmt.Sprintf("%#x", consensus.DomainApplicationBuilder[:]),
	}
	for k, v := range cfg {
		m[k] = v
	}
	return m
}

func (n *Node) getSpec(w http.ResponseWriter, _ *http.Request) { writeData(w, n.specValues(), nil) }

// forkSchedule lists every fork of the devnet with its versions and epoch.
func (n *Node) forkSchedule() []*phase0.Fork {
	vs := []phase0.Version{GenesisForkVersion, AltairForkVersion, BellatrixForkVersion, CapellaForkVersion, DenebForkVersion, ElectraForkVersion}
	out := []*phase0.Fork{{PreviousVersion: GenesisForkVersion, CurrentVersion: GenesisForkVersion, Epoch: 0}}
	for i := 1; i < len(vs); i++ {
		out = append(out, &phase0.Fork{PreviousVersion: vs[i-1], CurrentVersion: vs[i], Epoch: 0})
	}
	if n.cfg.FuluEpoch != nil {
		out = append(out, &phase0.Fork{PreviousVersion: ElectraForkVersion, CurrentVersion: FuluForkVersion, Epoch: *n.cfg.FuluEpoch})
	}
	return out
}

func (n *Node) getForkSchedule(w http.ResponseWriter, _ *http.Request) {
	writeData(w, n.forkSchedule(), nil)
}

// forkAtEpoch is the state's fork field at epoch e.
func (n *Node) forkAtEpoch(e phase0.Epoch) *phase0.Fork {
	var f *phase0.Fork
	for _, x := range n.forkSchedule() {
		if x.Epoch <= e {
			f = x
		}
	}
	return f
}

func (n *Node) getDepositContract(w http.ResponseWriter, _ *http.Request) {
	writeData(w, map[string]string{"chain_id": fmt.Sprint(DevnetChainID), "address": fmt.Sprintf("%#x", DepositContractAddress[:])}, nil)
}

func (n *Node) getGenesis(w http.ResponseWriter, _ *http.Request) {
	writeData(w, &apiv1.Genesis{GenesisTime: n.cfg.GenesisTime, GenesisValidatorsRoot: n.gen.GenesisValidatorsRoot, GenesisForkVersion: GenesisForkVersion}, nil)
}

// stateRef is a resolved state id: the slot of the state and whether it is finalized.
type stateRef struct {
	slot      phase0.Slot
	finalized bool
}

// resolveState resolves a state id (head, genesis, finalized, justified, a slot or a state root)
// under n.mu. The node keeps one state; a past state is reconstructed from what it records per
// epoch (FFG checkpoints, exits), which is all these endpoints report.
func (n *Node) resolveState(id string) (stateRef, error) {
	n.advance()
	switch id {
	case "head":
		return stateRef{slot: n.currentSlot()}, nil
	case "genesis":
		return stateRef{slot: 0, finalized: true}, nil
	case "finalized":
		return stateRef{slot: n.epochStart(phase0.Epoch(n.st.ffg.Finalized.Epoch)), finalized: true}, nil
	case "justified":
		return stateRef{slot: n.epochStart(phase0.Epoch(n.st.ffg.CurrentJustified.Epoch))}, nil
	}
	if strings.HasPrefix(id, "0x") {
		root, err := parseRoot(id, "state id")
		if err != nil {
			return stateRef{}, err
		}
		for _, b := range n.st.blocks {
			if b.stateRoot == root {
				return stateRef{slot: b.slot, finalized: n.isFinalizedSlot(b.slot)}, nil
			}
		}
		return stateRef{}, fmt.Errorf("%w: state root %s", ErrNotFound, id)
	}
	s, err := parseUint(id, "state id")
	if err != nil {
		return stateRef{}, fmt.Errorf("invalid state id %q: want head, genesis, finalized, justified, a slot or a 0x state root", id)
	}
	if phase0.Slot(s) > n.currentSlot() {
		return stateRef{}, fmt.Errorf("%w: state at slot %d is in the future", ErrNotFound, s)
	}
	return stateRef{slot: phase0.Slot(s), finalized: n.isFinalizedSlot(phase0.Slot(s))}, nil
}

func (n *Node) isFinalizedSlot(s phase0.Slot) bool {
	return s <= n.epochStart(phase0.Epoch(n.st.ffg.Finalized.Epoch))
}

func (n *Node) stateError(w http.ResponseWriter, err error) {
	if isNotFound(err) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	writeError(w, http.StatusBadRequest, err.Error())
}

func (n *Node) getFork(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	ref, err := n.resolveState(r.PathValue("state_id"))
	n.mu.Unlock()
	if err != nil {
		n.stateError(w, err)
		return
	}
	writeData(w, n.forkAtEpoch(n.slotEpoch(ref.slot)), map[string]any{"execution_optimistic": false, "finalized": ref.finalized})
}

func (n *Node) getFinality(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	ref, err := n.resolveState(r.PathValue("state_id"))
	var f consensus.FFG
	if err == nil {
		f = n.ffgAtSlot(ref.slot)
	}
	n.mu.Unlock()
	if err != nil {
		n.stateError(w, err)
		return
	}
	cp := func(c consensus.Checkpoint) *phase0.Checkpoint {
		return &phase0.Checkpoint{Epoch: phase0.Epoch(c.Epoch), Root: phase0.Root(c.Root)}
	}
	writeData(w, &apiv1.Finality{PreviousJustified: cp(f.PreviousJustified), Justified: cp(f.CurrentJustified), Finalized: cp(f.Finalized)},
		map[string]any{"execution_optimistic": false, "finalized": ref.finalized})
}

// ffgAtSlot is the FFG checkpoints of the state at slot (after the epoch transitions before it).
func (n *Node) ffgAtSlot(s phase0.Slot) consensus.FFG {
	if f, ok := n.st.ffgAt[n.slotEpoch(s)]; ok {
		return f
	}
	return n.st.ffg
}

// validatorStatus is the Beacon API status of validator idx at epoch e.
func (n *Node) validatorStatus(idx phase0.ValidatorIndex, e phase0.Epoch) (apiv1.ValidatorState, phase0.Epoch, phase0.Epoch) {
	exit, ok := n.st.exits[idx]
	if !ok {
		return apiv1.ValidatorStateActiveOngoing, FarFutureEpoch, FarFutureEpoch
	}
	withdrawable := exit + 256 // MIN_VALIDATOR_WITHDRAWABILITY_DELAY
	switch {
	case e < exit:
		return apiv1.ValidatorStateActiveExiting, exit, withdrawable
	case e < withdrawable:
		return apiv1.ValidatorStateExitedUnslashed, exit, withdrawable
	default:
		return apiv1.ValidatorStateWithdrawalPossible, exit, withdrawable
	}
}

// matchStatus applies a status filter: a precise status or one of the four general ones.
func matchStatus(st apiv1.ValidatorState, filters map[string]bool) bool {
	if len(filters) == 0 {
		return true
	}
	s := st.String()
	general := strings.SplitN(s, "_", 2)[0]
	return filters[s] || filters[general]
}

var validStatuses = map[string]bool{
	"pending_initialized": true, "pending_queued": true, "active_ongoing": true, "active_exiting": true,
	"active_slashed": true, "exited_unslashed": true, "exited_slashed": true, "withdrawal_possible": true,
	"withdrawal_done": true, "active": true, "pending": true, "exited": true, "withdrawal": true,
}

// validators answers getStateValidators for ids (indices or 0x pubkeys; none = all) and statuses.
func (n *Node) validators(stateID string, ids, statuses []string) ([]*apiv1.Validator, stateRef, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ref, err := n.resolveState(stateID)
	if err != nil {
		return nil, ref, err
	}
	filters := map[string]bool{}
	for _, s := range statuses {
		if !validStatuses[s] {
			return nil, ref, fmt.Errorf("invalid validator status %q", s)
		}
		filters[s] = true
	}
	var idx []phase0.ValidatorIndex
	if len(ids) == 0 {
		for i := range n.gen.Validators {
			idx = append(idx, phase0.ValidatorIndex(i))
		}
	}
	byKey := n.pubkeyIndex()
	for _, id := range ids {
		if strings.HasPrefix(id, "0x") {
			b, err := decodeHex(id, 48)
			if err != nil {
				return nil, ref, fmt.Errorf("invalid validator id %q: %w", id, err)
			}
			if i, ok := byKey[phase0.BLSPubKey(b)]; ok {
				idx = append(idx, i)
			}
			continue
		}
		v, err := parseUint(id, "validator id")
		if err != nil {
			return nil, ref, err
		}
		if int(v) < len(n.gen.Validators) {
			idx = append(idx, phase0.ValidatorIndex(v))
		}
	}
	e := n.slotEpoch(ref.slot)
	out := make([]*apiv1.Validator, 0, len(idx))
	for _, i := range idx {
		st, exit, wd := n.validatorStatus(i, e)
		if !matchStatus(st, filters) {
			continue
		}
		out = append(out, &apiv1.Validator{Index: i, Balance: effectiveBalance, Status: st,
			Validator: specValidator(n.gen.Validators[i], exit, wd)})
	}
	return out, ref, nil
}

func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func (n *Node) getValidators(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	vs, ref, err := n.validators(r.PathValue("state_id"), splitList(q["id"]), splitList(q["status"]))
	if err != nil {
		n.stateError(w, err)
		return
	}
	writeData(w, vs, map[string]any{"execution_optimistic": false, "finalized": ref.finalized})
}

func (n *Node) postValidators(w http.ResponseWriter, r *http.Request) {
	body, _, ok := n.readBody(w, r, false)
	if !ok {
		return
	}
	var req struct {
		IDs      []string `json:"ids"`
		Statuses []string `json:"statuses"`
	}
	if err := decodeJSON(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	vs, ref, err := n.validators(r.PathValue("state_id"), req.IDs, req.Statuses)
	if err != nil {
		n.stateError(w, err)
		return
	}
	writeData(w, vs, map[string]any{"execution_optimistic": false, "finalized": ref.finalized})
}

func (n *Node) getValidator(w http.ResponseWriter, r *http.Request) {
	vs, ref, err := n.validators(r.PathValue("state_id"), []string{r.PathValue("validator_id")}, nil)
	if err != nil {
		n.stateError(w, err)
		return
	}
	if len(vs) == 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("validator %s not found", r.PathValue("validator_id")))
		return
	}
	writeData(w, vs[0], map[string]any{"execution_optimistic": false, "finalized": ref.finalized})
}

func (n *Node) getCommittees(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n.mu.Lock()
	defer n.mu.Unlock()
	ref, err := n.resolveState(r.PathValue("state_id"))
	if err != nil {
		n.stateError(w, err)
		return
	}
	e := n.slotEpoch(ref.slot)
	if s := q.Get("epoch"); s != "" {
		v, err := parseUint(s, "epoch")
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		e = phase0.Epoch(v)
	}
	ei, err := n.epoch(e)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var out []*apiv1.BeaconCommittee
	for s := uint64(0); s < n.preset.SlotsPerEpoch; s++ {
		slot := n.epochStart(e) + phase0.Slot(s)
		if v := q.Get("slot"); v != "" && v != fmt.Sprint(slot) {
			continue
		}
		for c := uint64(0); c < ei.committeesPerSlot; c++ {
			if v := q.Get("index"); v != "" && v != fmt.Sprint(c) {
				continue
			}
			members := consensus.BeaconCommittee(ei.shuffled, uint64(slot), c, ei.committeesPerSlot, n.preset)
			vals := make([]phase0.ValidatorIndex, len(members))
			for i, m := range members {
				vals[i] = phase0.ValidatorIndex(m)
			}
			out = append(out, &apiv1.BeaconCommittee{Slot: slot, Index: phase0.CommitteeIndex(c), Validators: vals})
		}
	}
	if out == nil {
		out = []*apiv1.BeaconCommittee{}
	}
	writeData(w, out, map[string]any{"execution_optimistic": false, "finalized": ref.finalized})
}
