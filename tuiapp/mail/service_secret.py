"""The sender service's secret store: a folder of its own, ``DIR/secret`` (0700, files 0600).

On the association's server the SMTP password belongs to the sender service:
root writes it (``sudo tuiapp smtp password``) into the service account's
folder, and no operator can read it (``PermissionError``). It is written whole
under a temporary name, synced, then renamed, so that the service never reads
half a password. In local mode the user's keyring keeps it (``tuiapp.mail.secrets``).
"""

from __future__ import annotations

import os
from pathlib import Path

from tuiapp.mail.secrets import Secret, SecretStoreError

PASSWORD_FILE = "smtp-password"
FOLDER_MODE = 0o700
FILE_MODE = 0o600
MAX_BYTES = 4096


def read_password(folder: Path) -> Secret | None:
    """The password, or None when none was set; ``SecretStoreError`` (French) when it cannot be read."""
    path = Path(folder) / PASSWORD_FILE
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise SecretStoreError(
            f"Le mot de passe SMTP du service d'envoi ({path}) n'est lisible que par le service lui-même."
        ) from None
    except OSError as exc:
        raise SecretStoreError(f"Lecture impossible du mot de passe SMTP ({path} : {exc.strerror}).") from None
    try:
        text = raw.decode("utf-8").rstrip("\n")
    except UnicodeDecodeError:
        raise SecretStoreError(f"Le fichier {path} n'est pas du texte UTF-8 : enregistrez le mot de passe à nouveau.") from None
    return Secret(text) if text else None


def write_password(folder: Path, password: Secret | str, *, owner: tuple[int, int] | None = None) -> Path:
    """Write the password (0600) in the folder (made 0700); ``owner`` (uid, gid): the service account's."""
    password = Secret(password)
    if not password:
        raise SecretStoreError("Mot de passe vide : rien n'a été enregistré.")
    folder = Path(folder)
    path = folder / PASSWORD_FILE
    temporary = folder / f".{PASSWORD_FILE}.{os.getpid()}.tmp"
    try:
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        os.chmod(folder, FOLDER_MODE)
        if owner is not None:
            os.chown(folder, *owner)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            os.fchmod(descriptor, FILE_MODE)
            if owner is not None:
                os.fchown(descriptor, *owner)
            os.write(descriptor, password.reveal().encode("utf-8") + b"\n")
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
            f"Écriture impossible dans {folder} : seul root (sudo tuiapp smtp password) enregistre le mot de passe "
            "du service d'envoi."
        ) from None
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise SecretStoreError(f"Écriture impossible du mot de passe SMTP dans {folder} ({exc.strerror}).") from None
    return path
