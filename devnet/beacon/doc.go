// Package beacon is zkv's devnet beacon node: a simulator of a consensus client that serves the
// standard Beacon API (the subset a validator client, a relay and a sidecar use) for a chain of its
// own, and judges every message it receives as a real beacon node would.
//
// What it owns: a deterministic genesis (validator keys from a mnemonic by EIP-2333/2334, written
// as EIP-2335 keystores for the clients that will run them), the slot clock, RANDAO, committee
// shuffling, proposer and sync-committee selection (package consensus), block production with a
// simulated execution layer (package execution) and an optional builder (the builder API, as a
// beacon node uses mev-boost), the checks on blocks, attestations, aggregates, sync-committee
// messages, exits and registrations, the Casper FFG accounting on the votes it received, and the
// HTTP API with its server-sent events.
//
// What it is not, and says so: there is no peer-to-peer network, no fork choice (a block must
// build on the head; the chain is one block or an empty slot per slot), no full BeaconState and no
// state transition beyond what duties need (balances are fixed at 32 ETH, there are no rewards,
// penalties, deposits or withdrawals), no EVM (payloads are built and checked, transactions are
// opaque). A block's state_root is the root of the simulator's own state summary, not of an SSZ
// BeaconState: validator clients sign it as they receive it, and the node refuses a block whose
// state root differs from the one it computes for that block.
package beacon
