"""Who may use a database file shared by several Unix accounts: checked before SQLite opens it.

Billing staff are several users of one group on one server, sharing one
database. SQLite needs to read and write the database file, to create its
``-wal`` and ``-shm`` files beside it (with the database file's mode: SQLite
sets it itself) and to use them when another user's process created them.
When one of those is refused, SQLite falls back to a read-only connection (the
first write fails: "attempt to write a readonly database") or fails with
"unable to open database file"; and a read-only open of a ``rw-r--r--``
database leaves a ``-wal`` and a ``-shm`` of the refused user behind,
``rw-r--r--`` too, which then lock the others out. So the rights are checked
first, and the refusal names the file, its owner, its mode and the fix; if
SQLite fails anyway, the side files the attempt made are removed.

A database file tuiapp creates is ``rw-rw----`` whatever the creator's umask;
its group is the folder's (a setgid folder gives its group to new files).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from tuiapp.locations import SHARED_FILE_MODE, SHARED_FOLDER_MODE
from tuiapp.system_config import group_name, my_name, user_name

#: The files SQLite keeps beside the database (WAL mode, and a rollback
#: journal when a switch to WAL was interrupted).
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
#: A shared folder: its group given to every new file (setgid).
_FOLDER_FIX_MODE = SHARED_FOLDER_MODE | stat.S_ISGID
#: Every connection holds a shared lock on this byte of the ``-shm`` file
#: while it uses it (SQLite's ``UNIX_SHM_DMS``, os_unix.c).
_SHM_DMS_BYTE = 128


class AccessRefused(Exception):
    """The current account cannot use the database file; ``str()`` is the French explanation."""


def side_files(path: Path) -> list[Path]:
    return [Path(f"{path}{suffix}") for suffix in SIDE_SUFFIXES]


def create_shared_file(path: Path) -> bool:
    """Create ``path`` empty, ``rw-rw----`` whatever the umask; False if it already exists.

    SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file,
    so the whole set stays writable by the group."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, SHARED_FILE_MODE)
    except FileExistsError:  # another process created it first: it is opened as it is
        return False
    except PermissionError:
        raise AccessRefused(_folder_refusal(path, path.absolute().parent, create=True)) from None
    try:
        # The umask took bits off the mode given to open(); a file system without
        # Unix modes refuses fchmod and has nothing to set.
        with contextlib.suppress(OSError):
            os.fchmod(descriptor, SHARED_FILE_MODE)
    finally:
        os.close(descriptor)
    return True


def check_access(path: Path) -> None:
    """Raise ``AccessRefused`` unless this account can read and write the existing
    database ``path``, its side files that exist, and create files in its folder."""
    for target in (path, *side_files(path)):
        try:
            os.lstat(target)
        except FileNotFoundError:
            continue
        if not os.access(target, os.R_OK | os.W_OK):
            raise AccessRefused(_file_refusal(path, target))
    folder = path.absolute().parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise AccessRefused(_folder_refusal(path, folder, create=False))


def explain_unreachable(path: Path) -> str:
    """Why ``path`` cannot even be looked at: the first folder on the way that this account cannot cross."""
    for folder in reversed(path.absolute().parents):
        if not os.access(folder, os.X_OK):
            return _folder_refusal(path, folder, create=False, cross=True)
    return f"Impossible d'accéder à la base « {path} » : accès refusé par le système (votre compte : {my_name()})."


def existing_side_files(path: Path) -> set[Path]:
    return {side for side in side_files(path) if os.path.lexists(side)}


def remove_new_side_files(path: Path, before: set[Path]) -> None:
    """After a failed open, remove the ``-wal``/``-shm`` that this attempt created and nobody uses.

    Only files absent from ``before`` (``existing_side_files`` taken before the
    attempt), that belong to this account, and that no connection uses (none holds
    the ``-shm``); a ``-wal`` only if empty (a non-empty one may hold a
    transaction). Files that existed before are never touched. The database must
    be closed first: this process's own connection would not be seen."""
    wal, shm, _ = side_files(path)
    new = {side: status for side in (wal, shm) if side not in before and (status := _lstat(side)) is not None}
    if not new or any(not stat.S_ISREG(status.st_mode) or status.st_uid != os.geteuid() for status in new.values()):
        return
    with _unused_shm(shm if os.path.lexists(shm) else None) as unused:
        if not unused:
            return
        if wal in new and new[wal].st_size == 0:
            _unlink(wal)
        if shm in new:
            _unlink(shm)


@contextlib.contextmanager
def _unused_shm(shm: Path | None) -> Iterator[bool]:
    """Whether no connection uses ``shm`` (True if there is none), held until the block ends."""
    if shm is None:
        yield True
        return
    try:
        descriptor = os.open(shm, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_DMS_BYTE)
        except OSError:
            yield False  # a connection of another process holds it
            return
        yield True
    finally:
        os.close(descriptor)  # releases the lock


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


# The explanations -----------------------------------------------------------------


def _in_group(gid: int) -> bool:
    return gid == os.getegid() or gid in os.getgroups()


def _describe(status: os.stat_result) -> str:
    owner = f"{user_name(status.st_uid)}:{group_name(status.st_gid)}"
    return f"{owner}, droits {stat.filemode(status.st_mode)[1:]}"


def _join_into_group(gid: int) -> str:
    return f"ajoutez {my_name()} au groupe {group_name(gid)} (puis ouvrez une nouvelle session)"


def _ask(steps: list[str]) -> str:
    if not steps:
        return "Demandez à l'administrateur de vérifier les droits de ces fichiers."
    return f"Demandez à l'administrateur : {' et '.join(steps)}."


def _file_refusal(database: Path, target: Path) -> str:
    status = os.stat(target)
    steps: list[str] = []
    gid = status.st_gid
    if target != database:
        try:
            database_gid = os.stat(database).st_gid
        except OSError:
            database_gid = gid
        if gid != database_gid:
            steps.append(f"chgrp {group_name(database_gid)} « {target} »")
            gid = database_gid
    if status.st_mode & 0o060 != 0o060:
        steps.append(f"chmod 660 « {target} »")
    if not _in_group(gid) and status.st_uid != os.geteuid():
        steps.append(_join_into_group(gid))
    if target == database:
        what = f"fichier de {_describe(status)}"
    else:
        what = (f"son fichier de travail « {target} » est à {_describe(status)} "
                "(laissé par un autre programme ; il doit avoir les droits de la base)")
    return (f"Impossible d'ouvrir la base « {database} » en écriture : {what} ; "
            f"votre compte ({my_name()}) n'y a pas accès. {_ask(steps)}")


def _folder_refusal(database: Path, folder: Path, *, create: bool, cross: bool = False) -> str:
    status = os.stat(folder)
    steps: list[str] = []
    needed = 0o010 if cross else 0o070
    if status.st_mode & needed != needed:
        steps.append(f"chmod {_FOLDER_FIX_MODE:o} « {folder} »")
    if not _in_group(status.st_gid) and status.st_uid != os.geteuid():
        steps.append(_join_into_group(status.st_gid))
    account = f"votre compte ({my_name()})"
    if cross:
        why = f"n'est pas accessible à {account}"
    elif create:
        why = f"ne permet pas à {account} d'y créer la base"
    else:
        why = (f"ne permet pas à {account} d'y créer les fichiers de travail de la base "
               f"(« {database.name}-wal », « {database.name}-shm »)")
    return (f"Impossible d'ouvrir la base « {database} » en écriture : le dossier « {folder} » "
            f"({_describe(status)}) {why}. {_ask(steps)}")
