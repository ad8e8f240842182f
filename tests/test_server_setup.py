"""``tuiapp server setup`` and ``server check`` as root (in the test process, ``tests.cli_runner``;
the first setup as a real process), with real groups and a real system account (made for the test,
removed afterwards); the folders, configuration and unit go under tmp_path."""

from __future__ import annotations

import grp
import os
import pwd
import secrets as random_names
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import CliResult, run_cli
from tuiapp import system_config

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="server setup runs as root")


@pytest.fixture
def names():
    suffix = random_names.token_hex(3)
    chosen = {"group": f"tg{suffix}", "admin": f"ta{suffix}", "user": f"ts{suffix}"}
    yield chosen
    subprocess.run(["userdel", chosen["user"]], capture_output=True)
    for group in (chosen["admin"], chosen["group"]):
        subprocess.run(["groupdel", group], capture_output=True)


def setup(names, tmp_path: Path, *extra: str, process: bool = False) -> CliResult | subprocess.CompletedProcess:
    """``tuiapp server setup`` in the test process, or (``process``) as a real one."""
    args = ["server", "setup", "--group", names["group"], "--admin-group", names["admin"],
            "--service-user", names["user"], "--dir", str(tmp_path / "srv"), "--config", str(tmp_path / "etc" / "tuiapp.toml"),
            "--unit-dir", str(tmp_path / "units"), "--no-systemd", *extra]
    if process:
        return subprocess.run([sys.executable, "-m", "tuiapp", *args], capture_output=True, text=True, timeout=120)
    return run_cli(*args)


def owner_and_mode(path: Path) -> tuple[str, str, int]:
    info = path.stat()
    return pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name, stat.S_IMODE(info.st_mode)


def snapshot(root: Path) -> dict[str, tuple]:
    return {str(p): (p.stat().st_uid, p.stat().st_gid, p.stat().st_mode, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


def test_setup_puts_everything_in_place_and_a_second_run_changes_nothing(names, tmp_path):
    result = setup(names, tmp_path, process=True)  # the real command, end to end
    assert result.returncode == 0, result.stderr
    group, user = names["group"], names["user"]
    srv = tmp_path / "srv"
    account = pwd.getpwnam(user)
    assert account.pw_shell in ("/usr/sbin/nologin", "/bin/false") and account.pw_gid == grp.getgrnam(group).gr_gid
    assert grp.getgrnam(names["admin"])
    assert owner_and_mode(srv) == ("root", group, 0o2770)
    assert owner_and_mode(srv / "impressions") == ("root", group, 0o2770)
    assert owner_and_mode(srv / "secret") == (user, group, 0o700)
    assert owner_and_mode(srv / "tuiapp.db") == (user, group, 0o660)
    config_path = tmp_path / "etc" / "tuiapp.toml"
    assert owner_and_mode(config_path) == ("root", group, 0o640)
    config = system_config.load({system_config.CONFIG_ENV: str(config_path)})
    assert config is not None and config.database == srv / "tuiapp.db" and config.mode == "service"
    assert (config.operator_group, config.admin_group, config.service_user) == (group, names["admin"], user)
    assert config.print_dir == srv / "impressions" and config.secret_dir == srv / "secret"
    assert system_config.problems(config_path) == []
    unit = (tmp_path / "units" / "tuiapp-sender.service").read_text()
    for line in (f"User={user}", "Restart=on-failure", "NoNewPrivileges=true", "ProtectSystem=strict",
                 f"ReadWritePaths={srv}", "PrivateTmp=true"):
        assert line in unit.splitlines(), line
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start.removeprefix("ExecStart=").startswith("/") and exec_start.endswith(
        f"sender --config {config_path}")
    assert "Ajoutez chaque membre du service facturation au groupe" in result.stdout
    assert f"sudo env TUIAPP_CONFIG={config_path} tuiapp smtp password" in result.stdout  # not /etc/tuiapp

    before = snapshot(tmp_path)
    again = setup(names, tmp_path)
    assert again.returncode == 0, again.stderr
    steps = [line for line in again.stdout.splitlines() if " : " in line and not line.startswith("  - ")]
    assert steps and all(line.startswith(("déjà en place", "non démarré")) for line in steps), again.stdout
    assert snapshot(tmp_path) == before


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_the_unit_passes_systemd_analyze(names, tmp_path):
    assert setup(names, tmp_path).returncode == 0
    unit = tmp_path / "units" / "tuiapp-sender.service"
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_setup_refuses_a_relative_folder_and_says_which_step_failed(names, tmp_path):
    result = setup(names, tmp_path, "--dir", "srv")
    assert result.returncode == 2 and "--dir : un chemin absolu est attendu." in result.stderr
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "tuiapp.toml").write_text('database = "/elsewhere/tuiapp.db"\n')
    result = setup(names, tmp_path)
    assert result.returncode == 2 and "Étape « configuration » impossible" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_lists_what_is_wrong_with_its_fix(names, tmp_path):
    assert setup(names, tmp_path).returncode == 0
    config_path = tmp_path / "etc" / "tuiapp.toml"
    env = {"TUIAPP_CONFIG": str(config_path)}

    def check() -> CliResult:
        return run_cli("server", "check", env=env)

    never = check()
    assert never.returncode == 1 and "Le service d'envoi n'a jamais fonctionné sur cette base" in never.stdout
    database = tmp_path / "srv" / "tuiapp.db"
    database.chmod(0o644)
    wrong = check()
    assert wrong.returncode == 1
    assert f"{database} a les droits -rw-r--r-- au lieu de -rw-rw---- : sudo chgrp {names['group']} {database}" \
        in wrong.stdout
    config_path.chmod(0o666)
    assert "modifiable par d'autres que root" in check().stdout


def test_check_wants_the_oauth_private_key_readable_by_the_service_alone(names, tmp_path):
    from tests.fake_idp import make_client_certificate

    assert setup(names, tmp_path).returncode == 0
    config_path = tmp_path / "etc" / "tuiapp.toml"
    env = {"TUIAPP_CONFIG": str(config_path)}
    pem = tmp_path / "oauth.pem"
    make_client_certificate(pem)
    pem.chmod(0o644)
    changed = run_cli("smtp", "set", "--host", "smtp.office365.com", "--username", "facturation@association.fr",
                      "--auth", "oauth2-app", "--certificate", str(pem), env=env)
    assert changed.returncode == 0, changed.stderr

    def check() -> str:
        return run_cli("server", "check", env=env).stdout

    fix = f"sudo chown {names['user']} {pem} && sudo chmod 400 {pem}"
    loose = check()
    assert f"doit appartenir au service d'envoi : {fix}" in loose and "lisible par d'autres comptes" in loose
    os.chown(pem, pwd.getpwnam(names["user"]).pw_uid, -1)
    pem.chmod(0o400)
    assert "certificat" not in check()


def test_setup_for_a_postgresql_base_writes_its_url_and_the_services_password_file(names, tmp_path, pg_url):
    """``--db postgresql://...``: no SQLite file; the configuration names the URL as given (its
    options kept); the service's pgpass file is made empty, its alone, and the unit points libpq
    to it; the next steps say where the password goes. Run again, nothing changes."""
    url = pg_url + "?sslmode=disable"
    result = setup(names, tmp_path, "--db", url)
    assert result.returncode == 0, result.stderr
    srv, user, group = tmp_path / "srv", names["user"], names["group"]
    assert not (srv / "tuiapp.db").exists()
    config_path = tmp_path / "etc" / "tuiapp.toml"
    config = system_config.load({system_config.CONFIG_ENV: str(config_path)})
    assert config is not None and str(config.database) == pg_url and config.database.sslmode == "disable"
    assert system_config.problems(config_path) == []
    assert owner_and_mode(srv / "secret" / "pgpass") == (user, group, 0o600)
    assert (srv / "secret" / "pgpass").read_text() == ""  # root does not know the password
    unit = (tmp_path / "units" / "tuiapp-sender.service").read_text().splitlines()
    assert f'Environment="PGPASSFILE={srv / "secret" / "pgpass"}"' in unit
    assert f'Environment="XDG_DATA_HOME={srv / "service"}"' in unit  # its send journal, writable whatever its home
    assert owner_and_mode(srv / "service") == (user, group, 0o700)
    assert f"sudoedit {srv / 'secret' / 'pgpass'}" in result.stdout and "~/.pgpass" in result.stdout
    if shutil.which("systemd-analyze"):
        analyzed = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "units" / "tuiapp-sender.service")],
                                  capture_output=True, text=True, timeout=60)
        assert analyzed.returncode == 0, analyzed.stderr

    env = {"TUIAPP_CONFIG": str(config_path)}
    checked = run_cli("server", "check", env=env)
    assert checked.returncode == 1 and f"Le mot de passe PostgreSQL du service ({srv / 'secret' / 'pgpass'}) est " \
        "vide : sudoedit" in checked.stdout
    (srv / "secret" / "pgpass").write_text("127.0.0.1:5432:x:y:z\n")  # (mode and owner kept)
    assert "pgpass" not in run_cli("server", "check", env=env).stdout
    before = snapshot(tmp_path)
    again = setup(names, tmp_path, "--db", url)
    assert again.returncode == 0 and "base PostgreSQL" in again.stdout, again.stderr
    assert snapshot(tmp_path) == before
    other = setup(names, tmp_path)  # the SQLite file now: the configuration names another base
    assert other.returncode == 2 and "nomme une autre base" in other.stderr


@pytest.mark.parametrize(("option", "value"), [
    ("--db", "/srv/tuiapp/autre.db"), ("--db", "postgresql://127.0.0.1/tuiapp"),
    ("--db", "postgresql://u:secret@127.0.0.1/tuiapp"), ("--db", "mysql://u@h/b"),
    ("--db", 'postgresql://u@127.0.0.1/tuiapp?application_name=a"b'),  # would end the TOML string
    ("--db", "postgresql://u@127.0.0.1/tui%25app"), ("--db", "postgresql://u@127.0.0.1/tuiapp\tx"),
    ("--dir", "/srv/tui app"), ("--dir", "/srv/%h"),  # a space splits a systemd line; %h is a specifier
])
def test_setup_refuses_a_db_that_is_not_a_postgresql_url_it_can_use(names, tmp_path, option, value):
    result = setup(names, tmp_path, option, value)
    assert result.returncode == 2 and result.stderr.startswith("Erreur : "), result.stderr
    assert "secret" not in result.stdout + result.stderr and "Traceback" not in result.stderr  # never the password
    assert not (tmp_path / "etc").exists()  # refused before any step


def test_setup_never_follows_a_link_left_in_the_services_folder(names, tmp_path, pg_url):
    """The service's folder is the service account's: a link put there in place of its pgpass file
    must not make root change the file it points to."""
    assert setup(names, tmp_path, "--db", pg_url).returncode == 0
    victim = tmp_path / "victim"
    victim.write_text("root's\n")
    victim.chmod(0o644)
    pgpass = tmp_path / "srv" / "secret" / "pgpass"
    pgpass.unlink()
    pgpass.symlink_to(victim)
    again = setup(names, tmp_path, "--db", pg_url)
    assert again.returncode == 2 and "lien symbolique" in again.stderr
    assert owner_and_mode(victim) == ("root", "root", 0o644)


def test_the_pgpass_line_shown_is_one_libpq_reads():
    from tuiapp.services.server_setup import Plan, next_steps

    steps = next_steps(Plan(database_url="postgresql://compta@[::1]:5433/tuiapp"), ["/usr/bin/tuiapp"])
    assert any("(une ligne \\:\\:1:5433:tuiapp:compta:MOT-DE-PASSE)" in step for step in steps), steps
    steps = next_steps(Plan(database_url="postgresql://compta@/tuiapp?host=/var/run/postgresql"), [])
    assert any("(une ligne localhost:5432:tuiapp:compta:MOT-DE-PASSE)" in step for step in steps), steps
