"""How the association's mailbox proves who it is to the SMTP server, and the French names."""

from __future__ import annotations

from enum import StrEnum


class AuthMethod(StrEnum):
    PASSWORD = "password"  # AUTH LOGIN/PLAIN with the password (or an app password)
    OAUTH2_APP = "oauth2-app"  # XOAUTH2, the application's own token (client credentials)
    OAUTH2_DEVICE = "oauth2-device"  # XOAUTH2, a person signed in once with a device code

    @property
    def is_oauth(self) -> bool:
        return self is not AuthMethod.PASSWORD

    @property
    def label(self) -> str:
        return _NAMES[self]


_NAMES: dict[AuthMethod, str] = {
    AuthMethod.PASSWORD: "mot de passe",
    AuthMethod.OAUTH2_APP: "OAuth 2.0, application (Office 365)",
    AuthMethod.OAUTH2_DEVICE: "OAuth 2.0, connexion par code (Office 365)",
}

#: Microsoft's identity platform, unless the settings name another (a national cloud, the tests).
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
