"""The demo database: a realistic association to try tuiapp on.

Built from a fixed random seed, so that every demo database is the same. It
points the association's mail server at a local catch-all server, so that
sending from the demo never reaches anybody.
"""

from __future__ import annotations

import calendar
import random
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tuiapp.db.database import db, write_transaction
from tuiapp.db.models import (
    Association,
    Invoice,
    InvoiceLine,
    Metadata,
    Resident,
    SendRecord,
    SendStatus,
    Structure,
)
from tuiapp.db.sending_models import ALL_MODELS
from tuiapp.demo import names as names
from tuiapp.domain.errors import TuiappError
from tuiapp.domain.identifiers import VAT_STATEMENTS
from tuiapp.domain.periods import Period
from tuiapp.domain.templates import DEFAULT_BODY

DEMO_KEY = "demo"
DEMO_PERIODS = (Period(2024, 7), Period(2024, 8), Period(2024, 9), Period(2024, 10))
#: The loopback catch-all server the demo's association sends through.
DEMO_SMTP_HOST = "127.0.0.1"
DEMO_SMTP_PORT = 8025
RESIDENTS_PER_STRUCTURE = 44

DEMO_BODY = (
    "Bonjour,\n\n"
    f"{DEFAULT_BODY}.\n\n"
    "Le montant de &montant est à régler avant la fin du mois.\n\n"
    "Cordialement,\nLe service facturation - &structure"
)


class DemoRefused(TuiappError):
    """The target database holds real data: the demo never overwrites it."""


@dataclass(frozen=True)
class DemoSummary:
    created: bool
    structures: int
    residents: int
    invoices: int


@dataclass(frozen=True)
class _StructureSpec:
    code: str
    name: str
    address: str
    sender: str
    sender_name: str
    daily_rate: Decimal
    female_share: float
    finess: str
    vat_statement: str
    billing_contact: str


STRUCTURES = (
    _StructureSpec(
        "FH",
        "Foyer d'hébergement Les Tilleuls",
        "12 rue des Tilleuls\n59280 Armentières",
        "facturation.tilleuls@example.org",
        "Foyer Les Tilleuls - Facturation",
        Decimal("58.40"),
        0.45,
        "590000121",
        VAT_STATEMENTS[0],
        "Service facturation - Mme Durand\n03 20 11 22 33 - facturation.tilleuls@example.org",
    ),
    _StructureSpec(
        "EHPAD",
        "EHPAD Le Clos Fleuri",
        "3 avenue du Clos\n59130 Lambersart",
        "facturation.closfleuri@example.org",
        "EHPAD Le Clos Fleuri",
        Decimal("71.25"),
        0.7,
        "590000451",
        VAT_STATEMENTS[1],
        "Accueil administratif - M. Carpentier\n03 20 44 55 66",
    ),
    _StructureSpec(
        "FAM",
        "FAM La Roseraie",
        "Chemin des Roses\n59190 Hazebrouck",
        "facturation.roseraie@example.org",
        "FAM La Roseraie - Service facturation",
        Decimal("64.90"),
        0.5,
        "590000782",
        VAT_STATEMENTS[0],
        "Secrétariat - Mme Vandamme\n03 28 41 00 00 - facturation.roseraie@example.org",
    ),
)


def is_demo_database() -> bool:
    return Metadata.select().where((Metadata.key == DEMO_KEY) & (Metadata.value == "1")).exists()


def _is_empty() -> bool:
    """Nothing typed yet: no structure, resident or invoice, an association left as created."""
    if any(model.select().exists() for model in (Structure, Resident, Invoice, SendRecord)):
        return False
    association = Association.get_or_none(Association.id == 1)
    return association is None or (
        association.name == "" and association.smtp_host == Association.smtp_host.default
        and association.smtp_username == ""
    )


def build_demo(*, reset: bool = False) -> DemoSummary:
    """Fill the open database with the demo data, in one transaction.

    An empty database becomes a demo database. A demo database is left as it
    is, or rebuilt with ``reset``. Any other database is refused.
    """
    with write_transaction():
        if not _is_empty() and not is_demo_database():
            raise DemoRefused(
                f"La base « {db.database} » contient des données réelles : "
                "la démonstration ne l'écrase pas. Choisissez un autre fichier."
            )
        if is_demo_database() and not reset:
            return _summary(created=False)
        for model in reversed(ALL_MODELS):
            model.delete().execute()
        _populate(random.Random(2024))
        Metadata.insert(key=DEMO_KEY, value="1").on_conflict(conflict_target=[Metadata.key], update={Metadata.value: "1"}).execute()
    return _summary(created=True)


def _summary(*, created: bool) -> DemoSummary:
    return DemoSummary(created, Structure.select().count(), Resident.select().count(), Invoice.select().count())


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


def _populate(rng: random.Random) -> None:
    association = Association.get_solo()
    association.name = "Association Les Papillons Blancs de Flandre (démo)"
    association.address = "8 place du Général de Gaulle\n59200 Tourcoing"
    # Made up, with valid keys: they pass the checks and show on the demo's invoices.
    association.siret = "78945612600018"
    association.phone = "03 20 00 12 34"
    association.email = "contact@papillons-flandre.example.org"
    association.website = "www.papillons-flandre.example.org"
    association.iban = "FR7610278026790002045730135"
    association.bic = "CMCIFR2A"
    association.cheque_payee = "Association Les Papillons Blancs de Flandre"
    association.payment_days = 15
    association.smtp_host = DEMO_SMTP_HOST
    association.smtp_port = DEMO_SMTP_PORT
    association.smtp_security = "none"
    association.smtp_username = ""
    association.smtp_rate_per_minute = 0
    association.save()

    used_names: set[tuple[str, str]] = set()
    for spec in STRUCTURES:
        structure = Structure.create(
            code=spec.code,
            name=spec.name,
            address=spec.address,
            finess=spec.finess,
            vat_statement=spec.vat_statement,
            billing_contact=spec.billing_contact,
            sender_email=spec.sender,
            sender_name=spec.sender_name,
            reply_to=spec.sender,
            subject_template="Votre &document de contribution de &periode - &personne",
            body_template=DEMO_BODY,
        )
        residents = _make_residents(rng, structure, spec, used_names)
        _make_invoices(rng, structure, spec, residents)


def _make_residents(rng, structure, spec, used_names) -> list[tuple[Resident, Period, Period | None]]:
    """Residents with their first and (for those who left) last invoiced period."""
    people = []
    if spec.code == "FH":
        people.append(("MAILLY", "Josiane", "both"))
        used_names.add(("MAILLY", "Josiane"))
    while len(people) < RESIDENTS_PER_STRUCTURE:
        last = rng.choice(names.LAST_NAMES)
        pool = names.FIRST_NAMES_FEMALE if rng.random() < spec.female_share else names.FIRST_NAMES_MALE
        first = rng.choice(pool)
        if (last, first) in used_names:
            continue
        used_names.add((last, first))
        kind = rng.choices(
            ("both", "resident", "family", "mandataire", "none"), weights=(30, 15, 15, 20, 20)
        )[0]
        people.append((last, first, kind))

    result = []
    for index, (last, first, kind) in enumerate(people):
        email = guardian_name = guardian_email = None
        relation = guardian_address = ""
        own = f"{_slug(first)}.{_slug(last)}@example.com"
        if kind in ("both", "resident"):
            email = own
        if kind in ("both", "family"):
            rng.choice(names.FAMILY_LINKS)  # drawn still, so that the demo's people stay those they were
            relative = rng.choice(names.FIRST_NAMES_FEMALE + names.FIRST_NAMES_MALE)
            guardian_name = f"{last} {relative}"
            guardian_email = f"{_slug(relative)}.{_slug(last)}{rng.randint(1, 99)}@example.net"
            relation = "tuteur" if index % 7 == 3 else "famille"  # a family member may be the tutor
            guardian_address = (f"{index % 90 + 1} {names.STREETS[index % len(names.STREETS)]}\n"
                                f"{names.TOWNS[(index // 3) % len(names.TOWNS)]}")
        if kind == "both" and index % 11 == 10:
            guardian_email = own.upper()  # the family reads the resident's own mailbox
        if kind == "mandataire" or (kind == "both" and index % 5 == 4):
            guardian_name, guardian_email = rng.choice(names.MANDATAIRES)
        if kind == "none" and rng.random() < 0.4:
            guardian_name = rng.choice(names.MANDATAIRES)[0]  # a guardian known by post only
        if guardian_name in names.MANDATAIRE_ADDRESSES:
            relation = "curateur" if index % 4 == 1 else "mandataire judiciaire"
            guardian_address = names.MANDATAIRE_ADDRESSES[guardian_name]
        # Arrivals and departures, so that not every resident has every invoice.
        first_period, last_period = DEMO_PERIODS[0], None
        roll = rng.random()
        if (last, first) == ("MAILLY", "Josiane"):
            pass  # the seed's example: present, with two addresses, every month
        elif roll < 0.06:
            first_period = rng.choice(DEMO_PERIODS[1:])
        elif roll > 0.95:
            last_period = rng.choice(DEMO_PERIODS[:-1])
        resident = Resident.create(
            structure=structure,
            last_name=last,
            first_name=first,
            email=email,
            guardian_name=guardian_name or "",
            guardian_email=guardian_email,
            guardian_relation=relation,
            guardian_address=guardian_address,
            address=f"{spec.name}\n{spec.address}",  # they live there
            direct_debit=index % 3 == 2,  # a third pay by direct debit
            active=last_period is None,
            external_id=f"{structure.code}-{index + 1:04d}",  # the billing software's ID, as its exports give it
        )
        result.append((resident, first_period, last_period))
    return result


def _make_invoices(rng, structure, spec, residents) -> None:
    sequence = {period: 0 for period in DEMO_PERIODS}
    for resident, first_period, last_period in residents:
        for period in DEMO_PERIODS:
            if period < first_period or (last_period is not None and period > last_period):
                continue
            sequence[period] += 1
            _make_invoice(rng, structure, spec, resident, period, sequence[period])


def _make_invoice(rng, structure, spec, resident, period, number) -> None:
    days = calendar.monthrange(period.year, period.month)[1]
    issue_date = date(period.year, period.month, days)
    lines = [("Contribution aux frais d'hébergement", Decimal(days), spec.daily_rate)]
    absent = rng.choice((0, 0, 0, 0, 2, 3, 5))
    if absent:
        lines.append(("Déduction absences (hospitalisation)", Decimal(-absent), spec.daily_rate))
    if rng.random() < 0.3:
        lines.append(("Forfait blanchissage", Decimal(1), Decimal(rng.choice(("18.50", "22.00", "25.30")))))
    amounts = [(quantity * price).quantize(Decimal("0.01")) for _, quantity, price in lines]
    invoice = Invoice.create(
        resident=resident,
        structure=structure,
        period_year=period.year,
        period_month=period.month,
        number=f"{spec.code}-{period.year}{period.month:02d}-{number:03d}",
        issue_date=issue_date,
        amount_ht=sum(amounts, Decimal("0.00")),
    )
    for position, ((label, quantity, price), amount) in enumerate(zip(lines, amounts, strict=True), 1):
        InvoiceLine.create(
            invoice=invoice, position=position, label=label, quantity=quantity, unit_price=price, amount=amount
        )
    _history(invoice, resident, period, issue_date)


def _history(invoice, resident, period, issue_date) -> None:
    """July and August are done: mailed where possible, printed otherwise."""
    if period >= DEMO_PERIODS[2]:
        return
    done_at = datetime(issue_date.year, issue_date.month, issue_date.day, 9, 30, tzinfo=UTC) + timedelta(days=3)
    if not resident.recipients:
        invoice.last_printed_at = done_at
        invoice.save()
        return
    invoice.last_mailed_at = done_at + timedelta(seconds=invoice.id % 600)
    invoice.save()
    SendRecord.create(
        invoice=invoice,
        recipients=", ".join(resident.recipients),
        status=SendStatus.SENT,
        attempts=1,
        last_reply="250 OK (démo)",
        message_id=f"<demo-{invoice.number}@example.org>",
        operator="demo",
        created_at=invoice.last_mailed_at - timedelta(seconds=2),
        started_at=invoice.last_mailed_at - timedelta(seconds=1),
        finished_at=invoice.last_mailed_at,
    )
