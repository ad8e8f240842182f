"""``tuiapp db copy --from FICHIER.db --to postgresql://...``: an SQLite base into PostgreSQL."""

from __future__ import annotations

import argparse
from pathlib import Path

from tuiapp.cli.common import EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE, say, warn
from tuiapp.domain.db_target import PostgresTarget, TargetError, parse_target
from tuiapp.domain.formatting import counted

#: How each table is named in the report (French): singular and plural.
LABELS = {"structure": ("structure", "structures"), "resident": ("résident", "résidents"),
          "invoice": ("facture", "factures"), "invoice_line": ("ligne de facture", "lignes de facture"),
          "send_record": ("envoi", "envois"), "invoice_pdf": ("PDF importé", "PDF importés"),
          "import_profile": ("profil d'import", "profils d'import"), "test_message": ("message d'essai", "messages d'essai")}


def register(commands) -> None:
    group = commands.add_parser("db", help="la base de données (copie vers PostgreSQL)")
    actions = group.add_subparsers(dest="db_command", metavar="ACTION", required=True, parser_class=type(group))
    copy = actions.add_parser(
        "copy", help="copie une base SQLite, historique des envois compris, dans une base PostgreSQL vide",
        description="Copie toute la base (structures, résidents, factures, envois...) en une seule transaction. "
                    "Sort avec 0 une fois fait, 1 si la copie est refusée (rien n'est écrit), 2 si la commande "
                    "est mal formée.")
    copy.add_argument("--from", dest="source", required=True, metavar="FICHIER", help="la base SQLite à copier")
    copy.add_argument("--to", dest="target", required=True, metavar="URL",
                      help="postgresql://UTILISATEUR@SERVEUR:PORT/BASE (vide ; mot de passe dans ~/.pgpass)")
    copy.set_defaults(func=run_copy)


def run_copy(args: argparse.Namespace) -> int:
    from tuiapp.db.database import DatabaseOpenError
    from tuiapp.services.db_copy import CopyRefused, copy_database

    try:
        target = parse_target(args.target)
    except TargetError as exc:
        warn(f"Erreur : --to : {exc}")
        return EXIT_USAGE
    if not isinstance(target, PostgresTarget):
        warn("Erreur : --to : une base PostgreSQL est attendue (postgresql://UTILISATEUR@SERVEUR:PORT/BASE).")
        return EXIT_USAGE
    source = Path(args.source).expanduser()
    try:
        result = copy_database(source, target)
    except (CopyRefused, DatabaseOpenError) as exc:
        warn(f"Copie refusée : {exc} Rien n'a été écrit.")
        return EXIT_INCOMPLETE
    copied = ", ".join(counted(count, *LABELS[table]) for table, count in result.rows.items() if table in LABELS)
    say(f"Copie faite : {source} -> {target}\n  {copied}")
    return EXIT_OK
