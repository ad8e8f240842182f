"""Test messages on the association's server: an operator asks (``tuiapp smtp test --to``), the sender
service sends it with its own destination and password, and writes the outcome the operator waits for."""

from __future__ import annotations

from tuiapp.db.fields import utcnow
from tuiapp.db.models import Structure
from tuiapp.db.sending_models import SmtpTestRequest
from tuiapp.db.waiting import wait_for_writes
from tuiapp.domain.errors import TuiappError
from tuiapp.mail.problems import SmtpProblem
from tuiapp.mail.smtp_client import Authenticator, SmtpSettings, send_test_message


@wait_for_writes
def request(structure: Structure, recipient: str, *, operator: str) -> int:
    return SmtpTestRequest.create(structure=structure, recipient=recipient, requested_by=operator).id


def outcome(request_id: int) -> SmtpTestRequest | None:
    return SmtpTestRequest.get_or_none(SmtpTestRequest.id == request_id)


def send_pending(settings: SmtpSettings, authenticator: Authenticator) -> int:
    """The service: send every test message asked for, oldest first; returns how many."""
    done = 0
    for pending in SmtpTestRequest.select().where(SmtpTestRequest.status == "queued").order_by(SmtpTestRequest.id):
        try:
            reply = send_test_message(settings, authenticator, pending.structure, pending.recipient)
        except (SmtpProblem, TuiappError) as exc:
            _finish(pending.id, "failed", error=str(exc))
        else:
            _finish(pending.id, "sent", reply=reply)
        done += 1
    return done


@wait_for_writes(again_when_lost=True)
def _finish(request_id: int, status: str, *, reply: str | None = None, error: str | None = None) -> None:
    SmtpTestRequest.update(status=status, reply=reply, error=error, finished_at=utcnow()).where(
        SmtpTestRequest.id == request_id).execute()
