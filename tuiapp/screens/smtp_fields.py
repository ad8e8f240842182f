"""The SMTP window's fields: their names, their choices, and their text from the database or from the
server's configuration (service mode)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Checkbox, Label, Select, Static

from tuiapp.domain.auth_method import AuthMethod
from tuiapp.domain.roles import Action
from tuiapp.domain.smtp_security import SmtpSecurity
from tuiapp.system_config import SmtpDestination
from tuiapp.widgets.form import Field
from tuiapp.widgets.plain import field_text
from tuiapp.widgets.rights import refusal_for

OAUTH_FIELDS = ("smtp_oauth_tenant", "smtp_oauth_client_id", "smtp_oauth_certificate", "smtp_oauth_authority")
FIELDS = ("smtp_host", "smtp_port", "smtp_username", "smtp_rate_per_minute", "smtp_ca_file", *OAUTH_FIELDS)
#: The switch that lets a password (or a token) travel without encryption, and what it says when ticked.
INSECURE_AUTH = "smtp_allow_insecure_auth"
INSECURE_WARNING = ("Attention : sans chiffrement, l'identifiant et le mot de passe passent en clair sur le "
                    "réseau. Seulement vers un serveur de confiance (réseau local).")
#: The labels of the settings that are not one-line fields, for the form's error line.
LABELS = {"smtp_security": "Sécurité", "smtp_auth_method": "Authentification",
          INSECURE_AUTH: "Authentification non chiffrée"}
SECURITY_CHOICES = [(mode.choice_label, mode.value) for mode in SmtpSecurity]
#: The methods as the list shows them: AuthMethod's labels, cut to fit the window's width.
METHOD_CHOICES = [("mot de passe", AuthMethod.PASSWORD.value),
                  ("OAuth 2.0, application", AuthMethod.OAUTH2_APP.value),
                  ("OAuth 2.0, connexion par code", AuthMethod.OAUTH2_DEVICE.value)]
SET_BY_SERVER = ("Réglé par l'administrateur du serveur (sudo tuiapp smtp set) ; "
                 "le mot de passe appartient au service d'envoi.")
SIGN_IN_ON_SERVER = ("Sur le serveur de l'association, la connexion Office 365 appartient au service d'envoi : "
                     "sudo tuiapp smtp login sur le serveur.")
SIGN_IN_METHOD = (f"Se connecter : pour la méthode « {AuthMethod.OAUTH2_DEVICE.label} » "
                  "(choisissez-la dans Authentification).")


def read_only_reason(app) -> str | None:
    """None when this account edits the association's mail server here (local mode, with the right)."""
    if getattr(app, "service_mode", False):
        if destination(app) is None:
            return "Aucun serveur SMTP n'est encore réglé sur ce serveur. " + SET_BY_SERVER
        return SET_BY_SERVER
    return refusal_for(app, Action.EDIT_ASSOCIATION)


def destination(app) -> SmtpDestination | None:
    config = getattr(app, "config", None)
    return config.smtp if config is not None else None


def shown(destination: SmtpDestination | None) -> dict[str, str]:
    """The server configuration's SMTP destination, as the form's text."""
    if destination is None:
        return {"smtp_host": "", "smtp_port": "", "smtp_security": SmtpSecurity.STARTTLS.value,
                "smtp_username": "", "smtp_rate_per_minute": "", "smtp_ca_file": "",
                "smtp_auth_method": AuthMethod.PASSWORD.value, **{name: "" for name in OAUTH_FIELDS},
                INSECURE_AUTH: ""}
    return {
        "smtp_host": field_text(destination.host),
        "smtp_port": str(destination.port),
        "smtp_security": SmtpSecurity(destination.security).value,
        "smtp_username": field_text(destination.username),
        "smtp_rate_per_minute": str(destination.rate_per_minute),
        "smtp_ca_file": field_text(destination.ca_file or ""),
        "smtp_auth_method": AuthMethod(destination.auth_method).value,
        "smtp_oauth_tenant": field_text(destination.tenant),
        "smtp_oauth_client_id": field_text(destination.client_id),
        "smtp_oauth_certificate": field_text(destination.certificate or ""),
        "smtp_oauth_authority": field_text(destination.authority),
        INSECURE_AUTH: "1" if destination.allow_insecure_auth else "",
    }


def from_association(association) -> dict[str, str]:
    """The association's settings as the form's text (the password is not among them)."""
    return {
        "smtp_host": field_text(association.smtp_host),
        "smtp_port": str(association.smtp_port),
        "smtp_security": association.smtp_security,
        "smtp_username": field_text(association.smtp_username),
        "smtp_rate_per_minute": str(association.smtp_rate_per_minute),
        "smtp_ca_file": field_text(association.smtp_ca_file),
        "smtp_auth_method": AuthMethod(association.smtp_auth_method).value,
        "smtp_oauth_tenant": field_text(association.smtp_oauth_tenant),
        "smtp_oauth_client_id": field_text(association.smtp_oauth_client_id),
        "smtp_oauth_certificate": field_text(association.smtp_oauth_certificate),
        "smtp_oauth_authority": field_text(association.smtp_oauth_authority),
        INSECURE_AUTH: "1" if association.smtp_allow_insecure_auth else "",
    }


def compose_fields(values: dict[str, str], *, read_only: bool) -> ComposeResult:
    """The fields, in the Tab order: the server, the account, the method and its fields, the limits."""
    yield Field("Serveur", "smtp_host", values["smtp_host"])
    yield Field("Port", "smtp_port", values["smtp_port"])
    # Compact lists and switch (one line each): the window holds at 80x24 with the OAuth fields.
    with Horizontal(classes="select-row"):
        yield Label("Sécurité", classes="field-label")
        yield Select(SECURITY_CHOICES, value=values["smtp_security"], allow_blank=False, id="smtp_security",
                     compact=True)
    with Horizontal(classes="select-row"):
        yield Label("Authentification non chiffrée", classes="field-label")
        yield Checkbox("autorisée (déconseillé)", value=bool(values[INSECURE_AUTH]), id=INSECURE_AUTH,
                       compact=True)
    yield Static(INSECURE_WARNING, id="insecure-warning", markup=False)
    yield Field("Identifiant", "smtp_username", values["smtp_username"])
    with Horizontal(classes="select-row"):
        yield Label("Authentification", classes="field-label")
        yield Select(METHOD_CHOICES, value=values["smtp_auth_method"], allow_blank=False, id="smtp_auth_method",
                     compact=True)
    yield Field("Mot de passe", "password", password=True,
                placeholder="au service d'envoi" if read_only else "vide : garder l'actuel")
    yield Field("Annuaire (tenant)", "smtp_oauth_tenant", values["smtp_oauth_tenant"],
                placeholder="ID de l'annuaire, ou domaine")
    yield Field("ID d'application", "smtp_oauth_client_id", values["smtp_oauth_client_id"],
                placeholder="xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
    yield Field("Certificat (PEM, option)", "smtp_oauth_certificate", values["smtp_oauth_certificate"],
                placeholder="vide : le secret (tuiapp smtp secret)")
    yield Field("Fournisseur d'identité (option)", "smtp_oauth_authority", values["smtp_oauth_authority"],
                placeholder="vide : Microsoft")
    yield Static("", id="password-state")
    yield Field("Messages par minute", "smtp_rate_per_minute", values["smtp_rate_per_minute"])
    yield Field("Certificats (option)", "smtp_ca_file", values["smtp_ca_file"],
                placeholder="vide : ceux du système")
