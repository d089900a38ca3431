"""Prometheus metrics, on a registry of payoutd's own (built by bootstrap, never at import)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._transitions = Counter(
            "payoutd_payout_transitions_total",
            "Payout status changes",
            ["from_status", "to_status"],
            registry=self.registry,
        )
        self._created = Counter(
            "payoutd_payouts_created_total",
            "Payouts accepted",
            ["network", "currency"],
            registry=self.registry,
        )
        self._shortfall = Counter(
            "payoutd_wallet_shortfall_total",
            "Batches that waited because the hot wallet could not pay them",
            ["network", "currency"],
            registry=self.registry,
        )
        self._totp_failures = Counter(
            "payoutd_totp_failures_total",
            "TOTP codes refused: invalid (counted towards the lockout) or locked (any code "
            "during a lockout)",
            ["reason"],
            registry=self.registry,
        )
        self._totp_lockouts = Counter(
            "payoutd_totp_lockouts_total",
            "Merchants locked out by wrong TOTP codes",
            registry=self.registry,
        )

        self._intake_batch = Histogram(
            "payoutd_intake_batch_payouts",
            "Payouts written per intake transaction (group commit)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )
        # labelled children by their labels: `labels()` checks and locks on every call
        # (a few µs per payout accepted); a child, once made, is the same object for good
        self._children: dict[tuple[Counter, str, str], Counter] = {}

    def _child(self, counter: Counter, a: str, b: str) -> Counter:
        key = (counter, a, b)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(a, b)
        return child

    def intake_batch(self, payouts: int) -> None:
        self._intake_batch.observe(payouts)

    def transition(self, old: str, new: str) -> None:
        self._child(self._transitions, old, new).inc()

    def created(self, network: str, currency: str) -> None:
        self._child(self._created, network, currency).inc()

    def wallet_shortfall(self, network: str, currency: str) -> None:
        self._child(self._shortfall, network, currency).inc()

    def totp_failure(self, reason: str) -> None:
        self._totp_failures.labels(reason).inc()

    def totp_lockout(self) -> None:
        self._totp_lockouts.inc()
