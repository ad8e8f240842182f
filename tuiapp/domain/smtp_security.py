"""How the connection to the SMTP server is secured, and the French names of the choices."""

from __future__ import annotations

from enum import StrEnum


class SmtpSecurity(StrEnum):
    STARTTLS = "starttls"  # plain connection upgraded to TLS (port 587)
    SSL = "ssl"  # TLS from the first byte (port 465)
    NONE = "none"  # no encryption: AUTH then needs an explicit choice

    @property
    def label(self) -> str:
        """The French name, as in a sentence: "aucune (non chiffré)"."""
        return _NAMES[self][0]

    @property
    def choice_label(self) -> str:
        """The French name in a list of choices, with the usual port."""
        return _NAMES[self][1]


_NAMES: dict[SmtpSecurity, tuple[str, str]] = {
    SmtpSecurity.STARTTLS: ("STARTTLS", "STARTTLS (port 587)"),
    SmtpSecurity.SSL: ("SSL/TLS", "SSL/TLS (port 465)"),
    SmtpSecurity.NONE: ("aucune (non chiffré)", "Aucune (non chiffré)"),
}


#: Why an identifiant goes only over an encrypted connection (the send refuses it otherwise).
CREDENTIALS_IN_CLEAR = ("sans chiffrement, l'identifiant et le mot de passe passeraient en clair : "
                        "choisissez STARTTLS ou SSL, ou autorisez l'authentification non chiffrée.")


def authentication_in_clear(security: str, allow_insecure_auth: bool) -> bool:
    """Whether authenticating on such a connection would send the credentials (a password or a token)
    unencrypted without that being explicitly allowed: the client then refuses to authenticate."""
    return security == SmtpSecurity.NONE and not allow_insecure_auth


def credentials_in_clear(security: str, username: str | None, allow_insecure_auth: bool) -> bool:
    """Whether these settings would send an identifiant (a password or a token with it) unencrypted
    without that being explicitly allowed: a set-up that cannot work, refused when saved (the
    association's settings, and the server's configuration in service mode)."""
    return bool((username or "").strip()) and authentication_in_clear(security, allow_insecure_auth)
