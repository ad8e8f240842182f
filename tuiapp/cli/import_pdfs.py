"""``tuiapp import pdfs FOLDER``: the billing software's own PDFs attached to their invoices."""

from __future__ import annotations

import argparse
from pathlib import Path

from tuiapp.cli.common import EXIT_INCOMPLETE, EXIT_OK, add_db_option, open_existing, say
from tuiapp.domain.errors import TuiappError


def register(kinds) -> None:
    """Adds ``pdfs`` to the ``import`` command's subcommands (``kinds``)."""
    pdfs = kinds.add_parser("pdfs", help="joint à leurs factures les PDF du logiciel de facturation")
    add_db_option(pdfs)
    pdfs.add_argument("folder", metavar="DOSSIER", help="dossier des PDF (le numéro de facture dans le nom du fichier)")
    pdfs.add_argument("--index", metavar="FICHIER",
                      help="CSV ou XLSX aux colonnes « n° facture » et « fichier » (sinon : le nom de chaque fichier)")
    pdfs.add_argument("--dry-run", action="store_true", help="montre ce qui serait joint, sans rien enregistrer")
    pdfs.add_argument("--update-mailed", action="store_true",
                      help="accepte de changer le PDF de factures déjà envoyées (elles deviennent rectifiées, à renvoyer)")
    pdfs.add_argument("--report", metavar="FICHIER.csv", help="écrit aussi les problèmes dans ce fichier CSV")
    pdfs.set_defaults(func=import_pdfs_command)


def import_pdfs_command(args: argparse.Namespace) -> int:
    from tuiapp.services.import_pdfs import import_pdfs

    open_existing(args)
    result = import_pdfs(Path(args.folder).expanduser(), index=args.index and Path(args.index).expanduser(),
                         dry_run=args.dry_run, update_mailed=args.update_mailed)
    return report(result, report_file=args.report)


def _changes(result) -> str:
    parts = []
    if result.created:
        parts.append(f"{result.created} nouveau(x)")
    if result.updated:
        parts.append(f"{result.updated} remplacé(s)")
    text = ", ".join(parts) or "aucun changement"
    return text + (f" ; {result.unchanged} inchangé(s)" if result.unchanged else "")


def report(result, *, report_file: str | None) -> int:
    """Prints what the import found and did, in French; returns the exit code."""
    if report_file is not None:
        _write_report(Path(report_file).expanduser(), result.problems)
    for problem in result.problems:
        say(str(problem))
    if result.dry_run and not result.problems:
        for attachment in result.attachments:
            mailed = " ; déjà envoyée : elle serait rectifiée" if attachment.mailed else ""
            say(f"Facture {attachment.number} : « {attachment.file_name} » ({attachment.change}{mailed})")
    for note in result.notes:
        say(note)
    if result.problems:
        say(f"Import refusé : {len(result.problems)} problème(s) ; rien n'a été enregistré.")
        return EXIT_INCOMPLETE
    count = len(result.mailed_changed)
    if result.dry_run:
        rectified = f" ; {count} facture(s) déjà envoyée(s) serai(en)t rectifiée(s)" if count else ""
        say(f"Simulation : {len(result.attachments)} PDF ({_changes(result)}){rectified} ; rien n'a été enregistré.")
    else:
        rectified = f" ; {count} facture(s) rectifiée(s), à envoyer de nouveau" if count else ""
        say(f"{len(result.attachments)} PDF joint(s) à leur facture ({_changes(result)}){rectified}.")
    return EXIT_OK


def _write_report(path: Path, problems) -> None:
    from tuiapp.services.import_report import write_report

    try:
        write_report(path, problems)
    except OSError as exc:
        raise TuiappError(f"Rapport impossible à écrire dans « {path} » ({exc.strerror or type(exc).__name__}).") \
            from None
