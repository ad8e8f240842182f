"""The questions the screens and the CLI ask of the database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import cast

from peewee import JOIN, Case, fn

from tuiapp.db.database import fold
from tuiapp.db.models import Invoice, Resident, Structure
from tuiapp.domain.document_kind import DocumentKind
from tuiapp.domain.formatting import counted
from tuiapp.domain.periods import Period
from tuiapp.domain.validation import distinct_addresses

StructureRef = Structure | int | None


def _has_text(column):
    return fn.COALESCE(fn.TRIM(column), "") != ""


def has_address():
    """A resident with at least one address (theirs or their guardian's)."""
    return _has_text(Resident.email) | _has_text(Resident.guardian_email)


def invoices_with_people(query=None):
    """Invoices with their resident and structure, read in the same query: ``invoice.resident``
    and ``invoice.structure`` then cost no further query.

    ``query``: one that already reaches ``Invoice`` (send records joined to their
    invoice, say), to which the two are added; every invoice when omitted.
    """
    query = Invoice.select() if query is None else query
    return (
        query.select_extend(Resident, Structure)
        .join_from(Invoice, Resident, on=(Invoice.resident == Resident.id))
        .join_from(Invoice, Structure, on=(Invoice.structure == Structure.id))
    )


#: Residents in French order: É with E, lower case with upper case (``database.fold``), the same
#: on SQLite and PostgreSQL; names that fold alike, in their own order.
BY_NAME = (fn.fold(Resident.last_name), Resident.last_name, fn.fold(Resident.first_name), Resident.first_name)
#: The order of every invoice list: the resident's name in French order, then the number.
BY_RESIDENT_NAME = (*BY_NAME, Invoice.number)


def invoices_of_period(period: Period, structure: StructureRef = None):
    """Every invoice of the period, with its resident and structure, by name."""
    query = (
        invoices_with_people()
        .where((Invoice.period_year == period.year) & (Invoice.period_month == period.month))
        .order_by(*BY_RESIDENT_NAME)
    )
    if structure is not None:
        query = query.where(Invoice.structure == structure)
    return query


def invoice_stamps(period: Period, structure: StructureRef = None) -> list[tuple[int, datetime | None, datetime | None]]:
    """The period's invoices as (id, last printed, last mailed): what a list looks at to tell
    which of its rows another workstation changed (one small query, no join)."""
    query = Invoice.select(Invoice.id, Invoice.last_printed_at, Invoice.last_mailed_at).where(
        (Invoice.period_year == period.year) & (Invoice.period_month == period.month))
    if structure is not None:
        query = query.where(Invoice.structure == structure)
    # Peewee's stubs type .tuples() as the model query it came from.
    return list(cast(Iterable[tuple[int, datetime | None, datetime | None]], query.tuples()))


def invoices_to_mail(period: Period, structure: StructureRef = None):
    """The seed's send list: the period's invoices of residents with an address.

    Residents who have left are in it too (the seed gives only two reasons for
    a resident to be missing: no address, or no invoice); the screens mark them.
    """
    return invoices_of_period(period, structure).where(has_address())


def invoices_without_address(period: Period, structure: StructureRef = None):
    """The period's invoices of residents with no address: to be printed.

    With the list above they make up the whole period, so that no invoice is
    forgotten between "to mail" and "to print".
    """
    return invoices_of_period(period, structure).where(~has_address())


def periods_with_invoices(structure: StructureRef = None) -> list[Period]:
    """The periods that have invoices, most recent first."""
    query = Invoice.select(Invoice.period_year, Invoice.period_month).distinct()
    if structure is not None:
        query = query.where(Invoice.structure == structure)
    query = query.order_by(Invoice.period_year.desc(), Invoice.period_month.desc())
    # Peewee's stubs type .tuples() as the model query it came from; it yields (year, month).
    rows = cast(Iterable[tuple[int, int]], query.tuples())
    return [Period(year, month) for year, month in rows]


def last_period_with_invoices(structure: StructureRef = None) -> Period | None:
    periods = periods_with_invoices(structure)
    return periods[0] if periods else None


def residents(structure: StructureRef = None, search: str = "", *, include_inactive: bool = True):
    """Residents by name, optionally of one structure and matching a text."""
    query = Resident.select(Resident, Structure).join(Structure, JOIN.INNER).order_by(*BY_NAME)
    if structure is not None:
        query = query.where(Resident.structure == structure)
    if not include_inactive:
        query = query.where(Resident.active)
    for word in search.split():
        needle = fold(word)
        query = query.where(
            fn.fold(Resident.last_name).contains(needle)
            | fn.fold(Resident.first_name).contains(needle)
            | fn.fold(Resident.guardian_name).contains(needle)
            | fn.fold(Resident.external_id).contains(needle)
        )
    return query


@dataclass(frozen=True, slots=True)
class PeriodOverview:
    period: Period
    invoices: int
    to_mail: int
    without_address: int
    mailed: int
    credit_notes: int = 0  # avoirs, counted in ``invoices`` too

    def documents(self, word: str | None = None) -> str:
        """« 126 factures » or, with credit notes, « 125 factures et 1 avoir » (French plurals;
        ``word`` given, it follows the count whatever the number)."""
        count = self.invoices - self.credit_notes
        factures = f"{count} {word}" if word else counted(count, "facture", "factures")
        return f"{factures} et {counted(self.credit_notes, 'avoir', 'avoirs')}" if self.credit_notes else factures


def period_overview(period: Period, structure: StructureRef = None) -> PeriodOverview:
    """How many invoices the period has, can be mailed, must be printed, were mailed.

    ``to_mail + without_address == invoices``. One query (the home screen asks it for three
    periods at start-up, the Factures tab every second of a send): five counts each over the
    name-ordered list cost 22 ms on the demo base, this 1 ms.
    """
    def count(condition):
        return fn.COALESCE(fn.SUM(Case(None, [(condition, 1)], 0)), 0)

    query = (
        Invoice.select(fn.COUNT(Invoice.id), count(has_address()), count(Invoice.last_mailed_at.is_null(False)),
                       count(Invoice.kind == DocumentKind.AVOIR))
        .join(Resident, on=(Invoice.resident == Resident.id))
        .where((Invoice.period_year == period.year) & (Invoice.period_month == period.month))
    )
    if structure is not None:
        query = query.where(Invoice.structure == structure)
    # Peewee's stubs type .tuples().get() as the model; it is one tuple of counts
    invoices, to_mail, mailed, credit_notes = (int(value) for value in cast(tuple, query.tuples().get()))
    return PeriodOverview(period=period, invoices=invoices, to_mail=to_mail, without_address=invoices - to_mail,
                          mailed=mailed, credit_notes=credit_notes)


@dataclass(frozen=True, slots=True)
class SendRow:
    """One line of the sending tab: light, read in one query for thousands of invoices."""

    invoice_id: int
    resident: str
    number: str
    amount_ht: Decimal
    last_mailed_at: datetime | None
    last_printed_at: datetime | None
    email: str | None
    guardian_email: str | None
    send_status: str | None  # status of the latest send record, if any
    send_batch: str | None
    send_record_id: int | None
    active: bool = True  # False: the resident has left (still mailed, marked on screen)
    kind: str = DocumentKind.FACTURE  # facture or avoir
    rectified_at: datetime | None = None  # changed by an import after it was mailed
    #: carries the billing software's own PDF (else one is generated)
    pdf_imported: bool = field(default=False, kw_only=True)
    #: waiting for the sender service: 1 for the next it sends (its record's place in the whole queue)
    queue_position: int | None = field(default=None, kw_only=True)

    @property
    def recipients(self) -> list[str]:
        return distinct_addresses(self.email, self.guardian_email)

    @property
    def is_credit_note(self) -> bool:
        return self.kind == DocumentKind.AVOIR

    @property
    def rectified(self) -> bool:
        """Changed after it was mailed, and not mailed since: to be sent again."""
        return self.rectified_at is not None and self.last_mailed_at is None


def send_rows(period: Period, structure: StructureRef = None) -> list[SendRow]:
    """The seed's send list with, for each invoice, its latest send record's state."""
    from tuiapp.db.import_models import InvoicePdf
    from tuiapp.db.models import SendRecord, SendStatus
    from tuiapp.domain.templates import person_name

    latest = (
        SendRecord.select(SendRecord.invoice, fn.MAX(SendRecord.id).alias("last_id"))
        .group_by(SendRecord.invoice)
        .alias("latest")
    )
    Last = SendRecord.alias("last")
    query = (
        invoices_to_mail(period, structure)
        .select(
            Invoice.id, Resident.last_name, Resident.first_name, Invoice.number, Invoice.amount_ht,
            Invoice.last_mailed_at, Invoice.last_printed_at, Resident.email, Resident.guardian_email,
            Last.status, Last.batch, Last.id, Resident.active, Invoice.kind, Invoice.rectified_at,
            InvoicePdf.id,
        )
        .join_from(Invoice, latest, JOIN.LEFT_OUTER, on=(latest.c.invoice_id == Invoice.id))
        .join_from(Invoice, Last, JOIN.LEFT_OUTER, on=(Last.id == latest.c.last_id))
        .join_from(Invoice, InvoicePdf, JOIN.LEFT_OUTER, on=(InvoicePdf.invoice == Invoice.id))
    )
    queued = SendRecord.select(SendRecord.id).where(SendRecord.status == SendStatus.QUEUED).order_by(SendRecord.id)
    # Peewee's stubs type .tuples() as the model query it came from; it yields (id,).
    ids = cast(Iterable[tuple[int]], queued.tuples())
    place = {record_id: index for index, (record_id,) in enumerate(ids, 1)}  # the service's order
    return [
        SendRow(row[0], person_name(row[1], row[2]), *row[3:-1], pdf_imported=row[-1] is not None,  # peewee
                queue_position=place.get(row[11]) if row[9] == SendStatus.QUEUED else None)
        for row in query.tuples()  # converts the values
    ]
