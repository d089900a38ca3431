"""The sandbox bank, the embedded default bank rail (like the sandbox chain): it takes
each off-ramp payment as it is made and books its debit on the funding account after a
delay (the worker's sandbox step), or its return when told
(`POST /v1/sandbox/bank/payments/{id}/return`); `POST /v1/sandbox/bank/transfers` books
an incoming transfer. What it books goes through the same matching as a real
statement's lines (services.ramps.receive_bank_line)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SandboxBank:
    settle_seconds: float = 5.0
    name: str = "sandbox"

    def accepts_payments(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class FileBank:
    """Real banks: payments wait for the operator's payment file (`payoutd bank
    export`); the bank's statements (`payoutd bank import`) confirm or return them."""

    settle_seconds: float = 0.0
    name: str = "files"

    def accepts_payments(self) -> bool:
        return False
