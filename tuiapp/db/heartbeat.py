"""The sender service's sign of life, kept in the database so that every operator's screen sees it.

One row of ``metadata`` (``sender_heartbeat``): when the service last said it
was alive, which process it is, and what it is doing. Older than
``timing.heartbeat_stale()`` (30 s by default), it counts as stopped.

The same is written under ``sender_heartbeat@HOST`` for the service's machine: on a
PostgreSQL base shared by several servers, each service's own, by which a record it left
"sending" is judged from another machine (``tuiapp.sending.outbox``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from tuiapp.db.database import write_transaction
from tuiapp.db.fields import utcnow
from tuiapp.db.models import Metadata
from tuiapp.db.waiting import wait_for_writes
from tuiapp.domain import timing

KEY = "sender_heartbeat"


@dataclass(frozen=True)
class Heartbeat:
    at: datetime
    process: str
    state: str  # "idle", "sending", "stopped" (a clean stop)

    def age(self, now: datetime | None = None) -> timedelta:
        return (now or utcnow()) - self.at

    def stale(self, now: datetime | None = None) -> bool:
        return self.state == "stopped" or self.age(now).total_seconds() > timing.heartbeat_stale()


def host_key(host: str) -> str:
    return f"{KEY}@{host}"


@wait_for_writes(again_when_lost=True)
def beat(process: str, state: str) -> None:
    """``process``: its ``host:pid:start`` tag (``outbox.process_tag``)."""
    value = json.dumps({"at": utcnow().isoformat(), "process": process, "state": state})
    rows = [{"key": KEY, "value": value}, {"key": host_key(process.rsplit(":", 2)[0]), "value": value}]
    with write_transaction():
        Metadata.insert_many(rows).on_conflict(conflict_target=[Metadata.key], preserve=[Metadata.value]).execute()


def last() -> Heartbeat | None:
    """The service's last sign of life, or None if no service ever ran on this database."""
    return _read(KEY)


def of_host(host: str) -> Heartbeat | None:
    """The last sign of life of the service of machine ``host``, or None if it never ran there."""
    return _read(host_key(host))


def _read(key: str) -> Heartbeat | None:
    row = Metadata.get_or_none(Metadata.key == key)
    if row is None:
        return None
    try:
        content = json.loads(row.value)
        return Heartbeat(datetime.fromisoformat(content["at"]), str(content["process"]), str(content["state"]))
    except (ValueError, KeyError, TypeError):
        return None
