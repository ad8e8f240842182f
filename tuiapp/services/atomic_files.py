"""Files written whole or not at all.

Each file is written under a temporary name in its own folder, flushed to
the disk (fsync), then renamed over its final name: a process killed half-way,
or a full disk, leaves either the previous file or the new one, never a
truncated one. A temporary file left by a killed process is hidden (its name
starts with a dot) and removed by a later ``remove_stale_temporaries``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import time
from pathlib import Path

from tuiapp.locations import UMASK_FILE_MODE

TEMP_PREFIX = ".tuiapp-"
TEMP_SUFFIX = ".tmp"
#: A temporary file older than this was left by a process that died.
STALE_AFTER_SECONDS = 3600

_REASONS = {
    errno.ENOSPC: "disque plein",
    errno.EACCES: "accès refusé",
    errno.EPERM: "accès refusé",
    errno.EROFS: "disque en lecture seule",
    errno.ENAMETOOLONG: "nom de fichier trop long",
    errno.EISDIR: "un dossier porte déjà ce nom",
    errno.ENOTDIR: "un fichier porte le nom du dossier",
    errno.ENOENT: "dossier introuvable",
}


def write_error_reason(exc: OSError) -> str:
    """Why a file could not be written, in French."""
    return _REASONS.get(exc.errno or 0, f"erreur d'écriture ({exc.strerror or type(exc).__name__})")


def write_atomically(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` as ``path``: complete on disk under its name, or not there at all.
    ``mode``: exactly this mode, whatever the umask (a shared folder's files); else the umask decides."""
    temp = path.parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"
    # O_EXCL: never write through an existing file or link.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                 UMASK_FILE_MODE if mode is None else mode)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; elsewhere the rename is all there is)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_stale_temporaries(folder: Path, *, older_than: float = STALE_AFTER_SECONDS) -> None:
    """Remove the temporary files that killed processes left in ``folder``."""
    limit = time.time() - older_than
    for temp in folder.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if temp.is_file() and temp.lstat().st_mtime < limit:
                temp.unlink()
