"""The chains file: which networks leave the sandbox, and how to reach their nodes.

    PAYOUTD_CHAINS_FILE=chains.toml

    [networks.LTC]
    adapter = "utxo"                       # utxo | evm | tron | solana | ton | sandbox
    url = "http://127.0.0.1:19443"
    username = "payoutd"
    password_env = "PAYOUTD_LTC_RPC_PASSWORD"   # secrets come from the environment
    wallet = "payoutd"
    net = "regtest"                        # main | test | regtest: address rules
    confirmations = 2
    batch_window_seconds = 60

Networks the file does not name stay on the sandbox chain. Secrets are never written in
the file itself: an `*_env` key names the environment variable that holds them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from payoutd.domain.assets import NETWORKS

ADAPTERS = ("sandbox", "utxo", "evm", "tron", "solana", "ton")
# keys that would hold a secret in the file itself; `<key>_env` names its variable instead
SECRET_KEYS = ("password", "passphrase", "private_key", "api_key", "mnemonic", "secret_key")


class ChainsFileError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    network: str
    adapter: str
    url: str | None = None
    net: str = "main"
    confirmations: int | None = None
    batch_window_seconds: float | None = None
    options: dict[str, Any] = field(default_factory=dict)  # adapter-specific keys

    def secret(self, key: str) -> str | None:
        """`<key>_env` names an environment variable; a missing variable is an error."""
        env = self.options.get(f"{key}_env")
        if env is None:
            return None
        value = os.environ.get(str(env))
        if value is None:
            raise ChainsFileError(f"{self.network}: environment variable {env} is not set")
        return value


def load(path: Path) -> dict[str, NetworkConfig]:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    networks = data.get("networks", {})
    if not isinstance(networks, dict):
        raise ChainsFileError("[networks] must be a table of networks")
    found: dict[str, NetworkConfig] = {}
    for code, raw in networks.items():
        network = code.upper()
        if network not in NETWORKS:
            raise ChainsFileError(f"unknown network {code!r}: one of {', '.join(NETWORKS)}")
        if not isinstance(raw, dict):
            raise ChainsFileError(f"{network}: must be a table")
        raw = dict(raw)
        adapter = str(raw.pop("adapter", "sandbox"))
        if adapter not in ADAPTERS:
            raise ChainsFileError(f"{network}: adapter must be one of {', '.join(ADAPTERS)}")
        expected_family = {
            "utxo": "utxo",
            "evm": "evm",
            "tron": "tron",
            "solana": "solana",
            "ton": "ton",
        }.get(adapter)
        if expected_family and NETWORKS[network].family != expected_family:
            raise ChainsFileError(f"{network} is not a {adapter} network")
        if any(k in raw for k in SECRET_KEYS):
            raise ChainsFileError(
                f"{network}: put secrets in the environment and name it with *_env"
            )
        found[network] = NetworkConfig(
            network=network,
            adapter=adapter,
            url=raw.pop("url", None),
            net=str(raw.pop("net", "main")),
            confirmations=raw.pop("confirmations", None),
            batch_window_seconds=raw.pop("batch_window_seconds", None),
            options=raw,
        )
    return found
