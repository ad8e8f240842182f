"""What the send engine reports while it works; the TUI and the CLI both consume these."""

from __future__ import annotations

from dataclasses import dataclass, field

from tuiapp.domain.errors import TuiappError
from tuiapp.mail.problems import SmtpProblem


@dataclass(frozen=True, slots=True)
class InvoiceRef:
    """Which invoice an event is about."""

    record_id: int
    invoice_id: int
    number: str
    resident: str
    recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BatchStarted:
    batch: str
    total: int


@dataclass(frozen=True, slots=True)
class InvoiceClaimed:
    invoice: InvoiceRef


@dataclass(frozen=True, slots=True)
class InvoiceSkipped:
    """Someone else claimed it first (another operator or process)."""

    invoice: InvoiceRef
    status: str


@dataclass(frozen=True, slots=True)
class InvoiceSent:
    invoice: InvoiceRef
    reply: str
    message_id: str


@dataclass(frozen=True, slots=True)
class InvoicePartial:
    invoice: InvoiceRef
    reply: str
    message_id: str
    refused: dict[str, str]


@dataclass(frozen=True, slots=True)
class InvoiceFailed:
    invoice: InvoiceRef
    problem: SmtpProblem | Exception


@dataclass(frozen=True, slots=True)
class InvoiceDeferred:
    """Refused for now by the server after every try; it stays queued for the next run."""

    invoice: InvoiceRef
    problem: SmtpProblem


@dataclass(frozen=True, slots=True)
class InvoiceUnknown:
    """The connection broke after the message was handed over: it may have arrived."""

    invoice: InvoiceRef
    problem: SmtpProblem


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    invoice: InvoiceRef | None
    problem: SmtpProblem
    attempt: int
    delay: float


@dataclass(frozen=True, slots=True)
class PacingWait:
    """The association's messages-per-minute limit makes the engine wait."""

    delay: float


@dataclass(frozen=True, slots=True)
class ConnectionWait:
    """The account's server has ``limit`` connections open already (other processes or
    workstations): the engine waits for one to close."""

    limit: int


@dataclass(frozen=True, slots=True)
class BatchStopped:
    """A settings, server or database problem: the remaining invoices stay queued.

    ``kept``: the outcome of the invoice in hand could not be written to the
    database; it stays "en cours" and its journal slot is applied at the next start."""

    problem: SmtpProblem | TuiappError
    remaining: int
    kept: bool = False


@dataclass(frozen=True, slots=True)
class DatabaseWait:
    """The sender service cannot use the database (its server restarted or stopped): it
    tries again after ``delay`` seconds (None: it stops, ``--once``); what it had in hand is
    in the send journal."""

    problem: str
    delay: float | None


@dataclass(frozen=True, slots=True)
class BatchFinished:
    batch: str
    sent: int = 0
    partial: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    remaining: int = 0
    cancelled: bool = False  # by the operator: the rest is withdrawn
    interrupted: bool = False  # a signal, a closed pipe, leaving the app: the rest stays queued
    stopped: SmtpProblem | TuiappError | None = None
    records: dict[int, str] = field(default_factory=dict)  # record id -> final status

    @property
    def all_sent(self) -> bool:
        return not (
            self.partial or self.failed or self.unknown or self.remaining or self.stopped or self.cancelled
            or self.interrupted
        )


Event = (
    BatchStarted
    | InvoiceClaimed
    | InvoiceSkipped
    | InvoiceSent
    | InvoicePartial
    | InvoiceFailed
    | InvoiceDeferred
    | InvoiceUnknown
    | RetryScheduled
    | PacingWait
    | ConnectionWait
    | BatchStopped
    | DatabaseWait
    | BatchFinished
)
