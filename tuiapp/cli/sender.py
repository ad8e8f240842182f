"""``tuiapp sender``: the sender service, in the foreground (what the systemd unit runs)."""

from __future__ import annotations

import argparse
import os
import signal

from tuiapp.cli.common import EXIT_OK, EXIT_USAGE, say, warn

EXIT_STOPPED = 1  # --once: a batch stopped by the server or the settings


def register(commands) -> None:
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
    from tuiapp.sending.engine import StopRequest
    from tuiapp.sending.service import SenderService, connection_for
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
    say(f"Service d'envoi arrêté : {drained.sent} envoyée(s), {drained.failed} en échec, "
        f"{drained.unknown} à l'état inconnu.")
    return EXIT_STOPPED if args.once and drained.stopped is not None else EXIT_OK
