"""The send policy from a table of real replies: what each one is, and what the engine does.

Each row: a server's reply as real servers send it (Office 365 mostly), at the
stage of the session it answers, or what smtplib, ssl or the socket raised;
the problem class it must be read as; and the decision at the first try and
at the last (``max_tries`` 3) with a password (nothing to renew), and with
credentials that can be renewed (OAuth: one fresh token before stopping).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass

import pytest

from tests.smtp_server import free_port
from tuiapp.mail import problems as p
from tuiapp.mail.problems import STAGES, classify_exception, classify_reply
from tuiapp.mail.smtp_client import NoAuthentication, PasswordAuthenticator, SmtpConnection, SmtpSettings, tls_context
from tuiapp.sending.policy import MAX_TRIES, Decision, decide

RETRY, RENEW, DEFER, FAIL, STOP, UNCERTAIN = (
    Decision.RETRY, Decision.RENEW_AND_RETRY, Decision.DEFER, Decision.FAIL_INVOICE, Decision.STOP_BATCH,
    Decision.UNCERTAIN,
)
LAST = MAX_TRIES - 1


@dataclass(frozen=True)
class Reply:
    code: int
    text: str
    stage: str

    def problem(self) -> p.SmtpProblem:
        return classify_reply(self.code, self.text.encode(), stage=self.stage)


@dataclass(frozen=True)
class Raised:
    exc: OSError
    stage: str
    payload_sent: bool = False

    def problem(self) -> p.SmtpProblem:
        return classify_exception(self.exc, stage=self.stage, payload_sent=self.payload_sent)


@dataclass(frozen=True)
class Client:
    """Raised by the client itself, not read from a reply; ``make`` meets it the real way."""

    make: object

    def problem(self) -> p.SmtpProblem:
        try:
            self.make()
        except p.SmtpProblem as problem:
            return problem
        raise AssertionError("no problem raised")


def _password_missing():
    PasswordAuthenticator("compta", lambda: None).authenticate(None)


def _token_refused():
    """What the OAuth authenticator raises when the server refuses its token: a 535 5.7.3 reads
    the same for a password and a token, only the authenticator knows which it sent."""
    raise p.TokenRefused(535, f"5.7.3 Authentication unsuccessful {O365}")


def _ca_file_missing():
    tls_context(SmtpSettings(host="smtp.example.org", ca_file="/nonexistent/ca.pem"))


def _nothing_listens():
    SmtpConnection.open(SmtpSettings(host="127.0.0.1", port=free_port(), security="none", username=""),
                        NoAuthentication())


def _plain_server(security: str):
    """A server on loopback that greets and answers EHLO with no extension (no STARTTLS, no AUTH)."""

    def make():
        listener = socket.create_server(("127.0.0.1", 0))

        def serve():
            connection, _ = listener.accept()
            with connection, connection.makefile("rb") as lines:
                connection.sendall(b"220 plain.example.org ESMTP\r\n")
                for line in lines:
                    connection.sendall(b"221 bye\r\n" if line.upper().startswith(b"QUIT") else b"250 plain\r\n")

        threading.Thread(target=serve, daemon=True).start()
        try:
            SmtpConnection.open(SmtpSettings(host="127.0.0.1", port=listener.getsockname()[1], security=security,
                                             username="compta"), PasswordAuthenticator("compta", lambda: None))
        finally:
            listener.close()

    make.__name__ = f"plain_server_{security}"
    return make


O365 = "[PR3P191CA0012.EURP191.PROD.OUTLOOK.COM 2024-09-02T08:00:00.000Z 08DC]"

# (reply or exception, class, (first, last) with a password, (first, last) when renewable)
ROWS = [
    (Reply(421, "4.3.2 Service not available, closing transmission channel", "connect"),
     p.TransientFailure, (RETRY, STOP), (RETRY, STOP)),
    (Reply(421, "4.3.2 Service not available", "data"), p.TransientFailure, (RETRY, STOP), (RETRY, STOP)),
    (Reply(432, f"4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded {O365}", "data"),
     p.TransientFailure, (RETRY, STOP), (RETRY, STOP)),
    (Reply(451, "4.7.500 Server busy. Please try again later from [203.0.113.7]. (AS770)", "mail"),
     p.TransientFailure, (RETRY, STOP), (RETRY, STOP)),
    (Reply(451, "4.4.0 Message failed to be made redundant due to A shadow copy was required but failed to be "
                "made with an AckStatus of Fail", "data"), p.TransientFailure, (RETRY, STOP), (RETRY, STOP)),
    (Reply(451, "Requested action aborted: local error in processing", "data"),
     p.TransientFailure, (RETRY, STOP), (RETRY, STOP)),
    (Reply(452, "4.5.3 Too many recipients", "rcpt"), p.MessageDeferred, (RETRY, DEFER), (RETRY, DEFER)),
    (Reply(452, "4.2.2 Mailbox full", "data"), p.MessageDeferred, (RETRY, DEFER), (RETRY, DEFER)),
    (Reply(454, "4.7.0 Temporary authentication failure", "auth"),
     p.TransientFailure, (RETRY, STOP), (RETRY, STOP)),
    (Reply(530, f"5.7.57 Client not authenticated to send mail. {O365}", "mail"),
     p.AuthenticationFailed, (STOP, STOP), (RENEW, RENEW)),
    (Reply(535, f"5.7.3 Authentication unsuccessful {O365}", "auth"),
     p.AuthenticationFailed, (STOP, STOP), (RENEW, RENEW)),
    (Reply(535, "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
                f"Visit https://aka.ms/smtp_auth_disabled for more information. {O365}", "auth"),
     p.SmtpAuthDisabled, (STOP, STOP), (STOP, STOP)),
    (Reply(535, f"5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. {O365}",
           "auth"), p.SmtpAuthDisabled, (STOP, STOP), (STOP, STOP)),
    (Reply(535, "5.7.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated "
                f"successfully. Contact your administrator. {O365}", "auth"),
     p.SmtpAuthDisabled, (STOP, STOP), (STOP, STOP)),
    (Reply(550, f"5.7.30 Basic authentication is not supported for Client Submission. {O365}", "auth"),
     p.BasicAuthRetired, (STOP, STOP), (STOP, STOP)),
    (Reply(535, f"5.7.139 Authentication unsuccessful, basic authentication is disabled. {O365}", "auth"),
     p.BasicAuthRetired, (STOP, STOP), (STOP, STOP)),
    (Reply(535, "5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults "
                f"policy. Contact your administrator. {O365}", "auth"),
     p.BasicAuthRetired, (STOP, STOP), (STOP, STOP)),
    (Reply(535, f"5.7.139 Authentication unsuccessful, the user credentials were incorrect. {O365}", "auth"),
     p.AuthenticationFailed, (STOP, STOP), (RENEW, RENEW)),
    (Reply(504, "5.7.4 Unrecognized authentication type", "auth"),
     p.AuthenticationFailed, (STOP, STOP), (RENEW, RENEW)),
    (Reply(550, f"5.7.60 SMTP; Client does not have permissions to send as this sender {O365}", "data"),
     p.SenderRefused, (STOP, STOP), (STOP, STOP)),
    (Reply(550, "5.7.1 Client does not have permissions to send as this sender", "data"),
     p.SenderRefused, (STOP, STOP), (STOP, STOP)),
    (Reply(554, "5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to "
                "process message due to a permanent exception", "data"), p.SenderRefused, (STOP, STOP), (STOP, STOP)),
    (Reply(550, "5.1.1 RESOLVER.ADR.RecipNotFound; not found", "rcpt"),
     p.MessageRejected, (FAIL, FAIL), (FAIL, FAIL)),
    (Reply(550, "5.1.1 RESOLVER.ADR.RecipNotFound; not found", "data"),
     p.MessageRejected, (FAIL, FAIL), (FAIL, FAIL)),
    (Reply(552, "5.3.4 Message size exceeds fixed maximum message size", "data"),
     p.MessageRejected, (FAIL, FAIL), (FAIL, FAIL)),
    (Reply(552, "5.2.2 Mailbox full, quota exceeded", "data"), p.MessageRejected, (FAIL, FAIL), (FAIL, FAIL)),
    (Reply(554, "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message "
                f"due to a permanent exception with message Cannot submit message. {O365}", "data"),
     p.QuotaExceeded, (STOP, STOP), (STOP, STOP)),
    # 5.7.1 refuses the envelope (the account: every invoice) before DATA, the message after it.
    (Reply(554, "5.7.1 Message rejected as spam by Content Filtering.", "data"),
     p.MessageRejected, (FAIL, FAIL), (FAIL, FAIL)),
    (Reply(554, "5.7.1 <resident@example.org>: Relay access denied", "rcpt"),
     p.SenderRefused, (STOP, STOP), (STOP, STOP)),
    (Reply(550, "5.7.1 Sender address rejected: not owned by user compta", "mail"),
     p.SenderRefused, (STOP, STOP), (STOP, STOP)),
    (Reply(554, "5.7.1 Service unavailable; client host [203.0.113.7] blocked", "connect"),
     p.ServerRefused, (STOP, STOP), (STOP, STOP)),
    # What smtplib, ssl and the socket raise: a server's reply inside reads the same as above.
    (Raised(smtplib.SMTPConnectError(421, b"4.3.2 Service not available"), "connect"),
     p.TransientFailure, (RETRY, STOP), (RETRY, STOP)),
    (Raised(smtplib.SMTPAuthenticationError(535, f"5.7.3 Authentication unsuccessful {O365}".encode()), "auth"),
     p.AuthenticationFailed, (STOP, STOP), (RENEW, RENEW)),
    (Raised(smtplib.SMTPDataError(554, b"5.7.1 Message rejected as spam by Content Filtering."), "data"),
     p.MessageRejected, (FAIL, FAIL), (FAIL, FAIL)),
    (Raised(smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), "data"),
     p.TransientFailure, (RETRY, STOP), (RETRY, STOP)),
    (Raised(smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), "data", payload_sent=True),
     p.DeliveryUncertain, (UNCERTAIN, UNCERTAIN), (UNCERTAIN, UNCERTAIN)),
    (Raised(ConnectionResetError(104, "Connection reset by peer"), "rcpt"),
     p.TransientFailure, (RETRY, STOP), (RETRY, STOP)),
    (Raised(TimeoutError("timed out"), "mail"), p.TransientFailure, (RETRY, STOP), (RETRY, STOP)),
    (Raised(TimeoutError("timed out"), "data", payload_sent=True),
     p.DeliveryUncertain, (UNCERTAIN, UNCERTAIN), (UNCERTAIN, UNCERTAIN)),
    (Raised(ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                                            "self-signed certificate"), "connect"),
     p.CertificateRejected, (STOP, STOP), (STOP, STOP)),
    (Raised(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "connect"),
     p.TlsFailed, (STOP, STOP), (STOP, STOP)),
    (Raised(smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server."), "auth"),
     p.NoAuthOffered, (STOP, STOP), (STOP, STOP)),
    (Raised(smtplib.SMTPException("No suitable authentication method found."), "auth"),
     p.NoAuthOffered, (STOP, STOP), (STOP, STOP)),
    (Raised(smtplib.SMTPNotSupportedError("SMTPUTF8 not supported by server"), "mail"),
     p.MessageRejected, (FAIL, FAIL), (FAIL, FAIL)),
    # Raised by the client itself.
    (Client(_password_missing), p.PasswordMissing, (STOP, STOP), (STOP, STOP)),
    (Client(_token_refused), p.TokenRefused, (STOP, STOP), (RENEW, RENEW)),
    (Client(_ca_file_missing), p.CaFileMissing, (STOP, STOP), (STOP, STOP)),
    (Client(_nothing_listens), p.ServerUnreachable, (RETRY, STOP), (RETRY, STOP)),
    (Client(_plain_server("starttls")), p.TlsUnavailable, (STOP, STOP), (STOP, STOP)),
    (Client(_plain_server("none")), p.InsecureAuthRefused, (STOP, STOP), (STOP, STOP)),
]


def _label(row) -> str:
    source = row[0]
    if isinstance(source, Reply):
        return f"{source.code} {source.text[:24]} @{source.stage}"
    if isinstance(source, Raised):
        return f"{type(source.exc).__name__} @{source.stage}{' sent' if source.payload_sent else ''}"
    return source.make.__name__


@pytest.mark.parametrize("source, kind, password, renewable", ROWS, ids=[_label(row) for row in ROWS])
def test_each_real_reply_is_read_and_decided(source, kind, password, renewable):
    problem = source.problem()
    assert type(problem) is kind
    assert (decide(problem, 0), decide(problem, LAST)) == password
    assert (decide(problem, 0, can_renew=True), decide(problem, LAST, can_renew=True)) == renewable


@pytest.mark.parametrize("source", [row[0] for row in ROWS if isinstance(row[0], Reply)],
                         ids=[_label(row) for row in ROWS if isinstance(row[0], Reply)])
def test_a_reply_means_the_same_wherever_it_comes_from(source):
    """The same reply, raised by smtplib at the same stage, is the same problem."""
    raised = classify_exception(smtplib.SMTPResponseException(source.code, source.text.encode()), stage=source.stage)
    assert type(raised) is type(source.problem())
    assert source.stage in STAGES


def test_no_decision_and_no_problem_class_is_dead():
    decisions = {d for _, _, password, renewable in ROWS for d in (*password, *renewable)}
    assert decisions == set(Decision)
    produced = {kind for _, kind, _, _ in ROWS}
    assert produced == _all_problem_classes() - {p.BasicAuthDisabled}  # the base of two, not produced


def test_the_last_try_follows_max_tries():
    busy = classify_reply(451, b"4.7.500 Server busy", stage="mail")
    full = classify_reply(452, b"4.2.2 Mailbox full", stage="rcpt")
    assert [decide(busy, attempt, max_tries=4) for attempt in range(4)] == [RETRY, RETRY, RETRY, STOP]
    assert decide(full, 0, max_tries=1) == DEFER
    assert decide(busy, 7, max_tries=3) == STOP  # past the last (after a renewal): no more retries


def test_classify_reply_keeps_the_servers_text():
    problem = classify_reply(550, b"5.7.60 SMTP; Client does not have\r\npermissions \x1b[31m", stage="data")
    assert problem.code == 550 and problem.server_reply.startswith("550 5.7.60 SMTP; Client does not have")
    assert "\x1b" not in problem.reply
    assert classify_reply(421, "4.3.2 Service not available", stage="connect").reply == "4.3.2 Service not available"


def _all_problem_classes() -> set[type]:
    found, todo = set(), [p.SmtpProblem]
    while todo:
        kind = todo.pop()
        for sub in kind.__subclasses__():
            if sub.__module__ == p.__name__ and sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def _instance(kind, code=None, reply=""):
    if kind is p.CaFileMissing:
        problem = kind("/etc/ssl/ca.pem")
        problem.code, problem.reply = code, reply
        return problem
    return kind(code, reply)


@pytest.mark.parametrize("kind", sorted(_all_problem_classes(), key=lambda kind: kind.__name__))
def test_each_problem_has_its_french_sentence_and_the_servers_reply(kind):
    alone = str(_instance(kind))
    assert alone and alone[0].isupper() and alone.endswith(".")
    assert not any(tag in alone for tag in ("no-auth", "ca-file-missing", "None", "{", "_"))
    with_reply = str(_instance(kind, 550, "5.7.1 refused\nsecond line"))
    assert with_reply.startswith(alone[:-1]) if kind is p.AuthenticationFailed else with_reply.startswith(alone)
    assert with_reply.endswith(" Réponse du serveur : 550 5.7.1 refused\nsecond line")


def test_the_sentences_that_depend_on_the_problem():
    assert str(p.AuthenticationFailed(535, "5.7.3 Authentication unsuccessful")) == (
        "Mot de passe refusé par le serveur (535). Vérifiez l'identifiant et le mot de passe (fenêtre Serveur "
        "SMTP, ou tuiapp smtp password). Réponse du serveur : 535 5.7.3 Authentication unsuccessful")
    assert str(p.AuthenticationFailed(530, "5.7.57 Client not authenticated")).startswith(
        "Identifiant ou mot de passe refusé par le serveur. Réponse")
    assert str(p.BasicAuthDisabled(535, "5.7.139")).startswith("Le fournisseur a désactivé cette méthode")
    assert str(p.SmtpAuthDisabled(535, "5.7.139 SmtpClientAuthentication is disabled")).startswith(
        "L'envoi authentifié (SMTP AUTH) est désactivé pour cette boîte ou tout le compte Office 365 : "
        "l'administrateur doit lancer Set-CASMailbox -Identity <boîte> -SmtpClientAuthenticationDisabled $false")
    assert "Set-TransportConfig -SmtpClientAuthenticationDisabled $false" in str(p.SmtpAuthDisabled())
    retired = str(p.BasicAuthRetired(550, "5.7.30 Basic authentication is not supported"))
    assert retired.startswith("Office 365 n'accepte plus de mot de passe pour l'envoi : passez à OAuth 2.0")
    assert "tuiapp smtp set --auth oauth2-device puis tuiapp smtp login" in retired and "oauth2-app" in retired
    assert str(p.TokenRefused(535, "5.7.3 Authentication unsuccessful")) == (
        "Jeton Office 365 refusé par le serveur : vérifiez que la boîte aux lettres (tuiapp smtp set --username) "
        "est celle du compte connecté, ou que l'application a le droit d'y envoyer (Add-MailboxPermission). "
        "Réponse du serveur : 535 5.7.3 Authentication unsuccessful")
    assert p.TokenRefused(535, "x").settings_problem and isinstance(p.TokenRefused(), p.AuthenticationFailed)
    assert all(issubclass(kind, p.BasicAuthDisabled) for kind in (p.SmtpAuthDisabled, p.BasicAuthRetired))
    assert str(p.CaFileMissing("/etc/ssl/ca.pem")) == "Fichier de certificats introuvable : /etc/ssl/ca.pem."
    assert str(p.CaFileMissing("/tmp/\x1b[2Jx.pem")) == "Fichier de certificats introuvable : /tmp/\ufffd[2Jx.pem."
    assert str(p.NoAuthOffered()) == (
        "Le serveur ne propose pas d'authentification : vérifiez le port et la sécurité choisie.")
    assert isinstance(p.CaFileMissing("x"), p.CertificateRejected) and p.CaFileMissing("x").path == "x"


def test_problems_know_nothing_of_the_send_log():
    import subprocess
    import sys

    code = "import sys, tuiapp.mail.problems; print(sorted(m for m in sys.modules if m.startswith('tuiapp.sending')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
