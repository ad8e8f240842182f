"""The states of a send record, and their French names: the one table of both.

A send record is written ``queued``, claimed ``sending``, and ends ``sent``,
``partial`` (some addresses refused), ``failed`` or ``unknown`` (the server
may have the message: the operator decides). The state is called *unknown*
everywhere (records, events, counters); only its cause, a delivery left
uncertain (``DeliveryUncertain``, the policy's ``UNCERTAIN``), is not.
"""

from __future__ import annotations

from enum import StrEnum


class SendStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    PARTIAL = "partial"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @classmethod
    def active(cls) -> frozenset[SendStatus]:
        """The states of a record that is still going to be, or being, sent."""
        return _ACTIVE

    @classmethod
    def finished(cls) -> frozenset[SendStatus]:
        """The states a send ends in."""
        return _FINISHED

    @property
    def label(self) -> str:
        """The French name, as in a sentence: "état inconnu"."""
        return LABELS[self]

    @property
    def short_label(self) -> str:
        """The French name in a narrow column: "inconnu"."""
        return _SHORT_LABELS[self]


_ACTIVE = frozenset({SendStatus.QUEUED, SendStatus.SENDING})
_FINISHED = frozenset(SendStatus) - _ACTIVE

#: The French names of each state: in a sentence, and in a narrow column.
_NAMES: dict[SendStatus, tuple[str, str]] = {
    SendStatus.QUEUED: ("en attente", "attente"),
    SendStatus.SENDING: ("en cours d'envoi", "en cours"),
    SendStatus.SENT: ("envoyée", "envoyée"),
    SendStatus.PARTIAL: ("envoi partiel", "partiel"),
    SendStatus.FAILED: ("échec", "échec"),
    SendStatus.UNKNOWN: ("état inconnu", "inconnu"),
}
#: The French name of each state, keyed by the enum: the stored text finds it too
#: (``LABELS.get("sent")`` is ``LABELS[SendStatus.SENT]``).
LABELS: dict[SendStatus, str] = {status: names[0] for status, names in _NAMES.items()}
_SHORT_LABELS: dict[SendStatus, str] = {status: names[1] for status, names in _NAMES.items()}

