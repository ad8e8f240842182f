"""The domain model: association (``tuiapp.db.association_model``, re-exported here), structures,
residents, invoices, send records.

Each model checks its own values in ``clean()`` (called by ``save()``), so
invalid data is refused with a French message naming the field and is never
half-written. ``clean()`` checks every field and reports every problem at once
(``ValidationError.errors``): the forms (``tuiapp.services.forms``) show them
beside their fields, and hold no rule of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from peewee import (
    SQL,
    BooleanField,
    CharField,
    Check,
    DateField,
    Expression,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from tuiapp.db.association_model import Association
from tuiapp.db.clean_model import (
    CleanModel,
    Rule,
    in_values,
    known_keywords,
    one_of,
    reads_database,
    sql_list,
)
from tuiapp.db.database import BaseModel
from tuiapp.db.fields import ScaledDecimalField, UTCDateTimeField, utcnow
from tuiapp.domain import templates
from tuiapp.domain.document_kind import DocumentKind
from tuiapp.domain.documents import has_sender
from tuiapp.domain.errors import ValidationError
from tuiapp.domain.identifiers import check_finess, check_relation
from tuiapp.domain.periods import Period
from tuiapp.domain.smtp_security import SmtpSecurity as SmtpSecurity  # re-exported
from tuiapp.domain.status import SendStatus
from tuiapp.domain.validation import (
    ADDRESS_MAX,
    BODY_MAX,
    CODE_MAX,
    NUMBER_MAX,
    SUBJECT_MAX,
    distinct_addresses,
    multi_line,
    normalize_email,
    parse_amount,
    single_line,
)

# Association lives in tuiapp.db.association_model; SendStatus and SmtpSecurity, imported from
# here too, in tuiapp.domain.


class Metadata(BaseModel):
    """Key/value facts about the database itself (e.g. that it is a demo)."""

    key = CharField(primary_key=True)
    value = TextField()


class Structure(CleanModel):
    """An establishment of the association, with the sender of its e-mails."""

    code = CharField(unique=True)
    name = CharField()
    address = TextField(default="")
    sender_email = CharField(null=True)
    sender_name = CharField(default="")
    reply_to = CharField(null=True)
    bcc = CharField(null=True)
    subject_template = TextField(default=templates.DEFAULT_SUBJECT)
    body_template = TextField(default=templates.DEFAULT_BODY)
    #: Printed on its invoices: its FINESS number, its VAT statement, whom to ask about a bill.
    finess = CharField(default="")
    vat_statement = CharField(default="")  # "": not chosen yet (see VAT_STATEMENTS)
    billing_contact = TextField(default="")

    @property
    def has_sender(self) -> bool:
        """It can mail its invoices (``documents.has_sender``)."""
        return has_sender(self.sender_email)

    @classmethod
    def without_sender(cls) -> Expression:
        """``has_sender`` false, as a query condition: no sender address, unset or empty."""
        return cls.sender_email.is_null() | (cls.sender_email == "")

    def rules(self) -> Iterator[tuple[str, Rule]]:
        yield "code", lambda: single_line(self.code, field="code", label="Code", required=True,
                                          max_length=CODE_MAX).upper()
        yield "code", reads_database(lambda: self._unique(Structure.code, self.code, "Code"))
        yield "name", lambda: single_line(self.name, field="name", label="Nom de la structure", required=True)
        yield "address", lambda: multi_line(self.address, field="address", label="Adresse de la structure",
                                            max_length=ADDRESS_MAX)
        yield "finess", lambda: check_finess(self.finess)
        yield "vat_statement", lambda: single_line(self.vat_statement, field="vat_statement",
                                                   label="Mention de TVA", max_length=SUBJECT_MAX)
        yield "billing_contact", lambda: multi_line(self.billing_contact, field="billing_contact",
                                                    label="Contact facturation", max_length=ADDRESS_MAX)
        yield "sender_email", lambda: normalize_email(self.sender_email, field="sender_email",
                                                      label="Adresse de l'expéditeur")
        yield "sender_name", lambda: single_line(self.sender_name, field="sender_name", label="Nom de l'expéditeur")
        yield "reply_to", lambda: normalize_email(self.reply_to, field="reply_to", label="Adresse de réponse")
        yield "bcc", lambda: normalize_email(self.bcc, field="bcc", label="Copie cachée (Cci)")
        yield "subject_template", lambda: single_line(self.subject_template, field="subject_template",
                                                      label="Objet du mail", max_length=SUBJECT_MAX)
        yield "subject_template", lambda: known_keywords(self.subject_template, "subject_template", "Objet du mail")
        yield "body_template", lambda: multi_line(self.body_template, field="body_template", label="Texte du mail",
                                                  max_length=BODY_MAX, strip=False)
        yield "body_template", lambda: known_keywords(self.body_template, "body_template", "Texte du mail")

    def __str__(self) -> str:
        return f"{self.code} - {self.name}"


class Resident(CleanModel):
    """A resident, with up to two addresses: their own and their guardian's."""

    structure = ForeignKeyField(Structure, backref="residents", on_delete="RESTRICT", index=False)
    structure_id: int  # Peewee's accessor for the key's value, told to mypy
    last_name = CharField()
    first_name = CharField(default="")
    email = CharField(null=True)
    guardian_name = CharField(default="")
    guardian_email = CharField(null=True)
    active = BooleanField(default=True)
    #: Postal addresses (several lines), for the invoice's addressee block.
    address = TextField(default="")
    #: "tuteur", "curateur", "mandataire judiciaire", "famille" or "" (see GUARDIAN_RELATIONS).
    guardian_relation = CharField(default="")
    guardian_address = TextField(default="")
    #: Pays by direct debit (prélèvement): the invoice asks for no transfer.
    direct_debit = BooleanField(default=False)
    #: The billing software's resident ID, by which imports find the resident again.
    external_id = CharField(null=True, unique=True)

    class Meta:
        indexes = ((("structure", "last_name", "first_name"), False),)

    def rules(self) -> Iterator[tuple[str, Rule]]:
        yield "last_name", lambda: single_line(self.last_name, field="last_name", label="Nom", required=True)
        yield "first_name", lambda: single_line(self.first_name, field="first_name", label="Prénom")
        yield "structure", reads_database(lambda: self._existing_structure())
        yield "email", lambda: normalize_email(self.email, field="email", label="Courriel du résident")
        yield "guardian_name", lambda: single_line(self.guardian_name, field="guardian_name", label="Nom du tuteur")
        yield "guardian_email", lambda: normalize_email(self.guardian_email, field="guardian_email",
                                                        label="Courriel du tuteur")
        yield "address", lambda: multi_line(self.address, field="address", label="Adresse du résident",
                                            max_length=ADDRESS_MAX)
        yield "guardian_relation", lambda: check_relation(self.guardian_relation)
        yield "guardian_address", lambda: multi_line(self.guardian_address, field="guardian_address",
                                                     label="Adresse du tuteur", max_length=ADDRESS_MAX)
        yield "direct_debit", lambda: bool(self.direct_debit)
        yield "external_id", lambda: single_line(self.external_id, field="external_id", label="N° résident",
                                                 max_length=NUMBER_MAX) or None
        yield "external_id", reads_database(
            lambda: self.external_id and self._unique(Resident.external_id, self.external_id, "N° résident"))

    def _existing_structure(self) -> int:
        if self.structure_id is None or not Structure.select().where(Structure.id == self.structure_id).exists():
            raise ValidationError("structure", "Structure", "choisissez une structure.")
        return self.structure_id

    @property
    def display_name(self) -> str:
        return templates.person_name(self.last_name, self.first_name)

    @property
    def recipients(self) -> list[str]:
        """The resident's addresses, blanks removed, duplicates (any case) once."""
        return distinct_addresses(self.email, self.guardian_email)


class Invoice(CleanModel):
    """A resident's monthly contribution invoice, or a credit note (*avoir*, its amount negative)."""

    resident = ForeignKeyField(Resident, backref="invoices", on_delete="RESTRICT", index=False)
    resident_id: int  # Peewee's accessor for the key's value, told to mypy
    structure = ForeignKeyField(Structure, backref="invoices", on_delete="RESTRICT")
    structure_id: int  # Peewee's accessor for the key's value, told to mypy
    period_year = IntegerField(constraints=[Check("period_year BETWEEN 2000 AND 2100")])
    period_month = IntegerField(constraints=[Check("period_month BETWEEN 1 AND 12")])
    number = CharField(unique=True)
    issue_date = DateField()
    amount_ht = ScaledDecimalField(places=2)
    last_printed_at = UTCDateTimeField(null=True)
    last_mailed_at = UTCDateTimeField(null=True)
    kind = CharField(default=DocumentKind.FACTURE, constraints=[in_values("kind", DocumentKind)])
    #: When an import changed it after it was mailed (its last-mailed time is then cleared:
    #: it is to be sent again; its send records keep what each version said).
    rectified_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = (
            (("period_year", "period_month", "structure"), False),
            (("resident", "period_year", "period_month"), False),
        )

    @property
    def document_kind(self) -> DocumentKind:
        return DocumentKind.of(self.kind)

    @property
    def period(self) -> Period:
        return Period(self.period_year, self.period_month)

    @period.setter
    def period(self, value: Period) -> None:
        self.period_year, self.period_month = value.year, value.month

    def rules(self) -> Iterator[tuple[str, Rule]]:
        yield "number", lambda: single_line(self.number, field="number", label="Numéro de facture", required=True,
                                            max_length=NUMBER_MAX)
        yield "number", reads_database(lambda: self._unique(Invoice.number, self.number, "Numéro de facture"))
        yield "kind", lambda: one_of(self.kind, tuple(DocumentKind), "kind", "Type de document",
                                      "facture ou avoir.")
        yield "amount_ht", lambda: parse_amount(self.amount_ht, field="amount_ht", label="Montant HT")
        yield "amount_ht", self._sign
        yield "period", lambda: Period(self.period_year, self.period_month)  # refuses a month out of range
        yield "issue_date", self._date
        yield "structure", reads_database(lambda: self._residents_structure())

    def _sign(self) -> Decimal:
        if self.kind == DocumentKind.AVOIR and self.amount_ht >= 0:
            raise ValidationError("amount_ht", "Montant HT", "le montant d'un avoir est négatif (ex. -120,00).")
        if self.kind == DocumentKind.FACTURE and self.amount_ht < 0:
            raise ValidationError("amount_ht", "Montant HT", "montant négatif : est-ce un avoir ?")
        return self.amount_ht

    def _date(self) -> date:
        if not isinstance(self.issue_date, date):
            raise ValidationError("issue_date", "Date de facture", "une date est attendue.")
        return self.issue_date

    def _residents_structure(self) -> int:
        resident = Resident.get_or_none(Resident.id == self.resident_id)
        if resident is None:
            raise ValidationError("resident", "Résident", "résident introuvable.")
        if self.structure_id is not None and self.structure_id != resident.structure_id:
            raise ValidationError("structure", "Structure", "la facture doit être celle de la structure du résident.")
        return resident.structure_id


class InvoiceLine(CleanModel):
    """One line of an invoice: label, quantity, unit price, amount."""

    invoice = ForeignKeyField(Invoice, backref="lines", on_delete="CASCADE", index=False)
    invoice_id: int  # Peewee's accessor for the key's value, told to mypy
    position = IntegerField(default=0)
    label = CharField()
    quantity = ScaledDecimalField(places=2, default=Decimal(1))
    unit_price = ScaledDecimalField(places=2)
    amount = ScaledDecimalField(places=2)

    class Meta:
        indexes = ((("invoice", "position"), False),)

    def rules(self) -> Iterator[tuple[str, Rule]]:
        yield "label", lambda: single_line(self.label, field="label", label="Libellé", required=True)
        yield "quantity", lambda: parse_amount(self.quantity, field="quantity", label="Quantité")
        yield "unit_price", lambda: parse_amount(self.unit_price, field="unit_price", label="Prix unitaire")
        yield "amount", lambda: parse_amount(self.amount, field="amount", label="Montant de la ligne")


class SendRecord(BaseModel):
    """One attempt to mail one invoice: written before sending, completed after."""

    invoice = ForeignKeyField(Invoice, backref="send_records", on_delete="RESTRICT")
    invoice_id: int  # Peewee's accessor for the key's value, told to mypy
    recipients = TextField()  # comma-separated addresses, as sent
    status = CharField(default=SendStatus.QUEUED, constraints=[in_values("status", SendStatus)])
    attempts = IntegerField(default=0)
    last_reply = TextField(null=True)
    refused_recipients = TextField(null=True)
    message_id = CharField(null=True)
    operator = CharField(default="")
    created_at = UTCDateTimeField(default=utcnow)
    started_at = UTCDateTimeField(null=True)
    finished_at = UTCDateTimeField(null=True)
    error = TextField(null=True)
    #: The run that queued the record (one id per batch, shared by its records).
    batch = CharField(null=True)
    #: "host:pid:start" of the process that claimed it, to tell a crash from a live send.
    claimed_by = CharField(null=True)
    #: What this send carried: the invoice's amount and the SHA-256 of its PDF, written at the claim
    #: (an invoice rectified later keeps, in its history, what each version said).
    amount_ht = ScaledDecimalField(places=2, null=True)
    pdf_sha256 = CharField(null=True)

    class Meta:
        indexes = ((("status", "invoice"), False),)


# At most one record per invoice may be waiting or in flight: the database
# itself refuses a second queueing of the same invoice. The condition is
# written as SQL text because Peewee would render ``status.in_(...)`` with
# bound parameters, which SQLite refuses in a partial index's WHERE; it is the
# statement of ``migrations._V1_SCHEMA``, which creates the index.
SendRecord.add_index(
    SendRecord.index(
        SendRecord.invoice,
        unique=True,
        where=SQL(f"status IN ({sql_list(sorted(SendStatus.active()))})"),
        name="send_record_one_active_per_invoice",
    )
)



MODELS = [Metadata, Association, Structure, Resident, Invoice, InvoiceLine, SendRecord]
