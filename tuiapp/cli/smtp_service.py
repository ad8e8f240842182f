"""``tuiapp smtp`` on the association's server (service mode): the settings are root's, in the
configuration file, and the password is the sender service's, in its own folder."""

from __future__ import annotations

import argparse
import os

from tuiapp.cli.common import EXIT_OK, EXIT_USAGE, say, warn
from tuiapp.domain.errors import TuiappError
from tuiapp.domain.smtp_security import SmtpSecurity
from tuiapp.system_config import SystemConfig

ROOT_ONLY = ("Sur le serveur de l'association, le serveur d'envoi et son mot de passe sont réglés par "
             "l'administrateur (root) : sudo tuiapp smtp {action}. Le mot de passe ne part que vers le serveur "
             "qu'il a choisi.")


def show(config: SystemConfig) -> int:
    smtp = config.smtp
    say(f"Configuration  : {config.path} (réglée par root)")
    if smtp is None:
        say("Serveur        : (aucun : section [smtp] absente)")
        return EXIT_OK
    say(f"Serveur        : {smtp.host}")
    say(f"Port           : {smtp.port}")
    say(f"Sécurité       : {SmtpSecurity(smtp.security).label}")
    say(f"Identifiant    : {smtp.username or '(aucun : pas d’authentification)'}")
    say(f"Méthode        : {smtp.auth_method.label}")
    if smtp.auth_method.is_oauth:
        from tuiapp.cli.smtp_oauth import show_lines
        from tuiapp.mail.secret_store import FolderStore
        from tuiapp.sender.service import settings_for

        assert config.secret_dir is not None
        if smtp.certificate:
            say(f"Certificat     : {smtp.certificate} (à rendre lisible par {config.service_user} seul)")
        for line in show_lines(settings_for(smtp), FolderStore(config.secret_dir)):
            say(line)
    else:
        say(f"Mot de passe   : {_password_state(config)}")
    from tuiapp.domain.formatting import counted

    say(f"Débit maximal  : {counted(smtp.rate_per_minute, 'message', 'messages')} par minute" if smtp.rate_per_minute
        else "Débit maximal  : sans limite")
    say(f"Connexions     : {smtp.connection_limit} au plus" if smtp.connection_limit else "Connexions     : sans limite")
    say(f"Certificats    : {smtp.ca_file or 'ceux du système'}")
    if smtp.allow_insecure_auth:
        say("Attention      : authentification autorisée sans chiffrement")
    return EXIT_OK


def _password_state(config: SystemConfig) -> str:
    from tuiapp.mail.secrets import SecretStoreError
    from tuiapp.mail.service_secret import read_password

    assert config.secret_dir is not None
    try:
        return ("enregistré pour le service d'envoi" if read_password(config.secret_dir)
                else "absent (sudo tuiapp smtp password)")
    except SecretStoreError:
        return "détenu par le service d'envoi (illisible pour vous, c'est voulu)"


def change(config: SystemConfig, args: argparse.Namespace) -> int:
    from tuiapp.services.server_config import update_smtp

    if os.getuid() != 0:
        raise TuiappError(ROOT_ONLY.format(action="set ..."))
    changes: dict[str, object] = {
        "host": args.host, "port": args.port, "security": args.security, "username": args.username,
        "rate_per_minute": args.rate, "allow_insecure_auth": args.allow_insecure_auth,
        "auth_method": args.auth, "tenant": args.tenant, "client_id": args.client_id, "authority": args.authority,
    }
    changes = {key: value for key, value in changes.items() if value is not None}
    if args.certificate is not None:
        from tuiapp.services.forms import check_application_certificate

        changes["certificate"] = check_application_certificate(args.certificate, label="--certificate")
    if args.ca_file is not None:
        changes["ca_file"] = args.ca_file.strip() or None
    if args.timeout is not None:
        warn("--timeout : sans effet sur le serveur de l'association (le service attend 30 s).")
    if not changes and args.ca_file is None and args.certificate is None:
        warn("Rien à modifier : indiquez au moins une option (tuiapp smtp set --help).")
        return EXIT_USAGE
    if "host" in changes and config.smtp is None and "security" not in changes:
        changes["security"] = "starttls"
    updated = update_smtp(config, changes)
    say(f"Réglages enregistrés dans {config.path}.")
    return show(updated)


def store_password(config: SystemConfig, password) -> int:
    import pwd

    from tuiapp.mail.service_secret import write_password

    if os.getuid() != 0:
        raise TuiappError(ROOT_ONLY.format(action="password"))
    if config.smtp is None or not config.smtp.username:
        raise TuiappError("Indiquez d'abord l'identifiant : sudo tuiapp smtp set --username ADRESSE")
    try:
        account = pwd.getpwnam(config.service_user)
    except KeyError:
        raise TuiappError(f"Le compte du service d'envoi ({config.service_user}) n'existe pas : "
                          "sudo tuiapp server setup d'abord.") from None
    assert config.secret_dir is not None
    path = write_password(config.secret_dir, password(), owner=(account.pw_uid, account.pw_gid))
    say(f"Mot de passe enregistré pour le service d'envoi ({path}, lisible par {config.service_user} seul).")
    return EXIT_OK


#: How often ``smtp test --to`` reads the outcome again, and how long it waits at most.
TEST_POLL, TEST_WAIT = 0.3, 120.0


def test_through_service(args: argparse.Namespace) -> int:
    """An operator's test message: asked of the sender service, which sends it; its outcome waited for."""
    import time

    from tuiapp.cli.common import open_existing
    from tuiapp.db import heartbeat
    from tuiapp.db.models import Structure
    from tuiapp.domain import timing
    from tuiapp.domain.validation import normalize_email
    from tuiapp.sender import test_requests
    from tuiapp.sending import outbox
    from tuiapp.sending.service_watch import service_text

    to = normalize_email(args.to, field="to", label="--to", required=True)
    assert to is not None
    open_existing(args)
    structure = Structure.get_or_none(Structure.code == args.structure.strip().upper())
    if structure is None:
        raise TuiappError(f"Structure inconnue : {args.structure}")
    request_id = test_requests.request(structure, to, operator=outbox.operator_name())
    say(f"Message d'essai demandé au service d'envoi (pour {to})...")
    started = time.monotonic()
    while time.monotonic() - started < TEST_WAIT:
        result = test_requests.outcome(request_id)
        if result is not None and result.status == "sent":
            say(f"Message d'essai envoyé par le service à {to} depuis {structure.sender_email}. "
                f"Réponse du serveur : {result.reply}")
            return EXIT_OK
        if result is not None and result.status == "failed":
            warn(f"Échec : {result.error}")
            return EXIT_USAGE
        beat = heartbeat.last()
        if (beat is None or beat.stale()) and time.monotonic() - started >= timing.heartbeat_stale():
            warn(f"{service_text(beat)} L'essai attend dans la file.")
            return EXIT_USAGE
        time.sleep(TEST_POLL)
    warn("Le service d'envoi n'a pas fait l'essai à temps ; il attend dans la file.")
    return EXIT_USAGE
