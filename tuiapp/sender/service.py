"""The sender service: on the association's server, the one process that talks to the mail server.

The operators' processes only queue (``outbox.queue_invoices``); the service,
under a system account of its own that alone can read the SMTP secret, drains
the queue for everybody, oldest first, with the one send engine, and says it
is alive in the database every ``timing.heartbeat_every()`` seconds
(``heartbeat``), so that every operator's screen follows it.

- At its start it settles what a previous run left in flight (``workflow.recover``):
  after a SIGKILL, at most the invoice being sent is ``unknown``.
- A stop request (SIGTERM) finishes the current message; the rest stays queued.
- A batch stopped by the server or the settings (wrong password, server down)
  is tried again after ``timing.sender_retry()``; an invoice the server
  deferred waits as long before its next try.
- A database it cannot use (a PostgreSQL server restarted or stopped, a SQLite file
  locked for longer than the wait) pauses it: it says so, tries again after
  ``timing.sender_retry()``, and first settles what its stopped batch kept in the
  send journal (``workflow.recover``), so that nothing waits for its next start.
- ``once``: drain what is queued, each invoice tried once, then return.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tuiapp.db import heartbeat
from tuiapp.db.database import OPERATIONAL_ERRORS, current_target, explain_database_error
from tuiapp.db.waiting import DatabaseBusy, DatabaseUnreachable, DiskFull
from tuiapp.domain import timing
from tuiapp.domain.errors import TuiappError
from tuiapp.mail.problems import SmtpProblem
from tuiapp.mail.smtp_client import SmtpSettings
from tuiapp.sender import test_requests
from tuiapp.sending import events as ev
from tuiapp.sending import outbox, recovery
from tuiapp.sending.engine import SendEngine, StopRequest
from tuiapp.sending.workflow import Connection, recover
from tuiapp.system_config import SmtpDestination, SystemConfig

#: What stops the service's loop for a while rather than for good: a base that cannot be used
#: for now (locked, its server gone, a full disk). Any other database error (a schema of a newer
#: tuiapp, a bug) ends the service, for systemd to start again and its log to say.
DATABASE_FAILURES: tuple[type[Exception], ...] = (*OPERATIONAL_ERRORS, DatabaseBusy, DatabaseUnreachable, DiskFull)


def connection_for(config: SystemConfig) -> Connection:
    """The destination root configured, and the secrets from the service's own folder."""
    from tuiapp.mail.authenticators import authenticator_for
    from tuiapp.mail.secret_store import FolderStore

    if config.smtp is None:
        raise TuiappError(f"La configuration « {config.path} » n'a pas de section [smtp] : "
                          "indiquez le serveur d'envoi (sudo tuiapp smtp set ...).")
    settings = settings_for(config.smtp)
    assert config.secret_dir is not None
    # Root (sudo tuiapp smtp test) writes the token cache and the lock for the service account:
    # made root's, they would stop the service at its next token.
    owner = service_account(config) if os.getuid() == 0 and settings.auth_method.is_oauth else None
    return Connection(settings, authenticator_for(settings, FolderStore(config.secret_dir, owner)))


def service_account(config: SystemConfig) -> tuple[int, int]:
    """The sender service account's (uid, gid); a French ``TuiappError`` when it does not exist."""
    import pwd

    try:
        account = pwd.getpwnam(config.service_user)
    except KeyError:
        raise TuiappError(f"Le compte du service d'envoi ({config.service_user}) n'existe pas : "
                          "sudo tuiapp server setup d'abord.") from None
    return account.pw_uid, account.pw_gid


def settings_for(destination: SmtpDestination) -> SmtpSettings:
    return SmtpSettings(
        host=destination.host, port=destination.port, security=destination.security,
        username=destination.username, auth_method=destination.auth_method,
        rate_per_minute=destination.rate_per_minute, ca_file=destination.ca_file,
        allow_insecure_auth=destination.allow_insecure_auth, connection_limit=destination.connection_limit,
        tenant=destination.tenant, client_id=destination.client_id, certificate=destination.certificate,
        authority=destination.authority,
    )


@dataclass
class Drained:
    """What one run of the service did."""

    sent: int = 0
    partial: int = 0
    failed: int = 0
    unknown: int = 0
    deferred: int = 0
    stopped: SmtpProblem | TuiappError | None = None


class SenderService:
    def __init__(self, connection: Connection, *, stop: StopRequest | None = None,
                 on_event: Callable[[ev.Event], None] | None = None, once: bool = False,
                 **engine_options) -> None:
        self.connection = connection
        self.stop = stop or StopRequest()
        self.on_event = on_event or (lambda event: None)
        self.once = once
        self.engine_options = engine_options
        self.process = outbox.process_tag()
        self.state = "idle"
        self._beating = threading.Event()
        self._tried: dict[int, float] = {}  # record id -> when this run last tried it (monotonic)

    def run(self) -> Drained:
        drained = Drained()
        heart = threading.Thread(target=self._beat_until_stopped, name="heartbeat", daemon=True)
        try:
            heartbeat.beat(self.process, "idle")
        except DATABASE_FAILURES:  # the loop below says why, and waits for the base
            pass
        heart.start()
        settle = True  # what an earlier run, or a batch stopped by the database, left in flight
        try:
            while not self.stop.is_set():
                try:
                    if settle:
                        recover()
                        recovery.requeue_own_unstarted()
                        settle = False
                    test_requests.send_pending(self.connection.settings, self.connection.authenticator)
                    ids = self._due()
                    if not ids:
                        if self.once:
                            break
                        self.stop.wait(timing.sender_poll())
                        continue
                    self.state = "sending"
                    finished = self._batch(ids)
                except DATABASE_FAILURES as exc:
                    problem = exc if isinstance(exc, TuiappError) else TuiappError(
                        explain_database_error(current_target(), exc))
                    drained.stopped, settle = problem, True
                    if self.once:
                        self.on_event(ev.DatabaseWait(str(problem), None))
                        break
                    self.on_event(ev.DatabaseWait(str(problem), timing.sender_retry()))
                    self.stop.wait(timing.sender_retry())
                    continue
                finally:
                    self.state = "idle"
                for name in ("sent", "partial", "failed", "unknown"):
                    setattr(drained, name, getattr(drained, name) + getattr(finished, name))
                drained.deferred += sum(1 for status in finished.records.values() if status == "queued")
                if finished.stopped is not None:
                    drained.stopped = finished.stopped
                    settle = True
                    if self.once:
                        break
                    self.stop.wait(timing.sender_retry())
        finally:
            self._beating.set()
            heart.join(timeout=timing.heartbeat_every() + 5)
            try:
                heartbeat.beat(self.process, "stopped")
            except TuiappError:
                pass
        return drained

    def _due(self) -> list[int]:
        """The queued records, oldest first, but those this run tried less than the retry delay ago."""
        now = time.monotonic()
        wait = timing.sender_retry()
        due = []
        for record_id in outbox.queued_record_ids():
            tried = self._tried.get(record_id)
            if tried is None or (not self.once and now - tried >= wait):
                due.append(record_id)
        return due

    def _batch(self, ids: list[int]) -> ev.BatchFinished:
        now = time.monotonic()
        for record_id in ids:
            self._tried[record_id] = now
        engine = SendEngine(self.connection.settings, self.connection.authenticator, cancel=self.stop,
                            on_event=self.on_event, keep_queuing_operator=True, **self.engine_options)
        return engine.run(ids, batch="service")

    def _beat_until_stopped(self) -> None:
        while not self._beating.wait(timing.heartbeat_every()):
            try:
                heartbeat.beat(self.process, self.state)
            except Exception:  # a busy or full database: the next beat tries again
                pass
