"""ISO 20022 camt.053 bank-to-customer statements (versions .001.02 to .001.08 and later
share the elements read here).

Each booked entry (Ntry) is one statement line; an entry the bank booked for several
transactions at once (a batch-booked pain.001, one debit for many payments) gives one line
per transaction (TxDtls) with that transaction's amount, so each payout is confirmed or
returned on its own. Pending and informational entries are not read: only booked money
moves payouts.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from payoutd.domain.banking import Direction, StatementLine
from payoutd.domain.errors import PayoutdError
from payoutd.rails.references import digest_reference

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.053."
# BkTxCd sub-families of returned payments (ISO 20022 External Bank Transaction Codes)
RETURN_SUBFAMILIES = frozenset({"RRTN", "ARET", "URET", "RPCR"})


# the schema's limits (camt.053.001.02): Max35Text references, Max34Text account ids, an
# ActiveOrHistoricCurrencyAndAmount of at most 18 digits, 5 of them decimals, and a
# three-letter currency; a file past them is no bank's statement (and would not fit
# where its lines are kept)
MAX_TEXT = 35
MAX_DIGITS = 18
MAX_FRACTION = 5
CURRENCY = re.compile(r"[A-Z]{3}")


def unreadable(why: str) -> PayoutdError:
    return PayoutdError("statement_unreadable", f"The bank statement could not be read: {why}")


def parse_xml(data: bytes) -> etree._Element:
    # a statement comes from outside: no entities, no DTD, no network
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        return etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as e:
        raise unreadable(f"not well-formed XML ({e})") from e


def is_camt053(root: etree._Element) -> bool:
    return etree.QName(root).namespace is not None and str(etree.QName(root).namespace).startswith(
        NAMESPACE_PREFIX
    )


def read_camt053(root: etree._Element) -> list[StatementLine]:
    namespace = etree.QName(root).namespace
    if not is_camt053(root) or etree.QName(root).localname != "Document":
        raise unreadable(f"an XML document that is not camt.053 ({namespace or 'no namespace'})")
    reader = _Reader(str(namespace))
    statements = reader.all(root, "c:BkToCstmrStmt/c:Stmt")
    if not statements:
        raise unreadable("camt.053 without a statement (BkToCstmrStmt/Stmt)")
    lines: list[StatementLine] = []
    for s, statement in enumerate(statements, start=1):
        lines += reader.statement(statement, s)
    return lines


class _Reader:
    def __init__(self, namespace: str) -> None:
        self.ns = {"c": namespace}

    def all(self, node: etree._Element, path: str) -> list[etree._Element]:
        return list(node.findall(path, namespaces=self.ns))

    def first(self, node: etree._Element, *paths: str) -> etree._Element | None:
        for path in paths:
            found = self.all(node, path)
            if found:
                return found[0]
        return None

    def text(self, node: etree._Element, *paths: str) -> str | None:
        found = self.first(node, *paths)
        if found is None or found.text is None or not found.text.strip():
            return None
        return " ".join(found.text.split())

    def statement(self, statement: etree._Element, number: int) -> list[StatementLine]:
        account = self.text(statement, "c:Acct/c:Id/c:IBAN", "c:Acct/c:Id/c:Othr/c:Id")
        if account is None:
            raise unreadable(f"statement {number} names no account (Acct/Id IBAN or Othr/Id)")
        if len(account) > MAX_TEXT:
            raise unreadable(f"statement {number}: the account id is longer than {MAX_TEXT}")
        account_currency = self.text(statement, "c:Acct/c:Ccy")
        lines: list[StatementLine] = []
        for n, entry in enumerate(self.all(statement, "c:Ntry"), start=1):
            where = f"statement {number}, entry {n}"
            status = " ".join(self.all_text(entry, "c:Sts"))
            if status and "BOOK" not in status:
                continue  # pending (PDNG) or informational (INFO): no money has moved yet
            lines += self.entry(entry, account, account_currency, where, position=len(lines))
        return lines

    def all_text(self, node: etree._Element, path: str) -> list[str]:
        return [
            " ".join(t for t in e.itertext() if isinstance(t, str)).strip()
            for e in self.all(node, path)
        ]

    def entry(
        self,
        entry: etree._Element,
        account: str,
        account_currency: str | None,
        where: str,
        *,
        position: int,
    ) -> list[StatementLine]:
        amount, currency = self.amount(entry, "c:Amt", where, account_currency)
        direction = self.direction(entry, where)
        booked = self.booked_on(entry, where)
        entry_ref = self.text(entry, "c:AcctSvcrRef") or self.text(entry, "c:NtryRef")
        if entry_ref is not None and len(entry_ref) > MAX_TEXT:
            raise unreadable(f"{where}: its reference is longer than {MAX_TEXT}")
        entry_returned = self.return_code(entry)
        details = self.all(entry, "c:NtryDtls/c:TxDtls")
        if not details:
            details = [entry]
        lines: list[StatementLine] = []
        for k, tx in enumerate(details, start=1):
            tx_where = f"{where}, transaction {k}" if len(details) > 1 else where
            if len(details) > 1:
                tx_amount, tx_currency = self.amount(
                    tx,
                    "c:Amt",
                    tx_where,
                    account_currency,
                    fallbacks=("c:AmtDtls/c:TxAmt/c:Amt", "c:AmtDtls/c:InstdAmt/c:Amt"),
                )
                tx_ref = self.text(tx, "c:Refs/c:AcctSvcrRef")
                if tx_ref is not None and len(tx_ref) > MAX_TEXT:
                    raise unreadable(f"{tx_where}: its reference is longer than {MAX_TEXT}")
                reference = tx_ref or (f"{entry_ref}/{k}" if entry_ref else None)
            else:
                tx_amount, tx_currency = amount, currency
                reference = entry_ref or self.text(tx, "c:Refs/c:AcctSvcrRef")
            memo = self.memo(tx, entry)
            reason = self.text(tx, "c:RtrInf/c:Rsn/c:Cd", "c:RtrInf/c:Rsn/c:Prtry")
            returned = reason is not None or bool(self.all(tx, "c:RtrInf")) or entry_returned
            if reference is None:
                reference = digest_reference(
                    account, booked, tx_amount, direction, memo, position + k
                )
            party = "c:Dbtr" if direction is Direction.CREDIT else "c:Cdtr"
            lines.append(
                StatementLine(
                    reference=reference,
                    account=account,
                    booked_on=booked,
                    amount=tx_amount,
                    currency=tx_currency,
                    direction=direction,
                    memo=memo,
                    end_to_end_id=_given(self.text(tx, "c:Refs/c:EndToEndId")),
                    returned=returned,
                    return_reason=reason,
                    # a return names the party of the payment it returns
                    counterparty=self.text(tx, f"c:RltdPties/{party}//c:Nm", "c:RltdPties/*//c:Nm"),
                )
            )
        return lines

    def amount(
        self,
        node: etree._Element,
        path: str,
        where: str,
        account_currency: str | None,
        *,
        fallbacks: tuple[str, ...] = (),
    ) -> tuple[Decimal, str]:
        found = self.first(node, path, *fallbacks)
        if found is None or not (found.text or "").strip():
            raise unreadable(f"{where} has no amount (Amt)")
        try:
            amount = Decimal((found.text or "").strip())
        except InvalidOperation as e:
            raise unreadable(f"{where}: the amount {found.text!r} is not a number") from e
        if not amount.is_finite() or amount < 0:
            raise unreadable(f"{where}: the amount {found.text!r} is not a positive number")
        _, digits, exponent = amount.as_tuple()
        assert isinstance(exponent, int)  # finite
        fraction, whole = max(0, -exponent), max(0, len(digits) + exponent)
        if fraction > MAX_FRACTION or whole + fraction > MAX_DIGITS:
            raise unreadable(
                f"{where}: the amount {found.text!r} has more than {MAX_DIGITS} digits "
                f"or {MAX_FRACTION} decimals"
            )
        currency = found.get("Ccy") or account_currency
        if not currency:
            raise unreadable(f"{where}: the amount has no currency (Ccy)")
        if not CURRENCY.fullmatch(currency.upper()):
            raise unreadable(f"{where}: the currency {currency!r} is not an ISO 4217 code")
        return amount, currency.upper()

    def direction(self, entry: etree._Element, where: str) -> Direction:
        indicator = self.text(entry, "c:CdtDbtInd")
        if indicator == "CRDT":
            return Direction.CREDIT
        if indicator == "DBIT":
            return Direction.DEBIT
        raise unreadable(f"{where}: CdtDbtInd is {indicator!r}, not CRDT or DBIT")

    def booked_on(self, entry: etree._Element, where: str) -> date:
        raw = self.text(
            entry, "c:BookgDt/c:Dt", "c:BookgDt/c:DtTm", "c:ValDt/c:Dt", "c:ValDt/c:DtTm"
        )
        if raw is None:
            raise unreadable(f"{where} has no booking date (BookgDt)")
        try:
            return date.fromisoformat(raw[:10])
        except ValueError as e:
            raise unreadable(f"{where}: the booking date {raw!r} is not a date") from e

    def memo(self, tx: etree._Element, entry: etree._Element) -> str:
        unstructured = [
            " ".join(u.split()) for u in self.all_text(tx, "c:RmtInf/c:Ustrd") if u.strip()
        ]
        if unstructured:
            return " ".join(unstructured)
        return (
            self.text(tx, "c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref")
            or self.text(tx, "c:AddtlTxInf")
            or self.text(entry, "c:AddtlNtryInf")
            or ""
        )

    def return_code(self, entry: etree._Element) -> bool:
        sub_family = self.text(entry, "c:BkTxCd/c:Domn/c:Fmly/c:SubFmlyCd")
        return sub_family in RETURN_SUBFAMILIES


def _given(value: str | None) -> str | None:
    # banks write NOTPROVIDED where the payer gave no end-to-end id
    return None if value is None or value.upper() == "NOTPROVIDED" else value
