"""Microsoft Entra ID's refusals, as the fake identity provider gives them (HTTP status, OAuth error, AADSTS code).

Each is answered as Entra's JSON: ``error``, ``error_description`` ("AADSTSnnnn: text" then the trace
and correlation ids and the time, CRLF-separated), ``error_codes`` ([nnnn]), ``timestamp``,
``trace_id``, ``correlation_id`` (the client's ``client-request-id`` header when it sent one, as Entra
does), ``error_uri``. msal hands that dict back as the result of ``acquire_token_*``.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any


class EntraError(Exception):
    """A refusal as Entra words it: HTTP ``status``, OAuth ``error``, AADSTS ``code`` and its ``text``."""

    def __init__(self, status: int, error: str, code: int, text: str) -> None:
        super().__init__(f"AADSTS{code}: {text}")
        self.status = status
        self.error = error
        self.code = code
        self.text = text

    def body(self, correlation_id: str | None) -> dict[str, Any]:
        trace_id = str(uuid.uuid4())
        correlation_id = correlation_id or str(uuid.uuid4())
        timestamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.code}: {self.text}\r\nTrace ID: {trace_id}\r\n"
                f"Correlation ID: {correlation_id}\r\nTimestamp: {timestamp}"
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }


def missing(parameter: str) -> EntraError:
    return EntraError(
        400, "invalid_request", 900144, f"The request body must contain the following parameter: '{parameter}'."
    )


def wrong_method(wanted: str) -> EntraError:
    return EntraError(405, "invalid_request", 900561, f"The endpoint only accepts {wanted} requests.")


def unknown_tenant(tenant: str) -> EntraError:
    return EntraError(
        400, "invalid_tenant", 90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the "
        "correct cloud. Check with your subscription administrator, this may happen if there are no active "
        "subscriptions for the tenant.",
    )


def unknown_app(client_id: str, tenant: str) -> EntraError:
    return EntraError(
        400, "unauthorized_client", 700016,
        f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if "
        "the application has not been installed by the administrator of the tenant or consented to by any user in "
        "the tenant. You may have sent your authentication request to the wrong tenant.",
    )


def unsupported_grant(grant_type: str) -> EntraError:
    return EntraError(
        400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'."
    )


def no_credential() -> EntraError:
    return EntraError(
        401, "invalid_client", 7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )


def credential_of_public_client() -> EntraError:
    return EntraError(
        401, "invalid_client", 700025,
        "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
    )


def wrong_secret(client_id: str) -> EntraError:
    return EntraError(
        401, "invalid_client", 7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "
        f"not the client secret ID, for a secret added to app '{client_id}'.",
    )


def bad_assertion(code: int, text: str) -> EntraError:
    """AADSTS700027 (signature, certificate, claims) or AADSTS700024 (its validity times)."""
    return EntraError(401, "invalid_client", code, text)


def invalid_scope(asked: str) -> EntraError:
    return EntraError(
        400, "invalid_scope", 70011,
        "The provided request must include a 'scope' input parameter. The provided value for the input parameter "
        f"'scope' is not valid. The scope '{asked}' is not valid.",
    )


def bad_device_code() -> EntraError:
    return EntraError(400, "invalid_grant", 70000, "The provided value for the 'device_code' is not valid.")


def device_code_redeemed() -> EntraError:
    return EntraError(
        400, "invalid_grant", 54005,
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code.",
    )


def device_code_expired() -> EntraError:
    return EntraError(400, "expired_token", 70019, "Verification code expired.")


def authorization_pending() -> EntraError:
    return EntraError(
        400, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling."
    )


def authorization_declined() -> EntraError:
    return EntraError(400, "authorization_declined", 70000, "The user declined the authorization request.")


def refresh_token_expired() -> EntraError:
    """An unknown refresh token, or one already redeemed (the fake's are single-use)."""
    return EntraError(
        400, "invalid_grant", 70008,
        "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive "
        "authorization request for this user and resource.",
    )


def refresh_token_of_another_app() -> EntraError:
    return EntraError(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")


def refresh_token_revoked() -> EntraError:
    return EntraError(
        400, "invalid_grant", 50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have "
        "changed or reset their password.",
    )


def unavailable(status: int) -> EntraError:
    """An outage (``FakeIdentityProvider.fail_next``): 5xx or 429, no Retry-After header."""
    return EntraError(status, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.")
