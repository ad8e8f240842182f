"""What can go wrong when sending, as types, each with its French sentence.

A problem is a class, its data are attributes (``CaFileMissing.path``, the
server's ``code`` and ``reply``), and its sentence sits beside it (``text``,
or ``sentence()`` when it depends on the data). What the engine does about
each one is decided in one place: ``tuiapp.sending.policy``.

How a server's refusal is read (``classify_reply``) depends on the stage of
the session it answers, and is the same wherever it comes from:

- 4xx: temporary. At RCPT or DATA, an enhanced code about the address, the
  mailbox, the delivery (4.5.3 too many recipients) or the content (4.1.x,
  4.2.x, 4.5.x, 4.6.x) is this message's (``MessageDeferred``); anything else
  (421, 432 4.3.2 thread limit, 451 4.7.500 throttling, 454 4.7.0, no
  enhanced code) is the server's or the account's (``TransientFailure``).
- 5xx, whatever the stage: Office 365's 550 5.7.30, and a 5.7.139 that says
  basic authentication is disabled or blocked by the security defaults,
  ``BasicAuthRetired`` (passwords are over: OAuth 2.0); any other 5.7.139
  (SMTP AUTH off for the tenant or the mailbox) ``SmtpAuthDisabled``, but
  "the user credentials were incorrect" ``AuthenticationFailed``; a refusal
  at AUTH, 530/534/535/538, 5.7.3, 5.7.8, 5.7.57 ``AuthenticationFailed``;
  5.7.60 or a "send as" denial ``SenderRefused``; Office 365's submission
  quota (5.2.0 STOREDRV) ``QuotaExceeded``.
- ``TokenRefused``: an OAuth token refused at AUTH (535 5.7.3). The reply
  does not say what was sent, so the classifier never returns it: the OAuth
  authenticator raises it. The identity provider's own refusals (before any
  SMTP) are in ``tuiapp.mail.identity_problems``.
- Any other 5xx, by stage: at the greeting, EHLO or STARTTLS
  ``ServerRefused``; at MAIL FROM the account (``SenderRefused``); at RCPT
  a 5.7.x is the account too (relay refused: ``SenderRefused``) and anything
  else this message (550 5.1.1 user unknown: ``MessageRejected``); at DATA
  it is always this message (552 too big, 554 5.7.1 spam or policy:
  ``MessageRejected``). So 5.7.1 refuses the envelope (the account) before
  DATA, and the message after it.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from typing import ClassVar

from tuiapp.domain.errors import TuiappError
from tuiapp.domain.safe_text import printable

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")

#: The stages of a session a reply can answer (``classify_reply``).
STAGES = ("connect", "auth", "mail", "rcpt", "data")


class SmtpProblem(TuiappError):
    """A failure reported by, or on the way to, the mail server.

    ``reply`` is the server's own text (never anything we sent, so never a
    password), its control characters replaced (``printable``) as soon as it
    is set: it is stored, logged and shown, after the class's sentence.
    """

    #: The French sentence; ``sentence()`` when it depends on the data.
    text: ClassVar[str] = "Échec de l'envoi."
    #: The association's settings (or the keyring) must change before it can work.
    settings_problem: ClassVar[bool] = False

    def __init__(self, code: int | None = None, reply: str = "") -> None:
        self.code = code
        self.reply = reply
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

    def sentence(self) -> str:
        return self.text

    def __str__(self) -> str:
        text = self.sentence()
        if self.server_reply:
            text += f" Réponse du serveur : {self.server_reply}"
        return text


class ServerUnreachable(SmtpProblem):
    text = "Serveur injoignable : vérifiez le nom du serveur, le port et la connexion réseau."


class ServerRefused(SmtpProblem):
    """A 5xx reply to the greeting, EHLO or STARTTLS."""

    text = "Le serveur refuse la connexion : vérifiez le nom du serveur et le port."
    settings_problem = True


class TlsUnavailable(SmtpProblem):
    """The server does not offer STARTTLS."""

    text = "Le serveur ne propose pas de connexion sécurisée (STARTTLS) : vérifiez le port et la sécurité choisie."
    settings_problem = True


class CertificateRejected(SmtpProblem):
    """The server's certificate could not be verified."""

    text = "Certificat non reconnu : le serveur n'a pas pu être authentifié, la connexion a été refusée."
    settings_problem = True


class CaFileMissing(CertificateRejected):
    """The configured CA file is not there."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__()

    def sentence(self) -> str:
        return f"Fichier de certificats introuvable : {printable(self.path)}."


class TlsFailed(SmtpProblem):
    text = "La connexion sécurisée (TLS) a échoué : vérifiez le port et la sécurité choisie (STARTTLS ou SSL)."
    settings_problem = True


class InsecureAuthRefused(SmtpProblem):
    """AUTH asked on a connection without TLS, and not allowed."""

    text = ("Authentification refusée sur une connexion non chiffrée : le mot de passe circulerait en clair. "
            "Choisissez STARTTLS ou SSL.")
    settings_problem = True


class NoAuthOffered(SmtpProblem):
    """A user name is set, but the server offers no AUTH."""

    text = "Le serveur ne propose pas d'authentification : vérifiez le port et la sécurité choisie."
    settings_problem = True


class AuthenticationFailed(SmtpProblem):
    """The credentials were refused (OAuth: a fresh token may be worth one more try)."""

    text = "Identifiant ou mot de passe refusé par le serveur."
    settings_problem = True

    def sentence(self) -> str:
        if self.code == 535:
            return ("Mot de passe refusé par le serveur (535). Vérifiez l'identifiant et le mot de passe "
                    "(fenêtre Serveur SMTP, ou tuiapp smtp password).")
        return self.text


class TokenRefused(AuthenticationFailed):
    """535 5.7.3 to an OAuth token (raised by the OAuth authenticator: the reply
    does not say whether a password or a token was refused)."""

    text = ("Jeton Office 365 refusé par le serveur : vérifiez que la boîte aux lettres (tuiapp smtp set "
            "--username) est celle du compte connecté, ou que l'application a le droit d'y envoyer "
            "(Add-MailboxPermission).")

    def sentence(self) -> str:
        return self.text


class BasicAuthDisabled(AuthenticationFailed):
    """The provider has turned an authentication method off: trying again with
    other credentials cannot help (the policy stops the batch). The common base
    of ``SmtpAuthDisabled`` and ``BasicAuthRetired``."""

    text = ("Le fournisseur a désactivé cette méthode d'authentification pour ce compte "
            "(à voir avec votre responsable informatique).")

    def sentence(self) -> str:
        return self.text


class SmtpAuthDisabled(BasicAuthDisabled):
    """535 5.7.139: SMTP AUTH is off for the tenant or the mailbox (password and OAuth alike)."""

    text = ("L'envoi authentifié (SMTP AUTH) est désactivé pour cette boîte ou tout le compte Office 365 : "
            "l'administrateur doit lancer Set-CASMailbox -Identity <boîte> -SmtpClientAuthenticationDisabled "
            "$false (ou, pour tout le compte, Set-TransportConfig -SmtpClientAuthenticationDisabled $false).")


class BasicAuthRetired(BasicAuthDisabled):
    """550 5.7.30 (or 535 5.7.139 "basic authentication is disabled"): Office 365
    no longer takes a password; only OAuth 2.0 works."""

    text = ("Office 365 n'accepte plus de mot de passe pour l'envoi : passez à OAuth 2.0 avec tuiapp smtp set "
            "--auth oauth2-device puis tuiapp smtp login (ou --auth oauth2-app pour le service d'envoi).")


class PasswordMissing(SmtpProblem):
    text = "Aucun mot de passe SMTP enregistré pour ce compte (tuiapp smtp password, ou la fenêtre Serveur SMTP)."
    settings_problem = True


class SenderRefused(SmtpProblem):
    text = ("Adresse d'expéditeur refusée par le serveur : le compte SMTP n'a pas le droit d'envoyer "
            "au nom de cette adresse (onglet Mail de la structure).")
    settings_problem = True


class QuotaExceeded(SmtpProblem):
    text = ("Limite d'envoi du serveur atteinte : les factures restantes sont gardées en attente ; "
            "relancez l'envoi plus tard (en général après 24 heures).")


class TransientFailure(SmtpProblem):
    """A temporary failure of the server or the session: a 4xx reply that is not
    this message's, the connection lost or a timeout before the message was handed over."""

    text = "Le serveur est momentanément indisponible."


class MessageDeferred(SmtpProblem):
    """A temporary refusal of this one message (452 4.2.2 mailbox full ...)."""

    text = "Message refusé pour le moment par le serveur."


class DeliveryUncertain(SmtpProblem):
    """The connection broke after the whole message was sent, before the reply."""

    text = ("La connexion a été coupée juste après l'envoi du message : il est peut-être arrivé. "
            "État inconnu, il ne sera pas renvoyé sans votre accord.")


class MessageRejected(SmtpProblem):
    """A permanent refusal of this one message."""

    text = "Message refusé par le serveur."


def enhanced_code(text: str) -> str | None:
    match = _ENHANCED.search(text or "")
    return ".".join(match.groups()) if match else None


def _decode(reply) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply or "")


#: What a 5.7.139 says when the password itself is refused (a wrong one) or passwords are over.
_WRONG_PASSWORD = "credentials were incorrect"
_PASSWORDS_OVER = ("basic authentication is disabled", "security defaults")
_AUTH_CODES = frozenset({530, 534, 535, 538})
_AUTH_ENHANCED = frozenset({"5.7.3", "5.7.8", "5.7.57"})
#: 4.1.x address, 4.2.x mailbox, 4.5.x delivery (4.5.3 too many recipients), 4.6.x content.
_MESSAGE_SUBJECTS = frozenset({"1", "2", "5", "6"})


def classify_reply(code: int, reply, *, stage: str) -> SmtpProblem:
    """The problem a non-success reply stands for, at ``stage`` (one of ``STAGES``);
    the rules are in this module's docstring."""
    text = _decode(reply)
    enhanced = enhanced_code(text) or ""
    subject = enhanced.split(".")[1] if enhanced else ""
    lowered = text.lower()
    if code < 500:
        if stage in ("rcpt", "data") and code != 421 and subject in _MESSAGE_SUBJECTS:
            return MessageDeferred(code, text)
        return TransientFailure(code, text)
    if enhanced == "5.7.30" or (enhanced == "5.7.139" and any(words in lowered for words in _PASSWORDS_OVER)):
        return BasicAuthRetired(code, text)
    if enhanced == "5.7.139" and _WRONG_PASSWORD not in lowered:
        return SmtpAuthDisabled(code, text)
    if stage == "auth" or code in _AUTH_CODES or enhanced in _AUTH_ENHANCED:
        return AuthenticationFailed(code, text)
    if enhanced == "5.7.60" or "sendasdenied" in lowered or "send as" in lowered:
        return SenderRefused(code, text)
    if "submissionquota" in lowered or enhanced == "5.2.0":
        return QuotaExceeded(code, text)
    if stage == "connect":
        return ServerRefused(code, text)
    if stage == "mail" or (stage == "rcpt" and subject == "7"):
        return SenderRefused(code, text)
    return MessageRejected(code, text)


def classify_exception(exc: OSError, *, stage: str, payload_sent: bool = False) -> SmtpProblem:
    """Turn what smtplib, ssl or the socket raised at ``stage`` into a typed problem
    (smtplib's errors are ``OSError``s too); a server's reply is read by
    ``classify_reply``, so it means the same wherever it comes from."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return CertificateRejected()
    if isinstance(exc, ssl.SSLError):
        return TlsFailed()
    if isinstance(exc, smtplib.SMTPResponseException):  # AUTH, DATA, the greeting ...
        return classify_reply(exc.smtp_code, exc.smtp_error, stage=stage)
    if isinstance(exc, smtplib.SMTPServerDisconnected) or not isinstance(exc, smtplib.SMTPException):
        # The connection was lost, reset or timed out.
        return DeliveryUncertain() if payload_sent else TransientFailure()
    # smtplib refused by itself: no AUTH it can use, or no SMTPUTF8 for this message's addresses.
    return NoAuthOffered() if stage == "auth" else MessageRejected()
