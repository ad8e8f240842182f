"""``tuiapp import residents|invoices FILE``: the billing software's exports (and ``import pdfs``,
``tuiapp.cli.import_pdfs``)."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from tuiapp.cli import import_pdfs
from tuiapp.cli.common import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_USAGE,
    Parser,
    add_db_option,
    checked_report_path,
    open_existing,
    say,
    say_rectified,
    warn,
    write_import_report,
)
from tuiapp.domain.errors import TuiappError

_EPILOG = """\
Codes de sortie : 0 importé (ou --dry-run sans problème), 1 refusé (le rapport dit pourquoi ;
rien n'a été écrit), 2 erreur d'utilisation (option, --map ou profil incorrects, fichier
introuvable, illisible ou d'un format non pris en charge, base inaccessible, droits).

Colonnes reconnues d'après leur titre (majuscules, accents et ponctuation ignorés) :
{fields}{more}

Exemple : tuiapp import {kind} export.csv --map "Réf={key},Commentaire=-" --profile logiciel"""
_MORE = {
    "residents": "\nStructure (code ou nom) et Nom : obligatoires pour un nouveau résident. Une colonne absente laisse\n"
                 "le champ tel quel ; Actif : oui/non, 1/0, vrai/faux (vide : inchangé).",
    "invoices": "\nUne ligne par facture (son montant HT), ou une ligne par ligne de facture : les lignes d'un même "
                "numéro\nforment la facture, dont le total est leur somme. Type : facture (par défaut) ou avoir "
                "(AV),\ndont le montant est négatif.",
}

_WHAT = {
    "residents": ("résidents", "importe les résidents (retrouvés par leur n° résident)", ("créé", "modifié", "inchangé")),
    "invoices": ("factures", "importe les factures et avoirs (retrouvés par leur numéro)",
                 ("créée", "modifiée", "inchangée")),
}


def _epilog(kind: str) -> str:
    """The help's end: the fields of the import, from the import mapping (read when the help is shown)."""
    from tuiapp.services.import_mapping import fields_for

    fields = "\n".join(f"  {item.name:<16} {item.label}{' (obligatoire)' if item.required else ''} : "
                       f"{', '.join(item.synonyms[:4])}…" for item in fields_for(kind))
    return _EPILOG.format(fields=fields, more=_MORE[kind], kind=kind,
                          key="external_id" if kind == "residents" else "number")


def register(commands) -> None:
    command = commands.add_parser("import", help="importe les exports du logiciel de facturation "
                                                 "(résidents, factures, PDF)")
    kinds = command.add_subparsers(dest="import_kind", metavar="TYPE", parser_class=Parser, required=True)
    for kind, (_, summary, _) in _WHAT.items():
        parser = kinds.add_parser(kind, help=summary, description=summary + ".", epilog=partial(_epilog, kind),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        add_db_option(parser)
        parser.add_argument("file", metavar="FICHIER", help="export CSV (; , ou tabulation ; UTF-8 ou Windows-1252) "
                                                           "ou XLSX")
        parser.add_argument("--dry-run", action="store_true", help="vérifie et rapporte, sans rien écrire")
        parser.add_argument("--map", metavar="\"COLONNE=CHAMP,…\"|FICHIER.toml",
                            help="désigne les colonnes (champ ou « - » pour ignorer une colonne) ; les autres "
                                 "sont reconnues d'après leur titre")
        parser.add_argument("--profile", metavar="NOM", help="avec --map : l'enregistre sous ce nom (après un "
                                                             "import réussi) ; seul : réutilise le profil")
        parser.add_argument("--sheet", metavar="FEUILLE", help="XLSX : la feuille à lire (sinon la première)")
        parser.add_argument("--encoding", metavar="ENCODAGE", help="CSV : utf-8, cp1252… (sinon détecté)")
        parser.add_argument("--delimiter", metavar="SÉPARATEUR", help="CSV : « ; », « , » ou « tab » (sinon détecté)")
        parser.add_argument("--report", metavar="FICHIER.csv", help="écrit aussi les problèmes dans ce fichier CSV")
        if kind == "invoices":
            parser.add_argument("--update-mailed", action="store_true",
                                help="accepte de modifier des factures déjà envoyées : elles sont rectifiées et "
                                     "à renvoyer")
        parser.set_defaults(func=run_import, kind=kind)
    import_pdfs.register(kinds)


def _mapping(args, table, kind: str) -> tuple[dict[str, int], dict[str, str] | None]:
    """The mapping to use, and the spec to save as the profile (``--map`` with ``--profile``)."""
    from tuiapp.services import import_mapping as mapping

    if args.map is not None:
        spec = mapping.parse_map_option(args.map)
        return mapping.explicit_mapping(table.headers, kind, spec), spec if args.profile else None
    if args.profile is not None:
        saved = mapping.load_profile(args.profile, kind)
        if saved is None:
            raise mapping.unknown_profile(args.profile, kind)
        try:
            return mapping.explicit_mapping(table.headers, kind, saved), None
        except mapping.ImportUsageError as exc:  # the profile's columns, not this file's
            raise mapping.ImportUsageError(str(exc).replace("--map :", f"--profile {args.profile} :", 1)) from None
    return mapping.guess_mapping(table.headers, kind), None


def _header(table, kind: str, mapping: dict[str, int]) -> None:
    from tuiapp.domain.formatting import counted
    from tuiapp.services.import_mapping import describe_mapping

    if table.format == "xlsx":
        where = f"XLSX, feuille « {table.sheet} »"
    else:
        separator = "tabulation" if table.delimiter == "\t" else f"« {table.delimiter} »"
        where = f"CSV, encodage {table.encoding}, séparateur {separator}"
    say(f"Fichier : {table.source} ({where}) : {counted(len(table.rows), 'ligne de données', 'lignes de données')}.")
    say("Colonnes : " + " ; ".join(describe_mapping(table.headers, kind, mapping)))


def _progress():
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        print(f"\r{done}/{total} lignes vérifiées", end="" if done < total else "\n", file=sys.stderr, flush=True)

    return show


def run_import(args: argparse.Namespace) -> int:
    from tuiapp.domain.roles import Action, refusal
    from tuiapp.services.import_files import read_table
    from tuiapp.services.import_invoices import import_invoices
    from tuiapp.services.import_residents import import_residents
    from tuiapp.services.site import locate

    kind = args.kind
    site = locate(args.db)
    if (reason := refusal(site.role, Action.IMPORT)) is not None:  # operators and administrators
        raise TuiappError(reason)
    report = checked_report_path(args.report)
    table = read_table(Path(args.file).expanduser(), sheet=args.sheet, encoding=args.encoding,
                       delimiter=args.delimiter)
    unused = ["--sheet"] if table.format == "csv" and args.sheet else []
    unused += [name for name, given in (("--encoding", args.encoding), ("--delimiter", args.delimiter))
               if table.format == "xlsx" and given]
    if unused:  # said, not silently dropped: the file is not what the operator thought
        warn(f"{', '.join(unused)} sans effet : ce fichier est un {table.format.upper()}.")
    open_existing(args, site)
    mapping, to_save = _mapping(args, table, kind)
    _header(table, kind, mapping)
    if kind == "residents":
        result = import_residents(table, mapping, dry_run=args.dry_run, progress=_progress())
    else:
        result = import_invoices(table, mapping, dry_run=args.dry_run, update_mailed=args.update_mailed,
                                 progress=_progress())
    for problem in result.problems:
        say(str(problem))
    if any(problem.line == 0 for problem in result.problems):  # the columns themselves
        say('Pour désigner les colonnes : --map "colonne=champ,…" (« colonne=- » en écarte une ; '
            "les champs : tuiapp import … --help).")
    code = _summary(result, kind, args, to_save)
    return code if write_import_report(report, result) else EXIT_USAGE  # said after the outcome


def _summary(result, kind: str, args, to_save: dict[str, str] | None) -> int:
    from tuiapp.domain.formatting import counted
    from tuiapp.services.import_mapping import save_profile

    noun, _, (created, updated, unchanged) = _WHAT[kind]
    counts = ", ".join(counted(count, word, f"{word}s") for count, word in (
        (result.created, created), (result.updated, updated), (result.unchanged, unchanged)))
    if result.refused:
        if result.mailed_changed and not getattr(args, "update_mailed", False):
            say(f"Factures déjà envoyées que ce fichier modifie : {', '.join(result.mailed_changed)} "
                "(--update-mailed pour les rectifier ; elles seront à renvoyer).")
        say(f"Rien n'a été écrit : {counted(len(result.problems), 'problème', 'problèmes')}.")
        return EXIT_INCOMPLETE
    for note in result.notes:
        say(note)
    say_rectified(result)  # with --update-mailed
    if result.dry_run:
        say(f"Simulation, rien n'a été écrit : {counts} si le fichier était importé.")
        if to_save is not None:
            say(f"Profil « {args.profile} » non enregistré (simulation) : il le sera à l'import.")
        return EXIT_OK
    say(f"{noun.capitalize()} : {counts}.")
    if to_save is not None:
        save_profile(args.profile, kind, to_save)
        say(f"Profil « {args.profile} » enregistré pour les {noun}.")
    return EXIT_OK
