"""Exchange-rate sources: a static rates file (default) and exchanges through ccxt.

Services use :class:`RateSources` (pick a source by the request's `rate_source`) and the
types and errors of :mod:`payoutd.domain.rates`; ccxt is imported only when an exchange
source is first used.
"""

from payoutd.domain.rates import (
    Rate,
    RateError,
    RateSource,
    RateSourceNotAvailable,
    RateTooOld,
    RateUnavailable,
)
from payoutd.rates.exchange import ExchangeRates, create_ccxt_exchange
from payoutd.rates.registry import DEFAULT_ENABLED, RateSources
from payoutd.rates.static import SAMPLE_RATES_FILE, StaticRates

__all__ = [
    "DEFAULT_ENABLED",
    "SAMPLE_RATES_FILE",
    "ExchangeRates",
    "Rate",
    "RateError",
    "RateSource",
    "RateSourceNotAvailable",
    "RateSources",
    "RateTooOld",
    "RateUnavailable",
    "StaticRates",
    "create_ccxt_exchange",
]
