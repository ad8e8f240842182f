"""A self-contained snapshot of one invoice: what its PDF and e-mail are made of.

A pure value: ``tuiapp.db.snapshots`` builds it from the database in one go
(every text through ``printable``); the PDF and the mail code take it and
never touch the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tuiapp.domain.document_kind import DocumentKind
from tuiapp.domain.periods import Period
from tuiapp.domain.templates import keyword_values, person_name


@dataclass(frozen=True, slots=True)
class InvoiceLineData:
    label: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    invoice_id: int
    number: str
    period: Period
    issue_date: date
    amount_ht: Decimal
    lines: tuple[InvoiceLineData, ...]
    association_name: str
    association_address: str
    structure_code: str
    structure_name: str
    structure_address: str
    sender_email: str | None
    sender_name: str
    reply_to: str | None
    bcc: str | None
    subject_template: str
    body_template: str
    resident_last_name: str
    resident_first_name: str
    guardian_name: str
    recipients: tuple[str, ...]
    kind: DocumentKind = DocumentKind.FACTURE

    @property
    def resident_name(self) -> str:
        return person_name(self.resident_last_name, self.resident_first_name)

    @property
    def keyword_values(self) -> dict[str, str]:
        return keyword_values(
            last_name=self.resident_last_name,
            first_name=self.resident_first_name,
            period=self.period,
            number=self.number,
            amount=self.amount_ht,
            structure=self.structure_name,
            kind=self.kind,
        )
