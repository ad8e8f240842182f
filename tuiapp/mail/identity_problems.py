"""What can go wrong getting an Office 365 token, as types, each with its French sentence.

Before any SMTP, tuiapp asks Microsoft's identity provider (Entra, through
MSAL) for an OAuth 2.0 token. Its refusals come as MSAL's error dict
(``error``, ``error_description``, ``error_codes``, maybe ``suberror``);
``identity_problem`` reads one into a class whose sentence says what
happened and what to do (the command to run). The classes that need no dict
(the provider unreachable, nobody signed in, a certificate file unreadable,
...) are raised by the token source itself.

They are all ``SmtpProblem``\\ s, so the send engine's policy (one table,
``tuiapp.sending.policy``) stops the batch on any of them; all are the
settings' (``settings_problem``) except ``IdentityUnreachable`` (the network).

``reply`` is the provider's own text and nothing else: the first line of
``error_description`` ("AADSTS7000215: Invalid client secret provided. ..."),
its control characters replaced, never the rest of the dict (never what we
sent: the secret, the assertion, a token).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import ClassVar

from tuiapp.domain.safe_text import printable
from tuiapp.mail.problems import SmtpProblem

#: The provider's reply is one line, cut at this length (it goes in a log line).
REPLY_LIMIT = 300

_AADSTS = re.compile(r"\bAADSTS(\d{4,9})\b")
#: An OAuth error name (``invalid_grant``) is shown only if it looks like one.
_ERROR_NAME = re.compile(r"[a-z_]{1,64}")


def _first_line(text: object) -> str:
    """The first line as it is (a blank one stays blank: what follows is never promoted)."""
    lines = str(text or "").splitlines()
    return lines[0].strip() if lines else ""


class IdentityProblem(SmtpProblem):
    """A refusal of Microsoft's identity provider, or a failure on the way to it.

    The class itself stands for a refusal no subclass names: its sentence is
    generic, the provider's text (``reply``) says the rest. ``error``,
    ``codes`` and ``suberror`` are what the provider answered (for the log).
    """

    text: ClassVar[str] = ("Connexion à Office 365 refusée : transmettez ce message à votre responsable "
                           "informatique.")
    settings_problem: ClassVar[bool] = True

    def __init__(self, reply: str = "", *, error: str = "", codes: Iterable[int] = (), suberror: str = "") -> None:
        self.error = error
        self.codes = tuple(codes)
        self.suberror = suberror
        super().__init__(None, reply)

    @property
    def reply(self) -> str:
        return self._reply

    @reply.setter
    def reply(self, text: str) -> None:
        first = printable(_first_line(text))
        self._reply = first if len(first) <= REPLY_LIMIT else first[:REPLY_LIMIT - 1] + "…"

    def __str__(self) -> str:
        text = self.sentence()
        if self.reply:
            text += f" Réponse de Microsoft : {self.reply}"
        return text


# ---------------------------------------------------------------- read from the provider's answer


class ConsentMissing(IdentityProblem):
    """AADSTS65001: nobody granted the application its permission."""

    text = ("L'application n'est pas encore autorisée dans Office 365 : un administrateur doit, dans Entra "
            "(Inscriptions d'applications > Autorisations de l'API), cliquer « Accorder le consentement "
            "administrateur ».")


class TenantNotFound(IdentityProblem):
    """AADSTS90002: no such tenant."""

    text = "Locataire Office 365 introuvable : vérifiez l'ID de l'annuaire (tuiapp smtp set --tenant)."


class ApplicationNotFound(IdentityProblem):
    """AADSTS700016: no such application in this tenant (wrong client ID, or wrong tenant)."""

    text = ("Application introuvable dans ce locataire Office 365 : vérifiez l'ID d'application et l'ID de "
            "l'annuaire (tuiapp smtp set --client-id, --tenant).")


class ClientSecretRefused(IdentityProblem):
    """AADSTS7000215: wrong client secret (often the secret's ID instead of its value)."""

    text = ("Secret d'application refusé par Office 365 : enregistrez la valeur du secret (pas son ID) avec "
            "tuiapp smtp secret.")


class ClientSecretExpired(ClientSecretRefused):
    """AADSTS7000222: the client secret has expired."""

    text = ("Le secret d'application a expiré : créez-en un nouveau dans Entra (Certificats et secrets), puis "
            "enregistrez-le avec tuiapp smtp secret.")


class AssertionOutOfTime(IdentityProblem):
    """AADSTS700024: our signed assertion is outside its valid time: this server's clock."""

    text = ("L'horloge de ce serveur n'est pas à l'heure, Office 365 refuse la connexion : faites vérifier "
            "sa synchronisation (timedatectl).")


class DeviceCodeExpired(IdentityProblem):
    """AADSTS70019 or ``expired_token``: the code was not typed in time."""

    text = ("Le code de connexion a expiré avant d'être saisi : relancez tuiapp smtp login et saisissez le "
            "nouveau code à temps.")


class SignInExpired(IdentityProblem):
    """AADSTS70008, 50173, 700082: the stored sign-in expired or was revoked."""

    text = ("La connexion Office 365 a expiré ou a été révoquée : reconnectez-vous avec tuiapp smtp login "
            "(service d'envoi : sudo tuiapp smtp login).")


class MfaRequired(IdentityProblem):
    """AADSTS50076, 50079: multi-factor authentication required (or to be set up)."""

    text = ("Office 365 exige la double authentification : connectez-vous avec tuiapp smtp login (code à "
            "saisir sur un téléphone ou un ordinateur) ; si le compte n'en a pas, voyez votre administrateur.")


class SignInDeclined(IdentityProblem):
    """``authorization_declined``: the sign-in was refused on the phone or computer."""

    text = ("La connexion a été refusée sur le téléphone ou l'ordinateur : relancez tuiapp smtp login et "
            "acceptez la demande.")


class CertificateNotRecognised(IdentityProblem):
    """AADSTS700027 (or ``invalid_client`` about the assertion): the certificate is not the registered one."""

    text = ("Certificat non reconnu par Office 365 : sa partie publique n'est pas déposée dans l'application "
            "(Entra, Certificats et secrets), ou ce n'est pas le bon fichier (tuiapp smtp set --certificate).")


class ScopeInvalid(IdentityProblem):
    """AADSTS70011: the permission asked for is not valid here."""

    text = ("Office 365 refuse la permission demandée : vérifiez l'adresse de connexion (tuiapp smtp set "
            "--authority) et les permissions SMTP de l'application dans Entra.")


#: AADSTS code -> class; the first code of the answer found here wins.
BY_CODE: dict[int, type[IdentityProblem]] = {
    65001: ConsentMissing,
    90002: TenantNotFound,
    700016: ApplicationNotFound,
    7000215: ClientSecretRefused,
    7000222: ClientSecretExpired,
    700024: AssertionOutOfTime,
    70019: DeviceCodeExpired,
    70008: SignInExpired,
    50173: SignInExpired,
    700082: SignInExpired,
    50076: MfaRequired,
    50079: MfaRequired,
    700027: CertificateNotRecognised,
    70011: ScopeInvalid,
}

#: OAuth error name -> class, when no code is known.
BY_ERROR: dict[str, type[IdentityProblem]] = {
    "expired_token": DeviceCodeExpired,
    "authorization_declined": SignInDeclined,
    "invalid_scope": ScopeInvalid,
    "consent_required": ConsentMissing,
}


def _codes(result: Mapping) -> tuple[int, ...]:
    listed = result.get("error_codes")
    codes = []
    if isinstance(listed, list | tuple):
        for code in listed:
            if isinstance(code, int) and not isinstance(code, bool):
                codes.append(code)
            elif isinstance(code, str) and code.isdigit():
                codes.append(int(code))
    description = result.get("error_description")
    if isinstance(description, str):
        codes += [int(found) for found in _AADSTS.findall(description) if int(found) not in codes]
    return tuple(codes)


def _name(value: object) -> str:
    return value if isinstance(value, str) and _ERROR_NAME.fullmatch(value) else ""


def identity_problem(result: Mapping) -> IdentityProblem:
    """The problem MSAL's error dict ``result`` stands for (an unknown one: ``IdentityProblem``).

    Only its ``error_description``'s first line is kept as the reply; ``error``
    and ``suberror`` only if they are plain OAuth names.
    """
    codes = _codes(result)
    error, suberror = _name(result.get("error")), _name(result.get("suberror"))
    description = result.get("error_description")
    reply = _first_line(description) if isinstance(description, str) else ""
    kind = (next((BY_CODE[code] for code in codes if code in BY_CODE), None)
            or BY_ERROR.get(error) or BY_ERROR.get(suberror))
    if kind is None and error == "invalid_client" and re.search(r"assertion|certificate", reply, re.IGNORECASE):
        kind = CertificateNotRecognised
    return (kind or IdentityProblem)(reply or error, error=error, codes=codes, suberror=suberror)


# ---------------------------------------------------------------- raised by the token source itself


class IdentityUnreachable(IdentityProblem):
    """The identity provider could not be reached (network, DNS, proxy)."""

    text = ("Service de connexion Microsoft injoignable (réseau, DNS ou proxy) : vérifiez la connexion "
            "Internet du serveur, puis réessayez.")
    settings_problem = False


class IdentityCertificateRejected(IdentityProblem):
    """The identity provider's TLS certificate could not be verified."""

    text = ("Le certificat du service de connexion Microsoft n'a pas pu être vérifié : vérifiez le fichier de "
            "certificats (tuiapp smtp set --ca-file) ou le proxy.")


class ClockOutOfStep(IdentityProblem):
    """This server's clock is out of step with the provider's, seen here before asking.

    ``offset_seconds``: how far ahead this clock is (negative: behind).
    """

    text = ("L'horloge de ce serveur n'est pas à l'heure, Office 365 refusera la connexion : faites vérifier "
            "sa synchronisation (timedatectl).")

    def __init__(self, offset_seconds: float) -> None:
        self.offset_seconds = offset_seconds
        super().__init__()

    def sentence(self) -> str:
        seconds = abs(self.offset_seconds)
        amount = f"{round(seconds / 60)} min" if seconds >= 120 else f"{round(seconds)} s"
        way = "avance" if self.offset_seconds > 0 else "retarde"
        return (f"L'horloge de ce serveur {way} de {amount}, Office 365 refusera la connexion : faites vérifier "
                "sa synchronisation (timedatectl).")


class SignInCancelled(IdentityProblem):
    """The operator cancelled the sign-in."""

    text = "Connexion Office 365 annulée (tuiapp smtp login pour recommencer)."


class NotSignedIn(IdentityProblem):
    """No token cache: nobody signed in yet (device code)."""

    text = ("Aucune connexion Office 365 : lancez tuiapp smtp login (sur le serveur de l'association : "
            "sudo tuiapp smtp login), ou le bouton Se connecter de la fenêtre Serveur SMTP.")


class ClientSecretMissing(IdentityProblem):
    """No client secret stored for the app-only method."""

    text = ("Aucun secret d'application Office 365 enregistré : lancez tuiapp smtp secret (sur le serveur de "
            "l'association : sudo tuiapp smtp secret).")


class CertificateUnreadable(IdentityProblem):
    """The application's certificate (PEM) is missing, unreadable or holds no private key.

    ``cause``: one of ``CAUSES``, or empty when unknown.
    """

    CAUSES: ClassVar[dict[str, str]] = {
        "missing": "fichier introuvable",
        "unreadable": "lecture refusée",
        "no-key": "aucune clé privée dans le fichier",
        "encrypted": "clé privée protégée par une phrase secrète : il la faut sans",
        "not-rsa": "la clé doit être RSA",
        "invalid": "clé ou certificat endommagé",
    }

    def __init__(self, path: str, cause: str = "") -> None:
        self.path = path
        self.cause = cause
        super().__init__()

    def sentence(self) -> str:
        why = self.CAUSES.get(self.cause, "absent, illisible ou sans clé privée")
        return (f"Certificat de l'application illisible : {printable(self.path)} ({why}) ; vérifiez tuiapp "
                "smtp set --certificate.")


class OAuthSettingsProblem(IdentityProblem):
    """The OAuth settings cannot work as they are (incomplete, another account signed in, a
    provider pointing elsewhere): the sentence, made by who found it, says what to change."""

    def __init__(self, sentence: str) -> None:
        self._sentence = sentence
        super().__init__()

    def sentence(self) -> str:
        return self._sentence
