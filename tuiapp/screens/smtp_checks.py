"""What the SMTP window finds out in its threads: the state of the stored secret or sign-in, and the test.

Each function takes the form's values (text as typed, or as ``check_smtp``
cleaned them), asks the keyring (and, for the test, the identity provider and
the SMTP server), and returns what to show: never raises for what the keyring,
the network or the servers do.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from textual.content import Content

from tuiapp.domain.auth_method import AuthMethod
from tuiapp.domain.formatting import format_epoch
from tuiapp.domain.smtp_security import SmtpSecurity
from tuiapp.mail import secrets
from tuiapp.mail.secrets import Secret
from tuiapp.mail.smtp_client import SmtpSettings
from tuiapp.services.forms import switch
from tuiapp.widgets.plain import markup


def settings_from(values: Mapping[str, object], *, timeout: float = 30) -> SmtpSettings:
    """The settings the form's values stand for (the port and the rate read if they are numbers)."""

    def number(name: str, default: int) -> int:
        text = str(values.get(name, "")).strip()
        return int(text) if text.isdecimal() and len(text) < 10 else default

    return SmtpSettings(
        host=str(values.get("smtp_host") or "").strip(), port=number("smtp_port", 587),
        security=SmtpSecurity(str(values.get("smtp_security") or "starttls")),
        username=str(values.get("smtp_username") or "").strip(),
        auth_method=AuthMethod(str(values.get("smtp_auth_method") or "password")), timeout=timeout,
        rate_per_minute=number("smtp_rate_per_minute", 30), ca_file=str(values.get("smtp_ca_file") or "") or None,
        allow_insecure_auth=switch(values.get("smtp_allow_insecure_auth")),
        tenant=str(values.get("smtp_oauth_tenant") or "").strip(),
        client_id=str(values.get("smtp_oauth_client_id") or "").strip().lower(),
        certificate=str(values.get("smtp_oauth_certificate") or "").strip() or None,
        authority=str(values.get("smtp_oauth_authority") or "").strip().rstrip("/"),
    )


def password_state(settings: SmtpSettings) -> str:
    """The state line of the password method: is a password stored for this server and account?"""
    if not settings.username:
        return "Pas d'identifiant : pas d'authentification."
    try:
        stored = secrets.has_password(settings.host, settings.username)
    except secrets.SecretStoreError as exc:
        return str(exc)
    return ("Mot de passe enregistré dans le trousseau pour ce compte." if stored
            else "Aucun mot de passe enregistré pour ce compte : saisissez-le.")


def oauth_state(settings: SmtpSettings) -> str:
    """The state line of an OAuth method: who is signed in, until when the token is valid, and for the
    application without a certificate, whether its secret is stored (typed with ``tuiapp smtp secret``)."""
    from tuiapp.mail.identity import TokenSource
    from tuiapp.mail.secret_store import KeyringStore

    if not (settings.username and settings.tenant and settings.client_id):
        return "OAuth 2.0 : indiquez l'identifiant (la boîte d'envoi), l'annuaire et l'ID d'application."
    store = KeyringStore()
    try:
        status = TokenSource(settings, store).status()
        proof = "L'application prouve son identité avec le certificat." if settings.certificate else ""
        if settings.auth_method is AuthMethod.OAUTH2_APP and not settings.certificate:
            proof = ("Secret d'application enregistré dans le trousseau (pour le changer : tuiapp smtp secret)."
                     if store.client_secret(settings) else
                     "Aucun secret d'application : enregistrez-le avec tuiapp smtp secret, ou indiquez un certificat.")
    except secrets.SecretStoreError as exc:
        return str(exc)
    valid = status.valid_until is not None and status.valid_until > time.time()
    token = f"jeton valable jusqu'à {format_epoch(status.valid_until)}" if valid and status.valid_until else ""
    if settings.auth_method is AuthMethod.OAUTH2_DEVICE:
        if not status.signed_in:
            return "Non connecté à Office 365 : Se connecter (Ctrl+L)."
        return (f"Connecté : {status.account or settings.username} ; "
                + (token or "jeton renouvelé au prochain envoi") + ".")
    return " ".join(part for part in (proof, token.capitalize() + "." if token else "") if part)


def connection_test(settings: SmtpSettings, typed_password: Secret) -> Content:
    """Connect, secure, authenticate (with the typed password, or the stored one, or an OAuth token)
    and quit: what happened, and at which step it failed."""
    from tuiapp.mail.authenticators import failed_step
    from tuiapp.mail.identity_problems import IdentityProblem
    from tuiapp.mail.problems import SmtpProblem
    from tuiapp.mail.smtp_client import Authenticator, NoAuthentication, PasswordAuthenticator, check_connection

    authenticator: Authenticator
    try:
        if settings.auth_method.is_oauth:
            from tuiapp.mail.identity import TokenSource
            from tuiapp.mail.secret_store import KeyringStore
            from tuiapp.mail.xoauth2 import XOAuth2Authenticator

            tokens = TokenSource(settings, KeyringStore())
            try:
                tokens.token()
            except (IdentityProblem, secrets.SecretStoreError) as problem:
                return markup("[red]Échec à l'étape « jeton » : $problem[/]", problem=problem)
            authenticator = XOAuth2Authenticator(settings.username, tokens)
        elif settings.username:
            password = typed_password or secrets.get_password(settings.host, settings.username)
            authenticator = PasswordAuthenticator(settings.username, lambda: password)
        else:
            authenticator = NoAuthentication()
        check_connection(settings, authenticator)
    except SmtpProblem as problem:
        return markup("[red]Échec à l'étape « $step » : $problem[/]", step=failed_step(problem), problem=problem)
    except secrets.SecretStoreError as problem:
        return markup("[red]Échec : $problem[/]", problem=problem)
    except UnicodeError:
        return markup("[red]Échec : le nom du serveur n'est pas valide.[/]")
    except Exception as exc:  # never a silent "Test en cours..."
        return markup("[red]Échec inattendu ($kind).[/]", kind=type(exc).__name__)
    if settings.auth_method.is_oauth:
        return markup("[green]Connexion réussie : jeton obtenu et accepté par le serveur (XOAUTH2).[/]")
    return markup("[green]Connexion réussie" + (" : chiffrement et authentification acceptés.[/]"
                                                 if settings.username else ".[/]"))
