"""``tuiapp import pdfs FOLDER``: the billing software's own PDFs attached to their invoices."""

from __future__ import annotations

import argparse
from pathlib import Path

from tuiapp.cli.common import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_USAGE,
    add_db_option,
    checked_report_path,
    open_existing,
    say,
    say_rectified,
    write_import_report,
)
from tuiapp.domain.errors import TuiappError
from tuiapp.domain.formatting import counted, plural


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
    from tuiapp.domain.roles import Action, refusal
    from tuiapp.services.import_pdfs import import_pdfs
    from tuiapp.services.site import locate

    site = locate(args.db)
    if (reason := refusal(site.role, Action.IMPORT)) is not None:  # operators and administrators
        raise TuiappError(reason)
    report_file = checked_report_path(args.report)
    open_existing(args, site)
    result = import_pdfs(Path(args.folder).expanduser(), index=args.index and Path(args.index).expanduser(),
                         dry_run=args.dry_run, update_mailed=args.update_mailed)
    return report(result, report_file=report_file, update_mailed=args.update_mailed)


def _changes(result) -> str:
    parts = []
    if result.created:
        parts.append(f"{result.created} {plural(result.created, 'nouveau', 'nouveaux')}")
    if result.updated:
        parts.append(f"{result.updated} {plural(result.updated, 'remplacé', 'remplacés')}")
    text = ", ".join(parts) or "aucun changement"
    return text + (f" ; {result.unchanged} {plural(result.unchanged, 'inchangé', 'inchangés')}" if result.unchanged else "")


def report(result, *, report_file: Path | None, update_mailed: bool = False) -> int:
    """Prints what the import found and did, in French (the problems first, as the report's lines);
    returns the exit code."""
    code = _said(result, update_mailed)
    return code if write_import_report(report_file, result) else EXIT_USAGE  # said after the outcome


def _said(result, update_mailed: bool) -> int:
    for problem in result.problems:
        say(str(problem))
    for note in result.notes:  # on a dry run, what would be attached first
        say(note)
    if not result.problems:
        say_rectified(result)
    if result.problems:
        if result.mailed_changed and not update_mailed:
            say(f"Factures déjà envoyées dont le PDF changerait : {', '.join(result.mailed_changed)} "
                "(--update-mailed pour les rectifier ; elles seront à renvoyer).")
        say(f"Rien n'a été écrit : {counted(len(result.problems), 'problème', 'problèmes')}.")
        return EXIT_INCOMPLETE
    if result.dry_run:
        say(f"Simulation, rien n'a été écrit : {len(result.attachments)} PDF ({_changes(result)}).")
    else:
        say(f"PDF joints à leur facture : {len(result.attachments)} ({_changes(result)}).")
    return EXIT_OK
