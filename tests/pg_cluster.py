"""A real PostgreSQL server for the tests, started from the distribution's binaries.

One server per test process (per xdist worker), started the first time a test asks for it
(fixture ``pg_cluster`` in tests/conftest.py) and stopped at the end of the session, even
after failures. It listens on 127.0.0.1 only, on a free port, and takes passwords only
(``scram-sha-256``, pg_hba.conf below); its unix socket is in its data directory.

PostgreSQL refuses to run as root, and the tests run as root here and in CI: initdb and the
server then run as the system account ``tuiapp-pgtest`` (created with ``useradd --system`` if
missing, and kept). That account cannot reach pytest's folder (``/tmp/pytest-of-root`` is
0700), so the data directory is a folder of /tmp of its own, removed when the server stops;
the server's log is in the pytest folder (``pg0/server.log``). Run as another user, the
server runs as that user, its data directory in the pytest folder.

Each test gets a fresh empty database owned by a role of its own (``PgCluster.new_database``),
reached by a URL without a password: the password is in a pgpass file named by $PGPASSFILE.

initdb + start: 0.8 to 1.1 s of wall time on the 2-core development machine (PostgreSQL 15,
``initdb --no-sync``, 2026-12-03): initdb about 0.75 s, then 0.05 s until the server accepts
connections; up to 2 s while the machine is busy. A test's database: 0.1 to 0.3 s to create
(a copy of template1), 0.03 s to drop.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from psycopg import sql

ACCOUNT = "tuiapp-pgtest"
ADMIN = "tuiapp_admin"
#: How long the server may take to accept connections (seconds); a setting for slow machines.
START_WAIT_VARIABLE = "TUIAPP_PG_START_WAIT"
REQUIRE_VARIABLE = "TUIAPP_REQUIRE_POSTGRESQL"

HBA = """\
# tests/pg_cluster.py: the socket (in the data directory, 0700) for the server's own account,
# passwords on 127.0.0.1 for everyone else; nothing on IPv6.
local all all trust
host all all 127.0.0.1/32 scram-sha-256
"""


class PostgresqlAbsent(Exception):
    """No PostgreSQL binaries on this machine."""


def find_binaries(lib: str = "/usr/lib/postgresql") -> Path:
    """The ``bin`` folder of the highest PostgreSQL under /usr/lib/postgresql (Debian's layout),
    else the one whose ``initdb`` is on PATH; with ``initdb`` and ``postgres`` both in it."""
    found = []
    for initdb in glob.glob(os.path.join(glob.escape(lib), "*", "bin", "initdb")):
        version = Path(initdb).parent.parent.name
        if re.fullmatch(r"\d+(\.\d+)*", version) and os.access(initdb, os.X_OK):
            found.append((tuple(int(part) for part in version.split(".")), Path(initdb).parent))
    on_path = shutil.which("initdb")
    if on_path:
        for folder in (Path(os.path.realpath(on_path)).parent, Path(on_path).parent):
            found.append(((-1,), folder))  # after any versioned folder
    for _, folder in sorted(found, reverse=True):
        if os.access(folder / "postgres", os.X_OK):
            return folder
    raise PostgresqlAbsent(
        "no initdb in /usr/lib/postgresql/*/bin nor on PATH"
        + (f" (the {on_path} found has no postgres beside it)" if on_path else "")
        + "; on Debian/Ubuntu: apt-get install postgresql"
    )


def absent(reason: str) -> NoReturn:
    """Skip the test, or fail it when $TUIAPP_REQUIRE_POSTGRESQL=1 (CI: never a silent skip)."""
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"PostgreSQL absent : {reason} (and {REQUIRE_VARIABLE}=1)", pytrace=False)
    pytest.skip(f"PostgreSQL absent : {reason}")


def _account() -> pwd.struct_passwd | None:
    """As root, the unprivileged account the server runs as (created if missing); else None."""
    if os.geteuid() != 0:
        return None
    # Several test processes may start at once: one creates the account, the others wait and find it.
    with open(os.path.join(tempfile.gettempdir(), f"{ACCOUNT}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return pwd.getpwnam(ACCOUNT)
        except KeyError:
            pass
        made = subprocess.run(["useradd", "--system", "--no-create-home", "--user-group", "--home-dir", "/nonexistent",
                               "--shell", "/usr/sbin/nologin", "--comment", "tuiapp tests' PostgreSQL", ACCOUNT],
                              capture_output=True, text=True, timeout=30)
        if made.returncode != 0:
            raise RuntimeError(f"useradd {ACCOUNT} failed: {made.stderr.strip()}")
        return pwd.getpwnam(ACCOUNT)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PgDatabase:
    """A database of its own, owned by a role of its own; ``url`` has no password (it is in $PGPASSFILE)."""

    name: str
    role: str
    password: str
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://{self.role}@127.0.0.1:{self.port}/{self.name}"

    def pgpass_line(self) -> str:
        return f"127.0.0.1:{self.port}:{self.name}:{self.role}:{self.password}\n"


@dataclass
class PgCluster:
    """A running server: ``admin_url`` (a superuser, password included), ``port``, ``psql(sql)``."""

    bin: Path
    data: Path
    port: int
    admin_password: str
    process: subprocess.Popen
    log: Path
    _remove: Path | None = None  # the /tmp folder of the data directory, removed at stop
    _start: tuple[list[str], dict] | None = field(default=None, repr=False)  # the server's command and options
    _stopped: bool = field(default=False, repr=False)

    @property
    def version(self) -> str:
        return self.psql("SHOW server_version")[0][0]

    def admin_url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{ADMIN}:{self.admin_password}@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        """A superuser connection in autocommit (close it, or use it in a ``with``)."""
        return psycopg.connect(self.admin_url(dbname), autocommit=True, connect_timeout=10)

    def psql(self, query: str | sql.Composable, params: tuple | dict | None = None,
             dbname: str = "postgres") -> list[tuple]:
        """Run one statement as the superuser (autocommit); its rows, or [] when it returns none."""
        with self.connect(dbname) as connection:
            cursor = connection.execute(query, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def new_database(self) -> PgDatabase:
        """A fresh empty database and the role that owns it (and alone may connect to it)."""
        tag = secrets.token_hex(4)
        database = PgDatabase(name=f"test_{tag}", role=f"app_{tag}", password=secrets.token_urlsafe(18), port=self.port)
        name, role = sql.Identifier(database.name), sql.Identifier(database.role)
        with self.connect() as connection:
            connection.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(database.password)))
            connection.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(name, role))
            connection.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(name))
        return database

    def drop_database(self, database: PgDatabase) -> None:
        """Drop it (its connections still open are ended) and its role."""
        with self.connect() as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database.name)))
            connection.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(database.role)))

    def crash(self) -> None:
        """The server stops at once (SIGQUIT: every connection dropped mid-statement)."""
        assert self._start is not None and not self._stopped
        self.process.send_signal(signal.SIGQUIT)
        self.process.wait(timeout=30)

    def start(self) -> None:
        """After ``crash``: the server starts again on the same port and data, accepting connections."""
        assert self._start is not None and self.process.poll() is not None
        command, options = self._start
        with open(self.log, "ab") as log_file:
            self.process = _popen_server(command, options, log_file)
        deadline = time.monotonic() + float(os.environ.get(START_WAIT_VARIABLE, "60"))
        while not _ready(self.data, self.process.pid):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the PostgreSQL server did not start again: {self.log.read_text()[-2000:]}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Immediate shutdown (nothing to keep), then the data directory goes if it is in /tmp."""
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # what ``pg_ctl stop -m immediate`` sends
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._remove is not None:
            shutil.rmtree(self._remove, ignore_errors=True)


def _runner(account: pwd.struct_passwd | None, cwd: Path) -> Callable[..., dict]:
    """The arguments of ``subprocess`` that run a PostgreSQL program as ``account`` (or as us)."""
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "TZ": "UTC"}

    def options(**extra) -> dict:
        base: dict = {"env": env, "cwd": str(cwd), "umask": 0o077}
        if account is not None:
            base.update(user=account.pw_uid, group=account.pw_gid, extra_groups=[])
        return base | extra

    return options


def _popen_server(command: list[str], options: dict, log_file) -> subprocess.Popen:
    """The server started; from the main thread, tied to this process: it gets SIGQUIT (as ``stop``
    sends) when the process ends, even one that pytest-timeout ends with os._exit, which runs no
    fixture's teardown. Not from another thread (a test's mail server restarting it): the signal
    comes when the thread that started it ends."""
    setpriv = shutil.which("setpriv")
    if setpriv is not None and threading.current_thread() is threading.main_thread():
        command = [setpriv, "--pdeathsig", "QUIT", "--", *command]
    return subprocess.Popen(command, **options, stdout=log_file, stderr=log_file)


def _locale() -> str:
    """C.UTF-8 where the C library has it (upper() and lower() of accented letters), else C."""
    listed = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.split()
    return "C.UTF-8" if {"C.UTF-8", "C.utf8"} & set(listed) else "C"


def start_cluster(log_folder: Path) -> PgCluster:
    """initdb, then the server, running and accepting connections; raises PostgresqlAbsent."""
    binaries = find_binaries()
    account = _account()
    if account is not None:
        work = Path(tempfile.mkdtemp(prefix="tuiapp-pg-"))
        os.chown(work, account.pw_uid, account.pw_gid)
        remove: Path | None = work
    else:
        work, remove = log_folder, None
    data = work / "data"
    run_as = _runner(account, work)
    admin_password = secrets.token_urlsafe(18)
    try:
        # (not /dev/stdin: a pipe made by root cannot be opened again by the account)
        pwfile = work / "admin-password"
        pwfile.write_text(admin_password + "\n")
        pwfile.chmod(0o600)
        if account is not None:
            os.chown(pwfile, account.pw_uid, account.pw_gid)
        initdb = subprocess.run(
            [str(binaries / "initdb"), "--no-sync", "--no-instructions", "-D", str(data), "-E", "UTF8",
             f"--locale={_locale()}", "-U", ADMIN, f"--pwfile={pwfile}", "--auth-local=trust",
             "--auth-host=scram-sha-256"],
            **run_as(capture_output=True, text=True, timeout=120),
        )
        pwfile.unlink()
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed ({initdb.returncode}): {initdb.stderr.strip() or initdb.stdout.strip()}")
        (data / "pg_hba.conf").write_text(HBA)  # (as root: the file stays the account's, rewritten in place)
        for _attempt in range(3):  # another process may take the free port before the server binds it
            cluster = _start_server(binaries, data, work, run_as, admin_password, log_folder / "server.log")
            if cluster is not None:
                cluster._remove = remove
                atexit.register(cluster.stop)  # should the session end without its fixtures' teardown
                return cluster
        raise RuntimeError(f"the server found no free port: {(log_folder / 'server.log').read_text()[-2000:]}")
    except BaseException:
        if remove is not None:
            shutil.rmtree(remove, ignore_errors=True)
        raise


def _start_server(binaries: Path, data: Path, work: Path, run_as: Callable[..., dict], admin_password: str,
                  log: Path) -> PgCluster | None:
    """The server on a free port; None if that port was taken meanwhile."""
    port = _free_port()
    settings = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": str(data),
        "max_connections": "50",
        "shared_buffers": "32MB",
        # nothing to keep after the session: no waiting for the disk; but a commit is in the WAL
        # (the kernel's cache) before it is acknowledged, so that a crash of the server alone
        # (``restart``) loses no committed transaction, as on a real server
        "fsync": "off",
        "synchronous_commit": "on",
        "full_page_writes": "off",
        "ssl": "off",
        "logging_collector": "off",
        "password_encryption": "scram-sha-256",
    }
    command = [str(binaries / "postgres"), "-D", str(data)]
    for name, value in settings.items():
        command += ["-c", f"{name}={value}"]
    options = run_as(stdin=subprocess.DEVNULL, start_new_session=True)
    with open(log, "ab") as log_file:  # opened here: the account writes to it without reaching pytest's folder
        process = _popen_server(command, options, log_file)
    cluster = PgCluster(binaries, data, port, admin_password, process, log, _start=(command, options))
    deadline = time.monotonic() + float(os.environ.get(START_WAIT_VARIABLE, "60"))
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = log.read_text(errors="replace")
            if "could not bind" in said or "already in use" in said:
                return None
            raise RuntimeError(f"the PostgreSQL server stopped at start ({process.returncode}): {said[-2000:]}")
        if _ready(data):
            return cluster
        time.sleep(0.02)
    cluster.stop()
    raise RuntimeError(f"the PostgreSQL server did not start within ${START_WAIT_VARIABLE}: {log.read_text()[-2000:]}")


def _ready(data: Path, pid: int | None = None) -> bool:
    """The postmaster's pid file says "ready" (as ``pg_ctl -w`` reads it) once it accepts connections
    (and, given ``pid``, is that process's own: not one an earlier server left)."""
    with contextlib.suppress(FileNotFoundError):
        lines = (data / "postmaster.pid").read_text().splitlines()
        return len(lines) >= 8 and lines[7].strip() == "ready" and (pid is None or lines[0].strip() == str(pid))
    return False
