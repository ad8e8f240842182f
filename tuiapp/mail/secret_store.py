"""Where a process finds the SMTP secrets: the user's keyring (local mode) or the sender service's folder.

One interface for the password, the OAuth client secret and MSAL's token
cache, so that the token source and the authenticators do not care which
mode they run in. Never the database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tuiapp.mail import secrets, service_secret
from tuiapp.mail.secrets import Secret, SecretStoreError

if TYPE_CHECKING:
    from tuiapp.mail.smtp_client import SmtpSettings


class SecretStore(Protocol):
    @property
    def description(self) -> str:
        """Where, in French: "le trousseau", "le dossier du service d'envoi (/srv/...)"."""
        ...

    def password(self, settings: SmtpSettings) -> Secret | None: ...

    def client_secret(self, settings: SmtpSettings) -> Secret | None: ...

    def save_client_secret(self, settings: SmtpSettings, value: Secret) -> None: ...

    def token_cache(self, settings: SmtpSettings) -> Secret | None: ...

    def save_token_cache(self, settings: SmtpSettings, text: Secret) -> None: ...

    def forget_token_cache(self, settings: SmtpSettings) -> None: ...

    def lock(self) -> AbstractContextManager[None]:
        """Held while a token is renewed: the processes sharing this store take turns (a refresh
        token is used once; two processes renewing with the same one would lose the sign-in)."""
        ...


@contextmanager
def _file_lock(path: Path, owner: tuple[int, int] | None = None) -> Iterator[None]:
    """An exclusive ``flock`` on ``path``; made (0600, for ``owner``) when missing.

    Root takes it in the service's folder, which the service account may write:
    a link put there must not make root open (let alone chown) another file, so
    it is never followed, and only a file made here is given to ``owner``.
    """
    import fcntl
    import stat

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_RDWR | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        try:
            descriptor = os.open(path, flags)
            made = False
        except FileNotFoundError:
            descriptor = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
            made = True
    except OSError as exc:
        raise SecretStoreError(f"Verrou impossible ({path} : {exc.strerror}).") from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise SecretStoreError(f"Verrou refusé : {path} n'est pas un fichier ordinaire.")
        if made and owner is not None:
            os.fchown(descriptor, *owner)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _oauth_key(settings: SmtpSettings) -> str:
    return f"{settings.oauth_authority}/{settings.tenant}".lower()


@dataclass(frozen=True)
class KeyringStore:
    """The user's keyring (local mode, the demo)."""

    @property
    def description(self) -> str:
        return "le trousseau"

    def password(self, settings: SmtpSettings) -> Secret | None:
        return secrets.get_password(settings.host, settings.username)

    def client_secret(self, settings: SmtpSettings) -> Secret | None:
        return secrets.get_item(f"tuiapp-oauth-secret:{_oauth_key(settings)}", settings.client_id)

    def save_client_secret(self, settings: SmtpSettings, value: Secret) -> None:
        secrets.set_item(f"tuiapp-oauth-secret:{_oauth_key(settings)}", settings.client_id, value)

    def _cache_key(self, settings: SmtpSettings) -> tuple[str, str]:
        return f"tuiapp-oauth-cache:{_oauth_key(settings)}", f"{settings.client_id}:{settings.username}".lower()

    def token_cache(self, settings: SmtpSettings) -> Secret | None:
        return secrets.get_item(*self._cache_key(settings))

    def save_token_cache(self, settings: SmtpSettings, text: Secret) -> None:
        secrets.set_item(*self._cache_key(settings), text)

    def forget_token_cache(self, settings: SmtpSettings) -> None:
        secrets.delete_item(*self._cache_key(settings))

    def lock(self) -> AbstractContextManager[None]:
        from tuiapp.locations import data_dir

        return _file_lock(data_dir() / "oauth.lock")


@dataclass(frozen=True)
class FolderStore:
    """The sender service's own folder (service mode); ``owner``: whom root writes for."""

    folder: Path
    owner: tuple[int, int] | None = None

    @property
    def description(self) -> str:
        return f"le dossier du service d'envoi ({self.folder})"

    def password(self, settings: SmtpSettings) -> Secret | None:
        return service_secret.read_password(self.folder)

    def client_secret(self, settings: SmtpSettings) -> Secret | None:
        return service_secret.read_secret(self.folder, service_secret.CLIENT_SECRET_FILE)

    def save_client_secret(self, settings: SmtpSettings, value: Secret) -> None:
        service_secret.write_secret(self.folder, service_secret.CLIENT_SECRET_FILE, value, owner=self.owner)

    def token_cache(self, settings: SmtpSettings) -> Secret | None:
        return service_secret.read_secret(self.folder, service_secret.TOKEN_CACHE_FILE,
                                          max_bytes=service_secret.MAX_CACHE_BYTES)

    def save_token_cache(self, settings: SmtpSettings, text: Secret) -> None:
        service_secret.write_secret(self.folder, service_secret.TOKEN_CACHE_FILE, text, owner=self.owner)

    def forget_token_cache(self, settings: SmtpSettings) -> None:
        service_secret.delete_secret(self.folder, service_secret.TOKEN_CACHE_FILE)

    def lock(self) -> AbstractContextManager[None]:
        return _file_lock(self.folder / service_secret.LOCK_FILE, self.owner)
