"""The SMTP window at 80x24 (issue 14): it refuses an identifiant without encryption unless insecure
authentication is allowed (a visible switch, with a warning), it holds whole in both methods, and it
opens on its first field; ``tuiapp smtp set`` refuses the same set-up."""

from __future__ import annotations

import pytest
from textual.widgets import Checkbox, Input, Select, Static

from tests.cli_runner import run_cli
from tests.test_hostile_data import screen_text
from tests.test_screens import SIZE, fill, press, settle, text_of
from tuiapp.app import create_app
from tuiapp.db.database import db, open_database, release
from tuiapp.db.models import Association

MAILBOX = "facturation@example.org"


@pytest.fixture
def app(demo_db_file):
    application = create_app(demo_db_file)
    yield application
    release()


async def open_smtp(pilot) -> None:
    await press(pilot, "s", "m")  # from the structures screen, as in the seed
    await pilot.app.workers.wait_for_complete()
    await settle(pilot)
    assert pilot.app.screen.__class__.__name__ == "SmtpScreen"


async def test_an_identifiant_without_encryption_is_refused_unless_allowed(app):
    async with app.run_test(size=SIZE) as pilot:
        await open_smtp(pilot)
        screen = app.screen
        assert screen.query_one("#smtp_security", Select).value == "none"  # the demo's catch-all server
        warning = screen.query_one("#insecure-warning", Static)
        assert not warning.display
        await fill(pilot, "#smtp_username", MAILBOX)
        await fill(pilot, "#password", "secret")
        await press(pilot, "ctrl+s")
        assert app.screen is screen  # refused: the window stays open with what was typed
        errors = text_of(app, "#errors")
        assert "Sécurité : sans chiffrement, l'identifiant et le mot de passe passeraient en clair" in errors
        assert "ou autorisez l'authentification non chiffrée" in errors
        assert screen.query_one("#smtp_username", Input).value == MAILBOX
        assert Association.get_solo().smtp_username == ""  # nothing saved
        # Allowed explicitly, with the warning in sight: saved.
        screen.query_one("#smtp_allow_insecure_auth", Checkbox).focus()
        await press(pilot, "space")
        assert warning.display and "passent en clair" in str(warning.render())
        assert "Attention : sans chiffrement" in screen_text(app)
        assert text_of(app, "#errors") == ""
        await press(pilot, "ctrl+s")
        await app.workers.wait_for_complete()  # the password goes to the keyring in a thread
        await settle(pilot)
        assert app.screen.__class__.__name__ == "StructuresScreen"
    association = Association.get_solo()
    assert (association.smtp_username, association.smtp_allow_insecure_auth) == (MAILBOX, True)


async def test_starttls_needs_no_switch(app):
    async with app.run_test(size=SIZE) as pilot:
        await open_smtp(pilot)
        await fill(pilot, "#smtp_username", MAILBOX)
        assert "Sécurité : sans chiffrement" in text_of(app, "#errors")
        app.screen.query_one("#smtp_security", Select).value = "starttls"
        await settle(pilot)
        assert text_of(app, "#errors") == ""
        await press(pilot, "ctrl+s")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "StructuresScreen"
    assert Association.get_solo().smtp_security == "starttls"


@pytest.mark.parametrize("method", ["password", "oauth2-app", "oauth2-device"])
async def test_the_window_holds_whole_at_80x24(app, method):
    async with app.run_test(size=SIZE) as pilot:
        await open_smtp(pilot)
        app.screen.query_one("#smtp_auth_method", Select).value = method
        await app.workers.wait_for_complete()
        await settle(pilot)
        body = app.screen.query_one("#smtp-body")
        assert body.max_scroll_y == 0, method  # nothing to scroll to: every field in sight
        shown = screen_text(app)
        assert "Serveur SMTP de l'association" in shown
        labels = ["Serveur", "Port", "Sécurité", "Authentification non chiffrée", "Identifiant", "Authentification",
                  "Messages par minute", "Certificats (option)"]
        if method == "password":
            labels.append("Mot de passe")
        else:
            labels += ["Annuaire (tenant)", "ID d'application", "Fournisseur d'identité (option)"]
        for label in labels:
            assert label in shown, (method, label)
        # The last field focused, the title stays in sight.
        app.screen.query_one("#smtp_ca_file", Input).focus()
        await settle(pilot)
        assert "Serveur SMTP de l'association" in screen_text(app)


async def test_the_window_opens_on_its_first_field_with_the_cursor_at_the_end(app):
    async with app.run_test(size=SIZE) as pilot:
        await open_smtp(pilot)
        host = app.screen.query_one("#smtp_host", Input)
        assert app.focused is host
        assert host.cursor_position == len(host.value) and host.selection.is_empty
        await press(pilot, "x")
        assert host.value == "127.0.0.1x"  # the first key goes to the field, and replaces nothing


def test_smtp_set_refuses_an_identifiant_without_encryption(demo_db_file):
    base = ("--db", str(demo_db_file))
    refused = run_cli("smtp", "set", *base, "--username", MAILBOX)  # the demo's server: no encryption
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "Sécurité : sans chiffrement, l'identifiant et le mot de passe passeraient en clair" in refused.stderr
    allowed = run_cli("smtp", "set", *base, "--username", MAILBOX, "--allow-insecure-auth")
    assert allowed.returncode == 0, allowed.stderr
    assert "authentification autorisée sans chiffrement" in allowed.stdout
    back = run_cli("smtp", "set", *base, "--no-allow-insecure-auth")
    assert back.returncode == 2 and "Sécurité : sans chiffrement" in back.stderr
    encrypted = run_cli("smtp", "set", *base, "--security", "starttls", "--no-allow-insecure-auth")
    assert encrypted.returncode == 0, encrypted.stderr
    open_database(demo_db_file)
    try:
        association = Association.get_solo()
        assert (association.smtp_username, association.smtp_security) == (MAILBOX, "starttls")
        assert not association.smtp_allow_insecure_auth
    finally:
        db.close()
