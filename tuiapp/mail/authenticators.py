"""The authenticator the settings call for, with its secrets from the given store."""

from __future__ import annotations

from tuiapp.domain.auth_method import AuthMethod
from tuiapp.mail.secret_store import KeyringStore, SecretStore
from tuiapp.mail.smtp_client import Authenticator, NoAuthentication, PasswordAuthenticator, SmtpSettings


def authenticator_for(settings: SmtpSettings, store: SecretStore | None = None) -> Authenticator:
    """Password, XOAUTH2 (application or device code), or none when no user name is set."""
    store = store if store is not None else KeyringStore()
    if settings.auth_method.is_oauth:
        from tuiapp.mail.identity import TokenSource
        from tuiapp.mail.xoauth2 import XOAuth2Authenticator

        return XOAuth2Authenticator(settings.username, TokenSource(settings, store))
    if not settings.username:
        return NoAuthentication()
    return PasswordAuthenticator(settings.username, lambda: store.password(settings))


def missing_secret(settings: SmtpSettings, store: SecretStore | None = None) -> str | None:
    """Why nothing can be sent yet (French, with what to do), or None: no password for the account,
    no client secret nor certificate for the application, nobody signed in with a device code."""
    from tuiapp.mail import identity_problems as ip
    from tuiapp.mail.problems import PasswordMissing

    store = store if store is not None else KeyringStore()
    if settings.auth_method is AuthMethod.OAUTH2_APP:
        if not settings.certificate and not store.client_secret(settings):
            return str(ip.ClientSecretMissing())
    elif settings.auth_method is AuthMethod.OAUTH2_DEVICE:
        from tuiapp.mail.identity import TokenSource

        if not TokenSource(settings, store).status().signed_in:
            return str(ip.NotSignedIn())
    elif settings.username and not store.password(settings):
        return str(PasswordMissing())
    return None


def failed_step(problem: Exception) -> str:
    """Which step of a connection test ``problem`` stopped: « jeton », « connexion »,
    « authentification » or « envoi » (for a French sentence)."""
    from tuiapp.mail import problems as p
    from tuiapp.mail.identity_problems import IdentityProblem

    if isinstance(problem, IdentityProblem):
        return "jeton"
    if isinstance(problem, (p.AuthenticationFailed, p.PasswordMissing, p.NoAuthOffered, p.InsecureAuthRefused)):
        return "authentification"
    if isinstance(problem, (p.ServerUnreachable, p.ServerRefused, p.TlsUnavailable, p.TlsFailed,
                            p.CertificateRejected)):
        return "connexion"
    return "envoi"
