"""``tuiapp server setup|check``: the association's shared server."""

from __future__ import annotations

import argparse
from pathlib import Path

from tuiapp.cli.common import EXIT_OK, EXIT_USAGE, say, warn

EXIT_PROBLEMS = 1


def register(commands) -> None:
    server = commands.add_parser("server", help="serveur partagé de l'association (installation, vérification)")
    actions = server.add_subparsers(dest="server_command", metavar="ACTION", required=True,
                                    parser_class=type(server))
    setup = actions.add_parser("setup", help="met en place le serveur (en root ; peut être relancé)")
    setup.add_argument("--group", default="tuiapp", help="groupe des opérateurs (tuiapp)")
    setup.add_argument("--admin-group", default="tuiapp-admin", help="groupe des administrateurs (tuiapp-admin)")
    setup.add_argument("--service-user", default="tuiapp", help="compte système du service d'envoi (tuiapp)")
    setup.add_argument("--dir", default="/srv/tuiapp", help="dossier des données (/srv/tuiapp)")
    setup.add_argument("--print-dir", help="dossier des impressions (DIR/impressions)")
    setup.add_argument("--config", default="/etc/tuiapp/tuiapp.toml", help="fichier de configuration")
    setup.add_argument("--unit-dir", default="/etc/systemd/system", help="dossier de l'unité systemd")
    setup.add_argument("--no-systemd", action="store_true", help="écrit l'unité sans l'activer ni la démarrer")
    setup.set_defaults(func=run_setup)

    check = actions.add_parser("check", help="dit ce qui ne va pas, et comment le corriger")
    check.set_defaults(func=run_check)


def _absolute(value: str, option: str) -> Path:
    from tuiapp.domain.errors import TuiappError
    from tuiapp.domain.safe_text import find_control

    if not value or find_control(value) is not None or not Path(value).is_absolute():
        raise TuiappError(f"{option} : un chemin absolu est attendu.")
    return Path(value)


def run_setup(args: argparse.Namespace) -> int:
    from tuiapp.domain.errors import TuiappError
    from tuiapp.services.server_setup import Plan, SetupError, next_steps, setup, tuiapp_executable
    from tuiapp.system_config import is_account_name

    for name, option in ((args.group, "--group"), (args.admin_group, "--admin-group"),
                         (args.service_user, "--service-user")):
        if not is_account_name(name):
            raise TuiappError(f"{option} : nom de compte ou de groupe Unix invalide (lettres, chiffres, . _ -).")
    plan = Plan(group=args.group, admin_group=args.admin_group, service_user=args.service_user,
                data_dir=_absolute(args.dir, "--dir"),
                print_dir=_absolute(args.print_dir, "--print-dir") if args.print_dir else None,
                config=_absolute(args.config, "--config"), unit_dir=_absolute(args.unit_dir, "--unit-dir"),
                systemd=not args.no_systemd)
    try:
        setup(plan, say)
    except SetupError as exc:
        warn(f"Erreur : {exc}")
        return EXIT_USAGE
    say("")
    say("Serveur en place. Ensuite :")
    for step in next_steps(plan, tuiapp_executable()):
        say(f"  - {step}")
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    from tuiapp import system_config
    from tuiapp.services.server_check import problems

    found = problems(system_config.load())
    if not found:
        say("Tout est en place.")
        return EXIT_OK
    for problem in found:
        say(f"- {problem}")
    return EXIT_PROBLEMS
