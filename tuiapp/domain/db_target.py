"""Which database a run uses: an SQLite file (the embedded default) or a PostgreSQL server.

``--db``, ``$TUIAPP_DB`` and the server configuration's ``database`` take either a file name or
a URL ``postgresql://USER@HOST:PORT/NAME``. The URL never holds a password: libpq reads it
from ``$PGPASSFILE`` or ``~/.pgpass``, files only their owner reads, where a URL ends up in a
shell's history, ``ps`` and the configuration that the whole staff reads.

TLS: a server on another machine is reached with its certificate verified
(``sslmode=verify-full``, the default there); ``verify-ca`` may be asked for. A weaker mode is
refused for it. On the machine itself (``localhost``, ``127.0.0.1``, ``::1``, or a socket
folder) the traffic never leaves it: ``sslmode`` defaults to ``prefer`` and any mode is taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from tuiapp.domain.errors import TuiappError
from tuiapp.domain.safe_text import printable

SCHEMES = ("postgresql", "postgres")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
VERIFYING = ("verify-ca", "verify-full")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
#: The URL options tuiapp passes on to libpq; any other is refused (a typo would go unnoticed).
OPTIONS = ("sslmode", "sslrootcert", "connect_timeout", "application_name")
DEFAULT_PORT = 5432


class TargetError(TuiappError):
    """The database named cannot be used as written; the message says why, in French."""


@dataclass(frozen=True)
class PostgresTarget:
    """A PostgreSQL database: where it is, who connects, how TLS is checked (never a password)."""

    user: str
    host: str  # a name, an address, or a socket folder (starts with "/")
    port: int
    name: str
    sslmode: str
    options: tuple[tuple[str, str], ...] = ()  # sslrootcert, connect_timeout, application_name

    @property
    def is_local(self) -> bool:
        return self.host in LOCAL_HOSTS or self.host.startswith("/")

    def connect_arguments(self) -> dict[str, object]:
        """What psycopg's ``connect`` takes (libpq then reads the password from the pgpass file)."""
        return {"user": self.user, "host": self.host, "port": self.port, "dbname": self.name,
                "sslmode": self.sslmode, **dict(self.options)}

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql://{self.user}@{host}:{self.port}/{self.name}"


DatabaseTarget = Path | PostgresTarget


def is_url(text: str) -> bool:
    return "://" in text


def parse_target(text: str) -> DatabaseTarget:
    """``text`` as a database: a PostgreSQL URL, else a file name (``~`` expanded).

    Raises ``TargetError`` (French) for an empty name, another kind of URL, or a PostgreSQL URL
    that holds a password, lacks a user or a database name, or asks for a weak TLS mode."""
    if not text.strip():
        raise TargetError("Base de données : indiquez un nom de fichier ou une adresse postgresql://.")
    if not is_url(text):
        return Path(text).expanduser()
    return _postgres(text)


def _without_password(text: str) -> str:
    """``text`` with what follows the user name in ``USER:PASSWORD@`` taken out (for messages)."""
    scheme, separator, rest = text.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        authority = f"{userinfo.split(':', 1)[0]}@{host}"
    return f"{scheme}{separator}{authority}{slash}{path}"


def _postgres(text: str) -> PostgresTarget:
    shown = printable(_without_password(text))
    try:
        parts = urlsplit(text)
        has_password = parts.password is not None
    except ValueError:
        raise TargetError(f"Adresse de base de données illisible : « {shown} ».") from None
    if parts.scheme.lower() not in SCHEMES:
        raise TargetError(f"« {printable(parts.scheme)}:// » : tuiapp utilise un fichier SQLite ou PostgreSQL "
                          "(postgresql://UTILISATEUR@SERVEUR:PORT/BASE).")
    if has_password:
        raise TargetError("L'adresse de la base contient un mot de passe : il finirait dans l'historique du "
                          "shell, la liste des processus et la configuration que tous lisent. Retirez-le de "
                          "l'adresse et mettez-le dans le fichier ~/.pgpass (ou celui que nomme $PGPASSFILE), "
                          "lisible par vous seul (chmod 600).")
    try:
        port = parts.port
    except ValueError:
        raise TargetError(f"« {shown} » : le port est un nombre de 1 à 65535.") from None
    if port is None:
        port = DEFAULT_PORT
    elif not 1 <= port <= 65535:
        raise TargetError(f"« {shown} » : le port est un nombre de 1 à 65535.")
    user = unquote(parts.username or "")
    host = unquote(parts.hostname or "")
    name = unquote(parts.path.lstrip("/"))
    if not user:
        raise TargetError(f"« {shown} » : indiquez l'utilisateur PostgreSQL (postgresql://UTILISATEUR@SERVEUR/BASE).")
    if not name or "/" in name:
        raise TargetError(f"« {shown} » : indiquez le nom de la base (postgresql://UTILISATEUR@SERVEUR/BASE).")
    if parts.fragment:
        raise TargetError(f"« {shown} » : une adresse de base ne se termine pas par « #... ».")
    options = dict(_options(parts.query, shown))
    if "host" in options:  # libpq's: a socket folder, for a URL without a server name
        if host:
            raise TargetError(f"« {shown} » : deux serveurs (dans l'adresse et dans host=) ; n'en donnez qu'un.")
        host = options.pop("host")
    host = host or "localhost"
    if "," in host or "," in str(parts.netloc):
        raise TargetError(f"« {shown} » : un seul serveur (tuiapp ne prend pas de liste de serveurs).")
    for value in (user, host, name, *options.values()):
        if printable(value) != value or not value.isprintable():
            raise TargetError(f"« {shown} » : caractère de contrôle refusé.")
    local = host in LOCAL_HOSTS or host.startswith("/")
    sslmode = options.pop("sslmode", "prefer" if local else "verify-full")
    if sslmode not in SSL_MODES:
        raise TargetError(f"sslmode={printable(sslmode)} : les valeurs possibles sont {', '.join(SSL_MODES)}.")
    if not local and sslmode not in VERIFYING:
        raise TargetError(f"sslmode={sslmode} vers « {printable(host)} » : le certificat du serveur ne serait pas "
                          "vérifié (mot de passe et données lisibles par un intermédiaire). Utilisez "
                          "sslmode=verify-full (par défaut) ou verify-ca.")
    if "connect_timeout" in options and not options["connect_timeout"].isdigit():
        raise TargetError("connect_timeout : un nombre de secondes.")
    return PostgresTarget(user=user, host=host, port=port, name=name, sslmode=sslmode,
                          options=tuple(sorted(options.items())))


def _options(query: str, shown: str) -> list[tuple[str, str]]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise TargetError(f"« {shown} » : options illisibles après « ? ».") from None
    seen = set()
    for key, _value in pairs:
        if key not in (*OPTIONS, "host"):
            raise TargetError(f"Option « {printable(key)} » inconnue dans l'adresse de la base "
                              f"(acceptées : {', '.join(OPTIONS)}). Un mot de passe va dans ~/.pgpass.")
        if key in seen:
            raise TargetError(f"Option « {key} » donnée deux fois dans l'adresse de la base.")
        seen.add(key)
    return pairs
