"""``tuiapp where``: which configuration, which database, which mode, which role, and why."""

from __future__ import annotations

import argparse
import json

from tuiapp.cli.common import EXIT_OK, add_db_option, say, warn
from tuiapp.domain.safe_text import printable


def register(commands) -> None:
    where = commands.add_parser("where", help="dit quelle configuration, quelle base, quel mode et quel rôle s'appliquent")
    add_db_option(where)
    where.add_argument("--json", action="store_true", help="en JSON (pour un script)")
    where.set_defaults(func=show_where)


def show_where(args: argparse.Namespace) -> int:
    from tuiapp import system_config
    from tuiapp.services.site import locate

    site = locate(getattr(args, "db", None))
    if args.json:
        say(json.dumps({key: printable(value) for key, value in site.as_dict().items()}, ensure_ascii=False))
    else:
        configuration = f"{site.config_path} ({site.config_source})" if site.config else site.config_source
        say(f"configuration : {configuration}")
        say(f"base : {site.database} ({site.database_source})")
        say(f"mode : {site.mode.value}")
        say(f"rôle : {site.role.label} ({site.role_reason})")
    if site.config is not None:
        for problem in system_config.problems(site.config_path):
            warn(f"Attention : {problem}")
    return EXIT_OK
