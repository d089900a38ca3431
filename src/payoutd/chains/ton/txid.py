"""TON transaction hashes: 32 bytes, shown as 64 hex digits (tonviewer, toncenter's v3
API) or as base64 / base64url (toncenter's v2 API, tonscan).

Raises ValueError with a short reason; payoutd.chains.addressing adds the network name.
"""

import base64
import binascii
import string
from typing import Final

from payoutd.chains.hexhash import hash_hex

_HASH_LENGTH: Final = 32
_BASE64: Final = frozenset(string.ascii_letters + string.digits + "+/-_=")
_BASE64_CHARS: Final = frozenset({43, 44})  # without and with its one "=" of padding


def validate(txid: str) -> str:
    """Return the hash (hex in lower case, base64 unchanged), or raise ValueError."""
    if len(txid) not in _BASE64_CHARS:
        return hash_hex(txid)
    if not set(txid) <= _BASE64:
        raise ValueError("is neither 64 hex digits nor base64")
    try:
        raw = base64.urlsafe_b64decode(txid.replace("+", "-").replace("/", "_").rstrip("=") + "=")
    except (binascii.Error, ValueError) as exc:
        raise ValueError("is not valid base64") from exc
    if len(raw) != _HASH_LENGTH:
        raise ValueError("is not a 32-byte hash")
    return txid
