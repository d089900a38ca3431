"""Payments and originators the rails tests write files for."""

from __future__ import annotations

from decimal import Decimal

from payoutd.domain.banking import BankAccountRef, Originator, OutgoingPayment

EUR_ORIGINATOR = Originator(
    account=BankAccountRef(
        holder="Payoutd Operator GmbH",
        currency="EUR",
        iban="DE89370400440532013000",
        bic="COBADEFFXXX",
    ),
    company_name="Payoutd Operator GmbH",
)

USD_ORIGINATOR = Originator(
    account=BankAccountRef(
        holder="Payoutd Operator Inc",
        currency="USD",
        routing_number="091000019",
        account_number="4567890123",
    ),
    company_name="PAYOUTD OPERATOR",
    company_id="1234567890",
    destination_routing="021000021",
    destination_name="JPMORGAN CHASE",
)

# IBANs with valid check digits, from the countries' published examples
IBANS = (
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "AT611904300234573201",
    "ES9121000418450200051332",
)


def eur_payment(
    n: int,
    amount: str,
    *,
    holder: str = "Jürgen Müller-Lüdenscheid",
    remittance: str | None = None,
    bic: str | None = "BNPAFRPPXXX",
) -> OutgoingPayment:
    return OutgoingPayment(
        payment_id=f"pay-{n}",
        amount=Decimal(amount),
        currency="EUR",
        creditor=BankAccountRef(holder=holder, currency="EUR", iban=IBANS[n % len(IBANS)], bic=bic),
        remittance=remittance if remittance is not None else f"payoutd ramp payout pay-{n}",
    )


def usd_payment(
    n: int,
    amount: str,
    *,
    routing: str = "011401533",
    account: str | None = None,
    account_type: str = "checking",
    holder_type: str = "individual",
    holder: str = "Zoë Ångström",
    remittance: str | None = None,
) -> OutgoingPayment:
    return OutgoingPayment(
        payment_id=f"PAY{n:05d}",
        amount=Decimal(amount),
        currency="USD",
        creditor=BankAccountRef(
            holder=holder,
            currency="USD",
            routing_number=routing,
            account_number=account if account is not None else f"00{n:07d}",
            account_type=account_type,
            holder_type=holder_type,
        ),
        remittance=remittance if remittance is not None else f"PAYOUTD RAMP PAY{n:05d}",
    )


def aba_check_digit(prefix: str) -> str:
    """The ninth digit of an ABA routing number (weights 3, 7, 1)."""
    weights = (3, 7, 1, 3, 7, 1, 3, 7)
    total = sum(int(d) * w for d, w in zip(prefix, weights, strict=True))
    return str((10 - total % 10) % 10)
