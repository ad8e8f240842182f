"""A connection to the outgoing mail server: TLS, authentication, one message at a time.

Certificates are verified (system CAs, or the configured CA file). AUTH on an
unencrypted connection is refused unless the association allows it. The
socket gets TCP_NODELAY: over TLS, Nagle's algorithm made each command wait
for an acknowledgement and smtplib ran several times slower without it.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tuiapp.domain.auth_method import MICROSOFT_AUTHORITY, AuthMethod
from tuiapp.domain.safe_text import printable
from tuiapp.domain.smtp_security import SmtpSecurity, authentication_in_clear
from tuiapp.mail.problems import (
    CaFileMissing,
    DeliveryUncertain,
    InsecureAuthRefused,
    PasswordMissing,
    ServerUnreachable,
    SmtpProblem,
    TlsUnavailable,
    classify_exception,
    classify_reply,
)
from tuiapp.mail.secrets import Secret

#: How many connections every process together may hold open to one account's server
#: (Office 365 accepts 3 per mailbox); 0: no limit. ``$TUIAPP_SMTP_CONNECTIONS`` overrides
#: it (read when the settings are made) until it moves to the system configuration file.
CONNECTION_LIMIT = 3
CONNECTION_LIMIT_VARIABLE = "TUIAPP_SMTP_CONNECTIONS"


def connection_limit() -> int:
    """The limit of simultaneous connections per account: ``$TUIAPP_SMTP_CONNECTIONS`` or 3."""
    try:
        value = int(os.environ.get(CONNECTION_LIMIT_VARIABLE, ""))
    except ValueError:
        return CONNECTION_LIMIT
    return value if 0 <= value <= 1000 else CONNECTION_LIMIT


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    username: str = ""
    auth_method: AuthMethod = AuthMethod.PASSWORD
    timeout: float = 30
    rate_per_minute: int = 30
    ca_file: str | None = None
    allow_insecure_auth: bool = False
    connection_limit: int = field(default_factory=connection_limit)
    # OAuth 2.0 (``auth_method`` oauth2-app or oauth2-device): the Entra tenant and application,
    # the certificate (a PEM file with its private key; else the client secret in the secret
    # store) and the identity provider (Microsoft's unless set).
    tenant: str = ""
    client_id: str = ""
    certificate: str | None = None
    authority: str = ""

    @property
    def oauth_authority(self) -> str:
        """The identity provider's address, without a trailing slash."""
        return (self.authority or MICROSOFT_AUTHORITY).rstrip("/")

    @property
    def account(self) -> str:
        """Whose limits these are: the server and the user name, lower-cased."""
        return f"{self.host}:{self.port}:{self.username}".lower()

    def __post_init__(self) -> None:
        # the form and the database hand over the stored text: it becomes the enum (or is refused) here
        object.__setattr__(self, "security", SmtpSecurity(self.security))
        object.__setattr__(self, "auth_method", AuthMethod(self.auth_method))

    @classmethod
    def from_association(cls, association) -> SmtpSettings:
        return cls(
            host=association.smtp_host,
            port=association.smtp_port,
            security=association.smtp_security,
            username=association.smtp_username,
            auth_method=association.smtp_auth_method,
            timeout=association.smtp_timeout,
            rate_per_minute=association.smtp_rate_per_minute,
            ca_file=association.smtp_ca_file,
            allow_insecure_auth=association.smtp_allow_insecure_auth,
            tenant=association.smtp_oauth_tenant,
            client_id=association.smtp_oauth_client_id,
            certificate=association.smtp_oauth_certificate,
            authority=association.smtp_oauth_authority,
        )


class Authenticator(Protocol):
    """How a connection proves who it is: a password, or an OAuth 2.0 token (``xoauth2``)."""

    def authenticate(self, smtp: smtplib.SMTP) -> None: ...

    def renew(self) -> bool:
        """Forget the current credentials, so that the next ``authenticate`` gets fresh
        ones (OAuth: a new access token); False when there is nothing to renew."""
        ...


class NoAuthentication:
    def authenticate(self, smtp: smtplib.SMTP) -> None:
        return None

    def renew(self) -> bool:
        return False


@dataclass
class PasswordAuthenticator:
    """AUTH with a user name and the password read from the keyring (once)."""

    username: str
    password_source: Callable[[], Secret | None] = field(repr=False)
    _password: Secret | None = field(default=None, init=False, repr=False)

    def authenticate(self, smtp: smtplib.SMTP) -> None:
        if self._password is None:
            self._password = Secret.wrap(self.password_source())
        if not self._password:
            raise PasswordMissing()
        smtp.login(self.username, self._password.reveal())

    def renew(self) -> bool:
        return False  # a password is what it is: another try would be refused the same way


def tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    if settings.ca_file and not Path(settings.ca_file).is_file():
        raise CaFileMissing(settings.ca_file)
    return ssl.create_default_context(cafile=settings.ca_file or None)


class _TrackingSMTP(smtplib.SMTP):
    """An SMTP session that knows whether the server may hold the current message.

    ``payload_sent`` turns true once the final dot was written, and stays true
    (the reply is 250, or it never came) until the next message begins, or
    the server refuses this one (a 4xx or 5xx reply to the dot:
    ``SmtpConnection.send`` clears it). Once it is true, the message must
    never be sent again without a decision: its record ends sent, partial,
    failed or unknown, never back in the queue.
    """

    payload_sent: bool = False

    def data(self, msg):
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        payload = smtplib._quote_periods(msg)
        if payload[-2:] != smtplib.bCRLF:
            payload += smtplib.bCRLF
        self.send(payload + b"." + smtplib.bCRLF)
        self.payload_sent = True  # stays true when the reply comes (see above)
        return self.getreply()


class _TrackingSMTPSSL(_TrackingSMTP, smtplib.SMTP_SSL):
    """The same, over TLS from the first byte."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """The server accepted the message for at least one recipient."""

    reply: str
    refused: dict[str, str]  # address -> the server's reply


class SmtpConnection:
    """One open, secured and authenticated connection, reused for a batch."""

    def __init__(self, smtp: _TrackingSMTP) -> None:
        self._smtp: _TrackingSMTP | None = smtp
        self._last = smtp  # kept after close, to tell whether the last message was handed over

    @property
    def payload_sent(self) -> bool:
        """The server may hold the current message: its final dot was written, and
        no refusal came back (see ``_TrackingSMTP``)."""
        return self._last.payload_sent

    @classmethod
    def open(cls, settings: SmtpSettings, authenticator: Authenticator) -> SmtpConnection:
        smtp: _TrackingSMTP | None = None
        stage = "connect"
        try:
            if settings.security is SmtpSecurity.SSL:
                smtp = _TrackingSMTPSSL(
                    settings.host, settings.port, timeout=settings.timeout, context=tls_context(settings)
                )
            else:
                smtp = _TrackingSMTP(settings.host, settings.port, timeout=settings.timeout)
            assert smtp.sock is not None  # the constructor connected: it was given a host
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if settings.security is SmtpSecurity.STARTTLS:
                if not smtp.has_extn("starttls"):
                    raise TlsUnavailable()
                smtp.starttls(context=tls_context(settings))
                smtp.ehlo()
            if not isinstance(authenticator, NoAuthentication):
                if authentication_in_clear(settings.security, settings.allow_insecure_auth):
                    raise InsecureAuthRefused()
                stage = "auth"
                authenticator.authenticate(smtp)
            return cls(smtp)
        except SmtpProblem:
            _abort(smtp)
            raise
        except OSError as exc:  # the socket's, ssl's and smtplib's errors
            _abort(smtp)
            if smtp is None and not isinstance(exc, (ssl.SSLError, smtplib.SMTPResponseException)):
                raise ServerUnreachable() from None  # no session at all: name unknown, refused, timed out
            raise classify_exception(exc, stage=stage) from None  # the greeting's 421, 432 4.3.2 ... too

    def send(self, message_bytes: bytes, sender: str, recipients: list[str]) -> Delivery:
        """Hand one message over; raises a typed ``SmtpProblem`` on any failure."""
        smtp = self._smtp
        assert smtp is not None, "send on a closed connection"
        smtp.payload_sent = False
        stage = "mail"
        try:
            options = []
            if any(not address.isascii() for address in (sender, *recipients)):
                options.append("SMTPUTF8")
            code, reply = smtp.mail(sender, options)
            if code != 250:
                self._reset(smtp)
                raise classify_reply(code, reply, stage="mail")
            stage = "rcpt"
            refused: dict[str, str] = {}
            last_refusal: tuple[int, bytes] | None = None
            for address in recipients:
                code, reply = smtp.rcpt(address)
                if code not in (250, 251):
                    refused[address] = printable(f"{code} {reply.decode('utf-8', 'replace')}", multiline=True)
                    last_refusal = (code, reply)
            if len(refused) == len(recipients):
                assert last_refusal is not None, "no recipient to send to"
                self._reset(smtp)
                problem = classify_reply(*last_refusal, stage="rcpt")
                problem.reply = "; ".join(f"{a} : {r}" for a, r in refused.items())
                problem.code = None
                raise problem
            stage = "data"
            code, reply = smtp.data(message_bytes)
            if 400 <= code < 600:
                smtp.payload_sent = False  # the server said it does not take it
                self._reset(smtp)
                raise classify_reply(code, reply, stage="data")
            if not 200 <= code < 300:  # -1 (a garbled reply) or nonsense: the server may have taken it
                self.close(quit=False)
                raise DeliveryUncertain()
            return Delivery(printable(f"{code} {reply.decode('utf-8', 'replace')}", multiline=True), refused)
        except SmtpProblem:
            raise
        except OSError as exc:  # the socket's and smtplib's errors
            self.close(quit=False)
            raise classify_exception(exc, stage=stage, payload_sent=smtp.payload_sent) from None

    def _reset(self, smtp: _TrackingSMTP) -> None:
        try:
            smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close(quit=False)

    @property
    def is_open(self) -> bool:
        return self._smtp is not None and self._smtp.sock is not None

    def close(self, *, quit: bool = True) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        if quit:
            try:
                smtp.quit()
                return
            except (smtplib.SMTPException, OSError):
                pass
        _abort(smtp)


def _abort(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        try:
            smtp.close()
        except OSError:
            pass


def send_test_message(settings: SmtpSettings, authenticator: Authenticator, structure, to: str) -> str:
    """Send a short test message from the structure's sender; returns the server's reply."""
    from tuiapp.mail.compose import compose_test, message_bytes

    message = compose_test(structure, to)
    connection = SmtpConnection.open(settings, authenticator)
    try:
        return connection.send(message_bytes(message), structure.sender_email, [to]).reply
    finally:
        connection.close()


def check_connection(settings: SmtpSettings, authenticator: Authenticator) -> str:
    """Connect, secure, authenticate and quit; returns the server's greeting name."""
    connection = SmtpConnection.open(settings, authenticator)
    smtp = connection._smtp
    assert smtp is not None  # just opened
    name = smtp.ehlo_resp.decode("utf-8", "replace").splitlines()[0] if smtp.ehlo_resp else ""
    name = printable(name)
    connection.close()
    return name
