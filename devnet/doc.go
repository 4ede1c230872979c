// Package devnet runs the whole zkv system in one process, as `zkv devnet` and `make run` show
// it: a Network of the devnet beacon node (devnet/beacon), simulated builders (devnet/builder),
// one or two zkv relays (mev), the boost sidecar (pbs) and two validator clients
// (validator/client), every part talking to the others over its real protocol on 127.0.0.1
// (Beacon API over HTTP and SSE, the relay and builder APIs over HTTP), and a live view of the
// chain, one line per slot, with a closing Summary.
//
// What it does not own: the parts themselves, and the private attestations (the pool and the
// validators' proofs), which plug in through Config.Private once they exist.
package devnet
