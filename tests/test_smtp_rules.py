"""The SMTP settings' rules in one place each: the client refuses to authenticate in clear exactly as
saving the settings does (``tuiapp.domain.smtp_security``), and the SMTP window reads the « allow
insecure authentication » checkbox as the forms' service does (``forms.switch``)."""

from __future__ import annotations

import pytest

from tests.smtp_server import PASSWORD, USERNAME, SmtpTestServer
from tuiapp.domain.smtp_security import credentials_in_clear
from tuiapp.mail.problems import InsecureAuthRefused
from tuiapp.mail.secrets import Secret
from tuiapp.mail.smtp_client import PasswordAuthenticator, SmtpConnection, SmtpSettings
from tuiapp.screens.smtp_checks import settings_from
from tuiapp.services import forms


@pytest.mark.parametrize("allowed", [False, True])
def test_the_client_refuses_what_saving_refuses(tmp_path, allowed):
    plain = SmtpTestServer(tmp_path, tls="none").start()
    try:
        settings = SmtpSettings(host="127.0.0.1", port=plain.port, security="none", username=USERNAME,
                                allow_insecure_auth=allowed, timeout=2)
        authenticator = PasswordAuthenticator(USERNAME, lambda: Secret(PASSWORD))
        assert credentials_in_clear(settings.security, settings.username, allowed) is not allowed
        if allowed:
            SmtpConnection.open(settings, authenticator).close()  # authenticated in clear, as allowed
        else:
            with pytest.raises(InsecureAuthRefused):
                SmtpConnection.open(settings, authenticator)
    finally:
        plain.stop()


@pytest.mark.parametrize(("value", "on"), [
    ("", False), ("0", False), ("False", False), ("false", False), (None, False), (False, False),
    ("1", True), ("True", True), (True, True), ("true", True),
])
def test_the_smtp_window_reads_the_checkbox_as_the_forms_do(value, on):
    assert forms.switch(value) is on
    assert settings_from({"smtp_allow_insecure_auth": value}).allow_insecure_auth is on
    assert settings_from({}).allow_insecure_auth is False
