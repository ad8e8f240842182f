"""Service mode: where an operator's queued records stand, as the sender service reports them.

Only reads: the records' states (``states``), the queue ahead of them and whether the
sender service is alive (``watch``), and the service's state in French (``service_text``).
Moved out of ``tuiapp.sending.workflow``, which plans and runs a send.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tuiapp.db.models import SendRecord, SendStatus


@dataclass(frozen=True, slots=True)
class RecordState:
    """A queued record as the sender service reports it (service mode: the operator watches)."""

    record_id: int
    invoice_id: int
    number: str
    resident: str
    status: SendStatus
    error: str | None


def states(record_ids: Iterable[int]) -> list[RecordState]:
    """The records' states now, in the order given (one query)."""
    from tuiapp.db.models import Invoice, Resident
    from tuiapp.domain.templates import person_name

    ids = list(record_ids)
    if not ids:  # the tab's periodic look at the service only: no query
        return []
    rows = {record.id: record for record in SendRecord.select(SendRecord, Invoice, Resident)
            .join(Invoice).join(Resident).where(SendRecord.id.in_(ids))}
    return [RecordState(record.id, record.invoice_id, record.invoice.number,
                        person_name(record.invoice.resident.last_name, record.invoice.resident.first_name),
                        SendStatus(record.status), record.error)
            for record_id in ids if (record := rows.get(record_id)) is not None]


@dataclass(frozen=True, slots=True)
class ServiceView:
    """What an operator follows in service mode: their records, the queue ahead of them, the service."""

    states: list[RecordState]
    ahead: int  # records of anybody queued before the first of these still waiting
    service: str  # the service's state, in French (``service_text``)
    service_stopped: bool

    @property
    def finished(self) -> bool:
        return all(state.status in SendStatus.finished() for state in self.states)


def watch(record_ids: Iterable[int]) -> ServiceView:
    """Read (only) where these queued records stand, and whether the service is alive."""
    from tuiapp.db import heartbeat

    states_now = states(record_ids)
    waiting = [state.record_id for state in states_now if state.status == SendStatus.QUEUED]
    ahead = 0
    if waiting:
        ahead = SendRecord.select().where((SendRecord.status == SendStatus.QUEUED)
                                          & (SendRecord.id < min(waiting))).count()
    beat = heartbeat.last()
    stopped = beat is None or beat.stale()
    return ServiceView(states_now, ahead, service_text(beat), stopped)


def service_text(beat) -> str:
    from tuiapp.domain.formatting import format_duration

    if beat is None:
        return "Service d'envoi jamais démarré sur cette base : prévenez l'administrateur."
    if beat.stale():
        return (f"Service d'envoi arrêté depuis {format_duration(beat.age().total_seconds())} : "
                "prévenez l'administrateur.")
    return "Service d'envoi en marche." + (" Il envoie." if beat.state == "sending" else "")
