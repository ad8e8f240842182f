"""The association: the single row that holds the outgoing mail server and the identifiers
printed on the invoices.

Moved out of ``tuiapp.db.models``, which re-exports it: ``from tuiapp.db.models import
Association`` keeps working (and ``models.MODELS`` still lists it).
"""

from __future__ import annotations

from collections.abc import Iterator

from peewee import BooleanField, CharField, Check, IntegerField, TextField

from tuiapp.db.clean_model import CleanModel, Rule, between, in_values, one_of
from tuiapp.domain.auth_method import AuthMethod
from tuiapp.domain.errors import ValidationError
from tuiapp.domain.identifiers import (
    check_bic,
    check_iban,
    check_payment_days,
    check_phone,
    check_siret,
    check_website,
)
from tuiapp.domain.smtp_security import CREDENTIALS_IN_CLEAR, SmtpSecurity, credentials_in_clear
from tuiapp.domain.validation import (
    ADDRESS_MAX,
    HOST_MAX,
    PATH_MAX,
    check_authority,
    check_client_id,
    check_tenant,
    multi_line,
    normalize_email,
    single_line,
)

SECURITY_MODES = tuple(SmtpSecurity)
AUTH_METHODS = tuple(AuthMethod)


class Association(CleanModel):
    """The association: a single row (id 1) that holds the outgoing mail server.

    The SMTP password is never stored here: it lives in the keyring.
    """

    id = IntegerField(primary_key=True, constraints=[Check("id = 1")])
    name = CharField(default="")
    address = TextField(default="")
    #: Identifiers and contact printed on the invoices (SIRET and IBAN stored without spaces).
    siret = CharField(default="")
    phone = CharField(default="")
    email = CharField(default="")
    website = CharField(default="")
    iban = CharField(default="")
    bic = CharField(default="")
    #: To whom cheques are made out ("": the association's name).
    cheque_payee = CharField(default="")
    #: The default payment terms: days from the issue date to the due date (0: on receipt).
    payment_days = IntegerField(default=0, constraints=[Check("payment_days BETWEEN 0 AND 90")])
    smtp_host = CharField(default="smtp.office365.com")
    smtp_port = IntegerField(default=587, constraints=[Check("smtp_port BETWEEN 1 AND 65535")])
    smtp_security = CharField(default=SmtpSecurity.STARTTLS, constraints=[in_values("smtp_security", SmtpSecurity)])
    smtp_username = CharField(default="")
    smtp_auth_method = CharField(default="password", constraints=[in_values("smtp_auth_method", AUTH_METHODS)])
    smtp_timeout = IntegerField(default=30, constraints=[Check("smtp_timeout > 0")])
    #: Office 365 accepts 30 messages a minute per mailbox; 0 means no pacing.
    smtp_rate_per_minute = IntegerField(default=30, constraints=[Check("smtp_rate_per_minute >= 0")])
    smtp_ca_file = CharField(null=True)
    #: Allow AUTH on a connection without TLS (the password would travel in clear).
    smtp_allow_insecure_auth = BooleanField(default=False)
    #: OAuth 2.0 (Office 365): the Entra tenant, the application, its certificate (a PEM file with
    #: the private key; else the client secret, in the keyring) and the identity provider ("": Microsoft's).
    smtp_oauth_tenant = CharField(default="")
    smtp_oauth_client_id = CharField(default="")
    smtp_oauth_certificate = CharField(null=True)
    smtp_oauth_authority = CharField(default="")

    @classmethod
    def get_solo(cls) -> Association:
        """The association row, created with the defaults if missing."""
        association, _ = cls.get_or_create(id=1)
        return association

    def rules(self) -> Iterator[tuple[str, Rule]]:
        yield "name", lambda: single_line(self.name, field="name", label="Nom de l'association")
        yield "address", lambda: multi_line(self.address, field="address", label="Adresse de l'association",
                                            max_length=ADDRESS_MAX)
        yield "siret", lambda: check_siret(self.siret)
        yield "phone", lambda: check_phone(self.phone)
        yield "email", lambda: normalize_email(self.email, field="email", label="Courriel de l'association") or ""
        yield "website", lambda: check_website(self.website)
        yield "iban", lambda: check_iban(self.iban)
        yield "bic", lambda: check_bic(self.bic)
        yield "cheque_payee", lambda: single_line(self.cheque_payee, field="cheque_payee",
                                                  label="Ordre des chèques")
        yield "payment_days", lambda: check_payment_days(self.payment_days)
        yield "smtp_host", lambda: single_line(self.smtp_host, field="smtp_host", label="Serveur SMTP",
                                               required=True, max_length=HOST_MAX)
        yield "smtp_port", lambda: between(self.smtp_port, 1, 65535, "smtp_port", "Port SMTP",
                                            "un nombre entre 1 et 65535 (587 en général).")
        yield "smtp_security", lambda: one_of(self.smtp_security, SECURITY_MODES, "smtp_security", "Sécurité",
                                               "STARTTLS, SSL ou aucune.")
        yield "smtp_username", lambda: single_line(self.smtp_username, field="smtp_username",
                                                   label="Identifiant SMTP")
        yield "smtp_auth_method", lambda: one_of(self.smtp_auth_method, AUTH_METHODS, "smtp_auth_method",
                                                  "Authentification", "méthode inconnue.")
        yield "smtp_timeout", lambda: between(self.smtp_timeout, 1, 600, "smtp_timeout", "Délai d'attente",
                                               "entre 1 et 600 secondes.")
        yield "smtp_rate_per_minute", lambda: between(self.smtp_rate_per_minute, 0, 10_000, "smtp_rate_per_minute",
                                                       "Messages par minute",
                                                       "un nombre entre 0 (sans limite) et 10000.")
        yield "smtp_ca_file", lambda: single_line(self.smtp_ca_file, field="smtp_ca_file", label="Certificats",
                                                  max_length=PATH_MAX) or None
        yield "smtp_oauth_tenant", lambda: check_tenant(self.smtp_oauth_tenant)
        yield "smtp_oauth_client_id", lambda: check_client_id(self.smtp_oauth_client_id)
        yield "smtp_oauth_certificate", lambda: single_line(
            self.smtp_oauth_certificate, field="smtp_oauth_certificate", label="Certificat de l'application",
            max_length=PATH_MAX) or None
        yield "smtp_oauth_authority", lambda: check_authority(self.smtp_oauth_authority)
        yield "smtp_security", lambda: self._credentials_only_encrypted()

    def _credentials_only_encrypted(self) -> str:
        """An identifiant goes only over an encrypted connection, unless explicitly allowed."""
        if credentials_in_clear(self.smtp_security, self.smtp_username, self.smtp_allow_insecure_auth):
            raise ValidationError("smtp_security", "Sécurité", CREDENTIALS_IN_CLEAR)
        return self.smtp_security
