"""A real SMTP server on loopback for the tests: aiosmtpd with STARTTLS, AUTH and faults.

The TLS certificate is made by the test (trustme) for 127.0.0.1 and localhost;
the client trusts it through the CA file the association is given.

Given a fake identity provider (``oauth=``, ``tests.fake_idp``), the server is Office 365 for a
tenant without basic authentication: it offers AUTH XOAUTH2, accepts a bearer token the provider
issued for the mailbox, and refuses LOGIN/PLAIN passwords (535 5.7.139).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword

if TYPE_CHECKING:
    from tests.fake_idp import FakeIdentityProvider

USERNAME = "facturation@example.org"
PASSWORD = "S3cret-pass-for-tests!"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)


@dataclass
class Faults:
    """Failures to inject; each list is consumed from its front."""

    data_replies: list[str] = field(default_factory=list)  # e.g. "451 4.3.0 Try later" for the next DATA
    refuse_recipients: set[str] = field(default_factory=set)
    quota_after: int | None = None  # 554 5.2.0 once this many messages were accepted
    drop_on_mail: set[int] = field(default_factory=set)  # drop the connection at the Nth MAIL FROM (1-based)
    hold_data: dict[int, float] = field(default_factory=dict)  # Nth message: kept, replied to this late
    drop_after_data: set[int] = field(default_factory=set)  # Nth message: keep it, close without replying
    sender_refused: str | None = None  # a 5xx reply to every DATA, e.g. 550 5.7.60
    # Nth message: kept, then this is run (in a thread: it may block) before the 250 reply,
    # e.g. another process taking the client's database lock, or filling its disk.
    on_data: dict[int, Callable[[], object]] = field(default_factory=dict)
    # the reply to the next AUTH, whatever its mechanism and credentials, e.g.
    # "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant"
    auth_replies: list[str] = field(default_factory=list)


class Handler:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.faults = Faults()
        self.mail_count = 0
        self.data_started = threading.Event()
        self.refuse_reply = "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"
        self.lock = threading.Lock()
        self.sessions = 0  # connections open now
        self.most_sessions = 0  # the most ever open at once
        self.opened = 0  # connections ever opened (the controller's own readiness check included)

    def session_opened(self) -> None:
        with self.lock:
            self.sessions += 1
            self.opened += 1
            self.most_sessions = max(self.most_sessions, self.sessions)

    def session_closed(self) -> None:
        with self.lock:
            self.sessions -= 1

    async def handle_AUTH(self, server, session, envelope, args):
        if self.faults.auth_replies:
            return self.faults.auth_replies.pop(0)
        return MISSING  # the mechanism's own exchange

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mail_count += 1
        if self.mail_count in self.faults.drop_on_mail:
            server.transport.close()
            return "421 4.4.2 Connection dropped by the test"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.faults.refuse_recipients:
            return self.refuse_reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server, session, envelope):
        if self.faults.data_replies:
            return self.faults.data_replies.pop(0)
        if self.faults.sender_refused:
            return self.faults.sender_refused
        if self.faults.quota_after is not None and len(self.received) >= self.faults.quota_after:
            return "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; quota"
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, time.time()))
            number = len(self.received)
        if number in self.faults.hold_data:  # accepted, but the reply is late
            self.data_started.set()
            await asyncio.sleep(self.faults.hold_data[number])
        if number in self.faults.on_data:
            await asyncio.get_running_loop().run_in_executor(None, self.faults.on_data[number])
        if number in self.faults.drop_after_data:
            server.transport.abort()
            return "250 2.0.0 never seen by the client"
        return f"250 2.0.0 OK queued as {number}"


XOAUTH2_OK = "235 2.7.0 Authentication successful"
XOAUTH2_REFUSED = "535 5.7.3 Authentication unsuccessful"
BASIC_AUTH_DISABLED = "535 5.7.139 Authentication unsuccessful, basic authentication is disabled"
_XOAUTH2 = re.compile(r"user=([^\x01]+)\x01auth=Bearer ([^\x01 ]+)\x01\x01")


class OAuthHandler(Handler):
    """A handler that adds AUTH XOAUTH2 (aiosmtpd offers a mechanism for each ``auth_*`` method):
    a token ``oauth`` issued for its mailbox is accepted, as Office 365 does."""

    def __init__(self, oauth: FakeIdentityProvider) -> None:
        super().__init__()
        self.oauth = oauth
        self.xoauth2_attempts: list[tuple[str, str, bool]] = []  # (user, token, ok); "" where unreadable

    async def auth_XOAUTH2(self, server, args):
        if len(args) == 2:
            blob = args[1].encode()
        else:  # no initial response: an empty challenge, then the client's line
            response = await server.challenge_auth("")
            if response is MISSING:
                return AuthResult(success=False, handled=True)
            blob = base64.b64encode(response)
        try:
            text = base64.b64decode(blob, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            text = ""
        match = _XOAUTH2.fullmatch(text)
        user, token = match.groups() if match else ("", "")
        ok = bool(match) and user == self.oauth.mailbox and self.oauth.accepts(token, user)
        with self.lock:
            self.xoauth2_attempts.append((user, token, ok))
        if ok:
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""), message=XOAUTH2_OK)
        return AuthResult(success=False, handled=False, message=XOAUTH2_REFUSED)


class _CountingSMTP(SMTP):
    """An SMTP session that tells its handler when its connection opens and closes
    (once each: STARTTLS makes a second ``connection_made`` on the same session)."""

    _counted = False

    def connection_made(self, transport) -> None:
        if not self._counted and self._original_transport is None:
            self._counted = True
            self.event_handler.session_opened()
        super().connection_made(transport)

    def connection_lost(self, error) -> None:
        if self._counted:
            self._counted = False
            self.event_handler.session_closed()
        super().connection_lost(error)


class _CountingController(Controller):
    def factory(self):
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == USERNAME
        and auth_data.password.decode() == PASSWORD
    )
    return AuthResult(success=ok, handled=False)


def _basic_auth_disabled(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=False, handled=False, message=BASIC_AUTH_DISABLED)


class SmtpTestServer:
    """Start/stop an aiosmtpd server; ``handler.received`` is what it got.

    With ``oauth`` (a started ``FakeIdentityProvider``), AUTH is XOAUTH2 only (``handler`` is then an
    ``OAuthHandler``, its ``xoauth2_attempts`` recorded) and ``auth`` is implied."""

    def __init__(
        self, workdir: Path, *, tls: str = "starttls", auth: bool = True, oauth: FakeIdentityProvider | None = None
    ) -> None:
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = workdir / "test-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.port = free_port()
        self.oauth = oauth
        self.handler = Handler() if oauth is None else OAuthHandler(oauth)
        self.tls = tls
        self.auth = auth or oauth is not None
        self.controller: Controller | None = None

    def _server_context(self):
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(context)
        return context

    def start(self) -> SmtpTestServer:
        """Listens on ``port``; on another one if something took it since it was chosen free."""
        for attempt in range(5):
            try:
                return self._start()
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or attempt == 4:
                    raise
                self.port = free_port()
        return self

    def _start(self) -> SmtpTestServer:
        params = {}
        if self.auth:
            # aiosmtpd does not count implicit TLS as TLS for AUTH: only STARTTLS needs the check.
            params |= {
                "authenticator": _authenticator if self.oauth is None else _basic_auth_disabled,
                "auth_required": True,
                "auth_require_tls": self.tls == "starttls",
            }
        if self.tls == "starttls":
            params |= {"tls_context": self._server_context(), "require_starttls": True}
        self.controller = _CountingController(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=self._server_context() if self.tls == "ssl" else None,
            server_hostname="localhost",
            **params,
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    @property
    def faults(self) -> Faults:
        return self.handler.faults
