"""The invoice as a PDF, written with markdown-pdf.

The PDF stack (PyMuPDF) is imported on first use only, so that it never slows
the start of the app or of a CLI command that does not render.
"""

from __future__ import annotations

import io
import re
import unicodedata
from datetime import UTC, datetime

from tuiapp.domain.documents import InvoiceDocument
from tuiapp.domain.formatting import format_amount, format_day, format_number, period_label

_CSS = """
body { font-family: sans-serif; font-size: 10pt; }
h1 { font-size: 15pt; margin-bottom: 2pt; }
h2 { font-size: 11pt; margin-top: 10pt; }
table { border-collapse: collapse; width: 100%; margin-top: 6pt; }
th, td { border: 1px solid #999; padding: 3pt 4pt; }
th { background-color: #eee; }
p.total { font-size: 12pt; text-align: right; margin-top: 8pt; }
"""
# Characters that Markdown or the HTML it produces would interpret.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>&~])")


def _escape(text: str) -> str:
    """Text typed by people, made inert for Markdown and HTML."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text.replace("\n", " ").strip())


def _address_block(*lines: str) -> str:
    parts = [_escape(line) for block in lines for line in block.splitlines() if line.strip()]
    return "  \n".join(parts)


def invoice_markdown(doc: InvoiceDocument) -> str:
    guardian = f"  \nà l'attention de {_escape(doc.guardian_name)}" if doc.guardian_name else ""
    rows = "\n".join(
        f"| {_escape(line.label)} | {format_number(line.quantity)} | {format_amount(line.unit_price)} "
        f"| {format_amount(line.amount)} |"
        for line in doc.lines
    )
    return f"""**{_escape(doc.association_name)}**  
{_address_block(doc.association_address)}

**{_escape(doc.structure_name)}**  
{_address_block(doc.structure_address)}

# {doc.kind.heading} de contribution n° {_escape(doc.number)}

Date : {format_day(doc.issue_date)}  
Période : {_escape(period_label(doc.period))}

## Résident

{_escape(doc.resident_name)}{guardian}

## Détail

| Libellé | Quantité | Prix unitaire | Montant HT |
|:--|--:|--:|--:|
{rows}

**Total HT : {format_amount(doc.amount_ht)}**
"""


def invoice_pdf(doc: InvoiceDocument) -> bytes:
    """The invoice's PDF, as bytes."""
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
        "subject": f"{doc.kind.heading} de contribution",
        "keywords": "",
    }
    pdf.add_section(Section(invoice_markdown(doc), toc=False), user_css=_CSS)
    buffer = io.BytesIO()
    pdf.save_bytes(buffer)
    return buffer.getvalue()


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
