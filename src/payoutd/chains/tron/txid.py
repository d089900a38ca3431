"""TRON transaction ids: the SHA-256 of the raw transaction, 64 hex digits without 0x
(the `txID` TronGrid and Tronscan show).

Raises ValueError with a short reason; payoutd.chains.addressing adds the network name.
"""

from payoutd.chains.hexhash import hash_hex


def validate(txid: str) -> str:
    """Return the txid in lower case, or raise ValueError."""
    return hash_hex(txid)
