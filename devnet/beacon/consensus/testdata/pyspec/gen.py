"""Compute known answers for the consensus package with the consensus specs' own code.

PyPI's eth2spec could not be installed where these vectors were made, so this script runs the
spec functions themselves: it extracts the ```python blocks of the named functions from the
markdown of an ethereum/consensus-specs checkout and executes them with plain-Python stand-ins
for the SSZ types (Uint64 -> int, Bytes32 -> bytes, hash -> sha256). Nothing of the Go code is
used. Run:

    python3 gen.py /path/to/consensus-specs <commit> > electra.json
"""
import functools
import hashlib
import json
import re
import subprocess
import sys

SPECS, COMMIT = sys.argv[1], sys.argv[2]


def spec_file(path):
    return subprocess.check_output(["git", "-C", SPECS, "show", f"{COMMIT}:{path}"], text=True)


def function(md, name):
    """The ```python block that defines `name` in the markdown text `md`."""
    for block in re.findall(r"```python\n(.*?)```", md, re.S):
        if re.search(rf"^def {name}\(", block, re.M):
            return block
    raise KeyError(name)


phase0 = spec_file("specs/phase0/beacon-chain.md")
phase0_validator = spec_file("specs/phase0/validator.md")
altair_validator = spec_file("specs/altair/validator.md")
electra = spec_file("specs/electra/beacon-chain.md")

SOURCES = [
    (phase0, "compute_shuffled_permutation"),
    (phase0, "compute_shuffled_index"),
    (phase0, "compute_committee"),
    (phase0, "compute_epoch_at_slot"),
    (phase0, "get_current_epoch"),
    (phase0, "is_active_validator"),
    (phase0, "get_active_validator_indices"),
    (phase0, "get_randao_mix"),
    (phase0, "get_seed"),
    (phase0, "get_committee_count_per_slot"),
    (phase0, "get_beacon_committee"),
    (phase0, "get_beacon_proposer_index"),
    (phase0_validator, "is_aggregator"),
    (altair_validator, "is_sync_committee_aggregator"),
    (electra, "compute_proposer_index"),  # [Modified in Electra]
    (electra, "get_next_sync_committee_indices"),  # [Modified in Electra]
]

PRESETS = {
    "mainnet": dict(SLOTS_PER_EPOCH=32, SHUFFLE_ROUND_COUNT=90, MAX_COMMITTEES_PER_SLOT=64,
                    TARGET_COMMITTEE_SIZE=128, EPOCHS_PER_HISTORICAL_VECTOR=65536,
                    SYNC_COMMITTEE_SIZE=512),
    "minimal": dict(SLOTS_PER_EPOCH=8, SHUFFLE_ROUND_COUNT=10, MAX_COMMITTEES_PER_SLOT=4,
                    TARGET_COMMITTEE_SIZE=4, EPOCHS_PER_HISTORICAL_VECTOR=64,
                    SYNC_COMMITTEE_SIZE=32),
}


class Validator:
    def __init__(self, effective_balance, activation_epoch=0, exit_epoch=2**64 - 1):
        self.effective_balance = effective_balance
        self.activation_epoch = activation_epoch
        self.exit_epoch = exit_epoch


class State:
    def __init__(self, slot, validators, mixes):
        self.slot = slot
        self.validators = validators
        self.randao_mixes = mixes


def namespace(preset):
    ns = dict(
        Uint64=int, Slot=int, Epoch=int, ValidatorIndex=int, CommitteeIndex=int, Gwei=int,
        Bytes32=bytes, BLSSignature=bytes, DomainType=bytes, Sequence=list, Set=set, Dict=dict,
        BeaconState=State, Validator=Validator,
        hash=lambda b: hashlib.sha256(b).digest(),
        uint_to_bytes=lambda n: int(n).to_bytes(8, "little"),
        bytes_to_uint64=lambda b: int.from_bytes(b, "little"),
        MIN_SEED_LOOKAHEAD=1, MAX_EFFECTIVE_BALANCE_ELECTRA=2048 * 10**9,
        TARGET_AGGREGATORS_PER_COMMITTEE=16, SYNC_COMMITTEE_SUBNET_COUNT=4,
        TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE=16,
        DOMAIN_BEACON_PROPOSER=bytes.fromhex("00000000"),
        DOMAIN_BEACON_ATTESTER=bytes.fromhex("01000000"),
        DOMAIN_SYNC_COMMITTEE=bytes.fromhex("07000000"),
    )
    ns.update(preset)
    for md, name in SOURCES:
        exec(function(md, name), ns)
    # The spec's compute_shuffled_index computes the whole permutation on each call; memoizing
    # compute_shuffled_permutation per (count, seed) changes no result and makes this script
    # finish in seconds instead of hours.
    ns["compute_shuffled_permutation"] = functools.lru_cache(maxsize=None)(ns["compute_shuffled_permutation"])
    return ns


def balance(i):
    """Effective balances of the fixture: 32 to 2048 ETH in whole ETH, varied by index."""
    return (32 + (i * i * 7919 + 13 * i) % 2017) * 10**9


def sig(i):
    return hashlib.sha256(b"zkv signature %d" % i).digest() * 3


def case(name, preset, n, epoch):
    ns = namespace(preset)
    mixes = [hashlib.sha256(b"zkv randao %d" % e).digest() for e in range(preset["EPOCHS_PER_HISTORICAL_VECTOR"])]
    # Validator 3 is not active yet and validator 7 has exited: get_active_validator_indices
    # must leave them out, and the Go test passes the active list it computes the same way.
    validators = [Validator(balance(i)) for i in range(n)]
    validators[3].activation_epoch = epoch + 1
    validators[7].exit_epoch = epoch
    spe = preset["SLOTS_PER_EPOCH"]
    state = State(epoch * spe, validators, mixes)
    active = ns["get_active_validator_indices"](state, epoch)
    out = dict(name=name, validators=n, epoch=epoch, active=active,
               mix=ns["get_randao_mix"](state, epoch + preset["EPOCHS_PER_HISTORICAL_VECTOR"] - 1 - 1).hex(),
               attester_seed=ns["get_seed"](state, epoch, ns["DOMAIN_BEACON_ATTESTER"]).hex(),
               proposer_seed=ns["get_seed"](state, epoch, ns["DOMAIN_BEACON_PROPOSER"]).hex(),
               committees_per_slot=ns["get_committee_count_per_slot"](state, epoch))
    out["proposers"] = []
    out["committees"] = []
    for slot in range(epoch * spe, (epoch + 1) * spe):
        state.slot = slot
        out["proposers"].append(ns["get_beacon_proposer_index"](state))
        out["committees"].append([ns["get_beacon_committee"](state, slot, i) for i in range(out["committees_per_slot"])])
    # get_next_sync_committee_indices samples for the epoch after the state's current epoch.
    state.slot = epoch * spe
    out["sync_seed"] = ns["get_seed"](state, epoch + 1, ns["DOMAIN_SYNC_COMMITTEE"]).hex()
    out["sync_active"] = ns["get_active_validator_indices"](state, epoch + 1)
    out["sync_committee"] = ns["get_next_sync_committee_indices"](state)
    # is_aggregator over the first committee of the epoch's first slot; is_sync_committee_aggregator.
    state.slot = epoch * spe
    out["aggregator"] = [ns["is_aggregator"](state, epoch * spe, 0, sig(i)) for i in range(64)]
    out["sync_aggregator"] = [ns["is_sync_committee_aggregator"](sig(i)) for i in range(64)]
    return out


print(json.dumps(dict(
    source=f"ethereum/consensus-specs {COMMIT} (phase0, altair, electra markdown), executed by gen.py",
    cases=[case("mainnet", PRESETS["mainnet"], 2100, 5),
           case("minimal", PRESETS["minimal"], 100, 5)],
)))
