"""The sender service's secret store: a folder of its own, ``DIR/secret`` (0700, files 0600).

On the association's server the SMTP secrets belong to the sender service:
root writes them (``sudo tuiapp smtp password``, ``smtp secret``, ``smtp
login``) into the service account's folder, and no operator can read them
(``PermissionError``). The service itself rewrites the OAuth token cache each
time the identity provider hands it a new refresh token. Each file is written
whole under a temporary name, synced, then renamed, so that no reader ever
sees half of one. In local mode the user's keyring keeps them (``tuiapp.mail.secrets``).
"""

from __future__ import annotations

import os
from pathlib import Path

from tuiapp.mail.secrets import Secret, SecretStoreError

PASSWORD_FILE = "smtp-password"
CLIENT_SECRET_FILE = "oauth-client-secret"
TOKEN_CACHE_FILE = "oauth-token-cache"
LOCK_FILE = "oauth.lock"
FOLDER_MODE = 0o700
FILE_MODE = 0o600
MAX_BYTES = 4096
MAX_CACHE_BYTES = 1024 * 1024  # MSAL's cache: a few kilobytes per account

_NAMES = {PASSWORD_FILE: "Le mot de passe SMTP", CLIENT_SECRET_FILE: "Le secret de l'application OAuth",
          TOKEN_CACHE_FILE: "La connexion Office 365 (jetons)"}


def read_secret(folder: Path, name: str, *, max_bytes: int = MAX_BYTES) -> Secret | None:
    """The secret ``name``, or None when none was set; ``SecretStoreError`` (French) when it cannot be read."""
    path = Path(folder) / name
    what = _NAMES.get(name, name)
    try:
        with open(path, "rb") as file:
            raw = file.read(max_bytes + 1)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise SecretStoreError(f"{what} du service d'envoi ({path}) n'est lisible que par le service lui-même.") from None
    except OSError as exc:
        raise SecretStoreError(f"Lecture impossible : {what} ({path} : {exc.strerror}).") from None
    if len(raw) > max_bytes:
        raise SecretStoreError(f"Le fichier {path} est trop grand : enregistrez-le à nouveau.")
    try:
        text = raw.decode("utf-8").rstrip("\n")
    except UnicodeDecodeError:
        raise SecretStoreError(f"Le fichier {path} n'est pas du texte UTF-8 : enregistrez-le à nouveau.") from None
    return Secret(text) if text else None


def write_secret(folder: Path, name: str, value: Secret | str, *, owner: tuple[int, int] | None = None) -> Path:
    """Write the secret (0600) in the folder (made 0700); ``owner`` (uid, gid): the service account's."""
    value = Secret(value)
    if not value:
        raise SecretStoreError("Valeur vide : rien n'a été enregistré.")
    folder = Path(folder)
    path = folder / name
    temporary = folder / f".{name}.{os.getpid()}.tmp"
    try:
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        if owner is not None or folder.stat().st_mode & 0o777 != FOLDER_MODE:
            os.chmod(folder, FOLDER_MODE)
        if owner is not None:
            os.chown(folder, *owner)
        temporary.unlink(missing_ok=True)  # left by a crash of a process that had this pid (a link: only it goes)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        try:
            os.fchmod(descriptor, FILE_MODE)
            if owner is not None:
                os.fchown(descriptor, *owner)
            os.write(descriptor, value.reveal().encode("utf-8") + b"\n")
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
        directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except PermissionError:
        temporary.unlink(missing_ok=True)
        raise SecretStoreError(
            f"Écriture impossible dans {folder} : seul root (sudo tuiapp smtp ...) ou le service d'envoi "
            "y enregistre les secrets."
        ) from None
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise SecretStoreError(f"Écriture impossible dans {folder} ({exc.strerror}).") from None
    return path


def delete_secret(folder: Path, name: str) -> bool:
    """Remove the secret; False when there was none."""
    path = Path(folder) / name
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise SecretStoreError(f"Suppression impossible de {path} ({exc.strerror}).") from None
    return True


def read_password(folder: Path) -> Secret | None:
    """The SMTP password, or None when none was set."""
    return read_secret(folder, PASSWORD_FILE)


def write_password(folder: Path, password: Secret | str, *, owner: tuple[int, int] | None = None) -> Path:
    password = Secret(password)
    if not password:
        raise SecretStoreError("Mot de passe vide : rien n'a été enregistré.")
    return write_secret(folder, PASSWORD_FILE, password, owner=owner)
