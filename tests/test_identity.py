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


def _pem(path, key, certificate_for=None, *, password: bytes | None = None):
    """A PEM file with ``key`` (encrypted with ``password``) and a self-signed certificate."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tuiapp-test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                   .sign(key, hashes.SHA256()))
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
                     + certificate.public_bytes(serialization.Encoding.PEM))
    return path


def test_an_application_certificate_is_checked_before_msal_sees_it(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    from tuiapp.mail.identity import application_certificate

    good = _pem(tmp_path / "good.pem", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert set(application_certificate(str(good))) == {"private_key", "public_certificate"}
    cases = {
        "not-rsa": _pem(tmp_path / "ec.pem", ec.generate_private_key(ec.SECP256R1())),
        "encrypted": _pem(tmp_path / "locked.pem", rsa.generate_private_key(public_exponent=65537, key_size=2048),
                          password=b"phrase"),
        "missing": tmp_path / "nowhere.pem",
    }
    damaged = tmp_path / "damaged.pem"
    damaged.write_text(good.read_text().replace("\n", "\nAAAA", 3))
    cases["invalid"] = damaged
    for cause, path in cases.items():
        with pytest.raises(ip.CertificateUnreadable) as refused:
            application_certificate(str(path))
        assert refused.value.cause == cause, path
        assert str(path) in str(refused.value) and "--certificate" in str(refused.value)


def test_a_redirect_never_carries_the_secret_elsewhere(idp, tmp_path, monkeypatch):
    """The token endpoint answers 307 to another host: the request is not followed (a 307 keeps
    the body, the client secret with it), and the refusal names the other host."""
    import ssl
    import threading as threads
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import trustme

    from tests.smtp_server import free_port

    ca = trustme.CA()
    thief_port, stolen = free_port(), []

    class Thief(BaseHTTPRequestHandler):
        def do_POST(self):
            stolen.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    thief = ThreadingHTTPServer(("127.0.0.1", thief_port), Thief)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    thief.socket = context.wrap_socket(thief.socket, server_side=True)
    threads.Thread(target=thief.serve_forever, daemon=True).start()
    both = tmp_path / "both.pem"
    both.write_bytes(idp.ca_file.read_bytes() + ca.cert_pem.bytes())
    real = idp.token_endpoint
    discovery = idp._discovery
    monkeypatch.setattr(idp, "_discovery", lambda tenant: {**discovery(tenant), "token_endpoint": real + "-moved"})
    from tests import fake_idp_http

    original = fake_idp_http._RequestHandler.do_POST

    def moved(self):
        if self.path.endswith("-moved"):
            self.send_response(307)
            self.send_header("Location", f"https://localhost:{thief_port}/steal")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        original(self)

    monkeypatch.setattr(fake_idp_http._RequestHandler, "do_POST", moved)
    idp.register_app(CLIENT_ID, secret=SECRET)
    settings = _settings(idp, "oauth2-app", ca_file=str(both))
    KeyringStore().save_client_secret(settings, Secret(SECRET))
    try:
        with pytest.raises(ip.OAuthSettingsProblem) as refused:
            TokenSource(settings, KeyringStore()).token()
    finally:
        thief.shutdown()
    assert "localhost" in str(refused.value)
    assert stolen == []


def test_the_authoritys_default_port_is_the_same_place(idp):
    from tuiapp.domain.validation import check_authority

    assert check_authority("https://login.microsoftonline.com:443/") == "https://login.microsoftonline.com"
    _app_source(idp).token()  # idp.authority names its port: requests to it pass


def test_an_unusable_ca_file_is_said_in_french(idp, tmp_path):
    idp.register_app(CLIENT_ID, secret=SECRET)
    for ca_file, expected in ((tmp_path / "gone.pem", "introuvable"), (tmp_path / "junk.pem", "PEM attendu")):
        if ca_file.name == "junk.pem":
            ca_file.write_text("not a certificate\n")
        settings = _settings(idp, "oauth2-app", ca_file=str(ca_file))
        KeyringStore().save_client_secret(settings, Secret(SECRET))
        with pytest.raises(Exception) as refused:
            TokenSource(settings, KeyringStore()).token()
        assert expected in str(refused.value) and str(ca_file) in str(refused.value)


def test_the_lock_never_follows_a_link_put_in_the_services_folder(tmp_path):
    """The service account may write its folder; root takes the lock there (sudo tuiapp smtp login):
    a link to another file must neither be opened nor have that file given to the service."""
    import os

    from tuiapp.mail.secret_store import FolderStore
    from tuiapp.mail.secrets import SecretStoreError

    folder = tmp_path / "secret"
    folder.mkdir(mode=0o700)
    precious = tmp_path / "shadow"
    precious.write_text("root's\n")
    before = precious.stat()
    (folder / "oauth.lock").symlink_to(precious)
    with pytest.raises(SecretStoreError), FolderStore(folder, (os.getuid() + 4242, os.getgid() + 4242)).lock():
        pass
    after = precious.stat()
    assert (after.st_uid, after.st_gid, after.st_mode) == (before.st_uid, before.st_gid, before.st_mode)
    (folder / "oauth.lock").unlink()
    with FolderStore(folder).lock():
        assert (folder / "oauth.lock").stat().st_mode & 0o777 == 0o600
