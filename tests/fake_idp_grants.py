"""What the fake identity provider answers at its endpoints: discovery, device authorization, tokens.

``IdentityEndpoints`` is the half of ``tests.fake_idp.FakeIdentityProvider`` that the HTTPS server
calls (from its request threads); the other half is what tests arrange and read. State and records
change under ``lock``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from tests import entra_refusals as refuse
from tests.client_certificates import ASSERTION_TYPE, AssertionRefused, check_client_assertion
from tests.entra_refusals import EntraError

SMTP_SCOPE = "https://outlook.office.com/SMTP.Send"  # delegated (device flow): what msal is asked for
APP_SCOPE = "https://outlook.office365.com/.default"  # application (client credentials)
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
CLIENT_CREDENTIALS = "client_credentials"
REFRESH_TOKEN = "refresh_token"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
VERIFICATION_URI = "https://microsoft.com/devicelogin"


@dataclass
class RegisteredApp:
    client_id: str
    secret: str | None
    certificate_pem: bytes | None
    public: bool  # "Allow public client flows": device code and refresh without a credential
    mailboxes: tuple[str, ...]  # the mailboxes Exchange lets this app send as (its application tokens)


@dataclass
class AccessToken:
    token: str
    client_id: str
    mailbox: str | None  # the signed-in user (delegated token); None for an application token
    scope: str
    expires_at: float


@dataclass
class RefreshToken:
    token: str
    client_id: str
    mailbox: str
    scopes: frozenset[str]
    state: str = "active"  # "used" once redeemed, "revoked" by revoke()


@dataclass
class DeviceCode:
    device_code: str
    user_code: str
    client_id: str
    scopes: frozenset[str]
    expires_at: float
    state: str = "pending"  # "approved", "declined", "redeemed"
    mailbox: str | None = None
    polls: int = 0


class IdentityEndpoints:
    # Set by FakeIdentityProvider.__init__.
    authority: str
    tenant: str
    token_lifetime: float
    device_interval: int
    device_lifetime: int
    lock: threading.Lock
    _changed: threading.Condition
    apps: dict[str, RegisteredApp]
    _access: dict[str, AccessToken]
    _refresh: dict[str, RefreshToken]
    _devices: dict[str, DeviceCode]
    _id_token_key: bytes
    token_requests: list[tuple[str, str, bool]]
    refusals: list[tuple[str, int]]
    issued_access_tokens: list[str]
    issued_refresh_tokens: list[str]
    requests: list[tuple[str, str]]
    device_polls: int

    @property
    def issuer(self) -> str:
        return f"{self.authority}/{self.tenant}/v2.0"

    @property
    def token_endpoint(self) -> str:
        return f"{self.authority}/{self.tenant}/oauth2/v2.0/token"

    @property
    def device_endpoint(self) -> str:
        return f"{self.authority}/{self.tenant}/oauth2/v2.0/devicecode"

    def _record_request(self, method: str, path: str) -> None:
        with self.lock:
            self.requests.append((method, path))

    def _discovery(self, tenant: str) -> dict[str, Any]:
        with self.lock:
            self._check_tenant(tenant)
        base = f"{self.authority}/{self.tenant}"
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": self.token_endpoint,
            "device_authorization_endpoint": self.device_endpoint,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
        }

    def _device_authorization(self, tenant: str, form: dict[str, str], language: str) -> dict[str, Any]:
        with self.lock:
            try:
                self._check_tenant(tenant)
                app = self._app(form.get("client_id", ""))
                if not app.public:
                    raise refuse.no_credential()
                code = DeviceCode(
                    device_code=secrets.token_urlsafe(96),
                    user_code="".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9)),
                    client_id=app.client_id,
                    scopes=self._scopes(form, SMTP_SCOPE),
                    expires_at=time.time() + self.device_lifetime,
                )
                self._devices[code.device_code] = code
            except EntraError as refusal:
                self.refusals.append((refusal.error, refusal.code))
                raise
        if language.lower().startswith("fr"):
            message = (
                f"Pour vous connecter, utilisez un navigateur web pour ouvrir la page {VERIFICATION_URI} "
                f"et entrez le code {code.user_code} pour l’authentification."
            )
        else:
            message = (
                f"To sign in, use a web browser to open the page {VERIFICATION_URI} "
                f"and enter the code {code.user_code} to authenticate."
            )
        return {
            "user_code": code.user_code,
            "device_code": code.device_code,
            "verification_uri": VERIFICATION_URI,
            "expires_in": self.device_lifetime,
            "interval": self.device_interval,
            "message": message,
        }

    def _token(self, tenant: str, form: dict[str, str]) -> dict[str, Any]:
        grant_type, client_id = form.get("grant_type", ""), form.get("client_id", "")
        with self._changed:
            try:
                answer = self._grant(tenant, grant_type, form)
            except EntraError as refusal:
                self.token_requests.append((grant_type, client_id, False))
                self.refusals.append((refusal.error, refusal.code))
                raise
            finally:
                self._changed.notify_all()
            self.token_requests.append((grant_type, client_id, True))
            return answer

    def _grant(self, tenant: str, grant_type: str, form: dict[str, str]) -> dict[str, Any]:
        self._check_tenant(tenant)
        if not grant_type:
            raise refuse.missing("grant_type")
        app = self._app(form.get("client_id", ""))
        if grant_type not in (CLIENT_CREDENTIALS, REFRESH_TOKEN, DEVICE_CODE):
            raise refuse.unsupported_grant(grant_type)
        self._authenticate(app, form, grant_type)
        if grant_type == CLIENT_CREDENTIALS:
            scope = " ".join(sorted(self._scopes(form, APP_SCOPE, oidc=False)))
            return self._token_answer(self._issue_access(app.client_id, None, scope))
        if grant_type == DEVICE_CODE:
            return self._redeem_device_code(app, form)
        return self._redeem_refresh_token(app, form)

    def _check_tenant(self, tenant: str) -> None:
        if tenant != self.tenant:
            raise refuse.unknown_tenant(tenant)

    def _app(self, client_id: str) -> RegisteredApp:
        if not client_id:
            raise refuse.missing("client_id")
        app = self.apps.get(client_id)
        if app is None:
            raise refuse.unknown_app(client_id, self.tenant)
        return app

    def _authenticate(self, app: RegisteredApp, form: dict[str, str], grant_type: str) -> None:
        secret, assertion = form.get("client_secret"), form.get("client_assertion")
        if secret is None and assertion is None:
            if app.public and grant_type != CLIENT_CREDENTIALS:
                return
            raise refuse.no_credential()
        if app.secret is None and app.certificate_pem is None:
            raise refuse.credential_of_public_client()
        if secret is not None:
            if app.secret is None or not secrets.compare_digest(secret.encode(), app.secret.encode()):
                raise refuse.wrong_secret(app.client_id)
            return
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise refuse.bad_assertion(700027, f"Client assertion type must be '{ASSERTION_TYPE}'.")
        if app.certificate_pem is None:
            raise refuse.bad_assertion(
                700027,
                "The certificate with identifier used to sign the client assertion is not registered on application.",
            )
        try:
            check_client_assertion(
                assertion or "",
                client_id=app.client_id,
                certificate_pem=app.certificate_pem,
                audience=self.token_endpoint,
            )
        except AssertionRefused as refused:
            raise refuse.bad_assertion(refused.code, refused.text) from None

    def _scopes(self, form: dict[str, str], resource: str, *, oidc: bool = True) -> frozenset[str]:
        """The requested scopes, which must name exactly ``resource`` (with OpenID ones if ``oidc``)."""
        asked = frozenset(form.get("scope", "").split())
        if not asked:
            raise refuse.missing("scope")
        if asked - (OIDC_SCOPES if oidc else frozenset()) != {resource}:
            raise refuse.invalid_scope(" ".join(sorted(asked)))
        return asked

    def _redeem_device_code(self, app: RegisteredApp, form: dict[str, str]) -> dict[str, Any]:
        code = self._devices.get(form.get("device_code") or "-")
        if code is None or code.client_id != app.client_id:
            raise refuse.bad_device_code()
        code.polls += 1
        self.device_polls += 1
        if code.state == "redeemed":
            raise refuse.device_code_redeemed()
        if code.state == "declined":
            raise refuse.authorization_declined()
        if time.time() >= code.expires_at:
            raise refuse.device_code_expired()
        if code.state == "pending":
            raise refuse.authorization_pending()
        code.state = "redeemed"
        assert code.mailbox is not None
        return self._user_tokens(app, code.mailbox, code.scopes, form)

    def _redeem_refresh_token(self, app: RegisteredApp, form: dict[str, str]) -> dict[str, Any]:
        presented = form.get("refresh_token")
        if not presented:
            raise refuse.missing("refresh_token")
        record = self._refresh.get(presented)
        if record is None or record.state == "used":
            raise refuse.refresh_token_expired()
        if record.client_id != app.client_id:
            raise refuse.refresh_token_of_another_app()
        if record.state == "revoked":
            raise refuse.refresh_token_revoked()
        scopes = self._scopes(form, SMTP_SCOPE) if form.get("scope") else record.scopes
        record.state = "used"
        return self._user_tokens(app, record.mailbox, scopes | {"offline_access"}, form)

    def _user_tokens(
        self, app: RegisteredApp, mailbox: str, scopes: frozenset[str], form: dict[str, str]
    ) -> dict[str, Any]:
        answer = self._token_answer(self._issue_access(app.client_id, mailbox, SMTP_SCOPE))
        answer["scope"] = " ".join([SMTP_SCOPE, *sorted(scopes & {"openid", "profile", "email"})])
        oid = str(uuid.uuid5(uuid.NAMESPACE_URL, "fake-idp:" + mailbox.lower()))
        if "offline_access" in scopes:
            token = secrets.token_urlsafe(96)
            self._refresh[token] = RefreshToken(token, app.client_id, mailbox, scopes)
            self.issued_refresh_tokens.append(token)
            answer["refresh_token"] = token
        if "openid" in scopes:
            answer["id_token"] = self._id_token(app.client_id, mailbox, oid)
        if form.get("client_info") == "1":
            info = json.dumps({"uid": oid, "utid": self.tenant}).encode()
            answer["client_info"] = base64.urlsafe_b64encode(info).decode().rstrip("=")
        return answer

    def _id_token(self, client_id: str, mailbox: str, oid: str) -> str:
        now = int(time.time())
        subject = base64.urlsafe_b64encode(hashlib.sha256(f"{client_id}:{oid}".encode()).digest()).decode()
        claims = {
            "aud": client_id,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": mailbox.split("@")[0].capitalize(),
            "oid": oid,
            "preferred_username": mailbox,
            "sub": subject.rstrip("="),
            "tid": self.tenant,
            "ver": "2.0",
        }
        # msal never checks an ID token's signature (it only decodes the claims).
        return jwt.encode(claims, self._id_token_key, algorithm="HS256", headers={"kid": "fake-idp"})

    def _issue_access(self, client_id: str, mailbox: str | None, scope: str) -> AccessToken:
        token = AccessToken(secrets.token_urlsafe(64), client_id, mailbox, scope, time.time() + self.token_lifetime)
        self._access[token.token] = token
        self.issued_access_tokens.append(token.token)
        return token

    def _token_answer(self, token: AccessToken) -> dict[str, Any]:
        lifetime = max(1, math.ceil(self.token_lifetime))
        return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token.token}
