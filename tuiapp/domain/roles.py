"""Who may do what: the roles, from the Unix groups named in the server's configuration.

Root, and every user in local mode, have every right. On the association's
server, members of the admin group may change the association's details and
the structures' senders and texts, and decide on other operators' "état
inconnu" sends; members of the operators' group print, send, and edit
residents and invoices. Nobody else may use the shared database.
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


_LABELS = {Role.ADMIN: "administrateur", Role.OPERATOR: "opérateur", Role.NONE: "aucun"}
