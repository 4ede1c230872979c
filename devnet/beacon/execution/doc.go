// Package execution is the devnet's simulated execution layer: the execution chain a beacon-node
// simulator (devnet/beacon) runs without an execution client.
//
// It owns:
//   - block hashes computed exactly as an execution client computes them: keccak256 of the
//     RLP-encoded Prague header (EIP-1559, EIP-4895, EIP-4844, EIP-4788, EIP-7685 fields), with the
//     transactions and withdrawals roots as Merkle-Patricia trie roots of the RLP(index)-keyed
//     lists and the EIP-7685 requests hash (BlockHash, TransactionsRoot, WithdrawalsRoot,
//     RequestsHash);
//   - the chain's head and the rules a payload must meet on top of it: parent hash and number,
//     timestamp, prev_randao, withdrawals, the gas-limit bound and the EIP-1559 base fee, the
//     EIP-4844 excess blob gas, the block hash (Chain.Check, Chain.Import);
//   - local payloads for proposers without a builder (Chain.Build);
//   - the payload attributes of a slot and their Beacon API payload_attributes event
//     (Attributes, AttributesEvent, AttributesEventJSON, ParseAttributesEvent).
//
// It does not own: an EVM, a state trie, receipts or a transaction pool. Transactions are opaque
// bytes (only their EIP-2718 envelope byte is looked at); the state root and, for blocks with
// transactions, the receipts root of a local payload are deterministic stand-ins, which Check does
// not verify. The beacon side (slots, proposers, randao, withdrawals bookkeeping of the beacon
// state) belongs to devnet/beacon; this package only checks what the attributes say.
package execution
