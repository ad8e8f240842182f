"""Real Unix accounts running tuiapp, for the tests of a database shared by a group.

A group, two of its members and an outsider are created with ``groupadd`` and
``useradd`` (names unique to the run) and removed with ``userdel -r`` at the end,
even after a failure. Those accounts cannot read a checkout under ``/root`` nor a
pyenv interpreter there, so tuiapp and the packages it imports are copied once
into a folder of ``/tmp`` they can read, and run with a Python 3.11 they can
execute. Needs root.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Open the database named by argv[1] and write the key argv[2]; exit 3 with the
#: French message if it is refused; with argv[3] == "hold", keep it open until stdin closes.
WRITE = """
import sys
from tuiapp.db.database import DatabaseOpenError, open_database
from tuiapp.db.models import Metadata
try:
    open_database(sys.argv[1])
    Metadata.replace(key=sys.argv[2], value="x").execute()
except DatabaseOpenError as exc:
    print(exc)
    sys.exit(3)
if sys.argv[3:] == ["hold"]:
    print("ready", flush=True)
    sys.stdin.read()
"""


@dataclass(frozen=True)
class Account:
    name: str

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.name).pw_uid

    @property
    def gid(self) -> int:
        return pwd.getpwnam(self.name).pw_gid

    def as_me(self) -> dict:
        """What ``subprocess`` needs to run as this account with its groups (as after a login):
        without ``extra_groups`` the child would keep root's supplementary groups."""
        return {"user": self.name, "group": self.gid, "extra_groups": os.getgrouplist(self.name, self.gid)}


@dataclass(frozen=True)
class Office:
    group: str
    alice: Account  # in the group
    bob: Account  # in the group
    carol: Account  # not in it
    python: str  # an interpreter these accounts can run
    env: dict  # with PYTHONPATH to a copy of tuiapp and its packages they can read

    @property
    def gid(self) -> int:
        return grp.getgrnam(self.group).gr_gid

    def run(self, account: Account, *args: str, umask: int = 0o022) -> subprocess.CompletedProcess:
        return subprocess.run([self.python, *args], **account.as_me(), umask=umask, env=self.env, cwd="/",
                              capture_output=True, text=True, timeout=60)

    def write(self, account: Account, path: Path, key: str) -> subprocess.CompletedProcess:
        return self.run(account, "-c", WRITE, str(path), key)

    def tuiapp(self, account: Account, *args: str) -> subprocess.CompletedProcess:
        return self.run(account, "-m", "tuiapp", *args)

    def hold(self, account: Account, path: Path, key: str) -> subprocess.Popen:
        """A process of ``account`` that wrote ``key`` and keeps the database open (its -wal and -shm)."""
        process = subprocess.Popen([self.python, "-c", WRITE, str(path), key, "hold"], **account.as_me(),
                                   env=self.env, cwd="/", stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "ready"
        return process


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=30)


def _copy_readable(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copy2(source, target)
    for folder, _, files in os.walk(target):
        os.chmod(folder, 0o755)
        for name in files:
            file = os.path.join(folder, name)
            os.chmod(file, stat.S_IMODE(os.stat(file).st_mode) | 0o444)


#: Run as root with the test's interpreter: the top-level names, in site-packages,
#: of what the commands the tests run import.
_IMPORTED = """
import sys, sysconfig, tempfile
from tuiapp.cli import main
with tempfile.TemporaryDirectory() as folder:
    main(["init", "--db", f"{folder}/t.db"])
    main(["history", "--db", f"{folder}/t.db"])
# the send path too (the sender service, tuiapp send): PDFs, messages, TLS, the configuration's writer
import markdown_pdf, pymupdf, tomlkit, email_validator, babel.numbers, babel.dates  # noqa
import tuiapp.sender.service, tuiapp.cli.send_queue, tuiapp.services.server_config, tuiapp.pdf.invoice  # noqa
places = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
for module in list(sys.modules.values()):
    file = getattr(module, "__file__", None) or ""
    for place in places:
        if file.startswith(place + "/"):
            print("module", place, file[len(place) + 1:].split("/")[0], sep="\t")
"""


def _runtime(root: Path) -> dict:
    """A copy of tuiapp and of the packages it imports, readable by every account."""
    source = root / "site"
    source.mkdir()
    import tuiapp

    _copy_readable(Path(tuiapp.__file__).parent, source / "tuiapp")
    found = subprocess.run([sys.executable, "-c", _IMPORTED], capture_output=True, text=True, timeout=60, cwd="/")
    assert found.returncode == 0, found.stderr
    for line in found.stdout.splitlines():
        if not line.startswith("module\t"):
            continue  # what the commands said
        _, place, name = line.split("\t")
        if name.startswith("__editable__") or name.endswith(".pth") or name.startswith("tuiapp"):
            continue
        if not (source / name).exists():
            _copy_readable(Path(place) / name, source / name)
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(source), "HOME": "/nonexistent", "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1", "TUIAPP_DB_WAIT": "2"}


def _interpreter(env: dict) -> str:
    """A Python of our minor version (the copied extension modules' ABI) that another account can run."""
    candidates = [sys.executable, getattr(sys, "_base_executable", ""), os.path.realpath(sys.executable),
                  f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}", "/usr/bin/python3",
                  shutil.which("python3.11") or ""]
    probe = f"import sys; assert sys.version_info[:2] == {tuple(sys.version_info[:2])}; import tuiapp.cli"
    tried = []
    for candidate in dict.fromkeys(c for c in candidates if c):
        result = subprocess.run([candidate, "-c", probe], user="nobody", group=pwd.getpwnam("nobody").pw_gid,
                                extra_groups=[], env=env, cwd="/", capture_output=True, text=True, timeout=60)
        if result.returncode == 0:
            return candidate
        tried.append(f"{candidate}: {result.stderr.strip().splitlines()[-1:]}")
    pytest.fail("no Python 3.11 that another account can run: " + "; ".join(tried))


@contextlib.contextmanager
def office_of_three() -> Iterator[Office]:
    """A group, two members (alice, bob) and an outsider (carol); tuiapp runnable by them. Needs root."""
    tag = secrets.token_hex(3)
    group, names = f"tc{tag}", [f"t{tag}{who}" for who in ("alice", "bob", "carol")]
    root = Path(tempfile.mkdtemp(prefix="tuiapp-office-"))
    root.chmod(0o755)
    created: list[str] = []
    try:
        _run("groupadd", group)
        for name in names:
            extra = ["-G", group] if not name.endswith("carol") else []
            _run("useradd", "-M", "-U", "-s", "/usr/sbin/nologin", *extra, name)
            created.append(name)
        env = _runtime(root)
        yield Office(group, *(Account(name) for name in names), python=_interpreter(env), env=env)
    finally:
        for name in created:
            subprocess.run(["userdel", "-r", name], capture_output=True, timeout=30)  # no home: says so, removes the user
        subprocess.run(["groupdel", group], capture_output=True, timeout=30)
        shutil.rmtree(root, ignore_errors=True)
        left = [name for name in created if name in {entry.pw_name for entry in pwd.getpwall()}]
        assert not left, f"accounts not removed: {left}"

