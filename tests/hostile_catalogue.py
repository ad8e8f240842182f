"""The hostile-data catalogue: the values, and every place they go.

``tests/test_hostile_data.py`` runs what is listed here. A new text field, form,
screen or CLI command joins the hostile-data test by being listed below, and
nowhere else:

- ``FIELDS``: every text field of every model that validation checks, with the
  label of its French error, its length limit, its kind and, when one exists,
  the form where it is typed;
- ``RAW_COLUMNS``: the text columns only the code writes (send records...):
  they get the hostile values straight into SQLite, like every column above;
- ``FORMS``: how to open each form from the home screen;
- ``SCREENS``: every screen and dialog, opened by keys from the home screen;
- ``COMMANDS``: every CLI command's arguments;
- ``IMPORT_FILES``: the files the Import screen reads (their names, headers and cells).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from tuiapp.domain.safe_text import find_control

# -- the values ----------------------------------------------------------------

#: Markup that Textual would run (clicks), choke on ([/]) or swallow ([Les Lilas]).
MARKUP = (
    "[@click=app.quit]Q[/]",
    "[@click=app.screenshot('a','..')]Q[/]",
    "FH-2024-11 [/] 001",
    "Anne [/] Marie",
    "[link=http://x]y",
    "Résidence [Les Lilas]",
    "[b]gras",
)
#: Spreadsheet formulas (valid text, and one valid address).
FORMULAS = ("=1+1", "=cmd@example.org", "+33 6 12", "-2+3", "@SUM(A1)")
#: Terminal codes and other control characters: always refused, never drawn.
CONTROLS = (
    "\x1b[2J",
    "\x1b]0;pwned\x07",
    "\x1b]52;c;cHduZWQ=\x07",
    "a\x00b",
    "\u202eevil",
    "x\u2066iso\u2069",
    "ligne\u2028suite",
    "para\u2029suite",
    "del\x7fx",
    "c1\x85x",
    "csi\x9b2J",
    "cr\rx",
    "lf\nx",
    "tab\tx",
)
#: Valid addresses that look hostile.
VALID_EMAILS = ("=cmd@example.org", "+tag@example.org")
#: An address of exactly 254 characters (RFC 5321's limit).
EMAIL_AT_LIMIT = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".org"
#: Written straight into the database: no screen, command or mail may choke on it.
HUGE = ("[@click=app.quit]Q[/] \x1b]52;c;cHduZWQ=\x07 " * 2400)[:100_000]

#: The values a resident list / invoice number must show exactly as typed.
SHOWN_AS_TYPED = MARKUP + FORMULAS
#: What rows written straight into SQLite hold, one value per row in every text column: each
#: markup value followed by two control sequences (every one of them is used), the formulas,
#: and 100 KB.
DB_ROWS = (
    *(f"{value} {CONTROLS[i]}{CONTROLS[i + len(MARKUP)]}" for i, value in enumerate(MARKUP)),
    *FORMULAS,
    HUGE,
)
assert len(CONTROLS) == 2 * len(MARKUP)


def shown_start(value: str, width: int = 14) -> str:
    """What of ``value`` fits in a narrow column: its first characters (brackets included)."""
    return value[:width]


# -- the model fields -----------------------------------------------------------


@dataclass(frozen=True)
class TextField:
    model: str
    name: str
    label: str  # the label of the model's French error
    max_length: int
    # line | lines (address) | body (kept as typed) | code (upper case) | email | tenant | guid | url
    # | identifier (SIRET, IBAN, BIC, FINESS, a relation: none of the values is one) | phone
    kind: str = "line"
    form: str | None = None  # a key of FORMS
    form_label: str | None = None  # the label in the form's error line

    @property
    def multiline(self) -> bool:
        return self.kind in ("lines", "body")

    def values(self, *, typed: bool = False) -> list[str]:
        """The hostile values this field is tried with (``typed``: fewer, for a form, where each
        costs a redraw; every control character stays)."""
        markup, formulas = (MARKUP[2:4], FORMULAS[:1]) if typed else (MARKUP, FORMULAS)
        if self.kind == "email":
            inside = [f"x{value}@example.org" for value in (CONTROLS[:3] if typed else CONTROLS)]
            return [*markup, *formulas, *CONTROLS, *inside, *VALID_EMAILS, EMAIL_AT_LIMIT, "a" + EMAIL_AT_LIMIT]
        return [*markup, *formulas, *CONTROLS, "x" * self.max_length, "x" * (self.max_length + 1)]

    def stored(self, value: str) -> str | None:
        """What validation keeps of ``value``, or ``None`` when it must refuse it."""
        if self.kind == "email":
            return value if value in VALID_EMAILS or value == EMAIL_AT_LIMIT else None
        if self.kind in ("guid", "url", "identifier"):  # an application ID, an https address: none of the values is one
            return None
        text = value.replace("\r\n", "\n") if self.multiline else value
        if self.kind != "body":
            text = text.strip()
        if find_control(text, multiline=self.multiline) is not None or len(text) > self.max_length:
            return None
        if self.kind == "tenant" and not TENANT.fullmatch(text):  # an Entra tenant's ID or domain
            return None
        if self.kind == "phone" and not PHONE.fullmatch(text):  # digits, spaces, dots, dashes, a leading +
            return None
        return text.upper() if self.kind == "code" else text


TENANT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,250}[A-Za-z0-9])?")
PHONE = re.compile(r"\+?[0-9 .()\-]{4,30}")


FIELDS = (
    TextField("Association", "name", "Nom de l'association", 200, form="association", form_label="Nom"),
    TextField("Association", "address", "Adresse de l'association", 500, "lines", form="association",
              form_label="Adresse"),
    TextField("Association", "siret", "SIRET", 60, "identifier", form="association", form_label="SIRET"),
    TextField("Association", "phone", "Téléphone", 30, "phone", form="association", form_label="Téléphone"),
    TextField("Association", "email", "Courriel de l'association", 254, "email", form="association",
              form_label="Courriel"),
    TextField("Association", "website", "Site web", 253, "url", form="association", form_label="Site web"),
    TextField("Association", "iban", "IBAN", 60, "identifier", form="association", form_label="IBAN"),
    TextField("Association", "bic", "BIC", 60, "identifier", form="association", form_label="BIC"),
    TextField("Association", "cheque_payee", "Ordre des chèques", 200, form="association",
              form_label="Ordre des chèques"),
    TextField("Association", "smtp_host", "Serveur SMTP", 253, form="smtp", form_label="Serveur"),
    TextField("Association", "smtp_username", "Identifiant SMTP", 200, form="smtp", form_label="Identifiant"),
    TextField("Association", "smtp_ca_file", "Certificats", 4096),
    TextField("Association", "smtp_oauth_tenant", "Tenant (annuaire)", 253, "tenant", form="smtp",
              form_label="Annuaire (tenant)"),
    TextField("Association", "smtp_oauth_client_id", "ID d'application (client)", 36, "guid", form="smtp",
              form_label="ID d'application"),
    TextField("Association", "smtp_oauth_certificate", "Certificat de l'application", 4096),
    TextField("Association", "smtp_oauth_authority", "Fournisseur d'identité", 253, "url", form="smtp",
              form_label="Fournisseur d'identité (option)"),
    TextField("Structure", "code", "Code", 20, "code", form="structure", form_label="Code"),
    TextField("Structure", "name", "Nom de la structure", 200, form="structure", form_label="Nom"),
    TextField("Structure", "address", "Adresse de la structure", 500, "lines", form="structure",
              form_label="Adresse"),
    TextField("Structure", "finess", "N° FINESS", 60, "identifier", form="structure", form_label="N° FINESS"),
    # Typed in "Autre mention" once chosen from the list: no field of its own to paste into.
    TextField("Structure", "vat_statement", "Mention de TVA", 250),
    TextField("Structure", "billing_contact", "Contact facturation", 500, "lines", form="structure",
              form_label="Contact facturation"),
    TextField("Structure", "sender_email", "Adresse de l'expéditeur", 254, "email", form="structure",
              form_label="Adresse expéditeur"),
    TextField("Structure", "sender_name", "Nom de l'expéditeur", 200, form="structure", form_label="Nom expéditeur"),
    TextField("Structure", "reply_to", "Adresse de réponse", 254, "email", form="structure", form_label="Réponse à"),
    TextField("Structure", "bcc", "Copie cachée (Cci)", 254, "email", form="structure",
              form_label="Copie cachée (Cci)"),
    TextField("Structure", "subject_template", "Objet du mail", 250, form="structure", form_label="Objet"),
    TextField("Structure", "body_template", "Texte du mail", 10_000, "body", form="structure",
              form_label="Texte du mail"),
    TextField("Resident", "last_name", "Nom", 200, form="resident", form_label="Nom"),
    TextField("Resident", "first_name", "Prénom", 200, form="resident", form_label="Prénom"),
    TextField("Resident", "external_id", "N° résident", 40, form="resident", form_label="N° résident"),
    TextField("Resident", "email", "Courriel du résident", 254, "email", form="resident",
              form_label="Courriel du résident"),
    TextField("Resident", "guardian_name", "Nom du tuteur", 200, form="resident", form_label="Tuteur"),
    TextField("Resident", "guardian_email", "Courriel du tuteur", 254, "email", form="resident",
              form_label="Courriel du tuteur"),
    TextField("Resident", "address", "Adresse du résident", 500, "lines", form="resident", form_label="Adresse"),
    TextField("Resident", "guardian_relation", "Lien du tuteur", 200, "identifier"),  # a list in the form
    TextField("Resident", "guardian_address", "Adresse du tuteur", 500, "lines", form="resident",
              form_label="Adresse du tuteur"),
    TextField("Invoice", "number", "Numéro de facture", 40),
    TextField("InvoiceLine", "label", "Libellé", 200),
)

#: Text columns written by the code alone (no form, no clean()): hostile straight into SQLite.
#: (``metadata`` holds tuiapp's own flags, never shown: left out.)
RAW_COLUMNS = {
    "send_record": ("recipients", "last_reply", "refused_recipients", "message_id", "operator", "error"),
}


# -- the forms, screens and commands -----------------------------------------------


@dataclass(frozen=True)
class Form:
    keys: tuple[str, ...]  # from the home screen
    screen: str  # the form's class name


FORMS = {
    "structure": Form(("s", "n"), "StructureFormScreen"),
    "resident": Form(("r", "n"), "ResidentFormScreen"),
    "smtp": Form(("m",), "SmtpScreen"),
    "association": Form(("s", "a"), "AssociationScreen"),
}


@dataclass(frozen=True)
class Screen:
    name: str
    keys: tuple[str, ...]  # from the home screen
    screen: str  # the class name of the screen reached
    walk: str | None = None  # a DataTable whose every row is brought under the cursor and read
    # Keys pressed on each row of ``walk`` (the screen read after each), then Échap; on every row
    # but those of the formulas, which are plain text to a screen (read in the list, typed into
    # every form by test_valid_values_typed_in_a_form_are_saved_and_shown_as_typed): each form
    # meets every markup value, every control character and the 100 KB value.
    then: tuple[str, ...] = ()
    then_screen: str | None = None
    shows: tuple[str, ...] = field(default=())  # values that must appear as typed (their start)


SCREENS = (
    Screen("accueil", (), "HomeScreen", shows=("Les Amis [/] du Foyer",)),
    # The profiles' list (hostile names saved by hostile_base), opened from the path field.
    Screen("import, et la liste des profils", ("i", "shift+tab", "enter"), "ImportScreen",
           shows=("Résidence [Les Lilas]", "FH-2024-11 [/] 001")),
    Screen("aide", ("f1",), "HelpScreen"),
    Screen("structures, et la fiche de chacune (Mail, Général)", ("s",), "StructuresScreen", walk="#structures",
           then=("enter", "f2"), then_screen="StructureFormScreen", shows=MARKUP),
    Screen("serveur SMTP", ("m",), "SmtpScreen", shows=("[link=http://x]y",)),
    Screen("association", ("s", "a"), "AssociationScreen",
           shows=("Les Amis [/] du Foyer", "[link=http://x]y", "Résidence [Les Lilas]", "FH-2024-11 [/] 001")),
    # Authentification (the 5th field) turned to OAuth 2.0, application: its fields and the state line.
    Screen("serveur SMTP, OAuth 2.0", ("m", "tab", "tab", "tab", "tab", "tab", "enter", "down", "enter"), "SmtpScreen",
           shows=("[link=http://x]y", "Résidence [Les Lilas]", "[@click=app.quit]Q[/]", "FH-2024-11 [/] 001")),
    Screen("résidents, et la fiche de chacun", ("r",), "ResidentsScreen", walk="#residents", then=("enter",),
           then_screen="ResidentFormScreen", shows=SHOWN_AS_TYPED),
    Screen("filtre des structures (liste déroulante)", ("r", "tab", "tab", "enter"), "ResidentsScreen",
           shows=("Résidence [Les Lilas]",)),
    Screen("édition des contributions", ("c",), "ContributionsScreen", walk="#invoices", shows=SHOWN_AS_TYPED),
    Screen("onglet d'envoi, et l'aperçu de chaque message", ("c", "e"), "ContributionsScreen", walk="#send-table",
           then=("v",), then_screen="PreviewScreen", shows=SHOWN_AS_TYPED),
    Screen("décision (état inconnu)", ("c", "e"), "ContributionsScreen", walk="#send-table", then=("k",)),
    Screen("liste à imprimer", ("c", "e", "l"), "PreviewScreen"),
    Screen("confirmation d'envoi", ("c", "e", "e"), "ConfirmScreen"),
)

PERIOD = "2024-09"
#: Every CLI command, as arguments after ``tuiapp``; ``{db}`` is the hostile base, ``{unknown}``
#: a send record at the "unknown" state. ``demo``, ``demo-server`` and the bare ``tuiapp`` run
#: until stopped: their TUI is the one the screens above run.
COMMANDS = (
    ("send", "--db", "{db}", "--period", PERIOD, "--dry-run"),
    ("send", "--db", "{db}", "--period", "2024-08", "--dry-run"),
    ("send", "--db", "{db}", "--period", PERIOD, "--structure", "\x1b[2J", "--dry-run"),
    ("send", "--db", "{db}", "--period", PERIOD, "--yes"),
    ("history", "--db", "{db}"),
    ("history", "--db", "{db}", "--format", "csv"),
    ("resolve", "--db", "{db}", "{unknown}", "--resend"),
    ("smtp", "show", "--db", "{db}"),
    ("smtp", "test", "--db", "{db}"),
    ("smtp", "test", "--db", "{db}", "--to", "=cmd@example.org", "--structure", "=1+1"),
    ("smtp", "set", "--db", "{db}", "--username", "\x1b]0;pwned\x07"),
    ("smtp", "set", "--db", "{db}", "--tenant", "\x1b[2J"),
    ("smtp", "set", "--db", "{db}", "--client-id", "[b]x[/b]"),
    ("smtp", "set", "--db", "{db}", "--authority", "https://\x1b]0;pwned\x07"),
    ("smtp", "set", "--db", "{db}", "--certificate", "/tmp/\x1b[2J.pem"),
    ("smtp", "set", "--db", "{db}", "--auth", "\x1b[2J"),
    ("smtp", "secret", "--db", "{db}"),
    ("smtp", "login", "--db", "{db}", "--timeout", "\x1b[2J"),
    ("smtp", "login", "--db", "{db}", "--timeout", "5"),
    ("smtp", "logout", "--db", "{db}"),
    ("init", "--db", "{db}"),
    ("init-demo", "--db", "{db}"),
    ("where", "--db", "{db}"),
    ("where", "--json", "--db", "/tmp/\x1b]0;pwned\x07.db"),
    ("sender", "--config", "/tmp/\x1b]52;c;cHduZWQ=\x07.toml", "--once"),
    ("send", "--db", "{db}", "--period", PERIOD, "--wait", "--timeout", "\x1b[2J"),
    ("server", "setup", "--dir", "/tmp/\x1b]0;pwned\x07"),  # refused before any step
    ("server", "setup", "--group", "\x1b[2J"),
    ("server", "setup", "--db", "postgresql://a\x1b]0;pwned\x07@127.0.0.1/x"),  # refused before any step
    ("server", "setup", "--db", "/tmp/\x1b[2J.db"),
    ("server", "check"),
    ("withdraw", "--db", "{db}", "--period", "\x1b[2J"),
    ("withdraw", "--db", "{db}", "--period", PERIOD, "--all"),
    ("import", "pdfs", "/tmp/\x1b]0;pwned\x07", "--db", "{db}"),
    ("import", "pdfs", "/tmp/\x1b[2J", "--index", "/tmp/\x1b]0;pwned\x07.csv", "--dry-run", "--db", "{db}"),
    ("import", "residents", "/tmp/\x1b]0;pwned\x07.csv", "--db", "{db}"),
    ("import", "invoices", "{db}", "--db", "{db}", "--map", "\x1b[2J=number"),  # a database is no export
    ("import", "invoices", "/tmp/absent.csv", "--db", "{db}", "--report", "/tmp/\x1b[2J/rapport.csv"),
    # PostgreSQL: hostile URLs (refused before any connection), a server that does not answer
    ("history", "--db", "postgresql://a\x1b]0;pwned\x07@127.0.0.1:1/x"),
    ("where", "--db", "postgresql://[@click=app.quit]@127.0.0.1/\x1b[2J"),
    ("db", "copy", "--from", "{db}", "--to", "postgresql://x@127.0.0.1:1/\x1b]52;c;cHduZWQ=\x07"),
    ("db", "copy", "--from", "/tmp/\x1b]0;pwned\x07.db", "--to", "postgresql://x@127.0.0.1:1/x"),
    ("db", "copy", "--from", "{db}", "--to", "postgresql://x@127.0.0.1:1/x"),
    ("\x1b]52;c;cHduZWQ=\x07",),
)


# -- the Import screen's files ---------------------------------------------------------


@dataclass(frozen=True)
class ImportFile:
    name: str  # pasted into the path field (a file of the test's folder; "[/]": in a folder "[")
    kind: str  # "invoices" | "residents"
    content: bytes
    shows: tuple[str, ...] = ()  # values that must appear as typed (their start), in the preview or the report


def _csv(rows: list[list[str]]) -> bytes:
    """A CSV file of ``rows``, without NUL (a file holding one is refused whole: see ``nul.csv``)."""
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(rows)
    return out.getvalue().replace("\x00", "").encode("utf-8")


_INVOICE_COLUMNS = ["N° facture", "N° résident", "Période", "Date facture", "Montant HT"]
_RESIDENT_COLUMNS = ["N° résident", "Structure", "Nom", "Prénom", "Courriel"]

IMPORT_FILES = (
    # Every markup value and control character in a header (DB_ROWS: each markup value with two
    # control sequences), and in every cell of its column.
    ImportFile("[@click=app.quit]Q[/].csv", "invoices",
               _csv([[*_INVOICE_COLUMNS, *DB_ROWS[: len(MARKUP)]],
                     *([f"F{i}", "R1", "09/2024", "28/09/2024", "1,00", *DB_ROWS[: len(MARKUP)]] for i in range(3))]),
               shows=("[@click=app.quit]Q[/]", "FH-2024-11 [/] 001")),
    # The importer's report quotes each bad cell: markup, terminal codes, formulas, 100 KB.
    ImportFile("Résidence [Les Lilas].csv", "residents",
               _csv([_RESIDENT_COLUMNS,
                     *([f"R{i}", value, value, value, value] for i, value in enumerate((*DB_ROWS, *CONTROLS)))]),
               shows=("Résidence [Les Lilas]", "[@click=app.quit]Q[/]", "=1+1")),
    ImportFile("[b]gras.xlsx", "invoices", b"PK\x03\x04\x1b[2J not a workbook \x1b]0;pwned\x07"),
    ImportFile("FH-2024-11 [/] 001.csv", "residents", b"\xff\xfe\x1b[2J\x00\x00[/]"),
    ImportFile("vide.csv", "invoices", b""),
    ImportFile("nul.csv", "invoices", "N° facture;[b]x\n\x00[/]\x1b[2J;\x1b]0;pwned\x07\n".encode()),
)
