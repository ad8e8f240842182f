"""The SMTP window with OAuth 2.0 (issue 12): the method's fields, their checks, Se connecter (device code)
against the fake identity provider (tests/fake_idp.py), the test with XOAUTH2, and service mode."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from textual.widgets import Input, Select

from tests.smtp_server import USERNAME
from tests.test_roles import load, notices
from tests.test_screens import SIZE, fill, press, settle, text_of
from tuiapp.app import create_app
from tuiapp.db.database import release
from tuiapp.db.models import Association
from tuiapp.screens.smtp_fields import OAUTH_FIELDS, SIGN_IN_METHOD, SIGN_IN_ON_SERVER

CLIENT_ID = "5f0c2a94-1b7e-4c3d-9a68-2e4b7d1c0f53"
PUBLIC_CLIENT_ID = str(uuid.UUID("0b8e6a1c-3f2d-4e5a-8c7b-9d1e2f3a4b5c"))


@pytest.fixture
def app(demo_db_file):
    application = create_app(demo_db_file)
    # Office 365's security: the demo's catch-all server has none, which no identifiant goes with.
    Association.update(smtp_security="starttls").execute()
    yield application
    release()


def shown(app, name: str) -> bool:
    return app.screen.query_one(f"#field-{name}").display


async def choose_method(pilot, method: str) -> None:
    """Choose in the Authentification list with the keyboard: Entrée, the arrows, Entrée."""
    select = pilot.app.screen.query_one("#smtp_auth_method", Select)
    select.focus()
    await settle(pilot)
    order = ["password", "oauth2-app", "oauth2-device"]
    steps = order.index(method) - order.index(str(select.value))
    await press(pilot, "enter", *(["down"] * steps if steps > 0 else ["up"] * -steps), "enter")
    await pilot.app.workers.wait_for_complete()
    await settle(pilot)
    assert select.value == method


async def put(pilot, name: str, value: str) -> None:
    """A value in a field at once (pasted, as it were), where the typing itself is not what is tried."""
    pilot.app.screen.query_one(f"#{name}", Input).value = value
    await settle(pilot)


async def tab_order(pilot, count: int) -> list[str | None]:
    seen = []
    for _ in range(count):
        await press(pilot, "tab")
        seen.append(pilot.app.focused.id if pilot.app.focused else None)
    return seen


async def test_the_fields_follow_the_method_and_tab_goes_through_the_visible_ones(app):
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "m")
        await app.workers.wait_for_complete()
        assert shown(app, "password") and not any(shown(app, name) for name in OAUTH_FIELDS)
        assert "ctrl+l" not in app.screen.active_bindings  # Se connecter: the device code's
        app.screen.query_one("#smtp_host").focus()
        assert await tab_order(pilot, 7) == ["smtp_port", "smtp_security", "smtp_allow_insecure_auth",
                                             "smtp_username", "smtp_auth_method", "password", "smtp_rate_per_minute"]

        await choose_method(pilot, "oauth2-device")
        assert not shown(app, "password") and not shown(app, "smtp_oauth_certificate")
        assert all(shown(app, name) for name in ("smtp_oauth_tenant", "smtp_oauth_client_id", "smtp_oauth_authority"))
        assert app.screen.active_bindings["ctrl+l"].enabled
        assert await tab_order(pilot, 4) == ["smtp_oauth_tenant", "smtp_oauth_client_id", "smtp_oauth_authority",
                                             "smtp_rate_per_minute"]
        assert app.screen.query_one("#smtp_oauth_authority", Input).placeholder == "vide : Microsoft"

        await choose_method(pilot, "oauth2-app")
        assert all(shown(app, name) for name in OAUTH_FIELDS) and not shown(app, "password")
        assert "ctrl+l" not in app.screen.active_bindings
        await press(pilot, "ctrl+l")  # the key pressed anyway: the reason, nothing opened
        assert app.screen.__class__.__name__ == "SmtpScreen"
        assert SIGN_IN_METHOD in notices(app)
        # the client secret is typed with the CLI only: the state line says so
        await put(pilot, "smtp_username", USERNAME)
        await put(pilot, "smtp_oauth_tenant", "asso.onmicrosoft.com")
        await put(pilot, "smtp_oauth_client_id", CLIENT_ID)
        await pilot.pause(0.5)  # the state line waits for the typing to stop
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert "Aucun secret d'application : enregistrez-le avec tuiapp smtp secret" in text_of(app, "#password-state")


async def test_the_oauth_settings_are_saved(app, tmp_path):
    from tests.fake_idp import make_client_certificate

    pem = tmp_path / "app.pem"
    make_client_certificate(pem)  # an RSA key and its certificate, as Entra takes them
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "m")
        await choose_method(pilot, "oauth2-app")
        for name, value in (("smtp_username", USERNAME), ("smtp_oauth_tenant", "asso.onmicrosoft.com"),
                            ("smtp_oauth_client_id", CLIENT_ID.upper()), ("smtp_oauth_certificate", str(pem)),
                            ("smtp_oauth_authority", "https://login.microsoftonline.us/")):
            await fill(pilot, f"#{name}", value)
        await settle(pilot)
        assert text_of(app, "#errors") == ""
        await press(pilot, "ctrl+s")
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert app.screen.__class__.__name__ != "SmtpScreen"
    association = Association.get_solo()
    assert (association.smtp_auth_method, association.smtp_username, association.smtp_oauth_tenant,
            association.smtp_oauth_client_id, association.smtp_oauth_certificate, association.smtp_oauth_authority) == (
        "oauth2-app", USERNAME, "asso.onmicrosoft.com", CLIENT_ID, str(pem.resolve()), "https://login.microsoftonline.us")


async def test_bad_oauth_values_are_refused_in_french_and_the_form_stays(app, tmp_path):
    before = Association.get_solo().__data__.copy()
    not_a_certificate = tmp_path / "cle.pem"
    not_a_certificate.write_text("rien\n")
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "m")
        await choose_method(pilot, "oauth2-app")
        await settle(pilot)
        errors = text_of(app, "#errors")
        assert "Identifiant : la boîte d'envoi (adresse Office 365), obligatoire avec OAuth 2.0." in errors
        assert "Annuaire (tenant) : obligatoire avec OAuth 2.0" in errors
        await put(pilot, "smtp_username", USERNAME)
        await fill(pilot, "#smtp_oauth_tenant", "pas un annuaire !")
        await fill(pilot, "#smtp_oauth_client_id", "1234")
        await put(pilot, "smtp_oauth_certificate", str(not_a_certificate))
        await put(pilot, "smtp_oauth_authority", "http://login.example")
        await settle(pilot)
        errors = text_of(app, "#errors")
        assert "Annuaire (tenant) : l'ID de l'annuaire (xxxxxxxx-xxxx-...) ou son domaine" in errors
        assert "ID d'application : un identifiant de la forme xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx." in errors
        assert "Certificat (PEM, option) : « " in errors and "doit contenir la clé privée et le certificat" in errors
        assert "Fournisseur d'identité (option) : une adresse https://hôte" in errors
        assert app.screen.query_one("#smtp_oauth_tenant", Input).has_class("invalid")
        await press(pilot, "ctrl+s")
        assert app.screen.__class__.__name__ == "SmtpScreen"
        assert app.screen.query_one("#smtp_oauth_client_id", Input).value == "1234"  # kept as typed
    assert Association.get_solo().__data__ == before


def point_at_idp(idp, server=None, tmp_path=None, *, method: str = "oauth2-device") -> None:
    """The association as Office 365 with the fake identity provider (and the XOAUTH2 test server):
    one CA file trusts both."""
    idp.register_app(PUBLIC_CLIENT_ID, public=True)
    association = Association.get_solo()
    association.smtp_auth_method = method
    association.smtp_username = idp.mailbox
    association.smtp_oauth_tenant = idp.tenant
    association.smtp_oauth_client_id = PUBLIC_CLIENT_ID
    association.smtp_oauth_authority = idp.authority
    association.smtp_ca_file = str(idp.ca_file)
    association.smtp_security = "starttls"  # never an identifiant in clear (Association.rules)
    if server is not None:
        both = tmp_path / "both-ca.pem"
        both.write_text(idp.ca_file.read_text() + server.ca_file.read_text())
        association.smtp_host, association.smtp_port, association.smtp_security = "127.0.0.1", server.port, "starttls"
        association.smtp_ca_file = str(both)
    association.save()


async def wait_until(pilot, condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "still waiting"
        await pilot.pause(0.05)


def seconds_left(text: str) -> int:
    match = re.fullmatch(r"Code valable encore (?:(\d+) min )?(\d+) s", text)
    assert match, text
    return int(match.group(1) or 0) * 60 + int(match.group(2))


async def open_sign_in(pilot):
    app = pilot.app
    await press(pilot, "ctrl+l")
    assert app.screen.__class__.__name__ == "SignInScreen"
    await wait_until(pilot, lambda: "saisissez le code" in text_of(app, "#sign-in-code"))
    return app.screen


async def test_sign_in_with_a_device_code_after_saving_the_changes(app, idp, oauth_server, tmp_path, monkeypatch):
    monkeypatch.setenv("TUIAPP_DEVICE_POLL", "0.2")
    point_at_idp(idp, oauth_server, tmp_path, method="password")
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "m")
        await choose_method(pilot, "oauth2-device")
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert "Non connecté à Office 365 : Se connecter (Ctrl+L)." in text_of(app, "#password-state")
        await press(pilot, "ctrl+t")  # nobody signed in: the token step fails
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert "Échec à l'étape « jeton » : Aucune connexion Office 365" in text_of(app, "#test-result")

        await press(pilot, "ctrl+l")  # the method changed: saved first, if the operator agrees
        assert app.screen.__class__.__name__ == "ConfirmScreen"
        await press(pilot, "o")
        assert Association.get_solo().smtp_auth_method == "oauth2-device"
        assert app.screen.__class__.__name__ == "SignInScreen"
        await wait_until(pilot, lambda: "saisissez le code" in text_of(app, "#sign-in-code"))
        window = app.screen
        code = idp.wait_for_poll().user_code
        assert text_of(app, "#sign-in-code") == ("Sur un téléphone ou un ordinateur, ouvrez l'adresse\n\n"
                                                  "    https://microsoft.com/devicelogin\n\n"
                                                  f"et saisissez le code :\n\n     {code} ")
        assert idp.mailbox in text_of(app, "#sign-in-mailbox")
        first = seconds_left(text_of(app, "#sign-in-countdown"))
        assert 50 <= first <= 60
        await wait_until(pilot, lambda: seconds_left(text_of(app, "#sign-in-countdown")) < first, timeout=2.5)

        idp.approve(code)
        await wait_until(pilot, lambda: app.screen is not window)
        await settle(pilot)  # the window's outcome reaches the SMTP window in a message of its own
        assert app.screen.__class__.__name__ == "SmtpScreen"
        assert f"Connecté à Office 365 : {idp.mailbox}." in text_of(app, "#test-result")
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert f"Connecté : {idp.mailbox} ; jeton" in text_of(app, "#password-state")

        await press(pilot, "ctrl+t")  # signed in: a token, then XOAUTH2 on the server
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert "Connexion réussie : jeton obtenu et accepté par le serveur (XOAUTH2)." in text_of(app, "#test-result")
        assert oauth_server.handler.xoauth2_attempts[-1][0] == idp.mailbox and oauth_server.handler.xoauth2_attempts[-1][2]
        assert window.finished.is_set()
        drawn = app.export_screenshot()  # every character drawn, the notices included
        assert not any(token in drawn for token in [*idp.issued_access_tokens, *idp.issued_refresh_tokens])


async def test_escape_cancels_the_sign_in_at_once_and_the_polling_stops(app, idp, monkeypatch):
    monkeypatch.setenv("TUIAPP_DEVICE_POLL", "0.2")
    point_at_idp(idp)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "m")
        window = await open_sign_in(pilot)
        idp.wait_for_poll()
        await press(pilot, "escape")
        assert app.screen.__class__.__name__ == "SmtpScreen"  # at once, whatever the thread does
        assert "Connexion annulée" in text_of(app, "#test-result")
        assert window.cancel.is_set()
        assert window.finished.wait(2)  # the thread has ended
        polls = idp.device_polls
        time.sleep(0.6)  # three pauses of the poll
        assert idp.device_polls == polls
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert "Non connecté" in text_of(app, "#password-state")


async def test_a_declined_sign_in_is_said_in_the_window_then_closed(app, idp, monkeypatch):
    monkeypatch.setenv("TUIAPP_DEVICE_POLL", "0.2")
    point_at_idp(idp)
    async with app.run_test(size=SIZE) as pilot:
        await press(pilot, "m")
        window = await open_sign_in(pilot)
        idp.decline()
        await wait_until(pilot, lambda: "Échec" in text_of(app, "#sign-in-problem"))
        assert "La connexion a été refusée sur le téléphone ou l'ordinateur" in text_of(app, "#sign-in-problem")
        assert app.screen is window
        await wait_until(pilot, window.finished.is_set, timeout=2)  # the thread has ended
        await press(pilot, "escape")
        assert app.screen.__class__.__name__ == "SmtpScreen"
        assert "Connexion échouée : La connexion a été refusée" in text_of(app, "#test-result")


async def test_service_mode_shows_the_oauth_settings_and_refuses_the_sign_in(demo_db_file, tmp_path):
    config = tmp_path / "tuiapp.toml"
    config.write_text("\n".join([
        f'database = "{demo_db_file}"', 'mode = "service"',
        f'secret_dir = "{tmp_path / "secret"}"',  # (beside the file, the default; a PostgreSQL base needs it)
        "", "[smtp]", 'host = "smtp.office365.com"', 'username = "factures@asso.example"',
        'auth_method = "oauth2-device"', 'tenant = "asso.onmicrosoft.com"', f'client_id = "{CLIENT_ID}"']) + "\n",
        encoding="utf-8")
    app = create_app(demo_db_file, service_mode=True, config=load(config))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await press(pilot, "m")
            screen = app.screen
            assert str(screen.query_one("#smtp_auth_method", Select).value) == "oauth2-device"
            assert screen.query_one("#smtp_oauth_tenant", Input).value == "asso.onmicrosoft.com"
            assert screen.query_one("#smtp_oauth_client_id", Input).value == CLIENT_ID
            assert shown(app, "smtp_oauth_tenant") and not shown(app, "password")
            assert all(widget.disabled for widget in screen.query("#smtp Input, #smtp Select"))
            assert screen.active_bindings["ctrl+l"].enabled is False  # shown, dimmed
            await press(pilot, "ctrl+l")
            assert app.screen is screen
            assert SIGN_IN_ON_SERVER in notices(app)
    finally:
        release()


def test_the_state_line_of_the_application_method_says_what_proves_it(tmp_path):
    from tuiapp.mail.secret_store import KeyringStore
    from tuiapp.mail.secrets import Secret
    from tuiapp.screens.smtp_checks import oauth_state, settings_from

    values = {"smtp_host": "smtp.office365.com", "smtp_username": USERNAME, "smtp_auth_method": "oauth2-app",
              "smtp_oauth_tenant": "asso.onmicrosoft.com", "smtp_oauth_client_id": CLIENT_ID.upper()}
    assert oauth_state(settings_from({**values, "smtp_oauth_tenant": ""})).startswith(
        "OAuth 2.0 : indiquez l'identifiant (la boîte d'envoi), l'annuaire et l'ID d'application.")
    assert oauth_state(settings_from(values)).startswith("Aucun secret d'application : enregistrez-le avec "
                                                         "tuiapp smtp secret, ou indiquez un certificat.")
    KeyringStore().save_client_secret(settings_from(values), Secret("s3cret"))  # as tuiapp smtp secret does
    assert oauth_state(settings_from(values)) == ("Secret d'application enregistré dans le trousseau "
                                                  "(pour le changer : tuiapp smtp secret).")
    other_tenant = settings_from({**values, "smtp_oauth_tenant": "autre.onmicrosoft.com"})
    assert oauth_state(other_tenant).startswith("Aucun secret d'application")  # stored per tenant and application
    with_certificate = settings_from({**values, "smtp_oauth_certificate": str(tmp_path / "app.pem")})
    assert oauth_state(with_certificate) == "L'application prouve son identité avec le certificat."
