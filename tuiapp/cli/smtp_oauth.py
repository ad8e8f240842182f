"""``tuiapp smtp secret|login|logout``, and the OAuth lines of ``smtp show`` (issue 12).

In local mode the secrets are the user's (keyring) and the settings the
database's; on the association's server (service mode) they are the sender
service's (its own folder, written by root for it) and root's configuration file.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuiapp.cli.common import EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE, open_existing, say, warn
from tuiapp.domain.auth_method import AuthMethod
from tuiapp.domain.errors import TuiappError
from tuiapp.domain.formatting import format_epoch

if TYPE_CHECKING:  # the commands import what they use: registering them stays light
    from tuiapp.mail.secret_store import SecretStore
    from tuiapp.mail.smtp_client import SmtpSettings

ROOT_ONLY = ("Sur le serveur de l'association, la connexion Office 365 appartient au service d'envoi : "
             "sudo tuiapp smtp {action}.")


def register(actions, add_db_option) -> None:
    secret = actions.add_parser("secret", help="enregistre le secret de l'application OAuth (Office 365)")
    add_db_option(secret)
    secret.set_defaults(func=store_client_secret)

    login = actions.add_parser("login", help="connexion Office 365 par code (méthode oauth2-device)")
    add_db_option(login)
    login.add_argument("--timeout", type=float, metavar="S",
                       help="abandonne si le code n'est pas saisi dans ce délai (secondes)")
    login.set_defaults(func=sign_in)

    logout = actions.add_parser("logout", help="oublie la connexion Office 365 (jetons)")
    add_db_option(logout)
    logout.set_defaults(func=sign_out)


@dataclass(frozen=True)
class Target:
    """The settings and the secret store this command works on."""

    settings: SmtpSettings
    store: SecretStore


def target(args: argparse.Namespace, *, writes: str | None = None) -> Target:
    """Local mode: the database's settings and the keyring. Service mode: root's configuration and the
    service's folder (``writes``: the action, refused to anyone but root)."""
    from tuiapp.mail.secret_store import FolderStore, KeyringStore
    from tuiapp.mail.smtp_client import SmtpSettings
    from tuiapp.services.site import locate
    from tuiapp.system_config import Mode

    site = locate(getattr(args, "db", None))
    if site.mode is Mode.SERVICE:
        from tuiapp.sender.service import settings_for

        config = site.config
        assert config is not None  # service mode comes from a configuration file
        if writes is not None and os.getuid() != 0:
            raise TuiappError(ROOT_ONLY.format(action=writes))
        if config.smtp is None:
            raise TuiappError(f"La configuration « {config.path} » n'a pas de section [smtp] : sudo tuiapp smtp set ...")
        assert config.secret_dir is not None
        return Target(settings_for(config.smtp), FolderStore(config.secret_dir, _service_owner(config) if writes else None))
    from tuiapp.db.models import Association

    open_existing(args, site)
    return Target(SmtpSettings.from_association(Association.get_solo()), KeyringStore())


def _service_owner(config) -> tuple[int, int]:
    from tuiapp.sender.service import service_account

    return service_account(config)


def _oauth(settings, method: AuthMethod | None = None) -> None:
    if not settings.auth_method.is_oauth or (method is not None and settings.auth_method is not method):
        wanted = method.value if method else "oauth2-app ou oauth2-device"
        raise TuiappError(f"La méthode d'authentification réglée est « {settings.auth_method.label} » : "
                          f"choisissez d'abord {wanted} (tuiapp smtp set --auth {wanted.split()[0]}).")


def store_client_secret(args: argparse.Namespace) -> int:
    from tuiapp.mail.secrets import Secret

    chosen = target(args, writes="secret")
    settings = chosen.settings
    _oauth(settings, AuthMethod.OAUTH2_APP)
    if not settings.client_id or not settings.tenant:
        raise TuiappError("Indiquez d'abord l'application : tuiapp smtp set --tenant ID --client-id ID")
    if sys.stdin.isatty():
        value = Secret(getpass.getpass("Secret de l'application (valeur du secret client) : "))
    else:
        value = Secret(sys.stdin.readline().rstrip("\r\n"))
    if not value:
        raise TuiappError("Secret vide : rien n'a été enregistré.")
    chosen.store.save_client_secret(settings, value)
    say(f"Secret de l'application enregistré dans {chosen.store.description}.")
    if settings.certificate:
        warn("Attention : un certificat est réglé (--certificate) ; il passe avant le secret.")
    return EXIT_OK


def sign_in(args: argparse.Namespace) -> int:
    """Device code: print the address and the code, wait for the sign-in. 0 signed in; 1 the code
    expired, was refused or the wait ran out; 2 the settings are wrong."""
    from tuiapp.mail import identity_problems as ip
    from tuiapp.mail.identity import TokenSource

    if args.timeout is not None and not 0 < args.timeout <= 3600:
        raise TuiappError("--timeout : un nombre de secondes entre 1 et 3600.")
    chosen = target(args, writes="login")
    settings = chosen.settings
    _oauth(settings, AuthMethod.OAUTH2_DEVICE)
    source = TokenSource(settings, chosen.store)
    try:
        started = source.start_sign_in()
    except ip.IdentityProblem as problem:
        warn(f"Échec : {problem}")
        return EXIT_USAGE if problem.settings_problem else EXIT_INCOMPLETE
    deadline = started.expires_at
    if args.timeout is not None:
        deadline = min(deadline, time.time() + args.timeout)
    say(f"Sur un téléphone ou un ordinateur, ouvrez {started.verification_uri}")
    say(f"et saisissez le code : {started.user_code}")
    say(f"Connectez-vous avec la boîte {settings.username}, avant {format_epoch(deadline)}. (Ctrl+C pour annuler)")
    cancel = threading.Event()
    timer = threading.Timer(max(0.0, deadline - time.time()), cancel.set)
    timer.daemon = True
    timer.start()
    try:
        account = source.finish_sign_in(started, cancel=cancel)
    except ip.SignInCancelled:
        warn("Le code n'a pas été saisi à temps : rien n'a changé (tuiapp smtp login pour recommencer).")
        return EXIT_INCOMPLETE
    except KeyboardInterrupt:
        cancel.set()
        warn("Connexion annulée : rien n'a changé.")
        return EXIT_INCOMPLETE
    except (ip.DeviceCodeExpired, ip.SignInDeclined, ip.IdentityUnreachable) as problem:
        warn(f"Échec : {problem}")
        return EXIT_INCOMPLETE
    except ip.IdentityProblem as problem:
        warn(f"Échec : {problem}")
        return EXIT_USAGE
    finally:
        timer.cancel()
    status = source.status()
    say(f"Connecté : {account}. Connexion enregistrée dans {chosen.store.description}"
        + (f" ; jeton valable jusqu'à {format_epoch(status.valid_until)}." if status.valid_until else "."))
    return EXIT_OK


def sign_out(args: argparse.Namespace) -> int:
    from tuiapp.mail.identity import TokenSource

    chosen = target(args, writes="logout")
    _oauth(chosen.settings)
    TokenSource(chosen.settings, chosen.store).sign_out()
    say(f"Connexion Office 365 oubliée ({chosen.store.description}).")
    return EXIT_OK


def show_lines(settings: SmtpSettings, store: SecretStore) -> list[str]:
    """The OAuth lines of ``smtp show``: the application, its proof, the token's state (never the token)."""
    from tuiapp.domain.auth_method import MICROSOFT_AUTHORITY
    from tuiapp.mail.identity import TokenSource
    from tuiapp.mail.secrets import SecretStoreError

    lines = [f"Annuaire       : {settings.tenant or '(à indiquer : --tenant)'}",
             f"Application    : {settings.client_id or '(à indiquer : --client-id)'}",
             f"Fournisseur    : {settings.authority or MICROSOFT_AUTHORITY}"]
    try:
        if settings.auth_method is AuthMethod.OAUTH2_APP:
            if settings.certificate:
                lines.append(f"Preuve         : certificat {settings.certificate}")
            else:
                lines.append("Preuve         : secret " + ("enregistré" if store.client_secret(settings)
                                                             else "absent (tuiapp smtp secret)"))
        status = TokenSource(settings, store).status()
    except SecretStoreError:
        lines.append("Jeton          : détenu par le service d'envoi (illisible pour vous, c'est voulu)")
        return lines
    if settings.auth_method is AuthMethod.OAUTH2_DEVICE:
        lines.append(f"Connexion      : {status.account or settings.username}" if status.signed_in
                     else "Connexion      : aucune (tuiapp smtp login)")
    if status.valid_until and status.valid_until > time.time():
        lines.append(f"Jeton          : valable jusqu'à {format_epoch(status.valid_until)}")
    else:
        lines.append("Jeton          : " + ("expiré, renouvelé au prochain envoi" if status.signed_in
                                            else "aucun pour l'instant"))
    return lines
