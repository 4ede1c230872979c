package beacon

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	apiv1 "github.com/attestantio/go-eth2-client/api/v1"
	apiv1electra "github.com/attestantio/go-eth2-client/api/v1/electra"
	apiv1fulu "github.com/attestantio/go-eth2-client/api/v1/fulu"
	"github.com/attestantio/go-eth2-client/spec"
	"github.com/attestantio/go-eth2-client/spec/deneb"
	"github.com/attestantio/go-eth2-client/spec/electra"
	"github.com/attestantio/go-eth2-client/spec/phase0"
)

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// resolveBlock resolves a block id (head, genesis, finalized, justified, a slot or a 0x root)
// under n.mu.
func (n *Node) resolveBlock(id string) (*blockRec, error) {
	n.advance()
	switch id {
	case "head":
		return n.st.head, nil
	case "genesis":
		return n.st.genesis, nil
	case "finalized":
		return n.st.blocks[phase0.Root(n.st.ffg.Finalized.Root)], nil
	case "justified":
		return n.st.blocks[phase0.Root(n.st.ffg.CurrentJustified.Root)], nil
	}
	if strings.HasPrefix(id, "0x") {
		root, err := parseRoot(id, "block id")
		if err != nil {
			return nil, err
		}
		if b, ok := n.st.blocks[root]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("%w: block %s", ErrNotFound, id)
	}
	s, err := parseUint(id, "block id")
	if err != nil {
		return nil, fmt.Errorf("invalid block id %q: want head, genesis, finalized, justified, a slot or a 0x block root", id)
	}
	b := n.blockAt(phase0.Slot(s))
	if b.slot != phase0.Slot(s) {
		return nil, fmt.Errorf("%w: no block at slot %d", ErrNotFound, s)
	}
	return b, nil
}

func (n *Node) blockMeta(b *blockRec) map[string]any {
	return map[string]any{"execution_optimistic": false, "finalized": n.isFinalizedSlot(b.slot) && b.slot <= n.blockAt(n.epochStart(phase0.Epoch(n.st.ffg.Finalized.Epoch))).slot}
}

func (n *Node) headerOf(b *blockRec) *apiv1.BeaconBlockHeader {
	return &apiv1.BeaconBlockHeader{Root: b.root, Canonical: true,
		Header: &phase0.SignedBeaconBlockHeader{Message: b.header, Signature: b.signature}}
}

func (n *Node) getHeader(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	b, err := n.resolveBlock(r.PathValue("block_id"))
	if err != nil {
		n.stateError(w, err)
		return
	}
	writeData(w, n.headerOf(b), n.blockMeta(b))
}

func (n *Node) getHeaders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.advance()
	var out []*apiv1.BeaconBlockHeader
	switch {
	case q.Get("slot") != "":
		b, err := n.resolveBlock(q.Get("slot"))
		if err != nil && !isNotFound(err) {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if b != nil {
			out = append(out, n.headerOf(b))
		}
	case q.Get("parent_root") != "":
		p, err := parseRoot(q.Get("parent_root"), "parent_root")
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		for _, b := range n.st.blocks {
			if b.parent == p && b != n.st.genesis {
				out = append(out, n.headerOf(b))
			}
		}
	default:
		out = append(out, n.headerOf(n.st.head))
	}
	if out == nil {
		out = []*apiv1.BeaconBlockHeader{}
	}
	writeData(w, out, map[string]any{"execution_optimistic": false, "finalized": false})
}

func (n *Node) getBlockRoot(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	b, err := n.resolveBlock(r.PathValue("block_id"))
	if err != nil {
		n.stateError(w, err)
		return
	}
	writeData(w, map[string]string{"root": b.root.String()}, n.blockMeta(b))
}

func (n *Node) getBlock(w http.ResponseWriter, r *http.Request) {
	if !acceptable(r, true) {
		writeError(w, http.StatusNotAcceptable, "this endpoint answers application/json or application/octet-stream")
		return
	}
	n.mu.Lock()
	b, err := n.resolveBlock(r.PathValue("block_id"))
	var meta map[string]any
	if err == nil {
		meta = n.blockMeta(b)
	}
	n.mu.Unlock()
	if err != nil {
		n.stateError(w, err)
		return
	}
	blk := b.signed
	if b == n.st.genesis {
		blk = &electra.SignedBeaconBlock{Message: b.signed.Message, Signature: phase0.BLSSignature{}}
	}
	w.Header().Set("Eth-Consensus-Version", b.version.String())
	if acceptsSSZ(r) {
		data, err := blk.MarshalSSZ()
		if err != nil {
			writeError(w, http.StatusInternalServerError, "encode block: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", contentSSZ)
		_, _ = w.Write(data)
		return
	}
	meta["version"] = b.version.String()
	writeData(w, blk, meta)
}

// decodeSignedBlock decodes publishBlockV2's body: the signed block contents (JSON or SSZ).
func decodeSignedBlock(version spec.DataVersion, body []byte, isSSZ bool) (*electra.SignedBeaconBlock, error) {
	var sb *electra.SignedBeaconBlock
	if version == spec.DataVersionFulu {
		c := &apiv1fulu.SignedBlockContents{}
		var err error
		if isSSZ {
			err = c.UnmarshalSSZ(body)
		} else {
			err = decodeJSON(body, c)
		}
		if err != nil {
			return nil, fmt.Errorf("malformed fulu signed block contents: %w", err)
		}
		sb = c.SignedBlock
	} else {
		c := &apiv1electra.SignedBlockContents{}
		var err error
		if isSSZ {
			err = c.UnmarshalSSZ(body)
		} else {
			err = decodeJSON(body, c)
		}
		if err != nil {
			return nil, fmt.Errorf("malformed electra signed block contents: %w", err)
		}
		sb = c.SignedBlock
	}
	return sb, nil
}

func (n *Node) postBlock(w http.ResponseWriter, r *http.Request) {
	body, isSSZ, version, ok := n.readVersioned(w, r)
	if !ok {
		return
	}
	sb, err := decodeSignedBlock(version, body, isSSZ)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := n.SubmitBlock(r.Context(), version, sb); err != nil {
		writeError(w, http.StatusBadRequest, "block refused: "+err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}

// checkBroadcastValidation accepts the Beacon API's broadcast_validation levels. The node checks
// everything before it imports whatever the level, so every level is honoured.
func checkBroadcastValidation(r *http.Request) error {
	switch v := r.URL.Query().Get("broadcast_validation"); v {
	case "", "gossip", "consensus", "consensus_and_equivocation":
		return nil
	default:
		return fmt.Errorf("invalid broadcast_validation %q: want gossip, consensus or consensus_and_equivocation", v)
	}
}

func (n *Node) postBlindedBlock(w http.ResponseWriter, r *http.Request) {
	body, isSSZ, version, ok := n.readVersioned(w, r)
	if !ok {
		return
	}
	sb := &apiv1electra.SignedBlindedBeaconBlock{}
	var err error
	if isSSZ {
		err = sb.UnmarshalSSZ(body)
	} else {
		err = decodeJSON(body, sb)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "malformed signed blinded block: "+err.Error())
		return
	}
	if err := n.SubmitBlindedBlock(r.Context(), version, sb); err != nil {
		writeError(w, http.StatusBadRequest, "blinded block refused: "+err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}

// getBlockV3 is produceBlockV3.
func (n *Node) getBlockV3(w http.ResponseWriter, r *http.Request) {
	if !acceptable(r, true) {
		writeError(w, http.StatusNotAcceptable, "this endpoint answers application/json or application/octet-stream")
		return
	}
	q := r.URL.Query()
	slot, err := parseUint(r.PathValue("slot"), "slot")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rb, err := decodeHex(q.Get("randao_reveal"), 96)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid randao_reveal: "+err.Error())
		return
	}
	var graffiti [32]byte
	if g := q.Get("graffiti"); g != "" {
		gb, err := decodeHex(g, 32)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid graffiti: "+err.Error())
			return
		}
		copy(graffiti[:], gb)
	}
	boost := uint64(100)
	if s := q.Get("builder_boost_factor"); s != "" {
		if boost, err = parseUint(s, "builder_boost_factor"); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	_, skip := q["skip_randao_verification"]
	p, err := n.ProduceBlock(r.Context(), phase0.Slot(slot), phase0.BLSSignature(rb), graffiti, skip, boost)
	if err != nil {
		writeError(w, http.StatusBadRequest, "cannot produce a block: "+err.Error())
		return
	}
	h := w.Header()
	h.Set("Eth-Consensus-Version", p.Version.String())
	h.Set("Eth-Execution-Payload-Blinded", fmt.Sprint(p.Blinded))
	h.Set("Eth-Execution-Payload-Value", p.ExecutionValue.String())
	h.Set("Eth-Consensus-Block-Value", p.ConsensusValue.String())
	var data any
	switch {
	case p.Blinded:
		data = p.BlindedBlock
	case p.Version == spec.DataVersionFulu:
		data = &apiv1fulu.BlockContents{Block: p.Block, KZGProofs: []deneb.KZGProof{}, Blobs: []deneb.Blob{}}
	default:
		data = &apiv1electra.BlockContents{Block: p.Block, KZGProofs: []deneb.KZGProof{}, Blobs: []deneb.Blob{}}
	}
	if acceptsSSZ(r) {
		m, ok := data.(interface{ MarshalSSZ() ([]byte, error) })
		if !ok {
			writeError(w, http.StatusInternalServerError, "no SSZ encoding")
			return
		}
		b, err := m.MarshalSSZ()
		if err != nil {
			writeError(w, http.StatusInternalServerError, "encode block: "+err.Error())
			return
		}
		h.Set("Content-Type", contentSSZ)
		_, _ = w.Write(b)
		return
	}
	writeData(w, data, map[string]any{
		"version": p.Version.String(), "execution_payload_blinded": p.Blinded,
		"execution_payload_value": p.ExecutionValue.String(), "consensus_block_value": p.ConsensusValue.String(),
	})
}
