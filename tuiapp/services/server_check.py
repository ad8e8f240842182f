"""``tuiapp server check``: what is wrong on the association's server, in French, with the fix for each."""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

from tuiapp import system_config
from tuiapp.system_config import Mode, SystemConfig, group_name, my_name


def problems(config: SystemConfig | None, *, check_heartbeat: bool = True) -> list[str]:
    if config is None:
        path, _ = system_config.config_path()
        return [f"Pas de configuration du serveur ({path} absent) : tuiapp fonctionne en mode local. "
                "Pour un serveur partagé : sudo tuiapp server setup"]
    found = [*system_config.problems(config.path), *system_config.advice(config.path)]
    try:
        gid = grp.getgrnam(config.operator_group).gr_gid
    except KeyError:
        return [*found, f"Le groupe {config.operator_group} n'existe pas : sudo tuiapp server setup"]
    if os.getuid() != 0 and gid not in {os.getgid(), *os.getgroups()}:
        found.append(f"Votre compte n'est pas dans le groupe {config.operator_group} : demandez à l'administrateur "
                     f"« sudo usermod -aG {config.operator_group} {my_name()} », puis reconnectez-vous.")
    if isinstance(config.database, Path):  # a PostgreSQL base's rights are its server's
        folder = config.database.parent
        found += _mode(folder, gid, 0o2770, f"sudo chgrp {config.operator_group} {folder} && sudo chmod 2770 {folder}")
        for file in (config.database, Path(f"{config.database}-wal"), Path(f"{config.database}-shm")):
            if file.exists() or file == config.database:
                found += _mode(file, gid, 0o660, f"sudo chgrp {config.operator_group} {file} && sudo chmod 660 {file}")
    elif config.secret_dir is not None and os.getuid() == 0:  # (the service's folder: root and it alone read it)
        found += _service_pgpass(config.secret_dir / "pgpass", config.service_user)
    if config.smtp is not None and config.smtp.certificate:
        found += _private(Path(config.smtp.certificate), config.service_user)
    if check_heartbeat and config.mode == Mode.SERVICE and not found:
        found += _heartbeat(config)
    return found


def _mode(path: Path, gid: int, mode: int, fix: str) -> list[str]:
    try:
        info = path.stat()
    except FileNotFoundError:
        return [f"{path} n'existe pas : sudo tuiapp server setup"]
    except OSError as exc:
        return [f"{path} : inaccessible ({exc.strerror}) ; {fix}"]
    found = []
    if info.st_gid != gid:
        found.append(f"{path} appartient au groupe {group_name(info.st_gid)} : {fix}")
    if stat.S_IMODE(info.st_mode) != mode:
        found.append(f"{path} a les droits {stat.filemode(info.st_mode)} au lieu de "
                     f"{stat.filemode(mode | stat.S_IFMT(info.st_mode))} : {fix}")
    return found


def _service_pgpass(path: Path, owner: str) -> list[str]:
    """A PostgreSQL base: the sender service's password, in its own pgpass file (libpq ignores
    it when others may read it)."""
    fix = f"sudoedit {path} (une ligne SERVEUR:PORT:BASE:UTILISATEUR:MOT-DE-PASSE), puis sudo chown {owner} {path} " \
          f"&& sudo chmod 600 {path}"
    what = f"Le mot de passe PostgreSQL du service ({path})"
    return _services_own(path, owner, what, missing=f"{what} manque : {fix}", fix=fix,
                         readable="est lisible par d'autres comptes (libpq l'ignore alors)", empty=f"{what} est vide : {fix}")


def _private(path: Path, owner: str) -> list[str]:
    """The OAuth application's private key: the sender service's alone (readable by no operator)."""
    what = f"Le certificat de l'application OAuth ({path})"
    return _services_own(path, owner, what, missing=f"{what} n'existe pas : sudo tuiapp smtp set --certificate ...",
                         fix=f"sudo chown {owner} {path} && sudo chmod 400 {path}",
                         readable="contient la clé privée et est lisible par d'autres comptes")


def _services_own(path: Path, owner: str, what: str, *, missing: str, fix: str, readable: str,
                  empty: str | None = None) -> list[str]:
    """A file of the sender service's alone: it exists, is the service's, readable by no other
    account (and, given ``empty``, is not empty)."""
    import pwd

    try:
        info = path.stat()
    except FileNotFoundError:
        return [missing]
    except OSError as exc:
        return [f"{path} : inaccessible ({exc.strerror})"]
    found = []
    try:
        if info.st_uid != pwd.getpwnam(owner).pw_uid:
            found.append(f"{what} doit appartenir au service d'envoi : {fix}")
    except KeyError:
        pass  # the missing account is said elsewhere (setup)
    if info.st_mode & 0o077:
        found.append(f"{what} {readable} ({stat.filemode(info.st_mode)}) : {fix}")
    if empty is not None and info.st_size == 0:
        found.append(empty)
    return found


def _heartbeat(config: SystemConfig) -> list[str]:
    from tuiapp.db import heartbeat
    from tuiapp.db.database import DATABASE_ERRORS, DatabaseOpenError, explain_database_error, open_database
    from tuiapp.domain.formatting import format_duration

    try:
        open_database(config.database, create=False)
        beat = heartbeat.last()
    except DatabaseOpenError as exc:
        return [f"La base {config.database} ne s'ouvre pas : {exc}"]
    except DATABASE_ERRORS as exc:  # its text may quote a server: its meaning, in French
        return [f"La base {config.database} ne s'ouvre pas : {explain_database_error(config.database, exc)}"]
    start = "sudo systemctl start tuiapp-sender (ou : tuiapp sender sous le compte du service)"
    if beat is None:
        return [f"Le service d'envoi n'a jamais fonctionné sur cette base : {start}"]
    if beat.stale():
        return [f"Service d'envoi arrêté depuis {format_duration(beat.age().total_seconds())} : {start} ; "
                "journal : journalctl -u tuiapp-sender"]
    return []
