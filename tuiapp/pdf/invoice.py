"""The invoice as a PDF, written with markdown-pdf.

The page, top to bottom: the letterhead (the association and the structure,
their identifiers and contact), the addressee's postal block (the guardian when
there is one, else the resident), the number, date, period and resident, the
lines and their total, the structure's VAT statement, the amount due and its
due date, how to pay, and whom to ask. An optional field left empty prints
nothing, not even its label.

Units: a line's quantity counts days (``30 jours``, ``41,15 €/jour``) unless it
is 1 or -1, which is a flat charge (a *forfait*, a rounding, an imported
monthly total) printed without a unit.

A credit note (*avoir*, its amount negative) says "Montant à déduire" with the
amount as a positive number, and has neither due date nor payment
instructions: it is deducted from what the family owes, not paid.

Every text comes from people: it is escaped, never read as Markdown or HTML.

The PDF stack (PyMuPDF) is imported on first use only, so that it never slows
the start of the app or of a CLI command that does not render.
"""

from __future__ import annotations

import html
import io
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from tuiapp.domain.document_kind import DocumentKind
from tuiapp.domain.documents import InvoiceDocument, InvoiceLineData
from tuiapp.domain.formatting import (
    format_amount,
    format_iban,
    format_long_day,
    format_number,
    format_siret,
    period_label,
)

# Sizes chosen so that a three-line invoice fills the upper two thirds of an
# A4 page and a long one (eight lines, a four-line contact) still fits on one.
_CSS = """
body { font-family: sans-serif; font-size: 10.5pt; line-height: 1.35; }
table { border-collapse: collapse; width: 100%; margin-top: 10pt; }
th, td { border: 1px solid #999; padding: 3pt 5pt; }
th { background-color: #eee; white-space: nowrap; text-align: left; }
td[style] { white-space: nowrap; }
table.letterhead { margin-top: 0; }
table.letterhead td { border: none; padding: 0; vertical-align: top; }
td.association { width: 58%; }
td.structure { width: 42%; text-align: right; }
div.to { margin-left: 55%; margin-top: 22pt; margin-bottom: 16pt; font-size: 11pt; }
.name { font-weight: bold; font-size: 11.5pt; }
.small { font-size: 9pt; color: #333; }
h1 { font-size: 16pt; margin-top: 6pt; margin-bottom: 6pt; }
h2 { font-size: 11.5pt; margin-top: 14pt; margin-bottom: 3pt; }
p.vat { font-size: 9.5pt; font-style: italic; margin-top: 4pt; }
p.due { font-size: 13pt; margin-top: 14pt; padding: 6pt 8pt; border: 1px solid #555; }
span.when { font-size: 10.5pt; }
ul { margin-top: 2pt; }
"""
# Left, top, right, bottom margins in points (about 15 mm), from the page's edges.
_BORDERS = (42, 42, -42, -42)
# Characters that Markdown or the HTML it produces would interpret ("=" under a line makes it a heading).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~=])")
# MuPDF's HTML reader (1.28) decodes character references twice: "&amp;lt;"
# reaches the page as "<", a typed "&eacute;" would become "é". Each "&" of a
# typed text is therefore "&amp;amp;" in the HTML, which both decodings bring
# back to "&". In Markdown, "&amp;amp;" is decoded once by markdown-it, which
# writes "&amp;amp;" in its HTML.
_AMPERSAND_IN_MARKDOWN = "&amp;amp;"


def _escape(text: str) -> str:
    """Text typed by people, made inert for Markdown and HTML."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text.replace("\n", " ").strip())
    return escaped.replace("&", _AMPERSAND_IN_MARKDOWN)


def _html(text: str) -> str:
    """Text typed by people, made inert inside a raw HTML block (where Markdown is not read)."""
    return html.escape(" ".join(text.split()), quote=True).replace("&", "&amp;")


def _lines(*texts: str) -> list[str]:
    """The non-empty lines of ``texts`` (a postal address is several lines)."""
    return [line.strip() for text in texts for line in text.splitlines() if line.strip()]


def _html_lines(lines: Iterable[str]) -> str:
    return "<br>".join(_html(line) for line in lines)


def _one_line_html(html_text: str) -> str:
    """A raw HTML block on one line: a blank line would end it and hand the rest to Markdown.
    (Typed text cannot bring one: ``_html`` makes any run of spaces and line breaks one space.)"""
    return html_text.replace("\n", "")


def _contact_lines(doc: InvoiceDocument) -> list[str]:
    phone = doc.association_phone.strip()
    first = " · ".join(text for text in (f"Tél. {phone}" if phone else "", doc.association_email.strip()) if text)
    return [line for line in (first, doc.association_website.strip()) if line]


def _letterhead(doc: InvoiceDocument) -> str:
    association = [f'<span class="name">{_html(doc.association_name)}</span>'] if doc.association_name.strip() else []
    association.append(_html_lines(_lines(doc.association_address)))
    if doc.association_siret.strip():
        association.append(f'<span class="small">SIRET {_html(format_siret(doc.association_siret))}</span>')
    association.extend(f'<span class="small">{_html(line)}</span>' for line in _contact_lines(doc))
    structure = [f'<span class="name">{_html(doc.structure_name)}</span>'] if doc.structure_name.strip() else []
    structure.append(_html_lines(_lines(doc.structure_address)))
    if doc.structure_finess.strip():
        structure.append(f'<span class="small">FINESS {_html(doc.structure_finess)}</span>')
    return _one_line_html(
        '<table class="letterhead"><tr>'
        f'<td class="association">{"<br>".join(part for part in association if part)}</td>'
        f'<td class="structure">{"<br>".join(part for part in structure if part)}</td>'
        "</tr></table>"
    )


def _addressee_lines(doc: InvoiceDocument) -> list[str]:
    if doc.addressee_is_guardian:
        relation = doc.guardian_relation.strip()
        name = doc.guardian_name.strip()
        return [f"{name} ({relation})" if relation else name, *_lines(doc.guardian_address)]
    return [doc.resident_name, *_lines(doc.resident_address)]


def _addressee(doc: InvoiceDocument) -> str:
    lines = _addressee_lines(doc)
    rest = "".join(f"<br>{_html(line)}" for line in lines[1:])
    return f'<div class="to"><span class="name">{_html(lines[0])}</span>{rest}</div>'  # (one line: see above)


def _facts(doc: InvoiceDocument) -> str:
    facts = [
        f"Date : {format_long_day(doc.issue_date)}",
        f"Période : {_escape(period_label(doc.period))}",
        f"Résident : **{_escape(doc.resident_name)}**",
    ]
    return "  \n".join(facts)


def _is_per_day(quantity: Decimal) -> bool:
    """Days, unless the quantity is 1 or -1: a flat charge (see the module's docstring)."""
    return abs(quantity) != 1


def _quantity(line: InvoiceLineData) -> str:
    if not _is_per_day(line.quantity):
        return format_number(line.quantity)
    return f"{format_number(line.quantity)} {'jour' if abs(line.quantity) < 2 else 'jours'}"


def _unit_price(line: InvoiceLineData) -> str:
    return f"{format_amount(line.unit_price)}/jour" if _is_per_day(line.quantity) else format_amount(line.unit_price)


def _lines_table(doc: InvoiceDocument) -> str:
    rows = "\n".join(
        f"| {_escape(line.label)} | {_quantity(line)} | {_unit_price(line)} | {format_amount(line.amount)} |"
        for line in doc.lines
    )
    return (
        "| Libellé | Quantité | Prix unitaire | Montant HT |\n"
        "|---|--:|--:|--:|\n"
        f"{rows}{chr(10) if rows else ''}"
        f"| **Total HT** | | | **{format_amount(doc.amount_ht)}** |"
    )


def _vat(doc: InvoiceDocument) -> str:
    # No statement rather than a wrong one: the structure's own, or nothing.
    return f'<p class="vat">{_html(doc.vat_statement)}</p>' if doc.vat_statement.strip() else ""


def _amount_due(doc: InvoiceDocument) -> str:
    if doc.kind is DocumentKind.AVOIR:
        return f'<p class="due">Montant à déduire : <b>{_html(format_amount(abs(doc.amount_ht)))}</b></p>'
    if doc.direct_debit:
        when = f" à partir du {format_long_day(doc.due_date)}" if doc.payment_days else ""
        how = f"Ce montant sera prélevé sur votre compte{when}."
    else:
        how = f"À régler avant le {format_long_day(doc.due_date)}." if doc.payment_days else "À régler à réception."
    return (f'<p class="due">Montant à régler : <b>{_html(format_amount(doc.amount_ht))}</b>'
            f'<br><span class="when">{_html(how)}</span></p>')


def _payment(doc: InvoiceDocument) -> str:
    if doc.kind is DocumentKind.AVOIR or doc.direct_debit:
        return ""
    reference = f"en rappelant le n° {_escape(doc.number)}"
    ways = []
    if doc.association_iban.strip():
        bic = doc.association_bic.split()
        bic_text = f", BIC {_escape(''.join(bic).upper())}" if bic else ""
        ways.append(f"- par virement sur l'IBAN **{_escape(format_iban(doc.association_iban))}**{bic_text}, {reference} ;")
    if payee := (doc.cheque_payee.strip() or doc.association_name.strip()):
        ways.append(f"- par chèque à l'ordre de **{_escape(payee)}**, {reference} au dos.")
    return "## Règlement\n\n" + "\n".join(ways) if ways else ""


def _contact(doc: InvoiceDocument) -> str:
    lines = _lines(doc.billing_contact)
    if not lines:
        return ""
    return "## Une question sur ce document ?\n\n" + "  \n".join(_escape(line) for line in lines)


def invoice_markdown(doc: InvoiceDocument) -> str:
    blocks = [
        _letterhead(doc),
        _addressee(doc),
        f"# {doc.kind.heading} de contribution n° {_escape(doc.number)}",
        _facts(doc),
        _lines_table(doc),
        _vat(doc),
        _amount_due(doc),
        _payment(doc),
        _contact(doc),
    ]
    return "\n\n".join(block for block in blocks if block) + "\n"


def invoice_pdf(doc: InvoiceDocument) -> bytes:
    """The invoice's PDF, as bytes: its fonts cut to the characters used, its streams compressed."""
    import pymupdf
    from markdown_pdf import MarkdownPdf, Section

    pdf = MarkdownPdf(toc_level=0, optimize=True)
    # MarkdownPdf.meta is a class-level dictionary whose dates are frozen at
    # import: give each document its own.
    now = datetime.now(UTC).strftime("D:%Y%m%d%H%M%S+00'00'")
    pdf.meta = {
        "creationDate": now,
        "modDate": now,
        "creator": "tuiapp",
        "producer": "tuiapp",
        "title": f"{doc.kind.heading} {doc.number} - {doc.resident_name} - {period_label(doc.period)}",
        "author": doc.structure_name,
        "subject": f"{doc.kind.heading} de contribution - {doc.structure_name} - {period_label(doc.period)}",
        "keywords": "",
    }
    pdf.add_section(Section(invoice_markdown(doc), toc=False, borders=_BORDERS), user_css=_CSS)
    buffer = io.BytesIO()
    pdf.save_bytes(buffer)
    # markdown-pdf writes whole fonts, uncompressed (94 KB for one page; its
    # optimize flag only acts on save() to a file). Subsetting, deflating and
    # object streams (the fonts' width tables) bring a page to about 30 KB, for
    # 7 ms more; a name in Arabic script, which brings a font of its own, to 50 KB.
    with pymupdf.open(stream=buffer.getvalue(), filetype="pdf") as document:
        document.subset_fonts()
        return document.tobytes(garbage=4, deflate=True, use_objstms=1)


# Each part of a file name is cut to a number of UTF-8 bytes, so that the
# whole name (with a "_2" added for a homonym) stays far below the 255 bytes
# most file systems allow, even once decomposed (macOS) or encrypted (eCryptfs).
_PART_BYTES = {"number": 48, "last_name": 36, "first_name": 24}
#: The longest name ``pdf_filename`` returns, in bytes (a short suffix included).
MAX_FILENAME_BYTES = 160


def _cut(text: str, max_bytes: int) -> str:
    """``text`` cut to ``max_bytes`` UTF-8 bytes, never inside a character."""
    return text.encode()[:max_bytes].decode(errors="ignore")


def _filename_part(text: str, max_bytes: int = 64) -> str:
    """Letters, digits, ``-`` and ``_`` only: no path separator, no dot, no control character."""
    cleaned = re.sub(r"[^\w-]+", "-", unicodedata.normalize("NFC", text), flags=re.UNICODE).strip("-_")
    return _cut(cleaned, max_bytes).strip("-_") or "X"


def pdf_filename(doc: InvoiceDocument, *, suffix: str = "") -> str:
    """``Facture_<numero>_<NOM>_<Prénom>_<AAAA-MM>[_<suffix>].pdf`` (accents kept).

    At most ``MAX_FILENAME_BYTES`` bytes. ``suffix`` tells apart two invoices
    whose names would otherwise be the same (two DUPONT Jean whose numbers
    differ only by ``/`` and ``-``).
    """
    parts = [
        (doc.number, _PART_BYTES["number"]),
        (doc.resident_last_name.upper(), _PART_BYTES["last_name"]),
        (doc.resident_first_name, _PART_BYTES["first_name"]),
        (str(doc.period), 16),
        (suffix, 12),
    ]
    return f"{doc.kind.heading}_" + "_".join(_filename_part(text, size) for text, size in parts if text.strip()) + ".pdf"
