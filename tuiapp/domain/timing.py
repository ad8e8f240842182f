"""Every wait of the send path, in one place (seconds).

A wait that an operator's site may need to change, or that the tests make
short, is read from the environment each time it is used, so that a
subprocess started by a test (``tuiapp send``) gets it too.
"""

from __future__ import annotations

import os

#: How long a write of the send path waits for another workstation's write
#: (queueing, claim, completion, release, recovery, withdrawal).
DB_WAIT_VARIABLE = "TUIAPP_DB_WAIT"
DB_WAIT_DEFAULT = 60.0
#: One SQLite attempt waits at most this long in SQLite's own busy handler;
#: the send path then tries again, with back-off, until ``db_wait()``.
BUSY_TIMEOUT = 10.0
#: Back-off between two attempts of a write: from the first to the last.
BACKOFF_FIRST = 0.05
BACKOFF_MAX = 1.0
#: The engine: pauses before retrying a message after a transient failure.
RETRY_DELAYS = (5.0, 20.0)
#: The engine: the window over which the association's messages per minute are counted
#: (across every process sending on one database: ``tuiapp.sending.pacing``).
PACING_WINDOW_VARIABLE = "TUIAPP_PACING_WINDOW"
PACING_WINDOW = 60.0
#: The engine: a row of an open SMTP connection (or of a message being handed over) that
#: was not refreshed for this long no longer counts (its process, on another machine, is
#: presumed gone); refreshed every quarter of it while in use.
CONNECTION_LEASE_VARIABLE = "TUIAPP_SMTP_CONNECTION_LEASE"
CONNECTION_LEASE = 300.0
#: The engine: when the account's open connections reach the limit, it looks again after this.
CONNECTION_RETRY_VARIABLE = "TUIAPP_SMTP_CONNECTION_RETRY"
CONNECTION_RETRY = 2.0
#: A record left "sending" by a process of another machine is presumed dead after this.
FOREIGN_CLAIM_LEASE = 3600.0


def _seconds(variable: str, default: float) -> float:
    try:
        value = float(os.environ.get(variable, ""))
    except ValueError:
        return default
    return value if 0 <= value < 24 * 3600 else default


def db_wait() -> float:
    """How long a write of the send path waits for the database (``$TUIAPP_DB_WAIT``, 60 s by default)."""
    return _seconds(DB_WAIT_VARIABLE, DB_WAIT_DEFAULT)


def busy_timeout() -> float:
    """SQLite's busy timeout for one attempt: never longer than the whole wait."""
    return min(BUSY_TIMEOUT, db_wait())


def pacing_window() -> float:
    """The window of the messages-per-minute limit (``$TUIAPP_PACING_WINDOW``, 60 s by default)."""
    return _seconds(PACING_WINDOW_VARIABLE, PACING_WINDOW) or PACING_WINDOW


def connection_lease() -> float:
    """How long an unrefreshed connection row counts (``$TUIAPP_SMTP_CONNECTION_LEASE``, 300 s)."""
    return _seconds(CONNECTION_LEASE_VARIABLE, CONNECTION_LEASE) or CONNECTION_LEASE


def connection_retry() -> float:
    """The pause before looking again for a free connection (``$TUIAPP_SMTP_CONNECTION_RETRY``, 2 s)."""
    return _seconds(CONNECTION_RETRY_VARIABLE, CONNECTION_RETRY) or CONNECTION_RETRY


#: The sender service: how often it says it is alive, and after how long without a sign
#: the operators' screens and ``tuiapp send --wait`` call it stopped.
HEARTBEAT_VARIABLE = "TUIAPP_HEARTBEAT"
HEARTBEAT_DEFAULT = 5.0
HEARTBEAT_STALE_VARIABLE = "TUIAPP_HEARTBEAT_STALE"
HEARTBEAT_STALE_DEFAULT = 30.0
#: The sender service: how often an idle service looks at the queue, and how long it
#: waits after a batch stopped by the server (wrong password, server down) before trying again.
SENDER_POLL_VARIABLE = "TUIAPP_SENDER_POLL"
SENDER_POLL_DEFAULT = 2.0
SENDER_RETRY_VARIABLE = "TUIAPP_SENDER_RETRY"
SENDER_RETRY_DEFAULT = 60.0


def heartbeat_every() -> float:
    return _seconds(HEARTBEAT_VARIABLE, HEARTBEAT_DEFAULT) or HEARTBEAT_DEFAULT


def heartbeat_stale() -> float:
    return _seconds(HEARTBEAT_STALE_VARIABLE, HEARTBEAT_STALE_DEFAULT)


def sender_poll() -> float:
    return _seconds(SENDER_POLL_VARIABLE, SENDER_POLL_DEFAULT) or SENDER_POLL_DEFAULT


def sender_retry() -> float:
    return _seconds(SENDER_RETRY_VARIABLE, SENDER_RETRY_DEFAULT) or SENDER_RETRY_DEFAULT  # 0 would spin


#: OAuth 2.0: an access token is renewed when it has less than this left (it must
#: outlive the AUTH command that carries it).
TOKEN_MARGIN_VARIABLE = "TUIAPP_TOKEN_MARGIN"
TOKEN_MARGIN = 120.0
#: OAuth 2.0 device code: the identity provider is asked at most this often whether the
#: person signed in (it may ask for less often: its ``interval``).
DEVICE_POLL_VARIABLE = "TUIAPP_DEVICE_POLL"
DEVICE_POLL = 5.0


def token_margin() -> float:
    """How long before its end an access token is renewed (``$TUIAPP_TOKEN_MARGIN``, 120 s)."""
    return _seconds(TOKEN_MARGIN_VARIABLE, TOKEN_MARGIN)


def device_poll() -> float:
    """The pause between two questions about a device-code sign-in (``$TUIAPP_DEVICE_POLL``, 5 s)."""
    return _seconds(DEVICE_POLL_VARIABLE, DEVICE_POLL) or DEVICE_POLL
