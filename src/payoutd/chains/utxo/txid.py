"""UTXO transaction ids (BTC, LTC, DOGE): the double SHA-256 of the transaction, 64 hex
digits as Bitcoin Core and explorers show them.

Raises ValueError with a short reason; payoutd.chains.addressing adds the network name.
"""

from payoutd.chains.hexhash import hash_hex


def validate(txid: str) -> str:
    """Return the txid in lower case, or raise ValueError."""
    return hash_hex(txid)
