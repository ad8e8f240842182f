"""The association server's configuration file, the database it names, ``tuiapp where``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuiapp import system_config
from tuiapp.domain.roles import Role
from tuiapp.domain.smtp_security import SmtpSecurity
from tuiapp.services.site import locate, role_of
from tuiapp.system_config import ConfigError, Mode

GOOD = """
database = "{db}"
mode = "service"
admin_group = "tuiapp-admin"
operator_group = "tuiapp"
print_dir = "/srv/tuiapp/impressions"

[smtp]
host = "smtp.office365.com"
port = 587
security = "starttls"
username = "facturation@association.fr"
rate_per_minute = 30
connection_limit = 3
"""


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    """Write a configuration, point $TUIAPP_CONFIG at it; returns (path, database)."""

    def write(text: str = GOOD, database: Path | None = None) -> tuple[Path, Path]:
        database = database or tmp_path / "srv" / "tuiapp.db"
        path = tmp_path / "tuiapp.toml"
        path.write_text(text.format(db=database), encoding="utf-8")
        path.chmod(0o640)
        monkeypatch.setenv("TUIAPP_CONFIG", str(path))
        return path, database

    return write


def test_a_good_configuration_is_read_whole(config_file):
    path, database = config_file()
    config = system_config.load()
    assert config is not None and config.path == path and config.database == database
    assert config.mode == Mode.SERVICE and config.print_dir == Path("/srv/tuiapp/impressions")
    assert (config.admin_group, config.operator_group) == ("tuiapp-admin", "tuiapp")
    smtp = config.smtp
    assert smtp is not None and (smtp.host, smtp.port, smtp.security) == ("smtp.office365.com", 587, SmtpSecurity.STARTTLS)
    assert (smtp.username, smtp.rate_per_minute, smtp.connection_limit, smtp.ca_file) == (
        "facturation@association.fr", 30, 3, None)


def test_no_file_means_local_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("TUIAPP_CONFIG", str(tmp_path / "absent.toml"))
    assert system_config.load() is None
    site = locate()
    assert site.config is None and site.mode == Mode.LOCAL and site.role == Role.ADMIN
    assert site.database_source == "dossier de données de l'utilisateur"


@pytest.mark.parametrize(("text", "expected"), [
    ('mode = "service"\n', "clé « database » : obligatoire."),
    ('database = "relative.db"\n', "clé « database » : un chemin absolu est attendu"),
    ('database = "/srv/a.db"\nmode = "cloud"\n', "« cloud » n'est pas l'une des valeurs possibles (service, local)"),
    ('database = "/srv/a.db"\ndatabse = "/srv/b.db"\n', "clé « databse » : clé inconnue (faute de frappe ?)."),
    ('database = "/srv/a.db"\n[smtp]\nhost = "h"\nport = 70000\n', "clé « smtp.port » : entre 1 et 65535 (70000 donné)."),
    ('database = "/srv/a.db"\n[smtp]\nhost = "h"\nport = "587"\n', "clé « smtp.port » : un nombre entier est attendu."),
    ('database = "/srv/a.db"\n[smtp]\nport = 587\n', "clé « smtp.host » : obligatoire."),
    ('database = "/srv/a.db"\n[smtp]\nhost = "h"\nsecurity = "tls"\n', "clé « smtp.security »"),
    ('database = "/srv/a.db"\n[smtp]\nhost = "h"\nallow_insecure_auth = "yes"\n', "true ou false est attendu."),
    ('database = "/srv/a\\u001b[2J.db"\n', "caractère de contrôle interdit"),
    ('database = "/srv/a.db"\nadmin_group = "a b"\n', "nom de groupe Unix invalide"),
    ('database = "/srv/a.db"\nsmtp = 3\n', "une section [smtp] est attendue."),
    ('database = \n', "est mal écrite"),
])
def test_a_wrong_value_is_named_with_its_key_in_french(config_file, text, expected):
    path, _ = config_file(text)
    with pytest.raises(ConfigError) as raised:
        system_config.load()
    assert expected in str(raised.value) and str(path) in str(raised.value)


def test_a_file_that_is_not_utf8_or_too_big_is_refused(config_file):
    path, _ = config_file()
    path.write_bytes(b'database = "/srv/\xe9.db"\n')
    with pytest.raises(ConfigError, match="n'est pas du texte UTF-8"):
        system_config.load()
    path.write_bytes(b"# " + b"x" * system_config.MAX_CONFIG_BYTES + b"\n")
    with pytest.raises(ConfigError, match="trop grande"):
        system_config.load()


def test_the_service_distrusts_a_file_root_does_not_own_alone(config_file):
    path, _ = config_file()
    if os.getuid() != 0:
        pytest.skip("changing a file's owner needs root")
    os.chown(path, 0, 0)
    path.chmod(0o640)
    assert system_config.problems(path) == []
    path.chmod(0o660)
    assert any("modifiable par d'autres que root" in p and "sudo chmod 640" in p for p in system_config.problems(path))
    path.chmod(0o644)  # only untidy: root alone may still change it
    assert system_config.problems(path) == [] and any("lisible par tous" in p for p in system_config.advice(path))
    path.chmod(0o640)
    os.chown(path, 65534, 0)  # nobody
    assert any("pas à root" in p and "sudo chown root" in p for p in system_config.problems(path))


def test_the_database_is_db_option_then_env_then_configuration_then_home(config_file, tmp_path, monkeypatch):
    path, database = config_file()
    site = locate()
    assert (site.database, site.database_must_exist, site.mode) == (database, True, Mode.SERVICE)
    assert site.database_source == f"configuration du serveur ({path})"
    monkeypatch.setenv("TUIAPP_DB", str(tmp_path / "env.db"))
    site = locate()
    assert (site.database, site.database_source, site.mode) == (tmp_path / "env.db", "$TUIAPP_DB", Mode.LOCAL)
    site = locate(str(tmp_path / "other.db"))
    assert (site.database, site.database_source, site.mode) == (tmp_path / "other.db", "option --db", Mode.LOCAL)
    site = locate(str(database))  # the configured base named with --db: still the service's
    assert site.mode == Mode.SERVICE


def test_roles_come_from_the_configured_groups(config_file):
    config_file('database = "/srv/a.db"\nmode = "service"\nadmin_group = "root"\noperator_group = "daemon"\n')
    config = system_config.load()
    import grp

    root_gid, daemon_gid = grp.getgrnam("root").gr_gid, grp.getgrnam("daemon").gr_gid
    assert role_of(config, Mode.SERVICE, uid=0, groups=set()) == (Role.ADMIN, "root")
    assert role_of(config, Mode.LOCAL, uid=1000, groups=set()) == (Role.ADMIN, "mode local : tous les droits")
    assert role_of(None, Mode.LOCAL, uid=1000, groups=set())[0] == Role.ADMIN
    assert role_of(config, Mode.SERVICE, uid=1000, groups={root_gid}) == (Role.ADMIN, "membre du groupe root")
    assert role_of(config, Mode.SERVICE, uid=1000, groups={daemon_gid}) == (Role.OPERATOR, "membre du groupe daemon")
    assert role_of(config, Mode.SERVICE, uid=1000, groups={12345})[0] == Role.NONE


def where(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuiapp", "where", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def test_where_says_which_configuration_base_mode_and_role(config_file, tmp_path):
    path, database = config_file()
    if os.getuid() == 0:
        os.chown(path, 0, 0)
    result = where()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        f"configuration : {path} ($TUIAPP_CONFIG)",
        f"base : {database} (configuration du serveur ({path}))",
        "mode : service",
    ]
    assert lines[3] == "rôle : administrateur (root)" if os.getuid() == 0 else lines[3].startswith("rôle : ")
    shown = json.loads(where("--json", "--db", str(tmp_path / "x.db")).stdout)
    assert shown["base"] == str(tmp_path / "x.db") and shown["mode"] == "local" and shown["base_source"] == "option --db"
    assert shown["configuration"] == str(path)


def test_where_warns_of_a_file_others_may_change(config_file):
    path, _ = config_file()
    path.chmod(0o666)
    result = where()
    assert result.returncode == 0 and "Attention : " in result.stderr and "modifiable par d'autres que root" in result.stderr


def test_a_broken_configuration_stops_every_command_with_a_french_message(config_file):
    config_file('database = "/srv/a.db"\nmode = "cloud"\n')
    for command in (["where"], ["history"], ["init"]):
        result = subprocess.run([sys.executable, "-m", "tuiapp", *command], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, (command, result.stderr)
        assert "Erreur : Configuration" in result.stderr and "Traceback" not in result.stderr
