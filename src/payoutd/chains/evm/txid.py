"""EVM transaction hashes (ETH, BSC, POLYGON, BASE): 0x + the 64 hex digits of the
transaction's keccak hash, as nodes and explorers show them.

Raises ValueError with a short reason; payoutd.chains.addressing adds the network name.
"""

from payoutd.chains.hexhash import hash_hex


def validate(txid: str) -> str:
    """Return 0x + the hash in lower case, or raise ValueError."""
    if not txid.startswith("0x"):
        raise ValueError("must start with 0x")
    return "0x" + hash_hex(txid[2:])
