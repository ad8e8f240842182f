"""A self-contained snapshot of one invoice: what its PDF and e-mail are made of.

A pure value: ``tuiapp.db.snapshots`` builds it from the database in one go
(every text through ``printable``); the PDF and the mail code take it and
never touch the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeGuard

from tuiapp.domain.document_kind import DocumentKind
from tuiapp.domain.periods import Period
from tuiapp.domain.templates import keyword_values, person_name


def has_sender(sender_email: str | None) -> TypeGuard[str]:
    """Whether a structure can mail its invoices: it has a sender address (neither unset nor
    empty). The one definition: ``Structure.has_sender`` and ``Structure.without_sender()`` (its SQL
    form) for the database; the mail code asks it of a snapshot's ``sender_email``."""
    return sender_email is not None and sender_email != ""


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
    # What the page says about who bills, who pays and how (issue 14). Empty: not set, not printed.
    association_siret: str = ""
    association_phone: str = ""
    association_email: str = ""
    association_website: str = ""
    association_iban: str = ""
    association_bic: str = ""
    #: To whom a cheque is made out ("" : the association's name).
    cheque_payee: str = ""
    #: Days from the issue date to the due date; 0: payable on receipt ("à réception").
    payment_days: int = 0
    structure_finess: str = ""
    #: The structure's VAT statement, e.g. "TVA non applicable, art. 261-7-1°-b du CGI".
    vat_statement: str = ""
    #: Who answers billing questions (name, phone, address), one or more lines.
    billing_contact: str = ""
    resident_address: str = ""
    #: "tuteur", "curateur", "mandataire judiciaire", "famille" or "".
    guardian_relation: str = ""
    guardian_address: str = ""
    #: The resident pays by direct debit (prélèvement): nothing to transfer.
    direct_debit: bool = False

    @property
    def due_date(self) -> date:
        return self.issue_date + timedelta(days=self.payment_days)

    @property
    def addressee_is_guardian(self) -> bool:
        """The page is addressed to the guardian when there is one, else to the resident."""
        return bool(self.guardian_name.strip())

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
