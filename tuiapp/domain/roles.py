"""Who may do what: the roles, from the Unix groups named in the server's configuration.

Root, and every user in local mode, have every right. On the association's
server, members of the admin group may change the association's details and
the structures' senders and texts, and decide on other operators' "état
inconnu" sends; members of the operators' group print, send, and edit
residents and invoices. Nobody else may use the shared database.

One table (``_ALLOWED``) and one question (``refusal``): the TUI, the CLI and
the services all ask it, and show its French answer. These rights are
advisory (the group can write the database file); the SMTP secret and its
destination are not in the database at all.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    NONE = "none"

    @property
    def label(self) -> str:
        return _LABELS[self]


class Action(StrEnum):
    EDIT_ASSOCIATION = "edit-association"  # its details and, in local mode, its mail server
    EDIT_STRUCTURES = "edit-structures"  # senders, texts
    DECIDE_OTHERS_UNKNOWN = "decide-others-unknown"  # another operator's "état inconnu" send
    WITHDRAW_OTHERS = "withdraw-others"  # take another operator's invoices out of the queue
    EDIT_RESIDENTS = "edit-residents"
    PRINT = "print"
    SEND = "send"
    IMPORT = "import"  # the billing software's exports (residents, invoices, PDFs)


_LABELS = {Role.ADMIN: "administrateur", Role.OPERATOR: "opérateur", Role.NONE: "aucun"}

_ALLOWED: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.OPERATOR: frozenset({Action.EDIT_RESIDENTS, Action.PRINT, Action.SEND, Action.IMPORT}),
    Role.NONE: frozenset(),
}

_WHAT = {
    Action.EDIT_ASSOCIATION: "modifier l'association",
    Action.EDIT_STRUCTURES: "modifier les structures (expéditeur, textes)",
    Action.DECIDE_OTHERS_UNKNOWN: "décider d'un envoi à l'état inconnu d'un autre opérateur",
    Action.WITHDRAW_OTHERS: "retirer de la file d'attente les factures d'un autre opérateur",
    Action.EDIT_RESIDENTS: "modifier les résidents",
    Action.PRINT: "imprimer",
    Action.SEND: "envoyer",
    Action.IMPORT: "importer les exports du logiciel de facturation",
}


def refusal(role: Role, action: Action) -> str | None:
    """None when the role may; otherwise why not, in French (for a disabled key or a CLI error)."""
    if action in _ALLOWED[role]:
        return None
    if role is Role.NONE:
        return f"Votre compte n'a aucun rôle dans tuiapp sur ce serveur : {_WHAT[action]} est impossible."
    return (f"Réservé aux administrateurs (groupe des administrateurs de tuiapp) : {_WHAT[action]}. "
            "Demandez à l'un d'eux.")


def decide_refusal(role: Role, owner: str, me: str) -> str | None:
    """May ``me`` decide on an "état inconnu" send queued by ``owner``? None when yes (an
    administrator always; an operator on their own sends); otherwise why not, in French."""
    if role is not Role.NONE and owner == me:
        return None
    reason = refusal(role, Action.DECIDE_OTHERS_UNKNOWN)
    if reason is None:
        return None
    return f"Envoi lancé par {owner or 'un compte inconnu'}. {reason}"
