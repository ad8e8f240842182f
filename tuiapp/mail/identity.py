"""OAuth 2.0 access tokens for the SMTP server, from Microsoft's identity platform through MSAL.

Two flows (``AuthMethod``):

- **oauth2-app**, client credentials: the application's own token, proved by a
  certificate (a PEM file with its private key: MSAL signs an assertion with
  it) or a client secret (in the secret store). Scope
  ``https://outlook.office365.com/.default``. For the sender service.
- **oauth2-device**, delegated: a person signs in once with a device code
  (``start_sign_in`` / ``finish_sign_in``), then MSAL's refresh token gets
  each new access token. Scope ``https://outlook.office.com/SMTP.Send``
  (MSAL adds ``offline_access``, hence the refresh token).

MSAL's token cache lives in the secret store (the keyring, or the sender
service's folder), never in the database. The identity provider replaces the
refresh token each time it is used, so the cache is saved after every
change; the processes that share a store renew in turn (``store.lock()``)
and read the cache again first, so that a second process uses the refresh
token the first one was just given.

Only the configured authority is ever contacted: MSAL's instance discovery is
off for an authority other than Microsoft's, and the HTTP session
(``identity_http``) refuses any other host and every redirect (a discovery
document pointing elsewhere cannot pull the secret or the signed assertion
away). Its trust store is the system's plus the CA file.
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tuiapp.domain import timing
from tuiapp.domain.auth_method import AuthMethod
from tuiapp.domain.safe_text import printable
from tuiapp.mail import identity_problems as ip
from tuiapp.mail.identity_http import ForeignEndpoint, identity_session
from tuiapp.mail.problems import CaFileMissing
from tuiapp.mail.secret_store import SecretStore
from tuiapp.mail.secrets import Secret

if TYPE_CHECKING:
    import msal

    from tuiapp.mail.smtp_client import SmtpSettings

APP_SCOPES = ["https://outlook.office365.com/.default"]
DEVICE_SCOPES = ["https://outlook.office.com/SMTP.Send"]  # MSAL adds offline_access, openid, profile
#: A difference between our clock and the identity provider's beyond this is reported as such.
CLOCK_TOLERANCE = 300.0
_PENDING = ("authorization_pending", "slow_down")


@dataclass(frozen=True)
class AccessToken:
    value: Secret = field(repr=False)
    expires_at: float


@dataclass(frozen=True)
class TokenStatus:
    """What the secret store holds, read without asking the identity provider."""

    signed_in: bool  # a refresh token (device code) or a token (application) is kept
    valid_until: float | None  # the current access token's end, if one is kept
    account: str = ""  # the mailbox that signed in (device code)


@dataclass
class SignIn:
    """A device-code sign-in in progress: the code to type at the address, before ``expires_at``."""

    user_code: str
    verification_uri: str
    expires_at: float
    interval: float
    _flow: dict = field(repr=False)
    _app: Any = field(repr=False)
    _cache: Any = field(repr=False)


def application_certificate(path: str) -> dict[str, str]:
    """The application's RSA private key and certificate, from one PEM file, checked here (MSAL would
    fail later, deep inside, with a text of its own); ``CertificateUnreadable`` says what is wrong."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        with open(path, encoding="ascii") as file:
            text = file.read(1_000_000)
    except FileNotFoundError:
        raise ip.CertificateUnreadable(path, "missing") from None
    except (OSError, UnicodeDecodeError):
        raise ip.CertificateUnreadable(path, "unreadable") from None
    key = re.search(r"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", text, re.S)
    certificate = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.S)
    if key is None or certificate is None:
        raise ip.CertificateUnreadable(path, "no-key")
    digest = hashlib.sha256(text.encode("ascii")).hexdigest()
    if digest not in _CERTIFICATE_VERDICTS:
        if len(_CERTIFICATE_VERDICTS) >= 64:
            _CERTIFICATE_VERDICTS.clear()
        try:
            private = serialization.load_pem_private_key(key.group(0).encode("ascii"), password=None)
            x509.load_pem_x509_certificate(certificate.group(0).encode("ascii"))
        except TypeError:  # a passphrase is needed
            _CERTIFICATE_VERDICTS[digest] = "encrypted"
        except ValueError:
            _CERTIFICATE_VERDICTS[digest] = "invalid"
        else:
            _CERTIFICATE_VERDICTS[digest] = None if isinstance(private, rsa.RSAPrivateKey) else "not-rsa"
    if (problem := _CERTIFICATE_VERDICTS[digest]) is not None:
        raise ip.CertificateUnreadable(path, problem)
    return {"private_key": key.group(0), "public_certificate": certificate.group(0)}


#: What ``application_certificate`` found in a file's content, by its SHA-256 (the content itself, a
#: secret, is not kept): loading an RSA key costs 45 ms, and the SMTP window checks its fields at
#: every key typed in any of them.
_CERTIFICATE_VERDICTS: dict[str, str | None] = {}


class TokenSource:
    """Access tokens for the settings' mailbox; raises ``IdentityProblem``s (French) when none can be had."""

    def __init__(self, settings: SmtpSettings, store: SecretStore, *, clock: Callable[[], float] = time.time) -> None:
        if not settings.auth_method.is_oauth:
            raise ValueError("a token source is for the OAuth methods")
        self.settings = settings
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()
        self._token: AccessToken | None = None

    @property
    def authority(self) -> str:
        return f"{self.settings.oauth_authority}/{self.settings.tenant}"

    # -- the access token --------------------------------------------------------

    def token(self, *, fresh: bool = False) -> AccessToken:
        """A token that outlives ``timing.token_margin()``; ``fresh``: a new one, whatever is kept."""
        with self._lock:
            held = self._token
            if not fresh and held is not None and held.expires_at - timing.token_margin() > self.clock():
                return held
            self._token = None
            self._check_settings()
            with self.store.lock():
                cache = self._cache(empty=fresh and self.settings.auth_method is AuthMethod.OAUTH2_APP)
                app = self._app(cache)
                result = self._ask(lambda: self._acquire(app, fresh))
                if result.get("error") == "invalid_grant" and self.settings.auth_method is AuthMethod.OAUTH2_DEVICE:
                    # expired or revoked: the sign-in is dead, say so everywhere (smtp show, the SMTP window)
                    self.store.forget_token_cache(self.settings)
                else:
                    self._save(cache)
            self._token = self._accepted(result)
            return self._token

    def _acquire(self, app, fresh: bool) -> dict:
        if self.settings.auth_method is AuthMethod.OAUTH2_APP:
            return app.acquire_token_for_client(scopes=APP_SCOPES)
        account = self._account(app)
        if account is None:
            raise ip.NotSignedIn()
        result = app.acquire_token_silent_with_error(DEVICE_SCOPES, account, force_refresh=fresh)
        if result is None:
            raise ip.NotSignedIn()
        return result

    def _account(self, app) -> dict | None:
        accounts = app.get_accounts(username=self.settings.username) if self.settings.username else []
        return accounts[0] if accounts else None

    def _accepted(self, result: dict) -> AccessToken:
        if "access_token" not in result:
            raise self._problem(result)
        lifetime = float(result.get("expires_in") or 0)
        return AccessToken(Secret(str(result["access_token"])), self.clock() + lifetime)

    # -- device code ---------------------------------------------------------------

    def start_sign_in(self) -> SignIn:
        """Ask the identity provider for a code that a person types at its address."""
        if self.settings.auth_method is not AuthMethod.OAUTH2_DEVICE:
            raise ip.OAuthSettingsProblem("La connexion par code est pour la méthode oauth2-device "
                                              "(tuiapp smtp set --auth oauth2-device).")
        self._check_settings()
        import msal

        cache = msal.SerializableTokenCache()
        app = self._app(cache)
        flow = self._ask(lambda: app.initiate_device_flow(scopes=DEVICE_SCOPES))
        if "user_code" not in flow:
            raise self._problem(flow)
        return SignIn(user_code=printable(str(flow["user_code"])),
                      verification_uri=printable(str(flow.get("verification_uri", ""))),
                      expires_at=float(flow.get("expires_at") or self.clock() + float(flow.get("expires_in", 900))),
                      interval=float(flow.get("interval", 5)), _flow=flow, _app=app, _cache=cache)

    def finish_sign_in(self, sign_in: SignIn, *, cancel: threading.Event | None = None) -> str:
        """Wait until the person signed in (or ``cancel`` is set: ``SignInCancelled``); returns the account.

        The account must be the settings' mailbox: a token for another would be refused by the
        server under the mailbox's name, or send as someone else.
        """
        cancel = cancel or threading.Event()
        pause = min(sign_in.interval, timing.device_poll())
        while True:
            if cancel.is_set():
                raise ip.SignInCancelled()
            result = self._ask(lambda: sign_in._app.acquire_token_by_device_flow(
                sign_in._flow, exit_condition=lambda flow: True))
            if "access_token" in result:
                break
            if result.get("error") not in _PENDING:
                raise self._problem(result)
            if result.get("error") == "slow_down":  # RFC 8628: five seconds more between two questions
                pause += 5
            if time.time() >= sign_in.expires_at:
                raise self._problem({"error": "expired_token", "error_codes": [70019]})
            if cancel.wait(pause):
                raise ip.SignInCancelled()
        account = str((result.get("id_token_claims") or {}).get("preferred_username", ""))
        if self.settings.username and account.lower() != self.settings.username.lower():
            raise ip.OAuthSettingsProblem(
                f"Connexion faite avec le compte « {printable(account)} », mais la boîte d'envoi réglée est "
                f"« {self.settings.username} » : reconnectez-vous avec ce compte, ou changez la boîte "
                "(tuiapp smtp set --username).")
        with self._lock, self.store.lock():
            self._save(sign_in._cache, always=True)
            self._token = self._accepted(result)
        return account

    def sign_out(self) -> None:
        """Forget the token cache (the refresh token with it)."""
        with self._lock, self.store.lock():
            self.store.forget_token_cache(self.settings)
            self._token = None

    def status(self) -> TokenStatus:
        """What the store holds (no network): signed in, and until when the current token is valid."""
        text = self.store.token_cache(self.settings)
        if not text:
            return TokenStatus(False, None)
        try:
            data = json.loads(text.reveal())
        except ValueError:
            return TokenStatus(False, None)
        client = self.settings.client_id.lower()
        ends = [float(entry.get("expires_on", 0)) for entry in (data.get("AccessToken") or {}).values()
                if str(entry.get("client_id", "")).lower() == client]
        refresh = any(str(entry.get("client_id", "")).lower() == client
                      for entry in (data.get("RefreshToken") or {}).values())
        accounts = [printable(str(entry.get("username", ""))) for entry in (data.get("Account") or {}).values()]
        app_only = self.settings.auth_method is AuthMethod.OAUTH2_APP
        return TokenStatus(refresh or (app_only and bool(ends)), max(ends) if ends else None,
                           accounts[0] if accounts else "")

    # -- MSAL ------------------------------------------------------------------------

    def _check_settings(self) -> None:
        missing = [label for value, label in ((self.settings.tenant, "--tenant"), (self.settings.client_id, "--client-id"),
                                              (self.settings.username, "--username")) if not value]
        if missing:
            raise ip.OAuthSettingsProblem(
                "Réglages OAuth incomplets : indiquez " + ", ".join(missing) + " (tuiapp smtp set).")

    def _cache(self, *, empty: bool = False) -> msal.SerializableTokenCache:
        import msal

        cache = msal.SerializableTokenCache()
        text = None if empty else self.store.token_cache(self.settings)
        if text:
            try:
                cache.deserialize(text.reveal())
            except ValueError:
                pass  # unreadable: as if signed out
        return cache

    def _save(self, cache, *, always: bool = False) -> None:
        if always or cache.has_state_changed:
            self.store.save_token_cache(self.settings, Secret(cache.serialize()))

    def _credential(self) -> dict | str:
        if self.settings.certificate:
            return application_certificate(self.settings.certificate)
        secret = self.store.client_secret(self.settings)
        if not secret:
            raise ip.ClientSecretMissing()
        return secret.reveal()

    def _app(self, cache) -> Any:
        import msal
        from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

        try:
            self._http = identity_session(self.settings.oauth_authority, self.settings.ca_file)
        except FileNotFoundError:
            raise CaFileMissing(self.settings.ca_file or "") from None
        except (OSError, ssl.SSLError):
            raise ip.OAuthSettingsProblem(
                f"Le fichier de certificats « {printable(self.settings.ca_file or '')} » n'est pas lisible ici "
                "(fichier PEM attendu, lisible par ce compte) : tuiapp smtp set --ca-file.") from None
        microsoft = urlsplit(self.settings.oauth_authority).hostname in WELL_KNOWN_AUTHORITY_HOSTS
        options: dict[str, Any] = {"authority": self.authority, "token_cache": cache, "http_client": self._http,
                                   "instance_discovery": None if microsoft else False}

        def build():
            if self.settings.auth_method is AuthMethod.OAUTH2_DEVICE:
                return msal.PublicClientApplication(self.settings.client_id, **options)
            return msal.ConfidentialClientApplication(self.settings.client_id,
                                                      client_credential=self._credential(), **options)

        try:
            return self._ask(build)
        except ValueError as exc:  # MSAL's, at construction (never shown: its text may quote the request)
            if "authority configuration" in str(exc):  # the tenant's discovery document could not be had
                raise ip.TenantNotFound() from None
            raise ip.OAuthSettingsProblem(
                "Réglages OAuth refusés : vérifiez le certificat, l'ID d'application et l'adresse du fournisseur "
                "d'identité (tuiapp smtp set --certificate, --client-id, --authority).") from None

    def _ask(self, call: Callable[[], Any]) -> Any:
        """Run one MSAL call; the network's failures become French problems (never MSAL's texts,
        which may quote the request)."""
        import requests

        try:
            return call()
        except ip.IdentityProblem:
            raise
        except ForeignEndpoint as exc:
            raise ip.OAuthSettingsProblem(
                f"Le fournisseur d'identité renvoie vers un autre serveur ({printable(str(exc))}) : refusé, "
                "le secret ne part que vers l'adresse réglée (--authority).") from None
        except requests.exceptions.SSLError:
            raise ip.IdentityCertificateRejected() from None
        except requests.exceptions.RequestException:
            raise ip.IdentityUnreachable() from None
        except ValueError:
            raise  # MSAL's construction: read by ``_app``
        except Exception as exc:  # MSAL's or PyJWT's own: never a traceback in a batch or the service
            raise ip.OAuthSettingsProblem(
                f"Échec de la connexion Office 365 ({type(exc).__name__}) : vérifiez le certificat et les "
                "réglages OAuth (tuiapp smtp show).") from None

    def _problem(self, result: dict) -> ip.IdentityProblem:
        offset = getattr(getattr(self, "_http", None), "clock_offset", None)
        if offset is not None and abs(offset) > CLOCK_TOLERANCE:
            return ip.ClockOutOfStep(-offset)  # positive: our clock is ahead
        return ip.identity_problem(result)
