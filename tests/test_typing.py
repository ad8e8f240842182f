"""What is typed is what is saved, at any typing speed (issue 9, point 7).

The real app runs in a pty at 80x24, on one processor with two CPU-bound
processes, as on a busy shared server; the keys go through the terminal and
Textual's key parser (Pilot hands events straight to the app and never shows
the loss). In every field of every form the test moves in (Tab, F2, F3),
presses End, erases with a burst of Backspace at key-repeat speed, types new
text 20 to 50 ms a key, saves with Ctrl+S, and the database must hold
exactly what was typed. Some keys reach the app together, as they do when a
loaded machine lets them pile up: before the fix, Textual applied the typed
characters ahead of the Backspaces and moves sent before them.

``FORMS`` is the one catalogue of the forms and their fields: a new field
joins the test by being listed there.
"""

from __future__ import annotations

import itertools
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.terminal import HOLD, RELEASE, app_in_terminal, busy_processor, one_processor
from tuiapp.db.database import db, open_database
from tuiapp.db.models import Association, Resident, Structure
from tuiapp.mail import secrets

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="a pty (pexpect.spawn) is POSIX only"),
    # The keys' way through a terminal does not depend on the engine; the forms' saves run on
    # PostgreSQL in the Pilot form tests (test_screens, test_hostile_data). These five took 38 s
    # of the PostgreSQL pass's 159 s (2 cores, 4 Dec), their CPU hogs a whole processor.
    pytest.mark.engine_neutral,
]

MOVE_GAP = 0.05  # Tab, F2, End...
BACKSPACE_GAP = 0.03  # key-repeat speed
HOME_SCREEN = "résident"


def _column(name: str) -> Callable[[object], str]:
    def read(row) -> str:
        value = getattr(row, name)
        return "" if value is None else str(value)

    return read


def _stored_password(association) -> str:
    if not association.smtp_username:
        return ""
    secret = secrets.get_password(association.smtp_host, association.smtp_username)
    return secret.reveal() if secret else ""


def _as_typed(value: str) -> str:
    return value


@dataclass(frozen=True)
class TypedField:
    """One field: reached with ``reach`` from the previous one; End, ``erase`` x Backspace, then ``text``."""

    name: str  # the widget's id, and the column it is saved to unless ``stored`` says otherwise
    reach: tuple[str, ...]
    erase: int
    text: str
    multiline: bool = False  # a TextArea: End goes to the end of the first line
    saved: Callable[[str], str] = _as_typed  # what the form makes of the value
    stored: Callable[[object], str] | None = None  # how to read it back from the form's row

    def read(self, row) -> str:
        return (self.stored or _column(self.name))(row)

    def expected(self, before: str) -> str:
        first, newline, rest = before.partition("\n") if self.multiline else (before, "", "")
        return self.saved(first[: max(0, len(first) - self.erase)] + self.text + newline + rest)


@dataclass(frozen=True)
class Form:
    name: str
    opening: tuple[tuple[str, str], ...]  # from the home screen: (key, text then on screen), in turn
    row: Callable[[], object]  # the row that the form edits
    fields: tuple[TypedField, ...]
    prepare: Callable[[], None] | None = None  # run on the base before the app starts


def _encrypted() -> None:
    """The association's server on STARTTLS: the identifiant typed then goes encrypted (Association.rules)."""
    Association.update(smtp_security="starttls").execute()


def _oauth_application() -> None:
    """The association on OAuth 2.0 (application): the SMTP window shows the OAuth fields, not the password."""
    from tests.fake_idp import make_client_certificate

    make_client_certificate(Path("~/app.pem").expanduser())  # an RSA key and its certificate
    association = Association.get_solo()
    association.smtp_security = "starttls"  # an identifiant goes encrypted (the demo's server has none)
    association.smtp_auth_method = "oauth2-app"
    association.smtp_username = "compta@exemple.fr"
    association.smtp_oauth_tenant = "ancien.onmicrosoft.com"
    association.smtp_oauth_client_id = "00000000-0000-0000-0000-000000000000"
    association.smtp_oauth_authority = "https://login.microsoftonline.com"
    association.save()


FORMS = (
    Form(
        "structure",
        opening=(("s", "Gestion des structures"), ("enter", "Structure EHPAD")),
        row=lambda: Structure.get(Structure.code == "EHPAD"),
        fields=(  # an existing structure opens on its Mail tab
            TypedField("code", ("f2",), 3, "pad-2", saved=str.upper),
            TypedField("name", ("tab",), 10, "ABCDEF-Été 24"),
            TypedField("address", ("tab",), 4, "Parc Fleuri", multiline=True),
            TypedField("finess", ("tab",), 3, "782"),  # 590000451 -> 590000782 (its key right)
            TypedField("billing_contact", ("tab", "tab"), 10, "Mme Noël", multiline=True),  # past the VAT list
            TypedField("sender_email", ("f3",), 11, "exemple.fr"),
            TypedField("sender_name", ("tab",), 10, "ABCDEF Noël"),
            TypedField("reply_to", ("tab",), 11, "exemple.net"),
            TypedField("bcc", ("tab",), 10, "cci@exemple.fr"),
            TypedField("subject_template", ("tab",), 9, "&personne (n° &numero)"),
            TypedField("body_template", ("tab",), 8, "Madame, Monsieur,", multiline=True),
        ),
    ),
    Form(
        "resident",
        opening=(("r", "sans adresse e-mail parmi"), ("enter", "Résident ANDRÉ Éric")),  # the home screen says "sans adresse" too
        row=lambda: Resident.get(Resident.last_name == "ANDRÉ", Resident.first_name == "Éric"),
        fields=(
            TypedField("last_name", (), 3, "DRÉ-Noël"),
            TypedField("first_name", ("tab",), 10, "Éric Jean"),
            TypedField("external_id", ("tab",), 4, "R-2024-0042"),  # N° résident
            TypedField("address", ("tab", "tab"), 5, "Fleuri, bât. B", multiline=True),  # past the structure's list
            TypedField("email", ("tab",), 10, "eric@exemple.fr"),
            TypedField("guardian_name", ("tab", "tab"), 10, "s - Lille"),  # past the direct debit's switch
            TypedField("guardian_address", ("tab", "tab"), 8, "Rue Nationale", multiline=True),  # past the relation
            TypedField("guardian_email", ("tab",), 16, "lille.exemple.fr"),
        ),
    ),
    Form(
        "association",
        opening=(("s", "Gestion des structures"), ("a", "Ordre des chèques")),
        row=Association.get_solo,
        fields=(
            TypedField("name", (), 6, "Nord"),
            TypedField("address", ("tab",), 6, "Lattre", multiline=True),
            TypedField("siret", ("tab",), 5, "00026", saved=lambda text: text.replace(" ", "")),  # key right
            TypedField("phone", ("tab",), 2, "56"),
            TypedField("bic", ("tab",) * 4, 2, "pp", saved=str.upper),  # past the e-mail, site and IBAN
            TypedField("cheque_payee", ("tab",), 7, "Nord-Été"),
        ),
    ),
    Form(
        "SMTP",
        opening=(("m", "Serveur SMTP de l'association"),),
        row=Association.get_solo,
        prepare=_encrypted,
        fields=(  # the window opens on the server's name
            TypedField("smtp_host", (), 9, "smtp.exemple.fr"),
            TypedField("smtp_port", ("tab",), 4, "2525"),
            TypedField("smtp_username", ("tab",) * 3, 10, "compta@exemple.fr"),  # past the security and its switch
            TypedField("password", ("tab", "tab"), 10, "Pa55-wörd!", stored=_stored_password),  # past the method's
            TypedField("smtp_rate_per_minute", ("tab",), 2, "120"),
            TypedField("smtp_ca_file", ("tab",), 10, "~/ca.pem", saved=lambda path: str(Path(path).expanduser().resolve())),
        ),
    ),
    Form(
        "SMTP OAuth",
        opening=(("m", "Serveur SMTP de l'association"),),
        row=Association.get_solo,
        prepare=_oauth_application,
        fields=(  # from the server's name, past the port, the security, its switch, the identifier, the method
            TypedField("smtp_oauth_tenant", ("tab",) * 6, 15, "asso-2024.onmicrosoft.com"),
            TypedField("smtp_oauth_client_id", ("tab",), 12, "5F0C2A941B7E", saved=str.lower),
            TypedField("smtp_oauth_certificate", ("tab",), 0, "~/app.pem",
                       saved=lambda path: str(Path(path).expanduser().resolve())),
            TypedField("smtp_oauth_authority", ("tab",), 19, "microsoftonline.us"),
        ),
    ),
)


def _keys_for(field: TypedField, gaps: Iterator[float]) -> list[tuple[str, float]]:
    """Into the field, End, Backspace at key-repeat speed, then the text; each key with the gap after it.

    Twice the keys reach the app together, as when a loaded machine lets them
    pile up: while the focus moves into the field, and where erasing turns
    into typing.
    """
    moves = [(key, MOVE_GAP) for key in (*field.reach, "end")]
    erase = [("backspace", BACKSPACE_GAP)] * field.erase
    typed = [(character, next(gaps)) for character in field.text]
    head, tail = erase[: len(erase) - 2], erase[len(erase) - 2 :]
    return [(HOLD, 0), *moves, *head[:1], (RELEASE, 0), *head[1:],
            (HOLD, 0), *tail, *typed[:2], (RELEASE, 0), *typed[2:]]


def _read(database: Path, read: Callable[[], object]):
    open_database(database, create=False)
    try:
        return read()
    finally:
        db.close()


@pytest.mark.long
@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.name)
def test_what_is_typed_is_saved_on_a_busy_machine(form, demo_db_file, tmp_path):
    import trustme

    trustme.CA().cert_pem.write_to_path(str(Path("~/ca.pem").expanduser()))  # $HOME is the test's own
    if form.prepare is not None:
        _read(demo_db_file, form.prepare)
    before = _read(demo_db_file, form.row)
    expected = {field.name: field.expected(field.read(before)) for field in form.fields}
    jitter = random.Random(7)
    gaps = iter(lambda: jitter.uniform(0.02, 0.05), None)  # 20 to 50 ms between two keys

    cpus = one_processor()
    with app_in_terminal(demo_db_file, cwd=tmp_path, cpus=cpus) as terminal:
        terminal.wait_for(HOME_SCREEN)
        for key, shown in form.opening:
            terminal.press(key)
            terminal.wait_for(shown)
        beneath = form.opening[-2][1] if len(form.opening) > 1 else HOME_SCREEN
        assert beneath not in terminal.text(), "the form hides the screen it was opened from"
        with busy_processor(cpus, 2):  # from the first key typed in the form to the save
            terminal.play(itertools.chain.from_iterable(_keys_for(field, gaps) for field in form.fields))
            terminal.press("ctrl+s")
            # Saved and closed (refused, it would stay open): the screen beneath is back. The title's
            # absence alone is no proof (a window could hide its title), and a Ctrl+Q sent then would
            # reach the app (a priority key) before the Ctrl+S still queued.
            terminal.wait_for(beneath, gone=form.opening[-1][1])
        terminal.press("ctrl+q")
        assert terminal.wait_exit() == 0

    after = _read(demo_db_file, lambda: type(before).get_by_id(before.id))
    got = {field.name: field.read(after) for field in form.fields}
    assert got == expected


@pytest.mark.long
def test_an_import_path_typed_fast_on_a_busy_machine_reads_and_imports_that_file(demo_db_file, tmp_path):
    """The Import screen's path, typed at speed with keys piling up, names the file read, and the
    confirmed import writes it (accents and a space in the path)."""
    folder = tmp_path / "exports été"
    folder.mkdir()
    export = folder / "factures novembre.csv"
    export.write_text("N° facture;N° résident;Période;Date facture;Montant HT\n"
                      "IMP-2024-001;EHPAD-0001;novembre 2024;30/11/2024;1 234,56\n"
                      "IMP-2024-002;EHPAD-0002;novembre 2024;30/11/2024;99,00\n", encoding="utf-8")
    (folder / "factures novembre - copie.csv").write_text("rien\n")  # a completion would pick the wrong one
    jitter = random.Random(11)
    typed = [(HOLD, 0), *((character, jitter.uniform(0.02, 0.05)) for character in str(export)[:6]), (RELEASE, 0),
             *((character, jitter.uniform(0.02, 0.05)) for character in str(export)[6:])]

    cpus = one_processor()
    with app_in_terminal(demo_db_file, cwd=tmp_path, cpus=cpus) as terminal:
        terminal.wait_for(HOME_SCREEN)
        terminal.press("i")
        terminal.wait_for("Importer les exports")
        with busy_processor(cpus, 2):
            terminal.play(typed)
            terminal.press("enter")
            terminal.wait_for("2 lignes de données")
            terminal.press("ctrl+s")
            terminal.wait_for("Oui (o)")
            terminal.press("o")
            terminal.wait_for("terminé")
        terminal.press("ctrl+q")
        assert terminal.wait_exit() == 0

    def imported():
        from tuiapp.db.models import Invoice

        return {invoice.number: (invoice.resident.external_id, str(invoice.amount_ht))
                for invoice in Invoice.select().where(Invoice.number.startswith("IMP-"))}

    assert _read(demo_db_file, imported) == {"IMP-2024-001": ("EHPAD-0001", "1234.56"),
                                             "IMP-2024-002": ("EHPAD-0002", "99.00")}
