"""One database shared by several Unix accounts of one group (billing staff on one server).

The tests that need other accounts run tuiapp as real users of a real group, in
real processes (``tests/unix_accounts.py``); they need root and are skipped otherwise.
"""

from __future__ import annotations

import grp
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.unix_accounts import WRITE
from tuiapp.db import file_access
from tuiapp.db.database import db, open_database
from tuiapp.locations import SHARED_FILE_MODE

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="creating Unix users and running as them needs root")

MODES = """
import os, stat, sys
from tuiapp.db.database import open_database
from tuiapp.db.models import Metadata
open_database(sys.argv[1])
Metadata.replace(key="k", value="v").execute()
print(" ".join(oct(stat.S_IMODE(os.stat(sys.argv[1] + suffix).st_mode)) for suffix in ("", "-wal", "-shm")))
"""


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def keys(path) -> set[str]:
    with sqlite3.connect(path) as raw:
        return {row[0] for row in raw.execute("SELECT key FROM metadata")}


# Without other accounts -------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_a_new_database_and_its_side_files_are_group_writable_whatever_the_umask(tmp_path, umask):
    path = tmp_path / "tuiapp.db"
    result = subprocess.run([sys.executable, "-c", MODES, str(path)], umask=umask,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # database, -wal, -shm (the last two while the database is open): SQLite gives them the database's mode
    assert result.stdout.split() == [oct(SHARED_FILE_MODE)] * 3
    assert mode(path) == SHARED_FILE_MODE


def test_an_existing_database_keeps_its_mode(tmp_path):
    path = tmp_path / "tuiapp.db"
    open_database(path)
    db.close()
    path.chmod(0o640)
    open_database(path)
    db.close()
    assert mode(path) == 0o640


def test_side_files_this_attempt_made_and_nobody_uses_are_removed(tmp_path):
    path = tmp_path / "tuiapp.db"
    path.touch()
    before = file_access.existing_side_files(path)
    wal, shm, _ = file_access.side_files(path)
    wal.touch()
    shm.write_bytes(b"\0" * 32768)
    file_access.remove_new_side_files(path, before)
    assert not wal.exists() and not shm.exists()


def test_side_files_that_were_there_or_hold_data_or_are_in_use_are_kept(tmp_path):
    path = tmp_path / "tuiapp.db"
    wal, shm, _ = file_access.side_files(path)
    # there before the attempt
    path.touch()
    wal.touch()
    shm.touch()
    file_access.remove_new_side_files(path, file_access.existing_side_files(path))
    assert wal.exists() and shm.exists()
    # a -wal with content may hold a transaction: kept (the -shm can be rebuilt)
    wal.write_bytes(b"frames")
    file_access.remove_new_side_files(path, set())
    assert wal.exists() and not shm.exists()
    # in use by a connection of another process: both kept
    path.unlink()
    wal.unlink()
    holder = subprocess.Popen(
        [sys.executable, "-c", WRITE, str(path), "other", "hold"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert wal.exists() and shm.exists()
        file_access.remove_new_side_files(path, set())
        assert wal.exists() and shm.exists()
    finally:
        holder.communicate(timeout=30)
    assert holder.returncode == 0
    assert keys(path) == {"other"}


# Real accounts ------------------------------------------------------------------------


@pytest.fixture
def folder(office):
    """The office's shared folder: ``root:<group>``, ``rwxrws---`` (new files get the group)."""
    base = Path(tempfile.mkdtemp(prefix="tuiapp-share-"))
    base.chmod(0o755)
    shared = base / "compta"
    shared.mkdir()
    os.chown(shared, 0, office.gid)
    shared.chmod(0o2770)
    yield shared
    shutil.rmtree(base, ignore_errors=True)


def listing(folder: Path) -> dict:
    return {entry.name: (entry.stat().st_uid, entry.stat().st_mode) for entry in os.scandir(folder)}


def refused(result: subprocess.CompletedProcess) -> str:
    text = result.stdout + result.stderr
    assert result.returncode != 0, text
    assert "Traceback" not in text and "SQLite" not in text, text
    return " ".join(text.split())  # one line, whatever the wrapping


@as_root
def test_a_member_of_the_group_writes_in_a_database_another_one_holds_open(office, folder):
    path = folder / "tuiapp.db"
    created = office.write(office.alice, path, "alice-1")
    assert created.returncode == 0, created.stdout + created.stderr
    assert (os.stat(path).st_uid, os.stat(path).st_gid, mode(path)) == (office.alice.uid, office.gid, 0o660)
    bob = office.hold(office.bob, path, "bob-1")
    try:
        # bob's process made the -wal and -shm: his, yet the group's (the bug: alice could no longer write)
        for side in (f"{path}-wal", f"{path}-shm"):
            assert (os.stat(side).st_uid, os.stat(side).st_gid, mode(side)) == (office.bob.uid, office.gid, 0o660)
        again = office.write(office.alice, path, "alice-2")
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        bob.communicate(timeout=30)
    assert bob.returncode == 0
    assert keys(path) == {"alice-1", "bob-1", "alice-2"}


@as_root
@pytest.mark.parametrize("folder_mode", [0o2770, 0o2775], ids=["rwxrws---", "rwxrwsr-x"])
def test_someone_outside_the_group_is_told_why_and_leaves_no_file(office, folder, folder_mode):
    path = folder / "tuiapp.db"
    assert office.write(office.alice, path, "alice-1").returncode == 0
    folder.chmod(folder_mode)
    before = listing(folder)
    carol = office.carol.name
    history = refused(office.tuiapp(office.carol, "history", "--db", str(path)))
    assert f"Impossible d'ouvrir la base « {path} »" in history
    if folder_mode == 0o2775:  # carol sees the file: its owner and mode
        assert f"fichier de {office.alice.name}:{office.group}, droits rw-rw----" in history
    else:  # she cannot even enter the folder: its owner and mode
        assert f"le dossier « {folder} » (root:{office.group}, droits rwxrws---)" in history
    assert f"votre compte ({carol})" in history
    assert f"ajoutez {carol} au groupe {office.group}" in history
    init = refused(office.tuiapp(office.carol, "init", "--db", str(folder / "carol.db")))
    assert f"le dossier « {folder} »" in init and f"ajoutez {carol} au groupe {office.group}" in init
    assert listing(folder) == before
    for member in (office.alice, office.bob):
        assert office.write(member, path, member.name).returncode == 0
    assert keys(path) == {"alice-1", office.alice.name, office.bob.name}


@as_root
@pytest.mark.parametrize(("side", "bobs_own_group"), [("-wal", False), ("-shm", False), ("-wal", True)],
                         ids=["wal", "shm", "wal-of-bobs-group"])
def test_a_stray_side_file_another_member_made_unwritable_is_explained(office, folder, side, bobs_own_group):
    path = folder / "tuiapp.db"
    assert office.write(office.alice, path, "alice-1").returncode == 0
    stray = Path(f"{path}{side}")
    made = office.run(office.bob, "-c", f"open({str(stray)!r}, 'x').close()")  # rw-r--r-- under bob's umask
    assert made.returncode == 0, made.stderr
    group = office.group
    if bobs_own_group:  # made where the folder did not give its group
        os.chown(stray, office.bob.uid, office.bob.gid)
        group = grp.getgrgid(office.bob.gid).gr_name
    before = listing(folder)
    message = refused(office.tuiapp(office.alice, "history", "--db", str(path)))
    assert f"Impossible d'ouvrir la base « {path} » en écriture" in message
    assert f"« {stray} » est à {office.bob.name}:{group}, droits rw-r--r--" in message
    assert f"votre compte ({office.alice.name}) n'y a pas accès" in message
    assert f"chmod 660 « {stray} »" in message
    assert (f"chgrp {office.group} « {stray} »" in message) == bobs_own_group
    assert "ajoutez" not in message  # alice is in the database's group already
    assert listing(folder) == before  # the stray file untouched, nothing added
    os.chown(stray, -1, office.gid)  # the administrator's fix
    stray.chmod(0o660)
    assert office.write(office.alice, path, "alice-2").returncode == 0
    assert keys(path) == {"alice-1", "alice-2"}


@as_root
@pytest.mark.parametrize("refusal", ["file", "folder"])
def test_a_member_refused_by_the_rights_is_told_the_fix_and_leaves_no_file(office, folder, refusal):
    path = folder / "tuiapp.db"
    assert office.write(office.alice, path, "alice-1").returncode == 0
    if refusal == "file":  # as an older tuiapp made it under a 022 umask
        path.chmod(0o644)
    else:  # the group may enter the folder, not create the -wal and -shm there
        folder.chmod(0o2750)
    before = listing(folder)
    result = office.write(office.bob, path, "bob-1")
    assert result.returncode == 3, result.stdout + result.stderr
    message = " ".join(result.stdout.split())
    if refusal == "file":
        assert f"fichier de {office.alice.name}:{office.group}, droits rw-r--r--" in message
        assert f"chmod 660 « {path} »" in message
    else:
        assert f"le dossier « {folder} » (root:{office.group}, droits rwxr-s---)" in message
        assert f"chmod 2770 « {folder} »" in message
    assert f"votre compte ({office.bob.name})" in message and "ajoutez" not in message
    assert listing(folder) == before
    assert keys(path) == {"alice-1"}


@as_root
def test_when_sqlite_fails_anyway_the_side_files_it_made_are_removed(office, folder):
    """Where ``os.access`` says yes and SQLite still opens read-only (an ACL or a network
    file system it misjudges; here the check is blinded), the upgrade of an older database
    fails, and the -wal and -shm that SQLite made for bob (rw-r--r--) are not left behind."""
    path = folder / "tuiapp.db"
    shutil.copyfile(Path(__file__).parent / "data" / "v1.db", path)
    with sqlite3.connect(path) as raw:  # as the first tuiapp left it, in WAL mode
        assert raw.execute("PRAGMA journal_mode = wal").fetchone() == ("wal",)
    os.chown(path, office.alice.uid, office.gid)
    path.chmod(0o644)
    before = listing(folder)
    blind = ("import sys, tuiapp.db.file_access as access; access.check_access = lambda path: None;"
             "sys.argv[1:] = ['history', '--db', sys.argv[1]]; from tuiapp.cli import main; sys.exit(main())")
    message = refused(office.run(office.bob, "-c", blind, str(path)))
    assert f"Impossible d'ouvrir « {path} » en écriture" in message
    assert listing(folder) == before
