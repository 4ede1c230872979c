package beacon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/attestantio/go-eth2-client/spec/phase0"
	ssz "github.com/ferranbt/fastssz"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/validator/keys"
)

// validatorRegistryLimit is VALIDATOR_REGISTRY_LIMIT, the list limit in hash_tree_root(validators).
const validatorRegistryLimit = 1 << 40

// WithdrawalAddress is the execution address in every devnet validator's 0x01 withdrawal
// credentials (no key is known for it; the devnet has no withdrawals).
var WithdrawalAddress = [20]byte{0x7a, 0x6b, 0x76, 0xde, 0x7e, 0x7e}

// Validator is one member of the devnet's validator set.
type Validator struct {
	Index  phase0.ValidatorIndex
	Pubkey phase0.BLSPubKey
	pk     *bls.PublicKey
}

// Genesis is the devnet's deterministic validator set and the keys behind it.
type Genesis struct {
	Validators            []Validator
	Secrets               []*bls.SecretKey // Secrets[i] signs for validator i
	GenesisValidatorsRoot phase0.Root
}

// DeriveGenesis derives n validator keys from mnemonic (EIP-2334 signing paths m/12381/3600/i/0/0,
// as `zkv keys new` derives them) on every core, and the genesis validators root.
func DeriveGenesis(ctx context.Context, mnemonic string, n int) (*Genesis, error) {
	seed, err := keys.MnemonicSeed(mnemonic, "")
	if err != nil {
		return nil, fmt.Errorf("devnet mnemonic: %w", err)
	}
	g := &Genesis{Validators: make([]Validator, n), Secrets: make([]*bls.SecretKey, n)}
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
		next    = make(chan int)
	)
	// Every key shares the path m/12381/3600: derive it once, then i/0/0 below it (EIP-2334).
	base, err := keys.DerivePath(seed, keys.Path{keys.PathPurpose, keys.PathCoinType})
	if err != nil {
		return nil, fmt.Errorf("derive m/12381/3600: %w", err)
	}
	defer base.Zeroize()
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				sk, err := deriveBelow(base, uint32(i), 0, 0)
				if err != nil {
					errOnce.Do(func() { first = fmt.Errorf("derive validator %d: %w", i, err) })
					continue
				}
				pk := sk.PublicKey()
				g.Secrets[i] = sk
				g.Validators[i] = Validator{Index: phase0.ValidatorIndex(i), Pubkey: phase0.BLSPubKey(pk.Bytes()), pk: pk}
			}
		}()
	}
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			close(next)
			wg.Wait()
			return nil, ctx.Err()
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	root, err := validatorsRoot(g.Validators)
	if err != nil {
		return nil, err
	}
	g.GenesisValidatorsRoot = root
	return g, nil
}

// deriveBelow derives the child path idx... of parent (EIP-2333 derive_child_SK, level by level),
// wiping the intermediate keys.
func deriveBelow(parent *bls.SecretKey, idx ...uint32) (*bls.SecretKey, error) {
	sk := parent
	for _, i := range idx {
		child, err := keys.DeriveChildSK(sk, i)
		if sk != parent {
			sk.Zeroize()
		}
		if err != nil {
			return nil, err
		}
		sk = child
	}
	return sk, nil
}

// withdrawalCredentials are 0x01 credentials to WithdrawalAddress.
func withdrawalCredentials() []byte {
	wc := make([]byte, 32)
	wc[0] = 0x01
	copy(wc[12:], WithdrawalAddress[:])
	return wc
}

// specValidator is the validator record of the genesis state (all active from epoch 0 at 32 ETH).
func specValidator(v Validator, exitEpoch phase0.Epoch, withdrawable phase0.Epoch) *phase0.Validator {
	return &phase0.Validator{
		PublicKey:                  v.Pubkey,
		WithdrawalCredentials:      withdrawalCredentials(),
		EffectiveBalance:           phase0.Gwei(effectiveBalance),
		ActivationEligibilityEpoch: 0,
		ActivationEpoch:            0,
		ExitEpoch:                  exitEpoch,
		WithdrawableEpoch:          withdrawable,
	}
}

// validatorsRoot is hash_tree_root(state.validators) of the genesis state: a List[Validator,
// VALIDATOR_REGISTRY_LIMIT], the genesis_validators_root that every domain but the builder's binds.
func validatorsRoot(vals []Validator) (phase0.Root, error) {
	hh := ssz.NewHasher()
	indx := hh.Index()
	for _, v := range vals {
		if err := specValidator(v, FarFutureEpoch, FarFutureEpoch).HashTreeRootWith(hh); err != nil {
			return phase0.Root{}, fmt.Errorf("hash validator %d: %w", v.Index, err)
		}
	}
	hh.MerkleizeWithMixin(indx, uint64(len(vals)), validatorRegistryLimit)
	root, err := hh.HashRoot()
	if err != nil {
		return phase0.Root{}, fmt.Errorf("hash validators: %w", err)
	}
	return root, nil
}

// keystoreKDFRounds is the PBKDF2 count of the devnet keystores: fast to load, worthless as
// protection, which is right for keys whose mnemonic is public.
const keystoreKDFRounds = 2

// WriteKeystores writes the first n devnet keys as EIP-2335 keystores into dir/keys and the
// password into dir/password.txt (both 0600). A directory that already holds exactly these keys is
// reused; one that holds others is refused.
func WriteKeystores(ctx context.Context, dir, mnemonic string, g *Genesis) (keyDir, passwordFile string, err error) {
	keyDir = filepath.Join(dir, "keys")
	passwordFile = filepath.Join(dir, "password.txt")
	if infos, err := keys.List(keyDir); err == nil && len(infos) > 0 {
		if len(infos) != len(g.Validators) {
			return "", "", fmt.Errorf("keystore directory %s holds %d keystores, the devnet has %d validators: use an empty directory", keyDir, len(infos), len(g.Validators))
		}
		want := make(map[string]bool, len(g.Validators))
		for _, v := range g.Validators {
			want[fmt.Sprintf("%#x", v.Pubkey[:])] = true
		}
		for _, in := range infos {
			if !want[in.Pubkey] {
				return "", "", fmt.Errorf("keystore directory %s holds key %s that is not a devnet key of this mnemonic", keyDir, in.Pubkey)
			}
		}
		return keyDir, passwordFile, nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, keys.ErrNoKeystores) {
		return "", "", fmt.Errorf("keystore directory %s: %w", keyDir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("keystore directory: %w", err)
	}
	if _, err := keys.Create(ctx, keys.CreateOptions{
		Dir:      keyDir,
		Mnemonic: mnemonic,
		Count:    len(g.Validators),
		Password: DefaultKeystorePassword,
		Encrypt: keys.EncryptOptions{
			KDF: keys.KDFPBKDF2, PBKDF2C: keystoreKDFRounds, Limits: keys.InsecureKDFLimits,
			Description: "zkv devnet key: the mnemonic is public, never deposit to it",
		},
	}); err != nil {
		return "", "", fmt.Errorf("write devnet keystores: %w", err)
	}
	if err := os.WriteFile(passwordFile, []byte(DefaultKeystorePassword+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("write password file: %w", err)
	}
	return keyDir, passwordFile, nil
}

// genesisMix is the RANDAO mix of every epoch before the first block: the spec seeds it from the
// eth1 block hash; the devnet has none, so it hashes a fixed label.
var genesisMix = sha256.Sum256([]byte("zkv devnet genesis randao mix"))
