"""Root's changes to the server's configuration file (``sudo tuiapp smtp set``).

The file keeps its comments and layout (tomlkit); the result is read back
with the same checks as every reader (``system_config.parse``) before it
replaces the old one, under a temporary name then renamed, with the old
file's owner and mode: a wrong value never reaches the sender service.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import tomlkit

from tuiapp import system_config
from tuiapp.domain.errors import TuiappError, ValidationError
from tuiapp.domain.smtp_security import CREDENTIALS_IN_CLEAR, credentials_in_clear
from tuiapp.system_config import SystemConfig


def update_smtp(config: SystemConfig, changes: dict[str, object]) -> SystemConfig:
    """Set these keys of the ``[smtp]`` section (None: remove the key); returns the new configuration."""
    if os.getuid() != 0:
        raise TuiappError(f"Seul root modifie la configuration du serveur ({config.path}) : "
                          "sudo tuiapp smtp set ...")
    document = tomlkit.parse(config.path.read_text(encoding="utf-8"))
    section = document.get("smtp")
    if section is None:
        section = tomlkit.table()
        document["smtp"] = section
    for key, value in changes.items():
        if value is None:
            section.pop(key, None)
        else:
            section[key] = value
    text = tomlkit.dumps(document)
    updated = system_config.parse(tomllib.loads(text), path=config.path, source=config.source)
    smtp = updated.smtp
    if smtp is not None and credentials_in_clear(smtp.security, smtp.username, smtp.allow_insecure_auth):
        raise ValidationError("security", "Sécurité", CREDENTIALS_IN_CLEAR)  # the file left as it was
    _replace(config.path, text)
    return updated


def _replace(path: Path, text: str) -> None:
    info = path.stat()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchown(descriptor, info.st_uid, info.st_gid)
            os.fchmod(descriptor, info.st_mode & 0o777)
            os.write(descriptor, text.encode("utf-8"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise TuiappError(f"Écriture impossible de {path} ({exc.strerror}).") from None
