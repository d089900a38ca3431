"""Table tests of the bank account rules: ABA routing numbers (python-stdnum), IBAN and
BIC (schwifty). Valid numbers pass; one digit changed, a wrong country, a BIC of another
country than the IBAN's are refused with their code and field."""

from __future__ import annotations

import pytest

from payoutd.domain.bank_details import check_eur, check_usd
from payoutd.domain.errors import PayoutdError

# Published routing numbers (their check digit holds)
VALID_ROUTING = ["101206101", "021000021", "011000015", "122105278", "026009593"]


@pytest.mark.parametrize("routing", VALID_ROUTING)
def test_valid_routing_numbers(routing: str) -> None:
    assert check_usd(routing, "1000682035").routing_number == routing


def _one_digit_changed(number: str, position: int) -> str:
    digit = (int(number[position]) + 1) % 10
    return number[:position] + str(digit) + number[position + 1 :]


@pytest.mark.parametrize("position", range(9))
@pytest.mark.parametrize("routing", VALID_ROUTING[:2])
def test_a_routing_number_with_one_digit_changed_is_refused(routing: str, position: int) -> None:
    # the ABA weights (3, 7, 1) are all prime to 10: any single changed digit breaks it
    with pytest.raises(PayoutdError) as err:
        check_usd(_one_digit_changed(routing, position), "1000682035")
    assert err.value.code == "invalid_routing_number"
    assert list(err.value.fields) == ["routing_number"]


@pytest.mark.parametrize(
    ("routing", "account", "code", "field"),
    [
        ("10120610", "1000682035", "invalid_routing_number", "routing_number"),
        ("1012061011", "1000682035", "invalid_routing_number", "routing_number"),
        ("10120610a", "1000682035", "invalid_routing_number", "routing_number"),
        ("101206101", "123", "invalid_account_number", "account_number"),
        ("101206101", "1" * 18, "invalid_account_number", "account_number"),
        ("101206101", "12345x", "invalid_account_number", "account_number"),
        ("", "1000682035", "validation_error", "routing_number"),
        ("101206101", None, "validation_error", "account_number"),
    ],
)
def test_malformed_usd_accounts(routing: str, account: str | None, code: str, field: str) -> None:
    with pytest.raises(PayoutdError) as err:
        check_usd(routing, account)
    assert (err.value.code, list(err.value.fields)) == (code, [field])


def test_account_numbers_of_4_to_17_digits_with_separators() -> None:
    assert check_usd("101206101", "1234").account_number == "1234"
    assert check_usd("101206101", "1" * 17).account_number == "1" * 17
    assert check_usd("101206101", "1000-6820 35").account_number == "1000682035"


# IBANs of several SEPA countries with a BIC of the same country
VALID_EUR = [
    ("DE89370400440532013000", "COBADEFFXXX"),
    ("FR1420041010050500013M02606", "BNPAFRPP"),
    ("NL91ABNA0417164300", "ABNANL2A"),
    ("ES9121000418450200051332", "CAIXESBBXXX"),
    ("IT60X0542811101000000123456", "BPMOIT22XXX"),
    ("BE68539007547034", "GEBABEBB"),
    ("AT611904300234573201", "BKAUATWW"),
]


@pytest.mark.parametrize(("iban", "bic"), VALID_EUR)
def test_valid_ibans_and_bics(iban: str, bic: str) -> None:
    spaced = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)).lower()
    account = check_eur(spaced, bic.lower())
    assert (account.iban, account.bic) == (iban, bic)


@pytest.mark.parametrize(("iban", "bic"), VALID_EUR)
def test_an_iban_with_one_digit_changed_is_refused(iban: str, bic: str) -> None:
    last = len(iban) - 1
    with pytest.raises(PayoutdError) as err:
        check_eur(_one_digit_changed(iban, last), bic)
    assert (err.value.code, list(err.value.fields)) == ("invalid_iban", ["iban"])


@pytest.mark.parametrize(
    ("iban", "bic", "code", "field"),
    [
        # a BIC of another country than the IBAN's
        ("DE89370400440532013000", "BNPAFRPPXXX", "invalid_bic", "bic"),
        ("FR1420041010050500013M02606", "COBADEFFXXX", "invalid_bic", "bic"),
        # the IBAN's country code changed: its check digits no longer hold
        ("AT89370400440532013000", "COBADEFFXXX", "invalid_iban", "iban"),
        # a country outside SEPA (a valid Brazilian IBAN)
        ("BR1800360305000010009795493C1", "BBDEBRSPXXX", "invalid_iban", "iban"),
        # malformed
        ("DE8937040044053201300", "COBADEFFXXX", "invalid_iban", "iban"),
        ("XX89370400440532013000", "COBADEFFXXX", "invalid_iban", "iban"),
        ("DE89370400440532013000", "COBADEF", "invalid_bic", "bic"),
        ("DE89370400440532013000", "COBA1EFFXXX", "invalid_bic", "bic"),
        ("", "COBADEFFXXX", "validation_error", "iban"),
        ("DE89370400440532013000", None, "validation_error", "bic"),
    ],
)
def test_refused_eur_accounts(iban: str, bic: str | None, code: str, field: str) -> None:
    with pytest.raises(PayoutdError) as err:
        check_eur(iban, bic)
    assert (err.value.code, list(err.value.fields)) == (code, [field])
