package pool

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/db"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
	"github.com/zkvlabs/zkv/transport"
)

const (
	testDepth  = 4
	testEpoch  = 10
	testWeight = 32_000_000_000
)

var testNetwork = prover.Network{GenesisForkVersion: [4]byte{0x10, 0x00, 0x00, 0x42}, GenesisValidatorsRoot: [32]byte{7}}

// material is what every test shares: the depth-4 circuit keys, the identity keys, a prover.
type material struct {
	keys   *prover.Keys
	ik     *prover.IdentityKeys
	prover *prover.Prover
}

var testMaterial = sync.OnceValues(func() (*material, error) {
	keys, _, err := prover.LoadKeys(prover.KeyConfig{Depth: testDepth})
	if err != nil {
		return nil, err
	}
	ik, err := prover.LoadIdentityKeys("", false)
	if err != nil {
		return nil, err
	}
	p, err := prover.NewProver(keys, prover.ProverConfig{})
	if err != nil {
		return nil, err
	}
	return &material{keys: keys, ik: ik, prover: p}, nil
})

func mustMaterial(t testing.TB) *material {
	t.Helper()
	m, err := testMaterial()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func testKey(t testing.TB, i int) *bls.SecretKey {
	t.Helper()
	sk, err := keyAt(i)
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

// keyAt returns the test validator i's BLS key.
func keyAt(i int) (*bls.SecretKey, error) {
	seed := sha256.Sum256([]byte{byte(i), byte(i >> 8), 'p', 'o', 'o', 'l'})
	seed[0] &= 0x3f // below the BLS12-381 group order
	return bls.SecretKeyFromBytes(seed[:])
}

// testPool is a pool on a real badger database in dir, serving QUIC on 127.0.0.1, with a
// client connected to it.
type testPool struct {
	srv    *Server
	db     *db.DB
	quic   *transport.Server
	client *Client
	http   *httptest.Server
	stop   func()
}

// startPool opens (or reopens) the pool kept in dir. With validators > 0 it registers keys 0
// to validators-1 and seals testEpoch.
func startPool(t *testing.T, dir string, validators int) *testPool {
	t.Helper()
	m := mustMaterial(t)
	d, err := db.Open(db.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(d.KV(db.Registrations), registry.Config{Depth: testDepth, Network: testNetwork, IdentityKey: m.ik.VerifyingKey()})
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	srv, err := New(Config{Key: m.keys.VerifyingKey(), Registry: reg, DB: d, Registerer: prometheus.NewRegistry()})
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	if validators > 0 {
		domain := registry.ComputeDomain(testNetwork)
		for i := 0; i < validators; i++ {
			r, err := registry.Sign(m.ik, testKey(t, i), testWeight, domain)
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Register(r); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := srv.Seal(testEpoch); err != nil {
			t.Fatal(err)
		}
	}
	serverID, _ := transport.GenerateIdentity()
	clientID, _ := transport.GenerateIdentity()
	q, err := srv.QUICServer(serverID, transport.ServerConfig{Peers: []transport.PeerID{clientID.ID()}})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := q.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(clientID, ClientConfig{Addr: addr.String(), Server: serverID.ID()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{srv.Run, q.Run, c.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("run: %v", err)
			}
		}()
	}
	hs := httptest.NewServer(srv.Handler())
	tp := &testPool{srv: srv, db: d, quic: q, client: c, http: hs}
	var once sync.Once
	tp.stop = func() {
		once.Do(func() {
			hs.Close()
			cancel()
			wg.Wait()
			d.Close()
		})
	}
	t.Cleanup(tp.stop)
	return tp
}

// prove makes validator i's proof of an attestation with signingRoot in epoch, against the
// pool's registry.
func (tp *testPool) prove(t *testing.T, i int, epoch uint64, signingRoot [32]byte) prover.Claim {
	t.Helper()
	m := mustMaterial(t)
	sk := testKey(t, i)
	mem, err := tp.srv.Registry().Member(sk.PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	root, err := tp.srv.Registry().Root(epoch)
	if err != nil {
		root = mem.Root // an epoch without a root: prove against the latest one
	}
	req := prover.Request{Secret: prover.SecretFromBLS(sk), Weight: mem.Weight, Path: mem.Path, Root: root,
		Epoch: epoch, SigningRoot: signingRoot, MinWeight: 1, Network: testNetwork.ID()}
	p, st, err := m.prover.Prove(&req)
	if err != nil {
		t.Fatal(err)
	}
	return prover.Claim{Proof: *p, Statement: st}
}

func root(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
