"""The tables of the send path's coordination: send slots and open connections (the limits per
mail account, ``tuiapp.sending.pacing``), and the test messages the sender service sends for operators."""

from __future__ import annotations

from peewee import CharField, FloatField, ForeignKeyField, TextField

from tuiapp.db.database import BaseModel
from tuiapp.db.fields import UTCDateTimeField, utcnow
from tuiapp.db.import_models import IMPORT_MODELS
from tuiapp.db.models import MODELS, Structure


class SendSlot(BaseModel):
    """One message handed over, or being handed over, to an account's server: what the
    messages-per-minute limit counts, across processes (``tuiapp.sending.pacing``).
    Times are the engines' clock (seconds since the epoch)."""

    account = CharField()  # "host:port:username", lower-cased
    holder = CharField()  # the sending process's "host:pid:start"
    reserved_at = FloatField()
    sent_at = FloatField(null=True)  # when the server answered; none while in flight

    class Meta:
        table_name = "send_slot"
        indexes = ((("account", "reserved_at"), False),)


class SmtpConnectionRow(BaseModel):
    """An SMTP connection open (or about to be) to an account's server, by some process:
    what the connection limit counts (``tuiapp.sending.pacing``)."""

    account = CharField()
    holder = CharField()
    opened_at = FloatField()
    refreshed_at = FloatField()

    class Meta:
        table_name = "smtp_connection"
        indexes = ((("account",), False),)


class SmtpTestRequest(BaseModel):
    """A test message an operator asked for (``tuiapp smtp test --to``), sent by the sender service."""

    structure = ForeignKeyField(Structure, on_delete="CASCADE")
    structure_id: int  # Peewee's accessor for the key's value, told to mypy
    recipient = CharField()
    requested_by = CharField()
    status = CharField(default="queued")  # queued, sent, failed
    reply = TextField(null=True)
    error = TextField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    finished_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "test_message"


#: Every table, parents first.
ALL_MODELS = [*MODELS, *IMPORT_MODELS, SendSlot, SmtpConnectionRow, SmtpTestRequest]
