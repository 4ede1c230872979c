package client

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/attestantio/go-eth2-client/api"
	"github.com/attestantio/go-eth2-client/spec/bellatrix"
	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/validator/keys"
	"github.com/zkvlabs/zkv/validator/signer"
	"github.com/zkvlabs/zkv/validator/slashing"
)

// What the keymanager API (validator/keymanager) asks of a running Service: the keys it signs
// with, keys added and removed while it runs, their slashing protection history, per-validator
// overrides of the proposer settings, and signed voluntary exits.

// ErrNotRunning: the Service is not (or no longer) running its duties: keys can be managed
// only between the start of Run and its end.
var ErrNotRunning = errors.New("client: the validator client is not running")

// ErrUnknownValidator: the Service holds no key for this public key.
var ErrUnknownValidator = errors.New("client: no key for this validator")

// overridesKey is the Meta-bucket key of the proposer overrides (a JSON object keyed by pubkey).
const overridesKey = "validator.proposer_overrides"

// keyState is what the Service keeps for key management while Run runs.
type keyState struct {
	mu      sync.Mutex // serializes AddKeys, RemoveKeys and the override writes
	running bool
	db      *db.DB
	prot    *slashing.Protector
	keys    map[phase0.BLSPubKey]HeldKey
	// watched are keys added while running that wait out their doppelganger watch before
	// the signer gets them (doppelganger_added.go); they are in keys (held) meanwhile.
	watched []*watchedKeys
	// overrides are read by settingsFor under Service.mu, written under both locks.
	overrides map[phase0.BLSPubKey]Override
}

// HeldKey is a key the Service signs with.
type HeldKey struct {
	Pubkey phase0.BLSPubKey
	Path   string // EIP-2334 path from the keystore, "" if none
	File   string // its keystore in the keystore directory
}

// Override is a validator's proposer settings set through the keymanager API, on top of the
// proposer config file and the flags; a nil field is not overridden.
type Override struct {
	FeeRecipient *bellatrix.ExecutionAddress `json:"fee_recipient,omitempty"`
	GasLimit     *uint64                     `json:"gas_limit,omitempty"`
	Graffiti     *[32]byte                   `json:"graffiti,omitempty"`
}

func (o Override) empty() bool {
	return o.FeeRecipient == nil && o.GasLimit == nil && o.Graffiti == nil
}

// startKeyManagement records the loaded keys and loads the stored overrides (Run, before duties).
func (s *Service) startKeyManagement(d *db.DB, prot *slashing.Protector, ks []*keys.Key) error {
	held := make(map[phase0.BLSPubKey]HeldKey, len(ks))
	for _, k := range ks {
		pk := phase0.BLSPubKey(k.Public.Bytes())
		held[pk] = HeldKey{Pubkey: pk, Path: k.Path, File: k.File}
	}
	ov := map[phase0.BLSPubKey]Override{}
	switch b, err := d.Get(db.Meta, []byte(overridesKey)); {
	case errors.Is(err, db.ErrNotFound):
	case err != nil:
		return fmt.Errorf("proposer overrides: %w", err)
	default:
		var raw map[string]Override
		if err := json.Unmarshal(b, &raw); err != nil {
			return fmt.Errorf("proposer overrides in the database: %w", err)
		}
		for k, o := range raw {
			pk, err := parsePubkey(k)
			if err != nil {
				return fmt.Errorf("proposer overrides in the database: %w", err)
			}
			ov[pk] = o
		}
	}
	s.km.mu.Lock()
	s.km.running, s.km.db, s.km.prot, s.km.keys = true, d, prot, held
	s.km.mu.Unlock()
	s.mu.Lock()
	s.km.overrides = ov
	s.mu.Unlock()
	return nil
}

// stopKeyManagement ends key management (Run, once the duties have stopped) and wipes the keys
// added while running (those loaded at the start are wiped by Run).
func (s *Service) stopKeyManagement() {
	s.km.mu.Lock()
	defer s.km.mu.Unlock()
	s.km.running = false
	s.sig.RemoveKeys(s.sig.PublicKeys())
	for _, w := range s.km.watched {
		for _, k := range w.keys {
			k.Secret.Zeroize()
		}
	}
	s.km.watched = nil
}

func parsePubkey(s string) (phase0.BLSPubKey, error) {
	var pk phase0.BLSPubKey
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(b) != len(pk) || !strings.HasPrefix(s, "0x") {
		return pk, fmt.Errorf("public key %q: want 0x and 48 bytes of hex", s)
	}
	return phase0.BLSPubKey(b), nil
}

// validatorSet is the validators (by index) of the keys held now. The map and slice are
// replaced, never changed, when keys are added or removed: callers may keep them.
func (s *Service) validatorSet() (map[phase0.ValidatorIndex]phase0.BLSPubKey, []phase0.ValidatorIndex) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.vals, s.indices
}

// HeldKeys returns the keys the Service signs with, sorted by public key.
func (s *Service) HeldKeys() ([]HeldKey, error) {
	s.km.mu.Lock()
	defer s.km.mu.Unlock()
	if !s.km.running {
		return nil, ErrNotRunning
	}
	out := make([]HeldKey, 0, len(s.km.keys))
	for _, k := range s.km.keys {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b HeldKey) int { return strings.Compare(string(a.Pubkey[:]), string(b.Pubkey[:])) })
	return out, nil
}

// Holds reports whether the Service signs with pk.
func (s *Service) Holds(pk phase0.BLSPubKey) bool {
	s.km.mu.Lock()
	defer s.km.mu.Unlock()
	_, ok := s.km.keys[pk]
	return s.km.running && ok
}

// ImportSlashingProtection imports an EIP-3076 interchange into the slashing protection
// database (it must be for this network's genesis validators root). Import a key's history
// before AddKeys: from then on it may sign.
func (s *Service) ImportSlashingProtection(ctx context.Context, ic *slashing.Interchange) error {
	s.km.mu.Lock()
	prot, running := s.km.prot, s.km.running
	s.km.mu.Unlock()
	if !running {
		return ErrNotRunning
	}
	_, err := prot.ImportInterchange(ctx, ic)
	return err
}

// ExportSlashingProtection returns the EIP-3076 history of pks (those with any record); keys
// still held may go on signing, so only a removed key's export is final.
func (s *Service) ExportSlashingProtection(ctx context.Context, pks []phase0.BLSPubKey) (*slashing.Interchange, error) {
	s.km.mu.Lock()
	prot, running := s.km.prot, s.km.running
	s.km.mu.Unlock()
	if !running {
		return nil, ErrNotRunning
	}
	ic, err := prot.ExportInterchange(ctx)
	if err != nil {
		return nil, err
	}
	want := make(map[slashing.Pubkey]bool, len(pks))
	for _, pk := range pks {
		want[slashing.Pubkey(pk)] = true
	}
	ic.Data = slices.DeleteFunc(ic.Data, func(v slashing.ValidatorHistory) bool { return !want[v.Pubkey] })
	return ic, nil
}

// NewKey is a key for AddKeys: the decrypted key and the keystore it came in.
type NewKey struct {
	Key      *keys.Key
	Keystore *keys.Keystore
}

// AddKeys starts signing with nks (the keymanager API's import): each keystore is written
// again into the keystore directory under the client's password (keeping its KDF, path and
// description), so the key is loaded again after a restart; then the Signer takes the keys,
// their validator indices are asked of the beacon node, and the duties of the current and next
// epoch are fetched again, so that the keys do their duties from the next slot. All or nothing:
// a key already held is signer.ErrDuplicateKey. Import the keys' slashing protection history
// first (ImportSlashingProtection). The Service keeps the secret keys.
func (s *Service) AddKeys(ctx context.Context, nks []NewKey) error {
	s.km.mu.Lock()
	defer s.km.mu.Unlock()
	if !s.km.running {
		return ErrNotRunning
	}
	for _, nk := range nks {
		if nk.Key == nil || nk.Key.Secret == nil || nk.Keystore == nil {
			return errors.New("client: AddKeys needs each key and its keystore")
		}
		if nk.Key.Public == nil {
			nk.Key.Public = nk.Key.Secret.PublicKey()
		}
		if _, ok := s.km.keys[phase0.BLSPubKey(nk.Key.Public.Bytes())]; ok {
			return fmt.Errorf("%w: %s", signer.ErrDuplicateKey, nk.Key.Public)
		}
	}
	var written []string
	undo := func() {
		for _, f := range written {
			os.Remove(f)
		}
	}
	added := make([]HeldKey, 0, len(nks))
	ks := make([]*keys.Key, 0, len(nks))
	for _, nk := range nks {
		opts, err := reencryptOptions(nk.Keystore)
		if err != nil {
			undo()
			return err
		}
		opts.Limits = s.o.kdfLimits
		store, err := keys.Encrypt(nk.Key.Secret, s.o.password, opts)
		if err != nil {
			undo()
			return fmt.Errorf("client: encrypt keystore of %s: %w", nk.Key.Public, err)
		}
		f, err := keys.WriteKeystore(s.o.keystoreDir, store)
		if err != nil {
			undo()
			return fmt.Errorf("client: write keystore of %s: %w", nk.Key.Public, err)
		}
		written = append(written, f)
		pk := phase0.BLSPubKey(nk.Key.Public.Bytes())
		added = append(added, HeldKey{Pubkey: pk, Path: nk.Keystore.Path, File: f})
		ks = append(ks, nk.Key)
	}
	pks := make([]phase0.BLSPubKey, len(added))
	for i, k := range added {
		pks[i] = k.Pubkey
	}
	if n := s.o.doppelganger; n > 0 {
		// Held from now on (listed, removable), signing only after the watch.
		cur := s.net.EpochOf(s.currentSlot())
		for _, k := range added {
			s.km.keys[k.Pubkey] = k
		}
		s.km.watched = append(s.km.watched, &watchedKeys{dg: doppelganger{start: cur, last: cur + phase0.Epoch(n)}, keys: ks, pks: pks})
		s.log.Info("keys added: doppelganger protection watches them before they sign", "count", len(pks), "signing_from_epoch", cur+phase0.Epoch(n)+1)
		return nil
	}
	if err := s.sig.AddKeys(ks); err != nil {
		undo()
		return err
	}
	for _, k := range added {
		s.km.keys[k.Pubkey] = k
	}
	s.mu.Lock()
	s.held = append(slices.Clone(s.held), pks...)
	s.regsStale = true
	s.mu.Unlock()
	s.addValidators(ctx, pks)
	s.log.Info("keys added", "count", len(pks))
	return nil
}

// reencryptOptions keeps the KDF (and its cost) of the imported keystore: the operator chose it.
func reencryptOptions(ks *keys.Keystore) (keys.EncryptOptions, error) {
	o := keys.EncryptOptions{KDF: ks.Crypto.KDF.Function, Path: ks.Path, Description: ks.Description}
	var p struct {
		N uint64 `json:"n"`
		C uint64 `json:"c"`
	}
	if err := json.Unmarshal(ks.Crypto.KDF.Params, &p); err != nil {
		return o, fmt.Errorf("client: keystore KDF parameters: %w", err)
	}
	o.ScryptN, o.PBKDF2C = p.N, p.C
	return o, nil
}

// addValidators asks the beacon node for the indices of pks, adds the known ones to the
// validator set, and has the duties fetched again. A key the beacon node does not know yet (its
// deposit is not processed) is held but idle, as at the start.
func (s *Service) addValidators(ctx context.Context, pks []phase0.BLSPubKey) {
	resp, err := s.bn.Validators(ctx, &api.ValidatorsOpts{State: "head", PubKeys: pks})
	if err != nil {
		s.log.Warn("added keys: validator indices unknown, the keys stay idle", "error", err)
		return
	}
	s.mu.Lock()
	vals := make(map[phase0.ValidatorIndex]phase0.BLSPubKey, len(s.vals)+len(pks))
	for idx, pk := range s.vals {
		vals[idx] = pk
	}
	indices := slices.Clone(s.indices)
	for idx, v := range resp.Data {
		if v.Validator == nil {
			continue
		}
		if _, ok := vals[idx]; !ok {
			indices = append(indices, idx)
		}
		vals[idx] = v.Validator.PublicKey
	}
	s.vals, s.indices = vals, indices
	s.mu.Unlock()
	if len(resp.Data) < len(pks) {
		s.log.Warn("added keys unknown to the beacon node are idle", "unknown", len(pks)-len(resp.Data))
	}
	s.dutiesChanged()
}

// dutiesChanged has the refetcher fetch the current and next epoch's duties again.
func (s *Service) dutiesChanged() {
	select {
	case s.refetch <- struct{}{}:
	default: // a refetch is already pending
	}
}

// RemoveResult is what RemoveKeys did with one public key.
type RemoveResult struct {
	Pubkey  phase0.BLSPubKey
	Removed bool  // it was held and signs nothing more
	Err     error // its keystore file could not be deleted (the key would load again at a restart)
}

// RemoveKeys stops signing with pks (the keymanager API's delete). When it returns, no
// signature by a removed key is being made or will be (signer.Signer.RemoveKeys), so their
// slashing protection history is final: export it with ExportSlashingProtection. Their
// keystores are deleted from the keystore directory and their duties dropped from the next
// slot. A key not held is reported with Removed false.
func (s *Service) RemoveKeys(_ context.Context, pks []phase0.BLSPubKey) ([]RemoveResult, error) {
	s.km.mu.Lock()
	defer s.km.mu.Unlock()
	if !s.km.running {
		return nil, ErrNotRunning
	}
	removed := s.sig.RemoveKeys(pks)
	gone := make(map[phase0.BLSPubKey]bool, len(removed))
	for _, pk := range removed {
		gone[pk] = true
	}
	// Keys still in their doppelganger watch have signed nothing here: removed all the same.
	for pk := range s.unwatch(pks) {
		if !gone[pk] {
			gone[pk] = true
			removed = append(removed, pk)
		}
	}
	out := make([]RemoveResult, len(pks))
	for i, pk := range pks {
		out[i] = RemoveResult{Pubkey: pk, Removed: gone[pk]}
		if !gone[pk] {
			continue
		}
		if k, ok := s.km.keys[pk]; ok && k.File != "" {
			if err := os.Remove(k.File); err != nil && !errors.Is(err, os.ErrNotExist) {
				out[i].Err = fmt.Errorf("delete keystore %s: %w", k.File, err)
			}
		}
		delete(s.km.keys, pk)
	}
	if len(removed) == 0 {
		return out, nil
	}
	if f, err := os.Open(s.o.keystoreDir); err == nil {
		_ = f.Sync() // the deletions survive a crash
		f.Close()
	}
	s.mu.Lock()
	vals := make(map[phase0.ValidatorIndex]phase0.BLSPubKey, len(s.vals))
	var indices []phase0.ValidatorIndex
	for _, idx := range s.indices {
		if pk := s.vals[idx]; !gone[pk] {
			vals[idx] = pk
			indices = append(indices, idx)
		}
	}
	s.vals, s.indices = vals, indices
	s.held = slices.DeleteFunc(slices.Clone(s.held), func(pk phase0.BLSPubKey) bool { return gone[pk] })
	s.regs = slices.DeleteFunc(slices.Clone(s.regs), func(r *registration) bool {
		return r.V1 != nil && r.V1.Message != nil && gone[r.V1.Message.Pubkey]
	})
	s.mu.Unlock()
	s.dutiesChanged()
	s.log.Info("keys removed", "count", len(removed))
	return out, nil
}

// applyOverride puts pk's keymanager overrides on ps (settingsFor).
func (s *Service) applyOverride(pk phase0.BLSPubKey, ps *proposerSettings) {
	s.mu.Lock()
	o, ok := s.km.overrides[pk]
	s.mu.Unlock()
	if !ok {
		return
	}
	if o.FeeRecipient != nil {
		ps.feeRecipient = *o.FeeRecipient
	}
	if o.GasLimit != nil {
		ps.gasLimit = *o.GasLimit
	}
	if o.Graffiti != nil {
		ps.graffiti = *o.Graffiti
	}
}

// ProposerSettings are a validator's effective fee recipient, gas limit and graffiti: its
// override, else the proposer config file, else the flags.
type ProposerSettings struct {
	FeeRecipient bellatrix.ExecutionAddress
	GasLimit     uint64
	Graffiti     [32]byte
}

// ProposerSettingsOf returns pk's effective settings, or ErrUnknownValidator.
func (s *Service) ProposerSettingsOf(pk phase0.BLSPubKey) (ProposerSettings, error) {
	if !s.Holds(pk) {
		return ProposerSettings{}, ErrUnknownValidator
	}
	ps := s.settingsFor(pk)
	return ProposerSettings{FeeRecipient: ps.feeRecipient, GasLimit: ps.gasLimit, Graffiti: ps.graffiti}, nil
}

// UpdateOverride changes pk's override with f and stores all overrides durably in the database
// before they apply, so that they survive a restart. The next epoch's proposer preparation and
// builder registrations carry the new values.
func (s *Service) UpdateOverride(pk phase0.BLSPubKey, f func(*Override)) error {
	s.km.mu.Lock()
	defer s.km.mu.Unlock()
	if !s.km.running {
		return ErrNotRunning
	}
	if _, ok := s.km.keys[pk]; !ok {
		return ErrUnknownValidator
	}
	s.mu.Lock()
	next := make(map[phase0.BLSPubKey]Override, len(s.km.overrides)+1)
	for k, v := range s.km.overrides {
		next[k] = v
	}
	s.mu.Unlock()
	o := next[pk]
	f(&o)
	if o.empty() {
		delete(next, pk)
	} else {
		next[pk] = o
	}
	raw := make(map[string]Override, len(next))
	for k, v := range next {
		raw[fmt.Sprintf("%#x", k[:])] = v
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	if err := s.km.db.Put(db.Meta, []byte(overridesKey), b); err != nil {
		return fmt.Errorf("store proposer overrides: %w", err)
	}
	s.mu.Lock()
	s.km.overrides = next
	s.regsStale = true
	s.mu.Unlock()
	return nil
}

// SignVoluntaryExit signs (and does not submit) a voluntary exit of pk's validator at epoch, or
// at the current epoch when epoch is nil (phase0 beacon-chain.md "Voluntary exits"; the domain
// is Capella's, EIP-7044). ErrUnknownValidator when the key is not held or the beacon node does
// not know its validator.
func (s *Service) SignVoluntaryExit(_ context.Context, pk phase0.BLSPubKey, epoch *phase0.Epoch) (*phase0.SignedVoluntaryExit, error) {
	if !s.Holds(pk) {
		return nil, ErrUnknownValidator
	}
	vals, _ := s.validatorSet()
	idx, found := phase0.ValidatorIndex(0), false
	for i, v := range vals {
		if v == pk {
			idx, found = i, true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: the beacon node knows no validator %#x", ErrUnknownValidator, pk[:])
	}
	e := s.net.EpochOf(s.currentSlot())
	if epoch != nil {
		e = *epoch
	}
	msg := &phase0.VoluntaryExit{Epoch: e, ValidatorIndex: idx}
	sig, err := s.sig.SignVoluntaryExit(pk, msg)
	if err != nil {
		return nil, err
	}
	return &phase0.SignedVoluntaryExit{Message: msg, Signature: sig}, nil
}
