"""The app itself, and creating a base: ``tuiapp``, ``init``, ``init-demo``, ``demo``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tuiapp.cli.common import EXIT_OK, add_db_option, open_db, open_existing, say, warn
from tuiapp.domain.db_target import DatabaseTarget, parse_target
from tuiapp.domain.errors import TuiappError
from tuiapp.domain.roles import Role
from tuiapp.locations import demo_db_path, demo_mail_dir, resolve_db_path

if TYPE_CHECKING:
    from tuiapp.system_config import SystemConfig


def register(commands) -> None:
    init = commands.add_parser("init", help="crée une base vide")
    add_db_option(init)
    init.set_defaults(func=init_base)

    demo_init = commands.add_parser("init-demo", help="crée la base de démonstration")
    add_db_option(demo_init)
    demo_init.add_argument("--reset", action="store_true", help="reconstruit une base de démonstration existante")
    demo_init.set_defaults(func=init_demo)

    demo = commands.add_parser(
        "demo", help="crée la base de démonstration si besoin, démarre son serveur de courrier local et ouvre l'application"
    )
    add_db_option(demo)
    demo.set_defaults(func=run_demo)

    server = commands.add_parser("demo-server", help="lance seul le serveur de courrier de démonstration (Ctrl+C pour arrêter)")
    server.add_argument("--port", type=int, default=None, help="port d'écoute (par défaut celui de la démonstration)")
    server.add_argument("--dir", default=None, help="dossier où écrire les messages reçus (.eml)")
    server.set_defaults(func=run_demo_server)


def run_app(args: argparse.Namespace) -> int:
    from tuiapp.services.site import locate
    from tuiapp.system_config import Mode

    site = locate(args.db)
    if site.role is Role.NONE:
        config = site.config
        groups = (config.operator_group, config.admin_group) if config else ("tuiapp", "tuiapp-admin")
        raise TuiappError(f"Votre compte n'est ni dans le groupe {groups[0]} ni dans {groups[1]} : "
                          "demandez à l'administrateur.")
    service_mode = site.mode is Mode.SERVICE
    return _start_tui(open_existing(args, site), service_mode=service_mode, role=site.role,
                      config=site.config if service_mode else None)


def _start_tui(path: DatabaseTarget, *, service_mode: bool = False, role: Role = Role.ADMIN,
               config: SystemConfig | None = None) -> int:
    """The demo's too: local mode, every right."""
    from tuiapp.app import create_app

    app = create_app(path, service_mode=service_mode, role=role, config=config)
    app.run()
    return app.return_code or EXIT_OK


def init_base(args: argparse.Namespace) -> int:
    path, _ = resolve_db_path(args.db)
    if not isinstance(path, Path):  # a PostgreSQL base: its schema is made when it is empty
        open_db(path, create=True)
        say(f"Base à jour : {path}")
        return EXIT_OK
    try:
        existed = path.stat().st_size > 0
    except OSError:  # missing, or in a folder this account cannot enter (open_db then says so)
        existed = False
    open_db(path, create=True)
    say(f"Base {'déjà présente, à jour' if existed else 'créée'} : {path}")
    return EXIT_OK


def _demo_path(args: argparse.Namespace) -> DatabaseTarget:
    return parse_target(args.db) if args.db else demo_db_path()


def _build_demo(path: DatabaseTarget, *, reset: bool) -> None:
    from tuiapp.demo.data import build_demo

    open_db(path, create=True)
    summary = build_demo(reset=reset)
    what = "créée" if summary.created else "déjà présente (rien n'a été modifié ; --reset pour la reconstruire)"
    say(
        f"Base de démonstration {what} : {path}\n"
        f"  {summary.structures} structures, {summary.residents} résidents, {summary.invoices} factures"
    )


def init_demo(args: argparse.Namespace) -> int:
    _build_demo(_demo_path(args), reset=args.reset)
    return EXIT_OK


def run_demo(args: argparse.Namespace) -> int:
    from tuiapp.demo.catchall import start_catchall
    from tuiapp.demo.data import DEMO_SMTP_PORT

    path = _demo_path(args)
    _build_demo(path, reset=False)
    controller = start_catchall(demo_mail_dir(), DEMO_SMTP_PORT)
    if controller is None:
        warn(f"Le port {DEMO_SMTP_PORT} est déjà pris (une autre démonstration tourne ?) : les mails iront à ce serveur-là.")
    else:
        say(f"Serveur de courrier de démonstration sur 127.0.0.1:{DEMO_SMTP_PORT} ; messages reçus dans {demo_mail_dir()}")
    try:
        return _start_tui(path)
    finally:
        if controller is not None:
            controller.stop()


def run_demo_server(args: argparse.Namespace) -> int:
    import threading

    from tuiapp.demo.catchall import start_catchall
    from tuiapp.demo.data import DEMO_SMTP_PORT

    port = args.port or DEMO_SMTP_PORT
    folder = Path(args.dir).expanduser() if args.dir else demo_mail_dir()
    controller = start_catchall(folder, port)
    if controller is None:
        raise TuiappError(f"Le port {port} est déjà pris.")
    say(f"Serveur de courrier de démonstration sur 127.0.0.1:{port} ; messages reçus dans {folder}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    return EXIT_OK
