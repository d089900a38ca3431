"""What the services are given: the clock, the chains, the secret box, the operator's
settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from payoutd.config import Settings
from payoutd.domain.assets import CURRENCIES, FIAT_DECIMALS, Currency
from payoutd.domain.errors import field_error
from payoutd.domain.fees import ServiceFee
from payoutd.services.network_fees import NetworkFees
from payoutd.services.ports import (
    BankRail,
    CallbackFormat,
    Chain,
    Clock,
    EndpointFormat,
    MetricsSink,
    PaymentFiles,
    Rates,
    Secrets,
)


@dataclass(frozen=True, slots=True)
class Context:
    clock: Clock
    chains: Mapping[str, Chain]
    settings: Settings
    rates: Rates
    secrets: Secrets
    # fiat currencies the rates file prices beyond USD and EUR (e.g. GBP), in cents
    extra_fiat: frozenset[str] = frozenset()
    metrics: MetricsSink | None = None
    # quotes' network fees, kept a few seconds (ttl 0: asked of the chain every time)
    network_fees: NetworkFees = field(default_factory=lambda: NetworkFees(0, 0))
    # provider dialects' webhook formats by dialect name (payoutd.dialects)
    callback_formats: Mapping[str, CallbackFormat] = field(default_factory=dict)
    # provider dialects' webhook formats for endpoints, by the endpoint's `format`
    endpoint_formats: Mapping[str, EndpointFormat] = field(default_factory=dict)
    # ramp payouts: how payments reach the bank (the sandbox bank or files), and the
    # payment files and statements of real banks (payoutd.rails.files); None: not built
    bank_rail: BankRail | None = None
    payment_files: PaymentFiles | None = None

    def currency(self, code: str, *, field: str = "currency") -> Currency:
        code = code.upper()
        found = CURRENCIES.get(code)
        if found is not None:
            return found
        if code in self.extra_fiat:
            return Currency(code, code, FIAT_DECIMALS, fiat=True)
        raise field_error("currency_not_found", field)

    def chain(self, network: str) -> Chain:
        found = self.chains.get(network)
        if found is None:
            raise field_error("service_not_found", "network")
        return found

    def service_fee(self, merchant_fees: Mapping[str, ServiceFee], currency: str) -> ServiceFee:
        """The merchant's own fee for the currency, else the operator's default."""
        found = merchant_fees.get(currency)
        if found is not None:
            return found
        return ServiceFee(self.settings.service_fee_percent, self.settings.service_fee_fixed)

    def batch_window(self, network: str) -> float:
        window = self.chain(network).batch_window_seconds
        return self.settings.batch_window_seconds if window is None else window
