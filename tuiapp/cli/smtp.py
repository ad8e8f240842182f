"""``tuiapp smtp show|set|password|test``: the association's outgoing mail server."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

from tuiapp.cli.common import EXIT_OK, EXIT_USAGE, add_db_option, open_existing, say, warn
from tuiapp.domain.auth_method import AuthMethod
from tuiapp.domain.errors import TuiappError
from tuiapp.domain.smtp_security import SmtpSecurity

if TYPE_CHECKING:
    from tuiapp.mail.secrets import Secret


def register(commands) -> None:
    smtp = commands.add_parser("smtp", help="serveur de courrier sortant de l'association")
    actions = smtp.add_subparsers(dest="smtp_command", metavar="ACTION", required=True, parser_class=type(smtp))

    show = actions.add_parser("show", help="affiche les réglages")
    add_db_option(show)
    show.set_defaults(func=show_settings)

    change = actions.add_parser("set", help="modifie les réglages")
    add_db_option(change)
    change.add_argument("--host", help="nom du serveur (ex. smtp.office365.com)")
    change.add_argument("--port", type=int, help="port (587 pour STARTTLS, 465 pour SSL)")
    change.add_argument("--security", choices=[mode.value for mode in SmtpSecurity], help="sécurité de la connexion")
    change.add_argument("--username", help="identifiant (vide : pas d'authentification)")
    change.add_argument("--ca-file", help="fichier de certificats d'autorité (vide : ceux du système)")
    change.add_argument("--rate", type=int, help="messages par minute au plus (0 : sans limite)")
    change.add_argument("--timeout", type=int, help="délai d'attente du serveur, en secondes")
    change.add_argument("--auth", choices=[method.value for method in AuthMethod],
                        help="authentification : mot de passe, ou OAuth 2.0 (application, ou connexion par code)")
    change.add_argument("--tenant", help="OAuth : ID de l'annuaire Entra (ou son domaine)")
    change.add_argument("--client-id", help="OAuth : ID d'application (client)")
    change.add_argument("--certificate", metavar="PEM",
                        help="OAuth application : fichier PEM avec la clé privée et le certificat (vide : le secret)")
    change.add_argument("--authority", metavar="URL",
                        help="OAuth : fournisseur d'identité (par défaut https://login.microsoftonline.com)")
    change.add_argument(
        "--allow-insecure-auth",
        action=argparse.BooleanOptionalAction,
        help="autorise l'authentification sans chiffrement (déconseillé)",
    )
    change.set_defaults(func=set_settings)

    password = actions.add_parser("password", help="enregistre le mot de passe dans le trousseau")
    add_db_option(password)
    password.set_defaults(func=store_password)

    from tuiapp.cli import smtp_oauth

    smtp_oauth.register(actions, add_db_option)

    test = actions.add_parser("test", help="teste la connexion ; avec --to, envoie un message d'essai")
    add_db_option(test)
    test.add_argument("--to", metavar="ADRESSE", help="destinataire d'un message d'essai")
    test.add_argument("--structure", metavar="CODE", help="structure dont l'expéditeur envoie l'essai")
    test.set_defaults(func=test_connection)


def _association():
    from tuiapp.db.models import Association

    return Association.get_solo()


def _password_state(association) -> str:
    from tuiapp.mail.secrets import SecretStoreError, has_password

    if not association.smtp_username:
        return "sans objet (pas d'identifiant)"
    try:
        return "enregistré dans le trousseau" if has_password(association.smtp_host, association.smtp_username) else "absent"
    except SecretStoreError as exc:
        return f"trousseau inutilisable : {exc}"


def _service_config(args: argparse.Namespace):
    """The server's configuration when this base is the service's (service mode), else None."""
    from tuiapp.services.site import locate
    from tuiapp.system_config import Mode

    site = locate(getattr(args, "db", None))
    return site.config if site.mode is Mode.SERVICE else None


def show_settings(args: argparse.Namespace) -> int:
    if (config := _service_config(args)) is not None:
        from tuiapp.cli import smtp_service

        return smtp_service.show(config)
    open_existing(args)
    association = _association()
    rate = association.smtp_rate_per_minute
    say(f"Serveur        : {association.smtp_host}")
    say(f"Port           : {association.smtp_port}")
    say(f"Sécurité       : {SmtpSecurity(association.smtp_security).label}")
    say(f"Identifiant    : {association.smtp_username or '(aucun : pas d’authentification)'}")
    method = AuthMethod(association.smtp_auth_method)
    say(f"Méthode        : {method.label}")
    if method.is_oauth:
        from tuiapp.cli.smtp_oauth import show_lines
        from tuiapp.mail.secret_store import KeyringStore
        from tuiapp.mail.smtp_client import SmtpSettings

        for line in show_lines(SmtpSettings.from_association(association), KeyringStore()):
            say(line)
    else:
        say(f"Mot de passe   : {_password_state(association)}")
    from tuiapp.domain.formatting import counted

    say(f"Débit maximal  : {counted(rate, 'message', 'messages')} par minute" if rate else "Débit maximal  : sans limite")
    say(f"Délai          : {association.smtp_timeout} s")
    say(f"Certificats    : {association.smtp_ca_file or 'ceux du système'}")
    if association.smtp_allow_insecure_auth:
        say("Attention      : authentification autorisée sans chiffrement")
    return EXIT_OK


def set_settings(args: argparse.Namespace) -> int:
    if (config := _service_config(args)) is not None:
        from tuiapp.cli import smtp_service

        return smtp_service.change(config, args)
    open_existing(args)
    association = _association()
    changes = {
        "smtp_host": args.host,
        "smtp_port": args.port,
        "smtp_security": args.security,
        "smtp_username": args.username,
        "smtp_rate_per_minute": args.rate,
        "smtp_timeout": args.timeout,
        "smtp_allow_insecure_auth": args.allow_insecure_auth,
        "smtp_auth_method": args.auth,
        "smtp_oauth_tenant": args.tenant,
        "smtp_oauth_client_id": args.client_id,
        "smtp_oauth_authority": args.authority,
    }
    changes = {field: value for field, value in changes.items() if value is not None}
    if args.certificate is not None:
        from tuiapp.services.forms import check_application_certificate

        changes["smtp_oauth_certificate"] = check_application_certificate(args.certificate, label="--certificate")
    if args.ca_file is not None:
        from tuiapp.domain.validation import check_ca_file

        changes["smtp_ca_file"] = check_ca_file(args.ca_file, label="--ca-file")
    if not changes:
        warn("Rien à modifier : indiquez au moins une option (tuiapp smtp set --help).")
        return EXIT_USAGE
    for field, value in changes.items():
        setattr(association, field, value)
    association.save()
    say("Réglages enregistrés.")
    return show_settings(args)


def _read_password() -> Secret:
    """The password typed (or piped in), held as a ``Secret`` from the moment it is read."""
    from tuiapp.mail.secrets import Secret

    if not sys.stdin.isatty():
        return Secret(sys.stdin.readline().rstrip("\r\n"))
    first = Secret(getpass.getpass("Mot de passe SMTP : "))
    if Secret(getpass.getpass("Confirmez : ")) != first:
        raise TuiappError("Les deux saisies diffèrent : rien n'a été enregistré.")
    return first


def store_password(args: argparse.Namespace) -> int:
    from tuiapp.mail.secrets import set_password

    if (config := _service_config(args)) is not None:
        from tuiapp.cli import smtp_service

        return smtp_service.store_password(config, _read_password)
    open_existing(args)
    association = _association()
    if not association.smtp_username:
        raise TuiappError("Indiquez d'abord l'identifiant : tuiapp smtp set --username ADRESSE")
    set_password(association.smtp_host, association.smtp_username, _read_password())
    say(f"Mot de passe enregistré dans le trousseau pour {association.smtp_username} sur {association.smtp_host}.")
    return EXIT_OK


def test_connection(args: argparse.Namespace) -> int:
    from tuiapp.mail.authenticators import authenticator_for
    from tuiapp.mail.problems import SmtpProblem
    from tuiapp.mail.smtp_client import SmtpSettings, check_connection, send_test_message

    if bool(args.to) != bool(args.structure):
        raise TuiappError("--to et --structure vont ensemble.")
    authenticator = None
    if (config := _service_config(args)) is not None:  # root tries the service's destination and secret
        import os

        from tuiapp.sender.service import connection_for

        if os.getuid() != 0:
            if not args.to:
                raise TuiappError("Sur le serveur de l'association, le service d'envoi fait l'essai : "
                                  "tuiapp smtp test --to ADRESSE --structure CODE (ou demandez à l'administrateur "
                                  "« sudo tuiapp smtp test »).")
            from tuiapp.cli.smtp_service import test_through_service

            return test_through_service(args)
        connection = connection_for(config)
        settings, authenticator = connection.settings, connection.authenticator
    open_existing(args)
    if authenticator is None:
        settings = SmtpSettings.from_association(_association())
        authenticator = authenticator_for(settings)
    tokens = getattr(authenticator, "tokens", None)
    if tokens is not None:  # OAuth: the token first, so that a failure names its step
        from tuiapp.domain.formatting import format_epoch
        from tuiapp.mail.identity_problems import IdentityProblem

        say(f"1. Jeton d'accès auprès de {tokens.authority}...")
        try:
            token = tokens.token()
        except IdentityProblem as problem:
            warn(f"Échec à l'étape « jeton » : {problem}")
            return EXIT_USAGE
        say(f"   obtenu, valable jusqu'à {format_epoch(token.expires_at)}.")
        say(f"2. Connexion à {settings.host}:{settings.port} ({SmtpSecurity(settings.security).label}) "
            f"et authentification XOAUTH2 de {settings.username}...")
    else:
        say(f"Connexion à {settings.host}:{settings.port} ({SmtpSecurity(settings.security).label})...")
    try:
        if args.to:
            from tuiapp.db.models import Structure
            from tuiapp.domain.validation import normalize_email

            to = normalize_email(args.to, field="to", label="--to", required=True)
            assert to is not None  # required: an empty address was refused
            structure = Structure.get_or_none(Structure.code == args.structure.strip().upper())
            if structure is None:
                raise TuiappError(f"Structure inconnue : {args.structure}")
            reply = send_test_message(settings, authenticator, structure, to)
            say(f"Message d'essai envoyé à {to} depuis {structure.sender_email}. Réponse du serveur : {reply}")
        else:
            check_connection(settings, authenticator)
            say("Connexion réussie" + (" : chiffrement et authentification acceptés." if settings.username else ".")
                + (" Jeton accepté par le serveur." if tokens is not None else ""))
    except SmtpProblem as problem:
        warn(f"Échec{_step(problem)} : {problem}")
        return EXIT_USAGE
    return EXIT_OK


def _step(problem) -> str:
    """Which step of the test failed, for a French sentence."""
    from tuiapp.mail.authenticators import failed_step

    return f" à l'étape « {failed_step(problem)} »"
