package keymanager

import (
	"context"
	"sync"

	"github.com/attestantio/go-eth2-client/spec/phase0"

	"github.com/zkvlabs/zkv/validator/client"
	"github.com/zkvlabs/zkv/validator/slashing"
)

// fakeValidator is a hand-written Validator: keys in a map, slashing histories in another, no
// signing. It records what the server asked of it.
type fakeValidator struct {
	mu        sync.Mutex
	held      map[phase0.BLSPubKey]client.HeldKey
	history   map[phase0.BLSPubKey]slashing.ValidatorHistory
	overrides map[phase0.BLSPubKey]client.Override
	imported  []*slashing.Interchange
	importErr error
}

func newFake(pks ...phase0.BLSPubKey) *fakeValidator {
	f := &fakeValidator{held: map[phase0.BLSPubKey]client.HeldKey{}, history: map[phase0.BLSPubKey]slashing.ValidatorHistory{},
		overrides: map[phase0.BLSPubKey]client.Override{}}
	for _, pk := range pks {
		f.held[pk] = client.HeldKey{Pubkey: pk, Path: "m/12381/3600/0/0/0"}
	}
	return f
}

func (f *fakeValidator) HeldKeys() ([]client.HeldKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []client.HeldKey
	for _, k := range f.held {
		out = append(out, k)
	}
	return out, nil
}

func (f *fakeValidator) AddKeys(_ context.Context, nks []client.NewKey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, nk := range nks {
		pk := phase0.BLSPubKey(nk.Key.Public.Bytes())
		f.held[pk] = client.HeldKey{Pubkey: pk, Path: nk.Keystore.Path}
	}
	return nil
}

func (f *fakeValidator) RemoveKeys(_ context.Context, pks []phase0.BLSPubKey) ([]client.RemoveResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]client.RemoveResult, len(pks))
	for i, pk := range pks {
		_, ok := f.held[pk]
		out[i] = client.RemoveResult{Pubkey: pk, Removed: ok}
		delete(f.held, pk)
	}
	return out, nil
}

func (f *fakeValidator) ImportSlashingProtection(_ context.Context, ic *slashing.Interchange) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.importErr != nil {
		return f.importErr
	}
	f.imported = append(f.imported, ic)
	for _, v := range ic.Data {
		f.history[phase0.BLSPubKey(v.Pubkey)] = v
	}
	return nil
}

func (f *fakeValidator) ExportSlashingProtection(_ context.Context, pks []phase0.BLSPubKey) (*slashing.Interchange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ic := &slashing.Interchange{GenesisValidatorsRoot: slashing.Root{1}}
	for _, pk := range pks {
		if v, ok := f.history[pk]; ok {
			ic.Data = append(ic.Data, v)
		}
	}
	return ic, nil
}

func (f *fakeValidator) ProposerSettingsOf(pk phase0.BLSPubKey) (client.ProposerSettings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.held[pk]; !ok {
		return client.ProposerSettings{}, client.ErrUnknownValidator
	}
	ps := client.ProposerSettings{GasLimit: client.DefaultGasLimit}
	o := f.overrides[pk]
	if o.FeeRecipient != nil {
		ps.FeeRecipient = *o.FeeRecipient
	}
	if o.GasLimit != nil {
		ps.GasLimit = *o.GasLimit
	}
	if o.Graffiti != nil {
		ps.Graffiti = *o.Graffiti
	}
	return ps, nil
}

func (f *fakeValidator) UpdateOverride(pk phase0.BLSPubKey, fn func(*client.Override)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.held[pk]; !ok {
		return client.ErrUnknownValidator
	}
	o := f.overrides[pk]
	fn(&o)
	f.overrides[pk] = o
	return nil
}

func (f *fakeValidator) SignVoluntaryExit(_ context.Context, pk phase0.BLSPubKey, epoch *phase0.Epoch) (*phase0.SignedVoluntaryExit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.held[pk]; !ok {
		return nil, client.ErrUnknownValidator
	}
	e := phase0.Epoch(7)
	if epoch != nil {
		e = *epoch
	}
	return &phase0.SignedVoluntaryExit{Message: &phase0.VoluntaryExit{Epoch: e, ValidatorIndex: 3}}, nil
}
