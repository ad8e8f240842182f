"""The association's shared server: ``tuiapp server setup|check``, ``tuiapp where``, ``tuiapp sender``."""

from __future__ import annotations

import argparse
import json
import os
import signal
from pathlib import Path

from tuiapp.cli.common import EXIT_OK, EXIT_USAGE, add_db_option, say, warn
from tuiapp.domain.formatting import counted
from tuiapp.domain.safe_text import printable

EXIT_PROBLEMS = 1
EXIT_STOPPED = 1  # sender --once: a batch stopped by the server or the settings


def register(commands) -> None:
    register_where(commands)
    register_sender(commands)
    server = commands.add_parser("server", help="serveur partagé de l'association (installation, vérification)")
    actions = server.add_subparsers(dest="server_command", metavar="ACTION", required=True,
                                    parser_class=type(server))
    setup = actions.add_parser("setup", help="met en place le serveur (en root ; peut être relancé)")
    setup.add_argument("--group", default="tuiapp", help="groupe des opérateurs (tuiapp)")
    setup.add_argument("--admin-group", default="tuiapp-admin", help="groupe des administrateurs (tuiapp-admin)")
    setup.add_argument("--service-user", default="tuiapp", help="compte système du service d'envoi (tuiapp)")
    setup.add_argument("--dir", default="/srv/tuiapp", help="dossier des données (/srv/tuiapp)")
    setup.add_argument("--print-dir", help="dossier des impressions (DIR/impressions)")
    setup.add_argument("--db", metavar="URL", help="une base PostgreSQL (postgresql://UTILISATEUR@SERVEUR/BASE) "
                                                  "plutôt que le fichier SQLite DIR/tuiapp.db")
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
    if any(char in value for char in _UNWRITABLE):
        raise TuiappError(f"{option} : {_UNWRITABLE_TEXT} ne sont pas admis dans ce chemin (il est écrit dans la "
                          "configuration et dans l'unité systemd).")
    return Path(value)


#: What the configuration's strings and systemd's lines would read otherwise (a quote, an
#: escape, a systemd specifier, a space that splits a line).
_UNWRITABLE = ('"', "\\", "%", " ")
_UNWRITABLE_TEXT = "les guillemets (\"), les barres obliques inverses (\\), le signe % et les espaces"


def run_setup(args: argparse.Namespace) -> int:
    from tuiapp.domain.errors import TuiappError
    from tuiapp.services.server_setup import Plan, SetupError, next_steps, setup, tuiapp_executable
    from tuiapp.system_config import is_account_name

    for name, option in ((args.group, "--group"), (args.admin_group, "--admin-group"),
                         (args.service_user, "--service-user")):
        if not is_account_name(name):
            raise TuiappError(f"{option} : nom de compte ou de groupe Unix invalide (lettres, chiffres, . _ -).")
    if args.db is not None:
        from tuiapp.domain.db_target import PostgresTarget, parse_target
        from tuiapp.domain.safe_text import find_control

        if find_control(args.db) is not None or any(char.isspace() or char in _UNWRITABLE for char in args.db):
            raise TuiappError(f"--db : {_UNWRITABLE_TEXT}, comme les caractères de contrôle, ne sont pas admis dans "
                              "l'adresse (elle est écrite dans la configuration et dans l'unité systemd).")

        if not isinstance(parse_target(args.db), PostgresTarget):  # a TargetError (French) for a bad URL
            raise TuiappError("--db : une adresse postgresql://UTILISATEUR@SERVEUR/BASE est attendue (la base "
                              "SQLite, elle, se place dans --dir).")
    plan = Plan(group=args.group, admin_group=args.admin_group, service_user=args.service_user,
                database_url=args.db,
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


def register_where(commands) -> None:
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
        for problem in [*system_config.problems(site.config_path), *system_config.advice(site.config_path)]:
            warn(f"Attention : {problem}")
    return EXIT_OK


def register_sender(commands) -> None:
    sender = commands.add_parser("sender", help="le service d'envoi : envoie les factures mises en file par "
                                                "les opérateurs (au premier plan ; arrêt : SIGTERM)")
    sender.add_argument("--config", metavar="FICHIER", help="configuration du serveur (sinon $TUIAPP_CONFIG, "
                                                              "sinon /etc/tuiapp/tuiapp.toml)")
    sender.add_argument("--once", action="store_true", help="vide la file d'attente puis s'arrête")
    sender.set_defaults(func=run_sender)


def run_sender(args: argparse.Namespace) -> int:
    from tuiapp import system_config
    from tuiapp.db.database import open_database
    from tuiapp.domain.errors import TuiappError
    from tuiapp.sender.service import SenderService, connection_for
    from tuiapp.sending.engine import StopRequest
    from tuiapp.sending.workflow import describe

    environ = {**os.environ, system_config.CONFIG_ENV: args.config} if args.config else os.environ
    config = system_config.load(environ)
    if config is None:
        path, _ = system_config.config_path(environ)
        raise TuiappError(f"Aucune configuration du serveur ({path} absent) : le service d'envoi en a besoin "
                          "(sudo tuiapp server setup).")
    problems = system_config.problems(config.path)
    if problems:
        for problem in problems:
            warn(f"Configuration refusée : {problem}")
        warn("Le service d'envoi n'envoie le mot de passe qu'à un serveur choisi par root.")
        return EXIT_USAGE
    connection = connection_for(config)
    open_database(config.database, create=False)
    stop = StopRequest()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    def on_event(event) -> None:
        for line in describe(event):
            say(line)

    say(f"Service d'envoi démarré : base {config.database}, serveur {connection.settings.host}:"
        f"{connection.settings.port}.")
    try:
        drained = SenderService(connection, stop=stop, on_event=on_event, once=args.once).run()
    except TuiappError as exc:
        warn(f"Erreur : {exc}")
        return EXIT_USAGE
    say(f"Service d'envoi arrêté : {counted(drained.sent, 'envoyée', 'envoyées')}, {drained.failed} en échec, "
        f"{drained.unknown} à l'état inconnu.")
    return EXIT_STOPPED if args.once and drained.stopped is not None else EXIT_OK
