"""The association server's configuration: ``/etc/tuiapp/tuiapp.toml`` (or ``$TUIAPP_CONFIG``).

On the association's shared server, root writes this file once (``tuiapp
server setup``, ``sudo tuiapp smtp set``); every tuiapp process reads it. It
says which database the staff share, whether a sender service sends for them
(``mode = "service"``) or each process sends by itself (``"local"``), which
Unix groups hold which rights, where printed invoices go, and everything that
decides where the SMTP secret goes (host, port, security, mailbox, CA file...):
in a root-owned file, an operator cannot redirect the secret to a server of
their own, as they could through the database that the whole group writes.

It is owned by root, mode 0640, its group the operators' group. A file not
owned by root, or that its group or anyone may write, is refused by the
sender service (``problems``). Without the file, tuiapp runs in local mode,
as a single-user install and the demo do.

Example::

    database = "/srv/tuiapp/tuiapp.db"
    mode = "service"
    admin_group = "tuiapp-admin"
    operator_group = "tuiapp"
    print_dir = "/srv/tuiapp/impressions"
    printer = "Bureau"                     # CUPS: "Imprimer" sends toutes.pdf there (lp -d)
    print_timeout = 30                     # seconds lp may take to answer
    secret_dir = "/srv/tuiapp/secret"      # the default: beside the database
    service_user = "tuiapp"

    [smtp]
    host = "smtp.office365.com"
    port = 587
    security = "starttls"
    username = "facturation@association.fr"
    rate_per_minute = 30
    connection_limit = 3
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from tuiapp.domain.auth_method import AuthMethod
from tuiapp.domain.db_target import DatabaseTarget, PostgresTarget, TargetError, is_url, parse_target
from tuiapp.domain.errors import TuiappError, ValidationError
from tuiapp.domain.printer import check_printer_name
from tuiapp.domain.safe_text import describe_char, find_control, printable
from tuiapp.domain.smtp_security import SmtpSecurity
from tuiapp.domain.validation import check_authority, check_client_id, check_tenant

CONFIG_ENV = "TUIAPP_CONFIG"
DEFAULT_CONFIG = Path("/etc/tuiapp/tuiapp.toml")
MAX_CONFIG_BYTES = 64 * 1024


class Mode(StrEnum):
    SERVICE = "service"  # a sender service sends; the operators' processes only queue
    LOCAL = "local"  # each process sends by itself (a single-user install, the demo)


class ConfigError(TuiappError):
    """The configuration file cannot be used; the message says why and which line, in French."""


@dataclass(frozen=True)
class SmtpDestination:
    """Where the secret may go, and how: the root-owned half of the SMTP settings."""

    host: str
    port: int = 587
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    username: str = ""
    ca_file: str | None = None
    allow_insecure_auth: bool = False
    rate_per_minute: int = 30
    connection_limit: int = 3
    auth_method: AuthMethod = AuthMethod.PASSWORD
    tenant: str = ""
    client_id: str = ""
    certificate: str | None = None
    authority: str = ""


@dataclass(frozen=True)
class SystemConfig:
    path: Path
    database: DatabaseTarget
    mode: Mode = Mode.LOCAL
    admin_group: str = "tuiapp-admin"
    operator_group: str = "tuiapp"
    print_dir: Path | None = None
    #: The CUPS printer "Imprimer" sends ``toutes.pdf`` to (``lp -d``); None: the files stay in the folder.
    printer: str | None = None
    #: How long ``lp`` may take to answer, in seconds.
    print_timeout: int = 30
    #: The sender service's own folder for the SMTP secret (0700, its files 0600).
    secret_dir: Path | None = None
    #: The system account that runs the sender service.
    service_user: str = "tuiapp"
    smtp: SmtpDestination | None = None
    #: Why the file was used: "$TUIAPP_CONFIG" or "emplacement par défaut".
    source: str = field(default="emplacement par défaut", compare=False)


def config_path(environ: Mapping[str, str] = os.environ) -> tuple[Path, str]:
    """The configuration file to read, and why: ``$TUIAPP_CONFIG``, else ``/etc/tuiapp/tuiapp.toml``."""
    named = environ.get(CONFIG_ENV, "").strip()
    if named:
        return Path(named).expanduser(), f"${CONFIG_ENV}"
    return DEFAULT_CONFIG, "emplacement par défaut"


def load(environ: Mapping[str, str] = os.environ) -> SystemConfig | None:
    """The system configuration, or None when there is none (local mode).

    Raises ``ConfigError`` (French) when the file exists but cannot be read
    (not in its group, say) or holds a wrong value: an unreadable file never
    silently means "no configuration", which would send from the wrong base."""
    path, source = config_path(environ)
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise ConfigError(
            f"La configuration du serveur « {path} » est illisible pour votre compte ({my_name()}) : "
            f"{_owner_and_mode(path)}. Demandez à l'administrateur de vous ajouter au groupe des opérateurs."
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"« {path} » est un dossier, pas un fichier de configuration.") from None
    except OSError as exc:
        raise ConfigError(f"Lecture impossible de la configuration « {path} » ({exc.strerror}).") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"La configuration « {path} » est trop grande ({MAX_CONFIG_BYTES} octets au plus).")
    import tomllib  # here: without the file (a single-user install, the demo), never needed

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"La configuration « {path} » n'est pas du texte UTF-8.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"La configuration « {path} » est mal écrite : {printable(str(exc))}.") from None
    return parse(data, path=path, source=source)


def parse(data: dict, *, path: Path, source: str = "") -> SystemConfig:
    """Check every value of the file; the first wrong one is named, with its key."""
    reader = _Reader(data, path, "")
    database = reader.target("database")
    mode = Mode(reader.choice("mode", [m.value for m in Mode], Mode.LOCAL.value))
    secret_dir = reader.path("secret_dir")
    if secret_dir is None and isinstance(database, PostgresTarget):
        raise reader.wrong("secret_dir", "obligatoire avec une base PostgreSQL (le dossier du service d'envoi "
                           "pour le secret SMTP, par exemple /srv/tuiapp/secret).")
    config = SystemConfig(
        path=path,
        database=database,
        mode=mode,
        admin_group=reader.group("admin_group", "tuiapp-admin"),
        operator_group=reader.group("operator_group", "tuiapp"),
        print_dir=reader.path("print_dir"),
        printer=reader.checked("printer", check_printer_name) if reader.text("printer") else None,
        print_timeout=reader.integer("print_timeout", 30, 1, 600),
        secret_dir=secret_dir or (database.parent / "secret" if isinstance(database, Path) else None),
        service_user=reader.group("service_user", "tuiapp"),
        smtp=_smtp(reader.table("smtp"), path) if "smtp" in data else None,
        source=source,
    )
    reader.refuse_unknown()
    return config


def _smtp(data: dict, path: Path) -> SmtpDestination:
    reader = _Reader(data, path, "smtp.")
    destination = SmtpDestination(
        host=reader.text("host", required=True),
        port=reader.integer("port", 587, 1, 65535),
        security=SmtpSecurity(reader.choice("security", [s.value for s in SmtpSecurity], "starttls")),
        username=reader.text("username"),
        ca_file=_optional(reader.path("ca_file")),
        allow_insecure_auth=reader.boolean("allow_insecure_auth", False),
        rate_per_minute=reader.integer("rate_per_minute", 30, 0, 10_000),
        connection_limit=reader.integer("connection_limit", 3, 0, 100),
        auth_method=AuthMethod(reader.choice("auth_method", [m.value for m in AuthMethod], "password")),
        tenant=reader.checked("tenant", check_tenant),
        client_id=reader.checked("client_id", check_client_id),
        certificate=_optional(reader.path("certificate")),
        authority=reader.checked("authority", check_authority),
    )
    reader.refuse_unknown()
    return destination


def is_account_name(name: str) -> bool:
    """A Unix user or group name tuiapp accepts: letters, digits, ``.``, ``_``, ``-``, not first."""
    return bool(name) and len(name) <= 32 and name[0] not in "-." and all(
        c.isascii() and (c.isalnum() or c in "._-") for c in name)


def _optional(path: Path | None) -> str | None:
    return None if path is None else str(path)


class _Reader:
    """Reads one table of the file, remembering the keys it was asked for."""

    def __init__(self, data: dict, path: Path, prefix: str) -> None:
        self.data, self.path_of_file, self.prefix = data, path, prefix
        self.known: set[str] = set()

    def checked(self, key: str, check) -> str:
        """The text at ``key`` through one of the domain's checks (``check_tenant``...)."""
        try:
            return check(self.text(key))
        except ValidationError as problem:
            raise self._wrong(key, problem.message) from None

    def target(self, key: str) -> DatabaseTarget:
        """A database: an absolute file name, or a ``postgresql://`` URL."""
        text = self.text(key, required=True)
        if not is_url(text):
            path = self.path(key, required=True)
            assert path is not None
            return path
        try:
            return parse_target(text)
        except TargetError as exc:
            raise self._wrong(key, str(exc)) from None

    def wrong(self, key: str, why: str) -> ConfigError:
        self.known.add(key)
        return self._wrong(key, why)

    def _wrong(self, key: str, why: str) -> ConfigError:
        return ConfigError(f"Configuration « {self.path_of_file} », clé « {self.prefix}{key} » : {why}")

    def _get(self, key: str):
        self.known.add(key)
        return self.data.get(key)

    def text(self, key: str, default: str = "", *, required: bool = False) -> str:
        value = self._get(key)
        if value is None:
            if required:
                raise self._wrong(key, "obligatoire.")
            return default
        if not isinstance(value, str):
            raise self._wrong(key, "un texte entre guillemets est attendu.")
        value = value.strip()
        if required and not value:
            raise self._wrong(key, "obligatoire.")
        if (char := find_control(value)) is not None:
            raise self._wrong(key, f"caractère de contrôle interdit ({describe_char(char)}).")
        if len(value) > 1000:
            raise self._wrong(key, "1000 caractères au plus.")
        return value

    def path(self, key: str, *, required: bool = False) -> Path | None:
        text = self.text(key, required=required)
        if not text:
            return None
        if not os.path.isabs(text):
            raise self._wrong(key, f"un chemin absolu est attendu (« {text} »).")
        return Path(text)

    def group(self, key: str, default: str) -> str:
        name = self.text(key, default) or default
        if not is_account_name(name):
            raise self._wrong(key, f"nom de groupe Unix invalide (« {name} »).")
        return name

    def choice(self, key: str, choices: list[str], default: str) -> str:
        value = self.text(key, default) or default
        if value not in choices:
            raise self._wrong(key, f"« {value} » n'est pas l'une des valeurs possibles ({', '.join(choices)}).")
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(key, "un nombre entier est attendu.")
        if not low <= value <= high:
            raise self._wrong(key, f"entre {low} et {high} ({value} donné).")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._wrong(key, "true ou false est attendu.")
        return value

    def table(self, key: str) -> dict:
        value = self._get(key)
        if not isinstance(value, dict):
            raise self._wrong(key, "une section [smtp] est attendue.")
        return value

    def refuse_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.known)
        if unknown:
            raise self._wrong(unknown[0], "clé inconnue (faute de frappe ?).")


def problems(path: Path) -> list[str]:
    """Why the sender service must not trust this file: not owned by root, or writable
    by its group or by anyone (then the secret's destination is not root's choice).
    ``advice`` adds what is only untidy."""
    try:
        info = path.stat()
    except OSError as exc:
        return [f"« {path} » : lecture impossible ({exc.strerror})."]
    found = []
    if info.st_uid != 0:
        found.append(f"« {path} » appartient à {user_name(info.st_uid)}, pas à root : "
                     f"sudo chown root {path}")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        found.append(f"« {path} » est modifiable par d'autres que root ({stat.filemode(info.st_mode)}) : "
                     f"sudo chmod 640 {path}")
    return found


def advice(path: Path) -> list[str]:
    """What is not dangerous but not as ``server setup`` leaves it (the service still runs)."""
    try:
        info = path.stat()
    except OSError:
        return []
    if info.st_mode & stat.S_IROTH:
        return [f"« {path} » est lisible par tous ({stat.filemode(info.st_mode)}) : sudo chmod 640 {path}"]
    return []


def user_name(uid: int) -> str:
    """The account's name, or its number when it has none."""
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int) -> str:
    """The group's name, or its number when it has none."""
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def my_name() -> str:
    return user_name(os.geteuid())


def _owner_and_mode(path: Path) -> str:
    try:
        info = path.stat()
    except OSError:
        return "propriétaire inconnu"
    return (f"fichier de {user_name(info.st_uid)}:{group_name(info.st_gid)}, "
            f"droits {stat.filemode(info.st_mode)[1:]}")
