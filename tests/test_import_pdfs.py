"""``tuiapp import pdfs``: the billing software's PDFs matched to their invoices, on real files and a real SQLite file."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pymupdf
import pytest

from tests.cli_runner import run_cli
from tuiapp.db.database import db
from tuiapp.db.import_models import InvoicePdf
from tuiapp.db.models import Invoice, SendRecord
from tuiapp.services.import_files import ImportFileError
from tuiapp.services.import_pdfs import MAX_PDF_BYTES, NEW, REPLACED, UNCHANGED, import_pdfs
from tuiapp.services.printing import print_invoices

MAILED = datetime(2024, 10, 3, 9, 30, tzinfo=UTC)


def make_pdf(text: str) -> bytes:
    with pymupdf.open() as document:
        document.new_page().insert_text((72, 72), text)
        return document.tobytes()


def write(folder: Path, name: str, data: bytes | None = None) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(make_pdf(name) if data is None else data)
    return path


def attached() -> dict[str, str]:
    """Invoice number -> the SHA-256 of its imported PDF."""
    return {row.invoice.number: row.sha256 for row in InvoicePdf.select(InvoicePdf, Invoice).join(Invoice)}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def invoices(make_resident, make_invoice):
    josiane = make_resident("MAILLY", "Josiane", email="josiane@example.org")
    jean = make_resident("DUPONT", "Jean", email="jean@example.org")
    return {number: make_invoice(resident, number=number) for number, resident in (
        ("FH-2024-001", josiane), ("FH-2024-0011", jean), ("FH/2024/002", josiane), ("2024-003", jean),
        ("EHPAD-7", jean))}


def test_numbers_match_as_whole_tokens(invoices, tmp_path):
    folder = tmp_path / "pdfs"
    files = {
        "FH-2024-001": write(folder, "Facture FH-2024-001 MAILLY Josiane.pdf"),
        "FH-2024-0011": write(folder, "fh-2024-0011_dupont.PDF"),  # any case, .PDF too
        "FH/2024/002": write(folder, "FH_2024_002.pdf"),  # "/" cannot be in a name
        "2024-003": write(folder, "scan(2024-003).pdf"),
    }
    write(folder, "FH-2024-00111.pdf")  # a longer number is not FH-2024-0011
    write(folder, "XFH-2024-001.pdf")  # nor glued to letters
    write(folder, "EHPAD-70.pdf")

    result = import_pdfs(folder)

    assert result.problems == [] and result.written
    assert attached() == {number: sha(path) for number, path in files.items()}
    assert (result.created, result.updated, result.unchanged) == (4, 0, 0)
    assert {"Fichier « FH-2024-00111.pdf » ignoré : aucune facture ne correspond.",
            "Fichier « XFH-2024-001.pdf » ignoré : aucune facture ne correspond.",
            "Fichier « EHPAD-70.pdf » ignoré : aucune facture ne correspond."} <= set(result.notes)
    # the invoice of the same period left without a PDF is named
    assert "Septembre 2024 : 1 document sans PDF importé, un PDF sera généré : EHPAD-7 (DUPONT Jean)." \
        in result.notes


def test_the_longer_number_is_meant_and_ambiguities_are_refused(make_resident, make_invoice, tmp_path):
    resident = make_resident(email="a@example.org")
    for number in ("FH-2024-001", "2024-001", "FH-2024-002", "fh-9", "FH-9"):
        make_invoice(resident, number=number)
    folder = tmp_path / "pdfs"
    write(folder, "FH-2024-001.pdf")  # holds 2024-001 too: FH-2024-001 is meant
    write(folder, "fh-9.pdf")  # two numbers differ by case only: the name's case decides
    assert import_pdfs(folder, dry_run=True).problems == []
    assert {a.number for a in import_pdfs(folder, dry_run=True).attachments} == {"FH-2024-001", "fh-9"}

    write(folder, "FH-2024-001 et FH-2024-002.pdf")  # one file, two invoices
    write(folder, "copie FH-2024-001.pdf")  # two files, one invoice
    result = import_pdfs(folder)
    reasons = {problem.value: problem.reason for problem in result.problems}
    assert reasons["FH-2024-001 et FH-2024-002.pdf"] == "correspond à plusieurs factures (FH-2024-001, FH-2024-002)."
    assert reasons["copie FH-2024-001.pdf"].startswith("la facture FH-2024-001 a plusieurs fichiers")
    assert "FH-2024-001.pdf" in reasons
    assert str(result.problems[0]).startswith("fichier : valeur « ")
    assert not result.written and InvoicePdf.select().count() == 0  # all or nothing: fh-9 was fine


def test_an_index_file_names_each_invoices_pdf(invoices, tmp_path):
    folder = tmp_path / "pdfs"
    scan = write(folder, "scan-0001.pdf")
    other = write(folder, "scan-0002.pdf")
    index = tmp_path / "index.csv"
    index.write_text("Numéro de facture;Fichier PDF\nFH-2024-001;scan-0001.pdf\nFH/2024/002;scan-0002\n;\n",
                     encoding="utf-8")

    result = import_pdfs(folder, index=index)

    assert result.problems == []
    assert attached() == {"FH-2024-001": sha(scan), "FH/2024/002": sha(other)}

    index.write_text("N° facture;fichier\nFH-2024-001;absent.pdf\nNOPE-1;scan-0001.pdf\nEHPAD-7;../x.pdf\n"
                     "2024-003;\n", encoding="utf-8")
    refused = import_pdfs(folder, index=index)
    assert [str(problem) for problem in refused.problems] == [
        "ligne 2, colonne fichier : valeur « absent.pdf » : aucun fichier PDF ordinaire de ce nom dans le dossier.",
        "ligne 3, colonne N° facture : valeur « NOPE-1 » : aucune facture n'a ce numéro.",
        "ligne 4, colonne fichier : valeur « ../x.pdf » : le nom d'un fichier du dossier est attendu, sans chemin.",
        "ligne 5, colonne fichier : valeur «  » : nom de fichier manquant.",
    ]
    index.write_text("numero;chemin d'accès\n", encoding="utf-8")
    missing = import_pdfs(folder, index=index)
    assert missing.problems[0].reason.startswith("colonnes « n° facture » et « fichier » attendues")


def test_only_real_pdfs_of_at_most_10_mb(invoices, tmp_path):
    folder = tmp_path / "pdfs"
    write(folder, "FH-2024-001.pdf")
    write(folder, "FH-2024-0011.pdf", b"%PDF-1.7\nnot really a pdf\n")
    write(folder, "2024-003.pdf", b"")
    huge = write(folder, "EHPAD-7.pdf", make_pdf("big"))
    with huge.open("ab") as file:  # still a PDF to MuPDF, but too big: refused before it is read
        file.truncate(MAX_PDF_BYTES + 1)

    result = import_pdfs(folder)

    assert {problem.value: problem.reason for problem in result.problems} == {
        "FH-2024-0011.pdf": "ce n'est pas un PDF lisible (PyMuPDF ne l'ouvre pas).",
        "2024-003.pdf": "ce n'est pas un PDF lisible (PyMuPDF ne l'ouvre pas).",
        "EHPAD-7.pdf": "fichier trop gros (10,0 Mo) : 10 Mo au plus.",
    }
    assert InvoicePdf.select().count() == 0  # the good one waits for the others

    with huge.open("r+b") as file:
        file.truncate(MAX_PDF_BYTES)  # at the limit: accepted (MuPDF ignores what follows %%EOF)
    os.remove(folder / "FH-2024-0011.pdf")
    os.remove(folder / "2024-003.pdf")
    assert import_pdfs(folder).problems == [] and set(attached()) == {"FH-2024-001", "EHPAD-7"}


def test_links_and_other_files_are_left_aside(invoices, tmp_path):
    folder = tmp_path / "pdfs"
    target = write(tmp_path / "elsewhere", "anything.pdf")
    folder.mkdir()
    (folder / "FH-2024-001.pdf").symlink_to(target)
    os.mkfifo(folder / "EHPAD-7.pdf")
    (folder / "2024-003.pdf").mkdir()
    (folder / "sub").mkdir()
    write(folder / "sub", "FH-2024-0011.pdf")  # not recursive

    result = import_pdfs(folder)

    assert result.problems == [] and InvoicePdf.select().count() == 0
    assert "Fichier « FH-2024-001.pdf » ignoré : c'est un lien symbolique." in result.notes
    assert "Fichier « EHPAD-7.pdf » ignoré : ce n'est pas un fichier ordinaire." in result.notes
    assert "Fichier « 2024-003.pdf » ignoré : ce n'est pas un fichier ordinaire." in result.notes
    with pytest.raises(ImportFileError, match="Dossier introuvable"):
        import_pdfs(tmp_path / "absent")


def test_a_pdf_is_replaced_only_when_its_bytes_differ(invoices, tmp_path):
    folder = tmp_path / "pdfs"
    path = write(folder, "FH-2024-001.pdf")
    ticks: list[tuple[int, int]] = []
    first = import_pdfs(folder, progress=lambda done, total: ticks.append((done, total)))
    assert (first.created, first.written) == (1, True) and ticks == [(1, 1)]
    stored = InvoicePdf.get()
    assert bytes(stored.data) == path.read_bytes() and stored.file_name == "FH-2024-001.pdf"

    again = import_pdfs(folder)
    assert (again.created, again.updated, again.unchanged, again.written) == (0, 0, 1, False)
    assert [a.change for a in again.attachments] == [UNCHANGED]
    assert InvoicePdf.get().imported_at == stored.imported_at

    write(folder, "FH-2024-001.pdf", make_pdf("corrigée"))
    changed = import_pdfs(folder)
    assert (changed.updated, [a.change for a in changed.attachments]) == (1, [REPLACED])
    assert attached() == {"FH-2024-001": sha(path)} and InvoicePdf.select().count() == 1


def test_a_mailed_invoice_changes_only_with_update_mailed(invoices, tmp_path):
    Invoice.update(last_mailed_at=MAILED).where(Invoice.number == "FH-2024-001").execute()
    folder = tmp_path / "pdfs"
    write(folder, "FH-2024-001.pdf")
    write(folder, "EHPAD-7.pdf")

    refused = import_pdfs(folder)
    assert refused.mailed_changed == ["FH-2024-001"] and [p.value for p in refused.problems] == ["FH-2024-001.pdf"]
    assert refused.problems[0].reason.startswith("la facture FH-2024-001 a déjà été envoyée (")
    assert refused.problems[0].reason.endswith("et son PDF changerait : elle n'est rectifiée (et à renvoyer) "
                                               "que sur demande.")
    assert not refused.written and InvoicePdf.select().count() == 0

    accepted = import_pdfs(folder, update_mailed=True)
    assert accepted.written and accepted.mailed_changed == ["FH-2024-001"]
    assert not any("rectifiées" in note for note in accepted.notes)  # mailed_changed: each interface says it
    invoice = Invoice.get(Invoice.number == "FH-2024-001")
    assert invoice.rectified_at is not None and invoice.last_mailed_at is None  # to be sent again
    assert Invoice.get(Invoice.number == "EHPAD-7").rectified_at is None  # never mailed: not rectified

    Invoice.update(last_mailed_at=MAILED).where(Invoice.number == "FH-2024-001").execute()
    same = import_pdfs(folder)  # the same bytes: nothing changes, nothing to accept
    assert same.problems == [] and same.mailed_changed == []
    assert Invoice.get(Invoice.number == "FH-2024-001").last_mailed_at == MAILED


def test_an_invoice_waiting_to_be_sent_keeps_its_pdf(invoices, tmp_path):
    from tuiapp.sending import outbox

    outbox.queue_invoices([invoices["FH-2024-001"].id], operator="marie")
    folder = tmp_path / "pdfs"
    write(folder, "FH-2024-001.pdf")
    result = import_pdfs(folder)
    assert [problem.reason for problem in result.problems] == [
        "la facture FH-2024-001 est en attente d'envoi ou en cours d'envoi : importez après l'envoi "
        "(ou retirez-la de la file)."]
    assert InvoicePdf.select().count() == 0


def test_an_invoice_whose_last_send_is_unknown_keeps_its_pdf(invoices, tmp_path):
    SendRecord.create(invoice=invoices["FH-2024-001"], recipients="a@example.org", status="unknown")
    folder = tmp_path / "pdfs"
    write(folder, "FH-2024-001.pdf")
    result = import_pdfs(folder, update_mailed=True)
    assert [problem.reason for problem in result.problems] == [
        "la facture FH-2024-001 a un envoi à l'état inconnu (le message est peut-être parti) : décidez d'abord "
        "s'il est arrivé (tuiapp resolve, ou k dans l'onglet Envoi), puis importez."]
    assert InvoicePdf.select().count() == 0 and not result.written


def test_a_dry_run_lists_what_would_be_attached_and_writes_nothing(invoices, tmp_path):
    Invoice.update(last_mailed_at=MAILED).where(Invoice.number == "FH-2024-001").execute()
    folder = tmp_path / "pdfs"
    write(folder, "FH-2024-001.pdf")
    write(folder, "EHPAD-7.pdf")

    result = import_pdfs(folder, dry_run=True, update_mailed=True)

    assert [(a.number, a.file_name, a.change, a.mailed) for a in result.attachments] == [
        ("EHPAD-7", "EHPAD-7.pdf", NEW, False), ("FH-2024-001", "FH-2024-001.pdf", NEW, True)]
    assert result.notes[:2] == [  # what the CLI and the Import screen show
        "Facture EHPAD-7 : « EHPAD-7.pdf » (nouveau).",
        "Facture FH-2024-001 : « FH-2024-001.pdf » (nouveau ; déjà envoyée : elle serait rectifiée)."]
    assert not any("rectifiées" in note for note in result.notes)  # mailed_changed: each interface says it
    assert not result.written and InvoicePdf.select().count() == 0
    assert Invoice.get(Invoice.number == "FH-2024-001").last_mailed_at == MAILED


def test_printing_uses_the_imported_pdf(invoices, tmp_path):
    folder = tmp_path / "pdfs"
    path = write(folder, "FH-2024-001.pdf")
    import_pdfs(folder)
    own, generated = invoices["FH-2024-001"], invoices["EHPAD-7"]

    result = print_invoices([own.id, generated.id], tmp_path / "out")

    assert result.failures == []
    printed = {p.name.split("_")[1]: p for p in result.files}
    assert printed["FH-2024-001"].read_bytes() == path.read_bytes()
    with pymupdf.open(printed["EHPAD-7"]) as document:
        assert "EHPAD-7" in document[0].get_text()


def test_an_altered_imported_pdf_is_neither_printed_nor_sent(invoices, tmp_path):
    from tuiapp.db.models import Association
    from tuiapp.db.snapshots import document_for
    from tuiapp.mail.compose import CompositionError
    from tuiapp.sending.message import build_message

    folder = tmp_path / "pdfs"
    write(folder, "FH-2024-001.pdf")
    import_pdfs(folder)
    own = invoices["FH-2024-001"]
    with pymupdf.open() as other:  # a good PDF, but not the one imported (its hash stays the first's)
        other.new_page().insert_text((72, 72), "Autre montant")
        InvoicePdf.update(data=other.tobytes()).where(InvoicePdf.invoice == own.id).execute()

    result = print_invoices([own.id], tmp_path / "out")
    assert result.files == [] and [failure.reason for failure in result.failures] == [
        "PDF importé altéré dans la base (son empreinte ne correspond plus) : importez-le de nouveau"]
    with pytest.raises(CompositionError, match="PDF importé altéré"):
        build_message(document_for(Invoice.get_by_id(own.id), Association.get_solo()), "")


def run(*args):
    return run_cli("import", "pdfs", *args)


def run_process(*args):
    return subprocess.run([sys.executable, "-m", "tuiapp", "import", "pdfs", *args], capture_output=True,
                          text=True, timeout=120)


def test_the_command_reports_in_french_with_its_exit_codes(invoices, tmp_path, db_arg):
    Invoice.update(last_mailed_at=MAILED).where(Invoice.number == "FH-2024-001").execute()
    db.close()
    folder = tmp_path / "pdfs"
    write(folder, "FH-2024-001.pdf")
    write(folder, "EHPAD-7.pdf")
    bad = write(folder, "2024-003.pdf", b"<html>pas un PDF</html>")
    base = [str(folder), "--db", db_arg]

    refused = run(*base, "--report", str(tmp_path / "rapport.csv"))
    assert refused.returncode == 1, refused.stderr
    lines = refused.stdout.splitlines()
    assert "fichier : valeur « 2024-003.pdf » : ce n'est pas un PDF." in lines  # MuPDF reads it as HTML
    assert lines[-1] == "Rien n'a été écrit : 1 problème."
    report = (tmp_path / "rapport.csv").read_text(encoding="utf-8-sig").splitlines()
    assert report == ["ligne;colonne;valeur;raison",
                      "0;;2024-003.pdf;ce n'est pas un PDF."]
    bad.unlink()

    mailed = run(*base, "--dry-run")
    assert mailed.returncode == 1
    assert "a déjà été envoyée" in mailed.stdout and "(--update-mailed pour les rectifier" in mailed.stdout

    dry = run(*base, "--dry-run", "--update-mailed")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert dry.stdout.splitlines()[:2] == [
        "Facture EHPAD-7 : « EHPAD-7.pdf » (nouveau).",
        "Facture FH-2024-001 : « FH-2024-001.pdf » (nouveau ; déjà envoyée : elle serait rectifiée)."]
    assert dry.stdout.splitlines()[-2:] == [
        "Factures qui seraient rectifiées (déjà envoyées, à renvoyer) : FH-2024-001.",
        "Simulation, rien n'a été écrit : 2 PDF (2 nouveaux)."]

    done = run(*base, "--update-mailed")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("Factures rectifiées (déjà envoyées, à renvoyer) : FH-2024-001.") == 1
    assert done.stdout.splitlines()[-1] == "PDF joints à leur facture : 2 (2 nouveaux)."
    again = run(*base)
    assert again.returncode == 0 and again.stdout.splitlines()[-1] == (
        "PDF joints à leur facture : 2 (aucun changement ; 2 inchangés).")

    for args, message in (((str(tmp_path / "absent"), "--db", db_arg), "Dossier introuvable"),
                          ((*base, "--index", str(tmp_path / "absent.csv")), "absent.csv"),
                          ((*base, "--report", str(tmp_path / "no" / "r.csv")), "--report"),
                          ((*base, "--bogus"), "arguments inconnus : --bogus")):
        usage = run(*args)
        assert usage.returncode == 2 and message in usage.stderr and "Traceback" not in usage.stderr, usage.stderr


def test_hostile_file_names_are_shown_and_stored_harmless(make_resident, make_invoice, tmp_path, db_arg, db_target):
    make_invoice(make_resident(email="a@example.org"), number="FH-1")
    make_invoice(make_resident("DUPONT", "Jean", email="b@example.org"), number="FH-2")
    db.close()
    folder = tmp_path / "pdfs"
    folder.mkdir()
    hostile = os.fsencode(folder) + b"/FH-1 \x1b]0;pwned\x07\n.pdf"
    with open(hostile, "wb") as file:
        file.write(make_pdf("un"))
    try:  # not UTF-8 (some file systems refuse such a name)
        with open(os.fsencode(folder) + b"/\xff\xfe FH-2 [bold]x.pdf", "wb") as file:
            file.write(make_pdf("deux"))
        second = "\ufffd\ufffd FH-2 [bold]x.pdf"
    except OSError:
        (folder / "FH-2 [bold]x.pdf").write_bytes(make_pdf("deux"))
        second = "FH-2 [bold]x.pdf"

    result = run_process(str(folder), "--db", db_arg)  # the real command: its output through a pipe

    shown = result.stdout + result.stderr
    assert result.returncode == 0, shown
    assert "\x1b" not in shown and "\x07" not in shown and "Traceback" not in shown
    assert "PDF joints à leur facture : 2 (2 nouveaux)." in shown
    from tuiapp.db.database import open_database

    open_database(db_target)
    names = sorted(row.file_name for row in InvoicePdf.select())
    assert names == sorted(["FH-1 \ufffd]0;pwned\ufffd\ufffd.pdf", second])


def test_numbers_that_do_not_start_and_end_with_a_letter_or_digit_are_found_too():
    from tuiapp.services.pdf_matching import NumberIndex

    index = NumberIndex([(1, "(A)-1"), (2, "FH-1"), (3, "FH/2024/9"), (4, "#7")])
    assert index.find("Facture (A)-1 DUPONT") == {1}
    assert index.find("Facture (A)-12") == set()
    assert index.find("fh_2024_9 et #7") == {3, 4}
    assert index.find("FH-1") == {2} and index.find("FH-10") == set() and index.find("FH-1-x") == {2}


def test_a_short_number_among_other_numbers_of_the_name_is_not_taken(make_resident, make_invoice, tmp_path):
    """Numbers of digits only: « Facture 1500 du 28-10-2024 » is not invoice 28's (a day?), « 28.pdf »
    and « Facture 28 DUPONT.pdf » are; an index names the doubtful file."""
    from tuiapp.services.import_pdfs import import_pdfs

    resident = make_resident()
    for number in ("28", "29", "30"):
        make_invoice(resident, number=number)
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name in ("Facture 1500 du 28-10-2024.pdf", "29.pdf", "Facture 30 DUPONT.pdf"):
        (folder / name).write_bytes(make_pdf(name))
    result = import_pdfs(folder)
    assert not result.problems
    assert sorted(attachment.number for attachment in result.attachments) == ["29", "30"]
    assert ("Fichier « Facture 1500 du 28-10-2024.pdf » ignoré : le n° 28 y est parmi d'autres nombres (une date ?) ; "
            "donnez son fichier dans un index pour l'y joindre.") in result.notes
    index = tmp_path / "index.csv"
    index.write_text("N° facture;Fichier\n28;Facture 1500 du 28-10-2024.pdf\n", encoding="utf-8")
    assert "28" in [attachment.number for attachment in import_pdfs(folder, index=index).attachments]
