"""What can go wrong when sending, as types.

The engine decides from the type alone: retry the message, fail this invoice
and go on, or stop the whole batch. ``tuiapp.sending.wording`` turns each into
French for the TUI and the CLI.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl

from tuiapp.domain.errors import TuiappError
from tuiapp.domain.safe_text import printable

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


class SmtpProblem(TuiappError):
    """A failure reported by, or on the way to, the mail server.

    ``reply`` is the server's own text (never anything we sent, so never a
    password), its control characters replaced (``printable``) as soon as it
    is set: it is stored, logged and shown.
    """

    #: Try the same message again after a pause.
    retryable = False
    #: Stop the batch: a settings or server problem that every invoice would hit.
    stops_batch = True
    #: The association's settings (or the keyring) must change before it can work.
    settings_problem = False

    def __init__(self, code: int | None = None, reply: str = "", detail: str = "") -> None:
        self.code = code
        self.reply = reply
        self.detail = printable(detail)
        super().__init__()

    @property
    def reply(self) -> str:
        return self._reply

    @reply.setter
    def reply(self, text: str) -> None:
        self._reply = printable(text.strip(), multiline=True)

    @property
    def server_reply(self) -> str:
        return f"{self.code} {self.reply}".strip() if self.code else self.reply

    def __str__(self) -> str:
        from tuiapp.sending.wording import explain

        return explain(self)


class ServerUnreachable(SmtpProblem):
    retryable = True


class TlsUnavailable(SmtpProblem):
    """The server does not offer STARTTLS."""
    settings_problem = True


class CertificateRejected(SmtpProblem):
    """The server's certificate could not be verified."""
    settings_problem = True


class TlsFailed(SmtpProblem):
    settings_problem = True


class InsecureAuthRefused(SmtpProblem):
    """AUTH asked on a connection without TLS, and not allowed."""
    settings_problem = True


class AuthenticationFailed(SmtpProblem):
    settings_problem = True


class BasicAuthDisabled(AuthenticationFailed):
    """5.7.30 / 5.7.139: the provider has turned password authentication off."""


class PasswordMissing(SmtpProblem):
    settings_problem = True


class SenderRefused(SmtpProblem):
    settings_problem = True


class QuotaExceeded(SmtpProblem):
    pass


class TransientFailure(SmtpProblem):
    """4xx, connection lost or timeout before the message was handed over."""

    retryable = True
    stops_batch = False


class DeliveryUncertain(SmtpProblem):
    """The connection broke after the whole message was sent, before the reply."""

    stops_batch = False


class MessageRejected(SmtpProblem):
    """A permanent refusal of this one message."""

    stops_batch = False


def enhanced_code(text: str) -> str | None:
    match = _ENHANCED.search(text or "")
    return ".".join(match.groups()) if match else None


def _decode(reply) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply or "")


def classify_reply(code: int, reply, *, stage: str) -> SmtpProblem:
    """The problem a non-success reply stands for (``stage``: mail, rcpt, data)."""
    text = _decode(reply)
    enhanced = enhanced_code(text) or ""
    if code == 421 or 400 <= code < 500:
        return TransientFailure(code, text)
    if enhanced == "5.2.0" or "submissionquota" in text.lower():
        return QuotaExceeded(code, text)
    if enhanced in ("5.7.30", "5.7.139"):
        return BasicAuthDisabled(code, text)
    if code in (530, 535, 534, 538):
        return AuthenticationFailed(code, text)
    if stage == "mail" or enhanced.startswith("5.7."):
        # 5.7.x (send-as denied, relay refused, ...) is about the account, not this invoice.
        return SenderRefused(code, text)
    return MessageRejected(code, text)


def classify_exception(exc: BaseException, *, payload_sent: bool = False) -> SmtpProblem:
    """Turn what smtplib, ssl or the socket raised into a typed problem."""
    if isinstance(exc, SmtpProblem):
        return exc
    if isinstance(exc, ssl.SSLCertVerificationError):
        return CertificateRejected(detail=exc.verify_message or "")
    if isinstance(exc, ssl.SSLError):
        return TlsFailed(detail=exc.reason or type(exc).__name__)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        text = _decode(exc.smtp_error)
        if enhanced_code(text) in ("5.7.30", "5.7.139"):
            return BasicAuthDisabled(exc.smtp_code, text)
        if 400 <= exc.smtp_code < 500:
            return TransientFailure(exc.smtp_code, text)
        return AuthenticationFailed(exc.smtp_code, text)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return classify_reply(exc.smtp_code, exc.smtp_error, stage="mail")
    if isinstance(exc, smtplib.SMTPDataError):
        return classify_reply(exc.smtp_code, exc.smtp_error, stage="data")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        code, reply = replies[0] if replies else (550, b"")
        if all(400 <= c < 500 for c, _ in replies):
            return TransientFailure(code, _decode(reply))
        return MessageRejected(code, "; ".join(f"{a} : {c} {_decode(r)}" for a, (c, r) in exc.recipients.items()))
    if isinstance(exc, smtplib.SMTPResponseException):
        return classify_reply(exc.smtp_code, exc.smtp_error, stage="other")
    if isinstance(exc, (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError, socket.timeout, OSError)):
        if payload_sent:
            return DeliveryUncertain(detail=type(exc).__name__)
        return TransientFailure(detail=type(exc).__name__)
    return MessageRejected(detail=type(exc).__name__)
