"""The fake identity provider is as strict as Entra ID with msal itself, and the test SMTP server's
XOAUTH2 takes only the tokens it issued (what the app's OAuth tests rely on)."""

from __future__ import annotations

import base64
import smtplib
import ssl
import threading
import time
import uuid

import jwt
import msal
import pytest
import requests

from tests.client_certificates import thumbprint
from tests.fake_idp import APP_SCOPE, SMTP_SCOPE, FakeIdentityProvider, make_client_certificate
from tests.smtp_server import PASSWORD, USERNAME, SmtpTestServer

SECRET = "app-secret-value~for.tests"


@pytest.fixture
def idp(tmp_path):
    # Under msal's 5 minutes: it asks the provider each time (test_msal_keeps_a_token_only_with_five_minutes_left).
    # The tests of expiry shorten the lifetime for the token that is to expire.
    with FakeIdentityProvider(tmp_path, token_lifetime=5) as provider:
        yield provider
    assert provider.internal_errors == []


def confidential(idp: FakeIdentityProvider, client_id: str, credential) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=f"{idp.authority}/{idp.tenant}",
        instance_discovery=False,
        http_client=idp.session(),
    )


def public(idp: FakeIdentityProvider, client_id: str) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        client_id, authority=f"{idp.authority}/{idp.tenant}", instance_discovery=False, http_client=idp.session()
    )


def signed_in(idp: FakeIdentityProvider, app: msal.PublicClientApplication, *, after_a_poll: bool = False) -> dict:
    """The device flow, the user approving at once or, ``after_a_poll``, once the app has polled
    (as a person would, later: msal then waits the interval, 1 s, before it polls again)."""
    flow = app.initiate_device_flow([SMTP_SCOPE])
    if not after_a_poll:
        idp.approve(flow["user_code"])
        return app.acquire_token_by_device_flow(flow)
    user = threading.Thread(target=lambda: (idp.wait_for_poll(1), idp.approve(flow["user_code"])))
    user.start()
    result = app.acquire_token_by_device_flow(flow)
    user.join()
    return result


def refused_with(result: dict, error: str, code: int) -> bool:
    return (
        result.get("error") == error
        and result.get("error_codes") == [code]
        and result["error_description"].startswith(f"AADSTS{code}: ")
        and "access_token" not in result
    )


def test_client_secret_gets_an_application_token_for_the_granted_mailbox_only(idp):
    idp.register_app("app", secret=SECRET)
    result = confidential(idp, "app", SECRET).acquire_token_for_client([APP_SCOPE])
    assert result["token_type"] == "Bearer" and result["expires_in"] == 5
    assert idp.accepts(result["access_token"], USERNAME)
    assert not idp.accepts(result["access_token"], "direction@example.org")
    assert not idp.accepts("not-a-token-it-issued", USERNAME)
    assert idp.token_requests == [("client_credentials", "app", True)]


def test_refusals_of_the_token_endpoint_in_entras_words(idp):
    idp.register_app("app", secret=SECRET)
    assert refused_with(
        confidential(idp, "app", "wrong").acquire_token_for_client([APP_SCOPE]), "invalid_client", 7000215
    )
    assert refused_with(
        confidential(idp, "unknown-app", SECRET).acquire_token_for_client([APP_SCOPE]), "unauthorized_client", 700016
    )
    for scopes in (
        [SMTP_SCOPE],
        ["https://outlook.office.com/.default"],
        [APP_SCOPE, "https://graph.microsoft.com/.default"],
    ):
        assert refused_with(confidential(idp, "app", SECRET).acquire_token_for_client(scopes), "invalid_scope", 70011)
    assert idp.issued_access_tokens == []
    assert [ok for _, _, ok in idp.token_requests] == [False] * 5


def test_an_unknown_tenant_is_refused_at_discovery(idp):
    with pytest.raises(ValueError, match="Unable to get authority configuration") as refused:
        msal.ConfidentialClientApplication(
            "app",
            client_credential=SECRET,
            authority=f"{idp.authority}/{uuid.uuid4()}",
            instance_discovery=False,
            http_client=idp.session(),
        )
    assert "AADSTS90002" in str(refused.value.__context__)  # msal's own words; Entra's are in the cause
    answer = idp.session().post(f"{idp.authority}/common/oauth2/v2.0/token", data={"grant_type": "client_credentials"})
    assert answer.status_code == 400 and answer.json()["error_codes"] == [90002]
    assert set(answer.json()) >= {
        "error",
        "error_description",
        "error_codes",
        "timestamp",
        "trace_id",
        "correlation_id",
    }


def test_the_ca_file_alone_is_trusted(idp):
    with pytest.raises(requests.exceptions.SSLError):
        session = requests.Session()
        session.trust_env = False
        session.get(f"{idp.authority}/{idp.tenant}/v2.0/.well-known/openid-configuration")


@pytest.mark.parametrize("kind", ["sha256 certificate (PS256)", "sha1 thumbprint (RS256)"])
def test_a_certificate_credential_signs_an_assertion_msal_makes(idp, tmp_path, kind):
    certificate = make_client_certificate(tmp_path / "app.pem")
    pem = (tmp_path / "app.pem").read_text()
    assert pem.index("PRIVATE KEY") < pem.index("BEGIN CERTIFICATE")
    idp.register_app("app", certificate_pem=certificate)
    credential = (
        {"private_key": pem, "public_certificate": certificate.decode()}
        if kind.startswith("sha256")
        else {"private_key": pem, "thumbprint": base64.urlsafe_b64decode(thumbprint(certificate, "sha1") + "=").hex()}
    )
    result = confidential(idp, "app", credential).acquire_token_for_client([APP_SCOPE])
    assert idp.accepts(result["access_token"], USERNAME)


def _assertion(idp, key_pem: str, certificate: bytes, **changes) -> str:
    now = time.time()
    claims = {"aud": idp.token_endpoint, "iss": "app", "sub": "app", "iat": now, "exp": now + 600, "jti": "j"}
    headers = {"x5t#S256": thumbprint(certificate)}
    headers |= changes.pop("headers", {})
    return jwt.encode(claims | changes, key_pem, algorithm="PS256", headers=headers)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("tampered", 700027),
        ("other key", 700027),
        ("wrong audience", 700027),
        ("issuer not the client", 700027),
        ("no thumbprint", 700027),
        ("expired", 700024),
        ("not yet valid", 700024),
    ],
)
def test_a_bad_client_assertion_is_refused(idp, tmp_path, change, code):
    certificate = make_client_certificate(tmp_path / "app.pem")
    key_pem = (tmp_path / "app.pem").read_text()
    idp.register_app("app", certificate_pem=certificate)
    now = time.time()
    changes = {
        "tampered": {},
        "other key": {},
        "wrong audience": {"aud": f"{idp.authority}/common/oauth2/v2.0/token"},
        "issuer not the client": {"iss": "another-app"},
        "no thumbprint": {"headers": {"x5t#S256": None}},
        "expired": {"exp": now - 5},
        "not yet valid": {"nbf": now + 60},
    }[change]
    if change == "other key":
        make_client_certificate(tmp_path / "other.pem")
        key_pem = (tmp_path / "other.pem").read_text()
    assertion = _assertion(idp, key_pem, certificate, **changes)
    if change == "tampered":  # the claims say another client, the signature is the original one's
        head, claims, signature = assertion.split(".")
        assertion = ".".join([head, claims[:-2] + ("A" if claims[-2] != "A" else "B") + claims[-1], signature])
    result = confidential(idp, "app", {"client_assertion": lambda: assertion}).acquire_token_for_client([APP_SCOPE])
    assert refused_with(result, "invalid_client", code)
    assert idp.issued_access_tokens == []


def test_device_flow_then_refresh_tokens_used_once(idp):
    idp.register_app("public-app", public=True)
    app = public(idp, "public-app")
    result = signed_in(idp, app, after_a_poll=True)
    assert result["scope"].split()[0] == SMTP_SCOPE and "refresh_token" in result
    assert ("authorization_pending", 70016) in idp.refusals  # it polled before the user approved
    assert idp.accepts(result["access_token"], USERNAME)
    assert not idp.accepts(result["access_token"], "direction@example.org")
    [account] = app.get_accounts()
    assert account["username"] == USERNAME and account["realm"] == idp.tenant

    idp.expire_access_tokens()  # (expiry in time: test_smtp_xoauth2_takes_a_fresh_token_of_the_mailbox_only)
    assert not idp.accepts(result["access_token"], USERNAME)
    renewed = app.acquire_token_silent_with_error([SMTP_SCOPE], account)
    assert renewed["token_source"] == "identity_provider" and idp.accepts(renewed["access_token"], USERNAME)
    assert renewed["refresh_token"] != result["refresh_token"]
    assert idp.token_requests[-1] == ("refresh_token", "public-app", True)

    again = app.acquire_token_by_refresh_token(result["refresh_token"], [SMTP_SCOPE])
    assert refused_with(again, "invalid_grant", 70008)
    assert refused_with(app.acquire_token_by_refresh_token("made-up", [SMTP_SCOPE]), "invalid_grant", 70008)


def test_revoked_sessions_need_a_new_sign_in(idp):
    idp.register_app("public-app", public=True)
    app = public(idp, "public-app")
    signed_in(idp, app)
    idp.revoke()
    [account] = app.get_accounts()
    assert refused_with(
        app.acquire_token_silent_with_error([SMTP_SCOPE], account, force_refresh=True), "invalid_grant", 50173
    )


def test_device_flow_declined_expired_or_misused(tmp_path):
    with FakeIdentityProvider(tmp_path, device_lifetime=1) as idp:
        idp.register_app("public-app", public=True)
        idp.register_app("confidential-app", secret=SECRET)
        app = public(idp, "public-app")

        flow = app.initiate_device_flow([SMTP_SCOPE])
        assert flow["interval"] == 1 and flow["user_code"] in flow["message"]
        idp.decline()
        assert refused_with(app.acquire_token_by_device_flow(flow), "authorization_declined", 70000)

        flow = app.initiate_device_flow([SMTP_SCOPE])  # nobody approves within its second
        assert refused_with(app.acquire_token_by_device_flow(flow), "expired_token", 70019)

        assert refused_with(app.initiate_device_flow(["https://graph.microsoft.com/Mail.Send"]), "invalid_scope", 70011)
        assert refused_with(
            public(idp, "confidential-app").initiate_device_flow([SMTP_SCOPE]), "invalid_client", 7000218
        )
        with pytest.raises(LookupError):
            idp.approve()
        assert idp.issued_access_tokens == [] and idp.internal_errors == []


def _smtp(server: SmtpTestServer) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", server.port, timeout=5)
    client.starttls(context=ssl.create_default_context(cafile=str(server.ca_file)))
    client.ehlo()
    return client


def _xoauth2(user: str, token: str):
    return lambda challenge=None: f"user={user}\x01auth=Bearer {token}\x01\x01"


def test_smtp_xoauth2_takes_a_fresh_token_of_the_mailbox_only(idp, tmp_path):
    idp.register_app("app", secret=SECRET)
    idp.register_app("other-app", secret=SECRET, mailboxes=("direction@example.org",))
    idp.token_lifetime = 0.3
    expired = confidential(idp, "app", SECRET).acquire_token_for_client([APP_SCOPE])["access_token"]
    time.sleep(0.35)
    idp.token_lifetime = 30
    foreign = confidential(idp, "other-app", SECRET).acquire_token_for_client([APP_SCOPE])["access_token"]
    fresh = confidential(idp, "app", SECRET).acquire_token_for_client([APP_SCOPE])["access_token"]
    assert not idp.accepts(expired, USERNAME) and idp.accepts(foreign, "direction@example.org")
    server = SmtpTestServer(tmp_path, oauth=idp).start()
    try:
        with _smtp(server) as client:
            assert "XOAUTH2" in client.esmtp_features["auth"].split()
            tries = [
                ("password", lambda: client.login(USERNAME, PASSWORD), 535, b"5.7.139"),
                ("expired", lambda: client.auth("XOAUTH2", _xoauth2(USERNAME, expired)), 535, b"5.7.3"),
                ("foreign", lambda: client.auth("XOAUTH2", _xoauth2(USERNAME, foreign)), 535, b"5.7.3"),
                ("other user", lambda: client.auth("XOAUTH2", _xoauth2("direction@example.org", fresh)), 535, b"5.7.3"),
                (
                    "format",
                    lambda: client.auth("XOAUTH2", lambda c=None: f"user={USERNAME}\x01auth={fresh}\x01\x01"),
                    535,
                    b"5.7.3",
                ),
            ]
            for label, attempt, code, status in tries:
                with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                    attempt()
                assert (refused.value.smtp_code, refused.value.smtp_error.split()[0]) == (code, status), label
            server.faults.auth_replies.append(
                "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant"
            )
            with pytest.raises(smtplib.SMTPAuthenticationError, match="SmtpClientAuthentication is disabled"):
                client.auth("XOAUTH2", _xoauth2(USERNAME, fresh))
            assert client.auth("XOAUTH2", _xoauth2(USERNAME, fresh)) == (235, b"2.7.0 Authentication successful")
            client.sendmail(USERNAME, ["resident@example.org"], b"Subject: test\r\n\r\nbody\r\n")
    finally:
        server.stop()
    assert [m.rcpt_tos for m in server.received] == [["resident@example.org"]]
    assert [ok for _, _, ok in server.handler.xoauth2_attempts] == [False, False, False, False, True]
    assert server.handler.xoauth2_attempts[-1][:2] == (USERNAME, fresh)


def test_smtp_xoauth2_takes_a_delegated_token(idp, oauth_server):
    idp.register_app("public-app", public=True)
    token = signed_in(idp, public(idp, "public-app"))["access_token"]
    with _smtp(oauth_server) as client:
        assert client.auth("XOAUTH2", _xoauth2(USERNAME, token))[0] == 235
    idp.expire_access_tokens()
    with _smtp(oauth_server) as client, pytest.raises(smtplib.SMTPAuthenticationError, match="5.7.3"):
        client.auth("XOAUTH2", _xoauth2(USERNAME, token))


def test_smtp_xoauth2_without_an_initial_response(idp, oauth_server):
    idp.register_app("app", secret=SECRET)
    token = confidential(idp, "app", SECRET).acquire_token_for_client([APP_SCOPE])["access_token"]
    with _smtp(oauth_server) as client:  # AUTH XOAUTH2, an empty 334 challenge, then the client's line
        assert client.auth("XOAUTH2", _xoauth2(USERNAME, token), initial_response_ok=False)[0] == 235
    assert oauth_server.handler.xoauth2_attempts == [(USERNAME, token, True)]


def test_msal_keeps_a_token_only_with_five_minutes_left(tmp_path):
    """msal treats a cached access token with under 5 minutes left as expired: with the tests'
    short lifetimes every acquire_token_* asks the provider; with an hour, it serves its cache,
    even a token the provider no longer accepts, until the app drops it."""
    with FakeIdentityProvider(tmp_path, token_lifetime=3600) as idp:
        idp.register_app("app", secret=SECRET)
        app = confidential(idp, "app", SECRET)
        first = app.acquire_token_for_client([APP_SCOPE])
        cached = app.acquire_token_for_client([APP_SCOPE])
        assert (first["token_source"], cached["token_source"]) == ("identity_provider", "cache")
        assert cached["access_token"] == first["access_token"] and len(idp.token_requests) == 1
        idp.expire_access_tokens()
        stale = app.acquire_token_for_client([APP_SCOPE])
        assert stale["token_source"] == "cache" and not idp.accepts(stale["access_token"], USERNAME)
        app.remove_tokens_for_client()  # acquire_token_for_client has no force_refresh
        assert idp.accepts(app.acquire_token_for_client([APP_SCOPE])["access_token"], USERNAME)


def test_a_serialized_token_cache_signs_in_again_silently(idp):
    idp.register_app("public-app", public=True)
    cache = msal.SerializableTokenCache()
    first = msal.PublicClientApplication(
        "public-app",
        authority=f"{idp.authority}/{idp.tenant}",
        instance_discovery=False,
        http_client=idp.session(),
        token_cache=cache,
    )
    signed_in(idp, first)
    restored = msal.SerializableTokenCache()
    restored.deserialize(cache.serialize())
    later = msal.PublicClientApplication(
        "public-app",
        authority=f"{idp.authority}/{idp.tenant}",
        instance_discovery=False,
        http_client=idp.session(),
        token_cache=restored,
    )
    [account] = later.get_accounts(username=USERNAME)
    result = later.acquire_token_silent([SMTP_SCOPE], account)
    assert idp.accepts(result["access_token"], USERNAME) and restored.has_state_changed


def test_an_outage_raises_and_msal_replays_it(idp):
    idp.register_app("app", secret=SECRET)
    app = confidential(idp, "app", SECRET)
    idp.fail_next(1, status=503)
    for _ in range(2):  # the second is msal's replay of the first answer: the provider never sees it
        with pytest.raises(msal.exceptions.MsalServiceError, match="503"):
            app.acquire_token_for_client([APP_SCOPE])
    assert idp.token_requests == [] and [method for method, _ in idp.requests] == ["GET", "POST"]
