"""The SMTP password, kept in the system keyring and nowhere else.

Never in the database, the logs, an exception's text or the screen. A keyring
backend that would prompt on the terminal (an encrypted file asking for its
master password) is refused: it would freeze the TUI.
"""

from __future__ import annotations

import hmac

from tuiapp.domain.errors import TuiappError

SERVICE_PREFIX = "tuiapp-smtp"

HEADLESS_HELP = (
    "Sur un serveur sans bureau (connexion SSH), installez un trousseau utilisable sans écran, "
    "par exemple : pip install keyrings.alt, puis ajoutez à votre ~/.profile : "
    "export PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring "
    "(fichier lisible par vous seul). Voir le README, section « Mot de passe SMTP »."
)


class Secret:
    """A password held in memory: ``repr``, ``str`` and f-strings show ``********``.

    Its text comes out only through ``reveal()``, where it is really needed (the
    SMTP login, the keyring's write). A traceback, a log line, a worker's
    description or a debugger's listing of local variables shows the mask.
    """

    __slots__ = ("_value",)
    MASK = "********"

    def __init__(self, value: Secret | str = "") -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"a Secret holds text, not {type(value).__name__}")
        self._value: str = value

    @classmethod
    def wrap(cls, value: Secret | str | None) -> Secret | None:
        """``value`` as a Secret (None stays None): for sources that still give plain text."""
        return None if value is None else cls(value)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode("utf-8"), other._value.encode("utf-8"))

    __hash__ = None  # type: ignore[assignment]  # compared by value: not hashable, never a dict key

    def __repr__(self) -> str:
        return f"Secret({self.MASK!r})" if self._value else "Secret('')"

    def __str__(self) -> str:
        return self.MASK if self._value else ""

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __reduce__(self):
        raise TypeError("a Secret is not pickled (it would leave the process in clear)")


class SecretStoreError(TuiappError):
    """The keyring cannot be used; the message says how to fix it (in French)."""


def _service(host: str) -> str:
    return f"{SERVICE_PREFIX}:{host.strip().lower()}"


def _backend():
    import keyring
    from keyring.backends import chainer, fail

    backend = keyring.get_keyring()
    backends = backend.backends if isinstance(backend, chainer.ChainerBackend) else [backend]
    if not backends or all(isinstance(b, fail.Keyring) for b in backends):
        raise SecretStoreError("Aucun trousseau de mots de passe n'est disponible. " + HEADLESS_HELP)
    for candidate in backends:
        name = f"{type(candidate).__module__}.{type(candidate).__name__}".lower()
        if "encrypted" in name or "cryptfile" in name:
            raise SecretStoreError(
                f"Le trousseau configuré ({type(candidate).__name__}) demande un mot de passe maître "
                "au terminal, ce que tuiapp ne peut pas faire. " + HEADLESS_HELP
            )
    return backend


def _call(action: str, function, *args):
    from keyring.errors import KeyringError

    try:
        return function(*args)
    except KeyringError as exc:
        # The backend's own text may be long or technical; it never holds the password.
        raise SecretStoreError(
            f"Le trousseau a refusé de {action} le secret ({type(exc).__name__}). " + HEADLESS_HELP
        ) from None


def get_password(host: str, username: str) -> Secret | None:
    return get_item(_service(host), username)


def has_password(host: str, username: str) -> bool:
    return bool(get_password(host, username))


def set_password(host: str, username: str, password: Secret | str) -> None:
    password = Secret(password)
    if not username:
        raise SecretStoreError("Indiquez d'abord l'identifiant SMTP (tuiapp smtp set --username ...).")
    if not password:
        raise SecretStoreError("Mot de passe vide : rien n'a été enregistré.")
    set_item(_service(host), username, password)


def delete_password(host: str, username: str) -> None:
    delete_item(_service(host), username)


# -- any secret of tuiapp's (the OAuth client secret, the token cache) ------------------


def get_item(service: str, user: str) -> Secret | None:
    backend = _backend()
    return Secret.wrap(_call("lire", backend.get_password, service, user))


def set_item(service: str, user: str, value: Secret | str) -> None:
    value = Secret(value)
    if not value:
        raise SecretStoreError("Valeur vide : rien n'a été enregistré.")
    backend = _backend()
    _call("enregistrer", backend.set_password, service, user, value.reveal())


def delete_item(service: str, user: str) -> None:
    from keyring.errors import PasswordDeleteError

    backend = _backend()

    def delete(service: str, user: str) -> None:
        try:
            backend.delete_password(service, user)
        except PasswordDeleteError:
            pass  # nothing stored: nothing to delete

    _call("supprimer", delete, service, user)
