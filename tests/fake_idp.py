"""A strict local stand-in for Microsoft's identity platform (Entra ID), for msal and XOAUTH2 tests.

    with FakeIdentityProvider(tmp_path) as idp:          # or the ``idp`` fixture (conftest)
        idp.register_app("app-id", secret="s3cret")
        app = msal.ConfidentialClientApplication("app-id", client_credential="s3cret",
            authority=f"{idp.authority}/{idp.tenant}", instance_discovery=False, http_client=idp.session())

It serves discovery, the device authorization endpoint and the token endpoint (client credentials with
a secret or a certificate's signed assertion, refresh tokens, device codes) over HTTPS on loopback, and
refuses what Entra refuses with Entra's error shape and AADSTS codes (``tests.entra_refusals``).
Access tokens are opaque strings that expire ``token_lifetime`` seconds after they are issued (an
attribute: a test may change it between two tokens); ``accepts`` is what the SMTP test server asks of
them. Refresh tokens are single-use (each use returns the next one). Everything asked and issued is
recorded for the tests' assertions.

msal counts a cached access token with under 5 minutes left as expired: with a short lifetime, each
``acquire_token_*`` asks the provider (a refresh for a user, a new token for an app).
"""

from __future__ import annotations

import errno
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import requests
import trustme

from tests.client_certificates import make_client_certificate
from tests.entra_refusals import EntraError, unavailable
from tests.fake_idp_grants import (
    APP_SCOPE,
    SMTP_SCOPE,
    AccessToken,
    DeviceCode,
    IdentityEndpoints,
    RefreshToken,
    RegisteredApp,
)
from tests.fake_idp_http import serve
from tests.smtp_server import USERNAME, free_port

__all__ = ["FakeIdentityProvider", "make_client_certificate", "EntraError", "TENANT", "SMTP_SCOPE", "APP_SCOPE"]

TENANT = "8c2d6f1e-4b7a-4e39-a5d0-3f91c7b2e604"


class FakeIdentityProvider(IdentityEndpoints):
    def __init__(
        self,
        workdir: Path,
        *,
        token_lifetime: float = 3.0,
        device_interval: int = 1,
        device_lifetime: int = 60,
        mailbox: str = USERNAME,
    ) -> None:
        # Records for the tests' assertions (appended under ``lock``).
        self.token_requests: list[tuple[str, str, bool]] = []  # (grant_type, client_id, ok)
        self.refusals: list[tuple[str, int]] = []  # (error, AADSTS code) of each refused request
        self.issued_access_tokens: list[str] = []
        self.issued_refresh_tokens: list[str] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every HTTP request
        self.device_polls = 0
        self.internal_errors: list[str] = []  # tracebacks of the fake's own bugs (none, its tests check)
        self.token_lifetime = token_lifetime
        self.device_interval = device_interval
        self.device_lifetime = device_lifetime
        self.mailbox = mailbox
        self.tenant = TENANT
        self._ca = trustme.CA()
        self._certificate = self._ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = workdir / "idp-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_file))
        self.port = free_port()
        self.authority = f"https://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self._changed = threading.Condition(self.lock)
        self.apps: dict[str, RegisteredApp] = {}
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self._devices: dict[str, DeviceCode] = {}  # by device_code
        self._id_token_key = secrets.token_bytes(32)
        self._server: Any = None
        self._failures: list[int] = []  # statuses of the next requests (fail_next)

    # --- life

    def start(self) -> FakeIdentityProvider:
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._certificate.configure_cert(context)
        for attempt in range(5):  # the port was free when chosen; something may have taken it since
            try:
                self._server, _ = serve(self, self.port, context)
                return self
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or attempt == 4:
                    raise
                self.port = free_port()
                self.authority = f"https://127.0.0.1:{self.port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeIdentityProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def session(self) -> requests.Session:
        """A requests session for msal's ``http_client`` that trusts this provider's CA only.

        ``trust_env`` is off: requests lets $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE (set on many machines,
        this one included) override a session's ``verify``, so ``session.verify = ca_file`` alone fails."""
        session = requests.Session()
        session.verify = str(self.ca_file)
        session.trust_env = False
        return session

    # --- what the tests arrange

    def register_app(
        self,
        client_id: str,
        *,
        secret: str | None = None,
        certificate_pem: bytes | None = None,
        public: bool = False,
        mailboxes: tuple[str, ...] | None = None,
    ) -> None:
        """Register an application: a confidential client has a ``secret`` and/or a certificate; ``public``
        allows the device flow. ``mailboxes`` (default: ``self.mailbox``) are those its application tokens
        may send as."""
        with self.lock:
            self.apps[client_id] = RegisteredApp(
                client_id, secret, certificate_pem, public, (self.mailbox,) if mailboxes is None else mailboxes
            )

    def approve(self, user_code: str | None = None, mailbox: str | None = None) -> str:
        """The user signs in at the verification page with ``user_code`` (None: the latest pending code)
        as ``mailbox`` (None: ``self.mailbox``) and consents; return the code approved."""
        return self._settle(user_code, "approved", mailbox or self.mailbox)

    def decline(self, user_code: str | None = None) -> str:
        """The user refuses at the verification page: the next poll gets authorization_declined."""
        return self._settle(user_code, "declined", None)

    def wait_for_poll(self, polls: int = 1, timeout: float = 5.0) -> DeviceCode:
        """Block until the latest device code was polled ``polls`` times; return it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                latest = list(self._devices.values())[-1] if self._devices else None
                if latest is not None and latest.polls >= polls:
                    return latest
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no device code polled {polls} time(s) within {timeout} s")
                self._changed.wait(left)

    def revoke(self, mailbox: str | None = None) -> None:
        """Revoke every refresh token of ``mailbox`` (password reset, "revoke sessions"): AADSTS50173."""
        mailbox = (mailbox or self.mailbox).lower()
        with self.lock:
            for record in self._refresh.values():
                if record.mailbox.lower() == mailbox and record.state == "active":
                    record.state = "revoked"

    def expire_access_tokens(self, mailbox: str | None = None) -> None:
        """Make the access tokens issued so far expire now (all of them, or the delegated ones of
        ``mailbox``), though msal still holds them in its cache."""
        with self.lock:
            for token in self._access.values():
                if mailbox is None or (token.mailbox or "").lower() == mailbox.lower():
                    token.expires_at = min(token.expires_at, time.time())

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """The next ``count`` HTTP requests (any endpoint) get ``status`` (5xx or 429), Entra's
        temporarily_unavailable. msal raises ``MsalServiceError`` for a 5xx token answer, and its
        http client then replays that answer to the same request for 5 s (its default throttle)."""
        with self.lock:
            self._failures.extend([status] * count)

    def _take_failure(self) -> EntraError | None:
        with self.lock:
            return unavailable(self._failures.pop(0)) if self._failures else None

    # --- what the SMTP server asks

    def accepts(self, token: str, mailbox: str) -> bool:
        """True for an access token issued here, not expired, that lets its holder send as ``mailbox``:
        a delegated SMTP.Send token of that user, or an application token of an app granted the mailbox."""
        with self.lock:
            issued = self._access.get(token)
            if issued is None or time.time() >= issued.expires_at:
                return False
            if issued.mailbox is not None:
                return issued.mailbox.lower() == mailbox.lower() and issued.scope == SMTP_SCOPE
            app = self.apps.get(issued.client_id)
            return app is not None and mailbox.lower() in (m.lower() for m in app.mailboxes)

    def _settle(self, user_code: str | None, state: str, mailbox: str | None) -> str:
        with self._changed:
            pending = [c for c in self._devices.values() if c.state == "pending" and time.time() < c.expires_at]
            chosen = pending[-1:] if user_code is None else [c for c in pending if c.user_code == user_code]
            if not chosen:
                raise LookupError(f"no pending device code {user_code or ''}".strip())
            chosen[0].state, chosen[0].mailbox = state, mailbox
            self._changed.notify_all()
            return chosen[0].user_code
