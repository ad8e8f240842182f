"""Where this process works: which configuration, which database, which mode, which role.

``tuiapp where`` prints it; the CLI, the TUI and the sender service decide from it.
The database is, in order: ``--db``, ``$TUIAPP_DB``, the server's configuration,
the user's data directory. The mode is the configuration's for its own database;
a database named otherwise (``--db`` another file) is used in local mode.
"""

from __future__ import annotations

import grp
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tuiapp import system_config
from tuiapp.domain.db_target import DatabaseTarget
from tuiapp.domain.roles import Role
from tuiapp.locations import locate_db
from tuiapp.system_config import Mode, SystemConfig


@dataclass(frozen=True)
class Site:
    config: SystemConfig | None
    config_path: Path
    config_source: str
    database: DatabaseTarget
    database_must_exist: bool
    database_source: str
    mode: Mode
    role: Role
    role_reason: str

    def as_dict(self) -> dict[str, str]:
        return {
            "configuration": str(self.config_path) if self.config else "",
            "configuration_source": self.config_source,
            "base": str(self.database),
            "base_source": self.database_source,
            "mode": self.mode.value,
            "role": self.role.value,
            "role_reason": self.role_reason,
        }


def locate(cli_db: str | None = None, environ: Mapping[str, str] = os.environ) -> Site:
    """Raises ``ConfigError`` when a configuration file exists but cannot be used."""
    path, source = system_config.config_path(environ)
    config = system_config.load(environ)
    database, must_exist, database_source = locate_db(cli_db, environ)
    mode = Mode.LOCAL
    if config is not None and config.mode == Mode.SERVICE and _same_file(database, config.database):
        mode = Mode.SERVICE
    role, reason = role_of(config, mode)
    config_source = source if config is not None else f"aucune ({path} absent)"
    return Site(config, path, config_source, database, must_exist, database_source, mode, role, reason)


def role_of(config: SystemConfig | None, mode: Mode, *, uid: int | None = None,
            groups: set[int] | None = None) -> tuple[Role, str]:
    """This user's role, and why (French)."""
    uid = os.getuid() if uid is None else uid
    if uid == 0:
        return Role.ADMIN, "root"
    if config is None or mode == Mode.LOCAL:
        return Role.ADMIN, "mode local : tous les droits"
    groups = _my_groups() if groups is None else groups
    if _gid(config.admin_group) in groups:
        return Role.ADMIN, f"membre du groupe {config.admin_group}"
    if _gid(config.operator_group) in groups:
        return Role.OPERATOR, f"membre du groupe {config.operator_group}"
    return Role.NONE, f"ni dans le groupe {config.operator_group} ni dans {config.admin_group}"


def _my_groups() -> set[int]:
    return {os.getgid(), *os.getgroups()}


def _gid(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def _same_file(a: DatabaseTarget, b: DatabaseTarget) -> bool:
    """Whether both name one base: the same file, or the same PostgreSQL base."""
    if not (isinstance(a, Path) and isinstance(b, Path)):
        return a == b
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)
