"""The limits of one mail account, held across every process that sends on one database.

Office 365 takes 30 messages a minute per mailbox and 3 connections at once, whoever
sends: several workstations or ``tuiapp send`` processes share them. Two tables of the
database hold what they all do (``SendSlot``, ``SmtpConnectionRow``); they are read and
written under the database's write lock (``BEGIN IMMEDIATE``), so that two processes
never both take the last place. The account is the server and the user name
(``SmtpSettings.account``).

- Before a message is claimed, it takes a *slot*: granted when fewer than ``rate`` slots
  of the account fall within the last ``window`` seconds, else the answer is how long to
  wait (the oldest slot's time + window - now). A slot counts as "now" while its message
  is being handed over (the message reaches the server at some time between the
  reservation and the reply), as long as its process lives; once the server has
  answered, it is stamped with that time, so that the server's receive times, too, never
  crowd more than the rate into one window. A slot left unused (the invoice was taken
  elsewhere, the batch stopped) is dropped; slots out of the window are deleted as they
  are met.
- Before a connection opens, it takes a *place*: granted when fewer than ``limit`` places
  of the account count, given back when it closes. A place, like a slot in flight,
  counts while its process lives (one of this machine: its pid is checked; one of another
  machine: while it is refreshed, every quarter of ``timing.connection_lease()``).

Times are the engine's clock: the wall clock by default, which every process and
workstation shares; tests give a fake clock, whose times the database then holds.
A slot is stamped (or dropped) after the outcome of its message is written, which
comes first. Stamping, dropping and giving back are tried once, without the send
path's long wait: if the database cannot take them, the row stays and counts as in
flight a little longer (at most a lease, while its process lives), never less.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from peewee import PeeweeException

from tuiapp.db.database import db, write_transaction
from tuiapp.db.sending_models import SendSlot, SmtpConnectionRow
from tuiapp.db.waiting import wait_for_writes
from tuiapp.domain import timing
from tuiapp.mail.smtp_client import SmtpSettings
from tuiapp.sending import events as ev
from tuiapp.sending import outbox


def _held(holder: str, at: float, now: float) -> bool:
    """A row of a process still at work: refreshed within the lease, by this process or one not known gone."""
    return at > now - timing.connection_lease() and (holder == outbox.process_tag() or not outbox.holder_gone(holder))


@wait_for_writes
def take_slot(account: str, rate: int, window: float, now: float) -> tuple[int | None, float]:
    """(the new slot's id, 0), or (None, seconds to wait) when ``rate`` slots already
    fall within the window."""
    with write_transaction():
        ends, expired = [], []
        for slot in SendSlot.select().where(SendSlot.account == account):
            if slot.sent_at is None and _held(slot.holder, slot.reserved_at, now):
                ends.append(now + window)  # in flight: its message reaches the server now or later
                continue
            at = slot.reserved_at if slot.sent_at is None else slot.sent_at
            # one expression for the expiry and the delay, so that a wait of that delay
            # always lets the slot expire (a fake clock adds it exactly)
            if at + window <= now:
                expired.append(slot.id)
            else:
                ends.append(at + window)
        if expired:
            SendSlot.delete().where(SendSlot.id.in_(expired)).execute()
        if len(ends) >= rate:
            return None, sorted(ends)[len(ends) - rate] - now
        slot = SendSlot.create(account=account, holder=outbox.process_tag(), reserved_at=now)
        return slot.id, 0.0


@wait_for_writes
def take_place(account: str, limit: int, now: float) -> int | None:
    """A place for one more connection to the account's server (its id), or None when
    ``limit`` connections are open already."""
    with write_transaction():
        counted, stale = 0, []
        for place in SmtpConnectionRow.select().where(SmtpConnectionRow.account == account):
            if _held(place.holder, place.refreshed_at, now):
                counted += 1
            else:
                stale.append(place.id)
        if stale:
            SmtpConnectionRow.delete().where(SmtpConnectionRow.id.in_(stale)).execute()
        if counted >= limit:
            return None
        holder = outbox.process_tag()
        return SmtpConnectionRow.create(account=account, holder=holder, opened_at=now, refreshed_at=now).id


def _once(write: Callable[[], object]) -> None:
    """A write that may fail: what it would change then stays, and counts a little longer."""
    try:
        with db.atomic():
            write()
    except (PeeweeException, sqlite3.Error):
        pass


def stamp_slot(slot_id: int, at: float) -> None:
    _once(SendSlot.update(sent_at=at).where(SendSlot.id == slot_id).execute)


def drop_slot(slot_id: int) -> None:
    _once(SendSlot.delete().where(SendSlot.id == slot_id).execute)


def refresh_place(place_id: int, at: float) -> None:
    _once(SmtpConnectionRow.update(refreshed_at=at).where(SmtpConnectionRow.id == place_id).execute)


def give_back(place_id: int) -> None:
    _once(SmtpConnectionRow.delete().where(SmtpConnectionRow.id == place_id).execute)


class AccountLimits:
    """One engine's share of its account's limits: the slot of the message in hand and the
    place of its connection. ``wait(seconds)`` returns True when the batch was asked to
    stop meanwhile; the methods that wait return it too. A database that cannot be written
    raises ``DatabaseBusy`` or ``DiskFull``."""

    def __init__(self, settings: SmtpSettings, *, clock: Callable[[], float], wait: Callable[[float], bool],
                 on_event: Callable[[ev.Event], None], window: float | None = None) -> None:
        self.settings = settings
        self._clock = clock
        self._wait = wait
        self._on_event = on_event
        self._window = window
        self._slot: int | None = None
        self._answered: float | None = None  # when the server answered the slot's message
        self._place: int | None = None
        self._refreshed = 0.0

    def pace(self) -> bool:
        """Take a slot for the next message, waiting as long as the rate says."""
        rate = self.settings.rate_per_minute
        if rate <= 0 or (self._slot is not None and self._answered is None):
            return False  # no limit, or a slot is held and still unused
        self.settle()
        window = self._window if self._window is not None else timing.pacing_window()
        while True:
            slot, delay = take_slot(self.settings.account, rate, window, self._clock())
            if slot is not None:
                self._slot = slot
                return False
            self._on_event(ev.PacingWait(delay))
            if self._wait(delay):
                return True

    def attempted(self) -> None:
        """The server answered (or the attempt failed): the slot will hold that time."""
        if self._slot is not None:
            self._answered = self._clock()

    def settle(self) -> None:
        """After the message's outcome is written: its slot gets the time of the server's
        answer, or goes if no message left with it."""
        if self._slot is None:
            return
        if self._answered is not None:
            stamp_slot(self._slot, self._answered)
        else:
            drop_slot(self._slot)
        self._slot = self._answered = None

    def hold_connection(self) -> bool:
        """Take a place for a connection (kept until ``release_connection``), waiting while
        the account's connections are at the limit; refreshes the one held."""
        limit = self.settings.connection_limit
        if limit <= 0:
            return False
        if self._place is not None:
            now = self._clock()
            if now - self._refreshed >= timing.connection_lease() / 4:
                refresh_place(self._place, now)
                self._refreshed = now
            return False
        told = False
        while True:
            now = self._clock()
            self._place = take_place(self.settings.account, limit, now)
            if self._place is not None:
                self._refreshed = now
                return False
            delay = timing.connection_retry()
            if not told:  # once per wait: it may last a whole batch of another workstation
                self._on_event(ev.ConnectionWait(limit))
                told = True
            if self._wait(delay):
                return True

    def release_connection(self) -> None:
        if self._place is not None:
            give_back(self._place)
            self._place = None
