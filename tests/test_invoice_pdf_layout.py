"""The invoice's page, read back with PyMuPDF: what a family needs to understand and pay it.

The header (association and structure, their identifiers), the addressee's
postal block, the number, date and period, the lines with their units, the
total and the VAT statement, the amount due and its date, how to pay and whom
to ask; the credit-note and direct-debit variants; hostile text kept literal;
the page well used, small, its fonts subset, its metadata its own.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pymupdf
import pytest

from tests.hostile_catalogue import FORMULAS, MARKUP
from tuiapp.domain.document_kind import DocumentKind
from tuiapp.domain.documents import InvoiceDocument, InvoiceLineData
from tuiapp.domain.periods import Period
from tuiapp.pdf.invoice import invoice_pdf

A4_WIDTH, A4_HEIGHT = 595, 842  # points
MAX_BYTES = 60_000

THREE_LINES = (
    InvoiceLineData("Contribution aux frais d'hébergement", Decimal(30), Decimal("41.15"), Decimal("1234.50")),
    InvoiceLineData("Déduction absences (hospitalisation)", Decimal(-3), Decimal("41.15"), Decimal("-123.45")),
    InvoiceLineData("Forfait blanchissage", Decimal(1), Decimal("22.00"), Decimal("22.00")),
)


@pytest.fixture
def doc() -> InvoiceDocument:
    """A September invoice addressed to the resident's niece, paid by transfer or cheque within 15 days."""
    return InvoiceDocument(
        invoice_id=7, number="FH-202409-007", period=Period(2024, 9), issue_date=date(2024, 9, 30),
        amount_ht=Decimal("1133.05"), lines=THREE_LINES,
        association_name="Les Papillons Blancs du Nord",
        association_address="8 place du Général de Gaulle\n59200 Tourcoing",
        structure_code="FH", structure_name="Foyer Les Tilleuls", structure_address="12 rue des Tilleuls\n59100 Roubaix",
        sender_email="facturation@example.org", sender_name="Foyer Les Tilleuls", reply_to=None, bcc=None,
        subject_template="Facture &numero", body_template="Ci-joint la facture de &personne",
        resident_last_name="Mailly", resident_first_name="Josiane", guardian_name="MAILLY Michèle",
        recipients=("michele.mailly@example.net",),
        association_siret="73282932000074", association_phone="03 20 12 34 56",
        association_email="contact@papillons.example.org", association_website="www.papillons.example.org",
        association_iban="fr76 3000 6000 0112 3456 7890 189", association_bic="AGRIFRPPXXX",
        payment_days=15, structure_finess="590012345", vat_statement="TVA non applicable, art. 261-7-1°-b du CGI",
        billing_contact="Service facturation, Mme Durand\n03 20 12 34 57\nfacturation@papillons.example.org",
        resident_address="Foyer Les Tilleuls\n12 rue des Tilleuls\n59100 Roubaix", guardian_relation="famille",
        guardian_address="4 allée des Acacias\n59000 Lille",
    )


def render(doc: InvoiceDocument) -> bytes:
    return invoice_pdf(doc)


def page_text(data: bytes) -> str:
    """The pages' text, its lines joined by spaces, no-break spaces made plain, ligatures ("ﬁ") undone."""
    flags = pymupdf.TEXTFLAGS_TEXT & ~pymupdf.TEXT_PRESERVE_LIGATURES
    with pymupdf.open(stream=data, filetype="pdf") as document:
        text = " ".join(page.get_text(flags=flags) for page in document)
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " "))


def squeezed(text: str) -> str:
    """``text`` without any space: where a long line wrapped does not matter."""
    return re.sub(r"\s+", "", text)


def in_order(text: str, *parts: str) -> None:
    """Each part is in ``text``, each after the one before."""
    position = 0
    for part in parts:
        found = text.find(part, position)
        assert found >= 0, f"{part!r} missing (or out of order) in {text!r}"
        position = found + len(part)


def test_an_invoice_says_who_bills_whom_for_what_and_how_to_pay(doc):
    text = page_text(render(doc))

    in_order(
        text,
        # the association, then the structure, with their identifiers and contact
        "Les Papillons Blancs du Nord", "8 place du Général de Gaulle", "59200 Tourcoing", "SIRET 732 829 320 00074",
        "Tél. 03 20 12 34 56", "contact@papillons.example.org", "www.papillons.example.org",
        "Foyer Les Tilleuls", "12 rue des Tilleuls", "59100 Roubaix", "FINESS 590012345",
        # the addressee: the guardian, with the relation and the postal address
        "MAILLY Michèle (famille)", "4 allée des Acacias", "59000 Lille",
        "Facture de contribution n° FH-202409-007",
        "Date : 30 septembre 2024", "Période : septembre 2024", "Résident : MAILLY Josiane",
        # lines with their units; a flat charge has none
        "Libellé Quantité Prix unitaire Montant HT",
        "Contribution aux frais d'hébergement 30 jours 41,15 €/jour 1 234,50 €",
        "Déduction absences (hospitalisation) -3 jours 41,15 €/jour -123,45 €",
        "Forfait blanchissage 1 22,00 € 22,00 €",
        "Total HT 1 133,05 €",
        "TVA non applicable, art. 261-7-1°-b du CGI",
        "Montant à régler : 1 133,05 €", "À régler avant le 15 octobre 2024.",
        "Règlement",
        "par virement sur l'IBAN FR76 3000 6000 0112 3456 7890 189, BIC AGRIFRPPXXX, en rappelant le n° FH-202409-007",
        "par chèque à l'ordre de Les Papillons Blancs du Nord, en rappelant le n° FH-202409-007 au dos",
        "Une question sur ce document ?",
        "Service facturation, Mme Durand", "03 20 12 34 57", "facturation@papillons.example.org",
    )
    assert "Montant à déduire" not in text and "prélevé" not in text
    assert "1 jour" not in text and text.count("€/jour") == 2


def test_the_postal_block_sits_on_the_right_as_a_window_envelope_wants(doc):
    with pymupdf.open(stream=render(doc), filetype="pdf") as document:
        page = document[0]
        addressee = page.search_for("MAILLY Michèle (famille)")[0]
        street = page.search_for("4 allée des Acacias")[0]
        association = page.search_for("8 place du Général de Gaulle")[0]
    assert addressee.x0 > A4_WIDTH / 2 and street.x0 > A4_WIDTH / 2
    assert association.x0 < A4_WIDTH / 4
    assert association.y1 < addressee.y0 < street.y0 < A4_HEIGHT / 3


def test_without_a_guardian_the_resident_is_the_addressee(doc):
    text = page_text(render(replace(doc, guardian_name="", guardian_relation="", guardian_address="")))

    in_order(text, "FINESS 590012345", "MAILLY Josiane", "Foyer Les Tilleuls", "12 rue des Tilleuls", "59100 Roubaix",
             "Facture de contribution", "Résident : MAILLY Josiane")
    assert "Michèle" not in text and "famille" not in text and "Acacias" not in text


def test_a_guardian_without_a_relation_is_named_alone(doc):
    text = page_text(render(replace(doc, guardian_name="UDAF du Nord", guardian_relation="",
                                    guardian_address="BP 1234\n59000 Lille Cedex")))
    in_order(text, "FINESS 590012345", "UDAF du Nord", "BP 1234", "59000 Lille Cedex", "Résident : MAILLY Josiane")
    assert "UDAF du Nord (" not in text


def test_direct_debit_says_so_and_gives_no_transfer_or_cheque(doc):
    text = page_text(render(replace(doc, direct_debit=True)))

    in_order(text, "Montant à régler : 1 133,05 €", "Ce montant sera prélevé sur votre compte à partir du 15 octobre 2024.")
    for absent in ("IBAN", "chèque", "Règlement", "À régler"):
        assert absent not in text, absent
    on_receipt = page_text(render(replace(doc, direct_debit=True, payment_days=0)))
    assert "Ce montant sera prélevé sur votre compte." in on_receipt


@pytest.mark.parametrize(("issued", "days", "due"), [
    (date(2024, 9, 30), 0, "À régler à réception."),
    (date(2024, 9, 16), 15, "À régler avant le 1er octobre 2024."),
    (date(2024, 12, 31), 30, "À régler avant le 30 janvier 2025."),
])
def test_the_due_date(doc, issued, days, due):
    assert due in page_text(render(replace(doc, issue_date=issued, payment_days=days)))


def test_a_credit_note_is_deducted_not_paid(doc):
    credit = replace(doc, kind=DocumentKind.AVOIR, number="AV-2024-001", amount_ht=Decimal("-120.00"),
                     lines=(InvoiceLineData("Régularisation absences août", Decimal(-3), Decimal("40.00"),
                                            Decimal("-120.00")),))
    text = page_text(render(credit))

    in_order(text, "Avoir de contribution n° AV-2024-001", "Régularisation absences août -3 jours 40,00 €/jour",
             "Total HT -120,00 €", "TVA non applicable", "Montant à déduire : 120,00 €",
             "Une question sur ce document ?")
    for absent in ("Montant à régler", "À régler", "réception", "octobre", "IBAN", "chèque", "Règlement", "prélevé"):
        assert absent not in text, absent


def test_the_cheque_payee_and_a_missing_iban(doc):
    text = page_text(render(replace(doc, cheque_payee="ADAPEI Les Tilleuls", association_iban="", association_bic="")))
    assert "par chèque à l'ordre de ADAPEI Les Tilleuls" in text
    assert "IBAN" not in text and "BIC" not in text and "virement" not in text


def test_optional_fields_left_empty_print_no_label(doc):
    bare = replace(doc, association_name="", association_siret="", association_phone="", association_email="",
                   association_website="", association_iban="", association_bic="", cheque_payee="",
                   structure_finess="", vat_statement="", billing_contact="", guardian_name="", guardian_address="",
                   guardian_relation="", resident_address="", payment_days=0)
    text = page_text(render(bare))

    for label in ("SIRET", "FINESS", "Tél.", "IBAN", "BIC", "TVA", "chèque", "Règlement", "Une question", "()"):
        assert label not in text, label
    in_order(text, "Foyer Les Tilleuls", "MAILLY Josiane", "Facture de contribution n° FH-202409-007",
             "Total HT 1 133,05 €", "Montant à régler : 1 133,05 €", "À régler à réception.")


HOSTILE = "**x** <b>y</b> [l](u) `c` &amp; &eacute; &#60; </td></tr></table><h1>z</h1>"  # MuPDF decodes entities twice


def test_typed_text_stays_literal(doc):
    typed = {name: f"{name} {HOSTILE}" for name in (
        "association_name", "association_phone", "association_email", "association_website", "cheque_payee",
        "structure_name", "structure_finess", "vat_statement", "guardian_name", "guardian_relation", "number",
        "resident_last_name")}
    multi_line = {name: f"{name} {HOSTILE}\n# {MARKUP[0]}\n===\n- {FORMULAS[0]}" for name in (
        "association_address", "structure_address", "guardian_address", "billing_contact")}
    hostile = replace(doc, **typed, **multi_line, association_iban="", association_siret=f"SIRET {HOSTILE}",
                      lines=(InvoiceLineData(f"label {HOSTILE} | {MARKUP[1]}", Decimal(30), Decimal("41.15"),
                                             Decimal("1234.50")),))
    data = render(hostile)
    text = page_text(data)

    flat = squeezed(text)  # a long text wraps, after "</" for instance
    for name in typed:
        expected = hostile.resident_name if name == "resident_last_name" else typed[name]  # (upper case)
        assert squeezed(expected) in flat, name
    for name in multi_line:
        in_order(flat, *map(squeezed, (f"{name} {HOSTILE}", f"# {MARKUP[0]}", "===", f"- {FORMULAS[0]}")))
    assert squeezed(f"label {HOSTILE} | {MARKUP[1]}") in flat and squeezed(f"SIRET {HOSTILE}") in flat
    with pymupdf.open(stream=data, filetype="pdf") as document:
        sizes = {round(span["size"]) for page in document for block in page.get_text("dict")["blocks"]
                 for line in block.get("lines", ()) for span in line["spans"]
                 if "billing_contact" in span["text"] or "===" in span["text"]}
    assert max(sizes) <= 11  # no line became a heading (16 pt)


def test_three_lines_fill_the_page_below_its_middle(doc):
    assert len(doc.lines) == 3
    with pymupdf.open(stream=render(doc), filetype="pdf") as document:
        page = document[0]
        lowest = max(block[3] for block in page.get_text("blocks"))
        assert document.page_count == 1 and page.rect.height == pytest.approx(A4_HEIGHT, abs=1)
    assert lowest > A4_HEIGHT / 2


LABELS = ("Contribution aux frais d'hébergement", "Déduction absences (hospitalisation)", "Forfait blanchissage",
          "Participation aux repas (week-ends)", "Déduction absences (vacances en famille)",
          "Régularisation août 2024", "Forfait transport (sorties)", "Arrondi")


def with_lines(doc: InvoiceDocument, count: int) -> InvoiceDocument:
    """``doc`` with ``count`` lines and a four-line contact."""
    lines = tuple(InvoiceLineData(f"{LABELS[n % len(LABELS)]} {n}", Decimal(n + 2), Decimal("41.15"),
                                  Decimal("41.15") * (n + 2)) for n in range(count))
    return replace(doc, lines=lines, billing_contact=(
        "Service facturation, Mme Durand\n03 20 12 34 57 (du lundi au vendredi, 9 h à 12 h)\n"
        "facturation@papillons.example.org\n8 place du Général de Gaulle, 59200 Tourcoing"))


@pytest.mark.parametrize(("count", "pages", "name"), [
    (3, 1, "Josiane"), (8, 1, "Josiane"), (40, 2, "Josiane"), (3, 1, "محمد"), (3, 1, "王小明"), (3, 1, "Ζωή 😀")])
def test_small_with_subset_fonts_even_when_long(doc, count, pages, name):
    """Also with a name in other scripts, for which MuPDF brings fonts of its own."""
    data = render(with_lines(replace(doc, resident_first_name=name, guardian_name=f"{name} (famille)"), count))

    assert len(data) <= MAX_BYTES
    with pymupdf.open(stream=data, filetype="pdf") as document:
        assert document.page_count == pages  # eight lines and a long contact still fit on one page
        fonts = {font[3] for page in document for font in page.get_fonts()}
        last_page = document[-1].get_text()
    assert fonts and all(re.fullmatch(r"[A-Z]{6}\+.+", font) for font in fonts), fonts
    assert any("Nimbus Sans" in font for font in fonts)
    assert "Une question sur ce document ?" in last_page and "8 place du Général de Gaulle, 59200 Tourcoing" in last_page


def test_each_document_has_its_own_metadata(doc):
    credit = replace(doc, kind=DocumentKind.AVOIR, number="AV-2024-001", amount_ht=Decimal("-120.00"),
                     resident_first_name="Paul", period=Period(2024, 10), structure_name="MAS Les Oliviers")
    with pymupdf.open(stream=render(doc), filetype="pdf") as first, \
            pymupdf.open(stream=render(credit), filetype="pdf") as second:
        assert first.metadata["title"] == "Facture FH-202409-007 - MAILLY Josiane - septembre 2024"
        assert first.metadata["author"] == "Foyer Les Tilleuls"
        assert first.metadata["subject"] == "Facture de contribution - Foyer Les Tilleuls - septembre 2024"
        assert second.metadata["title"] == "Avoir AV-2024-001 - MAILLY Paul - octobre 2024"
        assert second.metadata["author"] == "MAS Les Oliviers"
        assert second.metadata["subject"] == "Avoir de contribution - MAS Les Oliviers - octobre 2024"


def dark_share(pixmap: pymupdf.Pixmap, top: int, bottom: int) -> float:
    """The share of pixels darker than mid-grey in rows ``top`` to ``bottom`` of a grey pixmap."""
    samples = pixmap.samples[top * pixmap.stride:bottom * pixmap.stride]
    return sum(1 for value in samples if value < 128) / len(samples)


def test_the_page_renders_to_an_image_with_text_in_both_halves(doc, tmp_path):
    with pymupdf.open(stream=render(doc), filetype="pdf") as document:
        pixmap = document[0].get_pixmap(dpi=72, colorspace=pymupdf.csGRAY)
    png = tmp_path / "page.png"
    pixmap.save(png)

    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert (pixmap.width, pixmap.height) == (A4_WIDTH, A4_HEIGHT)
    half = pixmap.height // 2
    assert dark_share(pixmap, 0, half) > 0.01
    assert dark_share(pixmap, half, pixmap.height) > 0.003


def test_a_demo_invoice_shows_its_days(demo_db):
    from tuiapp.db import queries
    from tuiapp.db.models import Association
    from tuiapp.db.snapshots import document_for

    invoice = next(iter(queries.invoices_to_mail(Period(2024, 9))))
    text = page_text(render(document_for(invoice, Association.get_solo())))

    assert re.search(r"Contribution aux frais d'hébergement 30 jours [\d ]+,\d\d €/jour", text), text
    assert "Montant à régler" in text and "Résident : " in text
