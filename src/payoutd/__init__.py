"""payoutd: a self-hosted crypto payout engine."""

__version__ = "0.1.0"
