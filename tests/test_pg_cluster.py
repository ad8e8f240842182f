"""The PostgreSQL server of the tests (tests/pg_cluster.py): what the fixtures promise."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest


def test_a_url_without_password_connects_through_the_pgpass_file(pg_url, pg_database):
    parts = urlsplit(pg_url)
    assert parts.password is None and parts.hostname == "127.0.0.1"
    pgpass = Path(os.environ["PGPASSFILE"])
    assert stat.S_IMODE(pgpass.stat().st_mode) == 0o600  # libpq ignores a file others may read
    assert pg_database.password in pgpass.read_text()
    with psycopg.connect(pg_url) as connection:
        row = connection.execute("SELECT current_user, current_database(), inet_server_addr()::text").fetchone()
    assert row == (pg_database.role, pg_database.name, "127.0.0.1/32")
    # the role owns its database: it creates and drops tables in it
    with psycopg.connect(pg_url) as connection:
        connection.execute("CREATE TABLE t (id integer PRIMARY KEY, name text)")
        connection.execute("INSERT INTO t VALUES (1, 'Élodie')")
        assert connection.execute("SELECT upper(name) FROM t").fetchone() == ("ÉLODIE",)


def test_a_wrong_password_is_refused(pg_database):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg_database.url.replace("@", f":{pg_database.password}x@"), connect_timeout=5)
    pgpass = Path(os.environ["PGPASSFILE"])
    pgpass.write_text(pg_database.pgpass_line().replace(pg_database.password, "not-the-password"))
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg_database.url, connect_timeout=5)
    pgpass.write_text("")  # no password at all: the server asks for one rather than trusting 127.0.0.1
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(pg_database.url, connect_timeout=5)


def test_two_databases_are_distinct_empty_and_each_for_its_own_role(make_pg_database, pg_cluster):
    first, second = make_pg_database(), make_pg_database()
    assert (first.name, first.role) != (second.name, second.role)
    user_tables = ("SELECT count(*) FROM information_schema.tables"
                   " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")
    with psycopg.connect(first.url) as one, psycopg.connect(second.url) as two:
        assert one.execute(user_tables).fetchone() == (0,)
        assert two.execute(user_tables).fetchone() == (0,)
        one.execute("CREATE TABLE only_in_first (id integer)")
        one.commit()
        assert two.execute(user_tables).fetchone() == (0,)
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(f"postgresql://{first.role}@127.0.0.1:{first.port}/{second.name}", password=first.password,
                        connect_timeout=5)
    owners = dict(pg_cluster.psql("SELECT datname, pg_get_userbyid(datdba) FROM pg_database"))
    assert owners[first.name] == first.role and owners[second.name] == second.role


def test_the_databases_go_after_the_test(pg_cluster, make_pg_database):
    database = make_pg_database()
    pg_cluster.drop_database(database)  # as the fixture does after the test (twice is harmless)
    assert pg_cluster.psql("SELECT 1 FROM pg_database WHERE datname = %s", (database.name,)) == []
    assert pg_cluster.psql("SELECT 1 FROM pg_roles WHERE rolname = %s", (database.role,)) == []


def _listening(port: int) -> set[str]:
    """The addresses with a TCP socket listening on ``port``, from the kernel's tables."""
    found = set()
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, local_port = local.split(":")
            if int(local_port, 16) == port and state == "0A":  # LISTEN
                raw = bytes.fromhex(address)
                # the kernel writes each 32-bit word in host order (little-endian here)
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, width, 4))
                family = socket.AF_INET if width == 4 else socket.AF_INET6
                found.add(socket.inet_ntop(family, words))
    return found


def test_the_server_listens_on_127_0_0_1_only(pg_cluster):
    assert _listening(pg_cluster.port) == {"127.0.0.1"}
    assert pg_cluster.psql("SHOW listen_addresses") == [("127.0.0.1",)]
    with socket.create_connection(("127.0.0.1", pg_cluster.port), timeout=2):
        pass
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.2", pg_cluster.port), timeout=2):
        pass
    rules = pg_cluster.psql("SELECT type, address, auth_method FROM pg_hba_file_rules ORDER BY line_number")
    assert rules == [("local", None, "trust"), ("host", "127.0.0.1", "scram-sha-256")]


def test_the_server_runs_as_an_unprivileged_account(pg_cluster):
    owner = os.stat(pg_cluster.data).st_uid
    assert owner != 0 or os.geteuid() != 0
    assert stat.S_IMODE(os.stat(pg_cluster.data).st_mode) == 0o700
    with open(f"/proc/{pg_cluster.process.pid}/status") as status:
        uids = next(line for line in status if line.startswith("Uid:")).split()[1:]
    assert {int(uid) for uid in uids} == {owner}


def _fake_postgresql(folder: Path, *programs: str) -> Path:
    folder.mkdir(parents=True)
    for program in programs:
        (folder / program).write_text("#!/bin/sh\n")
        (folder / program).chmod(0o755)
    return folder


def test_the_highest_postgresql_is_chosen_and_path_serves_otherwise(tmp_path, monkeypatch):
    from tests.pg_cluster import find_binaries

    lib = tmp_path / "lib"
    for version in ("9.6", "10", "16"):
        _fake_postgresql(lib / version / "bin", "initdb", "postgres")
    _fake_postgresql(lib / "17" / "bin", "initdb")  # no server beside it: not usable
    elsewhere = _fake_postgresql(tmp_path / "opt" / "bin", "initdb", "postgres")
    monkeypatch.setenv("PATH", str(elsewhere))
    assert find_binaries(str(lib)) == lib / "16" / "bin"
    assert find_binaries(str(tmp_path / "none")) == elsewhere


def test_without_postgresql_the_test_is_skipped_unless_postgresql_is_required(tmp_path, monkeypatch):
    from tests.pg_cluster import PostgresqlAbsent, absent, find_binaries

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PostgresqlAbsent) as missing:
        find_binaries(str(tmp_path / "none"))
    monkeypatch.delenv("TUIAPP_REQUIRE_POSTGRESQL", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"^PostgreSQL absent : no initdb .*apt-get install postgresql"):
        absent(str(missing.value))
    monkeypatch.setenv("TUIAPP_REQUIRE_POSTGRESQL", "1")  # CI: a failure, never a silent skip
    with pytest.raises(pytest.fail.Exception, match=r"^PostgreSQL absent : no initdb .*TUIAPP_REQUIRE_POSTGRESQL=1"):
        absent(str(missing.value))


def test_the_server_stops_with_the_test_process_that_started_it(pg_cluster, tmp_path):
    """A worker that pytest-timeout ends with os._exit runs no teardown: its server must not outlive
    it (an orphan would hold its port and its files, and could keep a CI job waiting)."""
    import shutil
    import signal
    import subprocess
    import sys
    import time

    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) absent: the server is not tied to the test process here")
    root = Path(__file__).resolve().parent.parent
    script = ("import sys, time; from pathlib import Path; from tests.pg_cluster import start_cluster; "
              "cluster = start_cluster(Path(sys.argv[1])); "
              "print(cluster.process.pid, cluster.data.parent, flush=True); time.sleep(120)")
    starter = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=root, stdout=subprocess.PIPE,
                               text=True)
    pid, work = starter.stdout.readline().split()
    starter.send_signal(signal.SIGKILL)
    starter.wait(10)

    def running() -> bool:
        try:
            with open(f"/proc/{pid}/stat") as stat_file:
                return stat_file.read().rsplit(")", 1)[1].split()[0] != "Z"  # (a zombie has stopped)
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 20
    while running() and time.monotonic() < deadline:
        time.sleep(0.05)
    stopped = not running()
    if not stopped:
        os.kill(int(pid), signal.SIGKILL)
    if Path(work).name.startswith("tuiapp-pg-"):
        shutil.rmtree(work, ignore_errors=True)
    assert stopped
