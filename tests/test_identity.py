"""The token source against the strict fake identity provider, in this process (issue 12): renewal
before expiry, a cancelled or foreign sign-in, a provider that points elsewhere, a clock out of step,
and no secret in a text or a representation."""

from __future__ import annotations

import threading
import time

import pytest

from tests.fake_idp import FakeIdentityProvider
from tuiapp.mail import identity_problems as ip
from tuiapp.mail.identity import TokenSource
from tuiapp.mail.secret_store import KeyringStore
from tuiapp.mail.secrets import Secret
from tuiapp.mail.smtp_client import SmtpSettings

CLIENT_ID = "0b6f5a7e-2c1d-4e8f-9a3b-7d5c1e2f4a60"
SECRET = "Zq8~app-secret-for-tests.Kp2"


@pytest.fixture
def idp(tmp_path, monkeypatch):
    monkeypatch.setenv("TUIAPP_DEVICE_POLL", "0.1")
    monkeypatch.setenv("TUIAPP_TOKEN_MARGIN", "1")
    with FakeIdentityProvider(tmp_path, token_lifetime=2.0) as provider:
        yield provider


def _settings(idp, method: str, **changes) -> SmtpSettings:
    values = {"host": "127.0.0.1", "username": idp.mailbox, "auth_method": method, "tenant": idp.tenant,
              "client_id": CLIENT_ID, "authority": idp.authority, "ca_file": str(idp.ca_file)}
    return SmtpSettings(**{**values, **changes})


def _app_source(idp, secret: str = SECRET) -> TokenSource:
    idp.register_app(CLIENT_ID, secret=SECRET)
    settings = _settings(idp, "oauth2-app")
    KeyringStore().save_client_secret(settings, Secret(secret))
    return TokenSource(settings, KeyringStore())


def test_a_token_is_kept_until_near_its_end_then_renewed(idp):
    source = _app_source(idp)
    first = source.token()
    assert source.token() is first  # 2 s left, the margin is 1 s: kept
    time.sleep(1.1)
    second = source.token()
    assert second is not first and second.value != first.value
    assert source.token(fresh=True).value != second.value  # asked for: a new one, whatever is kept
    assert len(idp.issued_access_tokens) == 3


def test_no_secret_or_token_in_a_representation_or_a_refusal(idp):
    source = _app_source(idp, secret="wrong-" + SECRET)
    with pytest.raises(ip.ClientSecretRefused) as refused:
        source.token()
    assert "tuiapp smtp secret" in str(refused.value) and SECRET not in str(refused.value)
    good = _app_source(idp)
    token = good.token()
    assert token.value.reveal() not in repr(token) + str(token) + repr(good)


def test_a_sign_in_is_cancelled_at_once(idp):
    idp.register_app(CLIENT_ID, public=True)
    source = TokenSource(_settings(idp, "oauth2-device"), KeyringStore())
    started = source.start_sign_in()
    assert started.user_code and started.expires_at > time.time()
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    began = time.monotonic()
    with pytest.raises(ip.SignInCancelled):
        source.finish_sign_in(started, cancel=cancel)
    assert time.monotonic() - began < 2
    assert not source.status().signed_in
    with pytest.raises(ip.NotSignedIn):
        source.token()


def test_a_sign_in_with_another_mailbox_is_refused_and_not_kept(idp):
    idp.register_app(CLIENT_ID, public=True)
    source = TokenSource(_settings(idp, "oauth2-device"), KeyringStore())
    started = source.start_sign_in()
    idp.approve(started.user_code, mailbox="someone.else@example.org")
    with pytest.raises(ip.OAuthSettingsProblem) as wrong:
        source.finish_sign_in(started)
    assert "someone.else@example.org" in str(wrong.value) and idp.mailbox in str(wrong.value)
    assert not source.status().signed_in


def test_a_provider_pointing_elsewhere_gets_neither_secret_nor_assertion(idp, monkeypatch):
    discovery = idp._discovery
    elsewhere = "https://localhost:9/{}/oauth2/v2.0/token"
    monkeypatch.setattr(idp, "_discovery", lambda tenant: {**discovery(tenant),
                                                           "token_endpoint": elsewhere.format(tenant)})
    source = _app_source(idp)
    with pytest.raises(ip.OAuthSettingsProblem) as refused:
        source.token()
    assert "localhost" in str(refused.value) and "--authority" in str(refused.value)
    assert idp.token_requests == []


def test_a_clock_out_of_step_is_named(idp, monkeypatch):
    from email.utils import formatdate
    from http.server import BaseHTTPRequestHandler

    monkeypatch.setattr(BaseHTTPRequestHandler, "date_time_string",
                        lambda self, timestamp=None: formatdate(time.time() - 3600, usegmt=True))
    source = _app_source(idp, secret="wrong-" + SECRET)
    with pytest.raises(ip.ClockOutOfStep) as skewed:
        source.token()
    assert "avance de 60 min" in str(skewed.value) and "timedatectl" in str(skewed.value)


def test_incomplete_settings_are_said_before_any_request(idp):
    source = TokenSource(_settings(idp, "oauth2-app", tenant=""), KeyringStore())
    with pytest.raises(ip.OAuthSettingsProblem) as incomplete:
        source.token()
    assert "--tenant" in str(incomplete.value)
    assert idp.requests == []
