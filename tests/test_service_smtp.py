"""``tuiapp smtp`` on the association's server: root sets the destination in the configuration file
and the password in the service's folder; the database's SMTP settings are not used there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuiapp import system_config

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="root's commands")

CONFIG = """# The association's server (written by hand: this comment must stay)
database = "{db}"
mode = "service"
service_user = "root"
secret_dir = "{secret}"

[smtp]
host = "smtp.office365.com"  # Office 365
port = 587
username = "facturation@association.fr"
"""


@pytest.fixture
def config(tmp_path, demo_db_file, monkeypatch) -> Path:
    path = tmp_path / "tuiapp.toml"
    path.write_text(CONFIG.format(db=demo_db_file, secret=tmp_path / "secret"), encoding="utf-8")
    os.chown(path, 0, 0)
    path.chmod(0o640)
    monkeypatch.setenv("TUIAPP_CONFIG", str(path))
    return path


def smtp(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuiapp", "smtp", *args], capture_output=True, text=True,
                          input=stdin, timeout=60)


def test_root_sets_the_destination_in_the_file_keeping_its_comments_owner_and_mode(config):
    result = smtp("set", "--host", "smtp.example.org", "--port", "465", "--security", "ssl", "--rate", "20")
    assert result.returncode == 0, result.stderr
    text = config.read_text(encoding="utf-8")
    assert "# The association's server (written by hand: this comment must stay)" in text
    loaded = system_config.load()
    assert loaded is not None and loaded.smtp is not None
    assert (loaded.smtp.host, loaded.smtp.port, loaded.smtp.security, loaded.smtp.rate_per_minute) == (
        "smtp.example.org", 465, "ssl", 20)
    assert (config.stat().st_uid, config.stat().st_mode & 0o777) == (0, 0o640)
    assert "Serveur        : smtp.example.org" in result.stdout and "réglée par root" in result.stdout


def test_a_wrong_value_leaves_the_file_as_it_was(config):
    before = config.read_bytes()
    result = smtp("set", "--host", "smtp.example.org\x1b[2J")
    assert result.returncode == 2 and "caractère de contrôle interdit" in result.stderr
    assert "Traceback" not in result.stderr and config.read_bytes() == before
    assert not list(config.parent.glob(".tuiapp.toml.*"))


def test_root_stores_the_services_password_in_its_folder_never_in_a_keyring(config, tmp_path):
    result = smtp("password", stdin="s3cret\n")
    assert result.returncode == 0, result.stderr
    secret = tmp_path / "secret" / "smtp-password"
    assert secret.read_text(encoding="utf-8") == "s3cret\n"
    assert (secret.stat().st_mode & 0o777, secret.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    assert "s3cret" not in result.stdout + result.stderr
    shown = smtp("show")
    assert "Mot de passe   : enregistré pour le service d'envoi" in shown.stdout
    keyring_files = list(Path(os.environ["XDG_DATA_HOME"]).rglob("*keyring*"))
    assert all("s3cret" not in f.read_text(errors="replace") for f in keyring_files if f.is_file())


def test_a_missing_service_account_is_said(config):
    config.write_text(config.read_text().replace('service_user = "root"', 'service_user = "nosuchuser-tuiapp"'))
    result = smtp("password", stdin="s3cret\n")
    assert result.returncode == 2 and "Le compte du service d'envoi (nosuchuser-tuiapp) n'existe pas" in result.stderr


def test_root_cannot_set_an_identifiant_without_encryption_unless_allowed(config):
    """The same rule as the association's settings (tuiapp.domain.smtp_security.credentials_in_clear)."""
    before = config.read_bytes()
    refused = smtp("set", "--security", "none")  # the file's identifiant would travel in clear
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "Sécurité : sans chiffrement, l'identifiant et le mot de passe passeraient en clair" in refused.stderr
    assert config.read_bytes() == before
    allowed = smtp("set", "--security", "none", "--allow-insecure-auth")
    assert allowed.returncode == 0, allowed.stderr
    loaded = system_config.load()
    assert loaded is not None and loaded.smtp is not None
    assert (loaded.smtp.security, loaded.smtp.allow_insecure_auth) == ("none", True)
