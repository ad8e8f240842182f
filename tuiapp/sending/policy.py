"""What the send engine does after a failed attempt: the whole policy, as one table.

``decide(problem, attempt)`` is pure: no I/O, no clock. ``attempt`` counts
from 0; the last one is ``max_tries - 1``. How a server's reply becomes a
problem class is ``tuiapp.mail.problems.classify_reply``'s job.

=====================  ===================  ===================  ===============================
problem                before the last try  at the last try      why
=====================  ===================  ===================  ===============================
TransientFailure       RETRY                STOP_BATCH           421, 432 4.3.2 thread limit,
ServerUnreachable                                                451 4.7.500, 454, a dropped
                                                                 connection, a timeout: every
                                                                 invoice would meet it
MessageDeferred        RETRY                DEFER                452 mailbox full, 452 4.5.3:
                                                                 this message, for now
MessageRejected        FAIL_INVOICE         FAIL_INVOICE         550 5.1.1, 552, 554 5.7.1 at DATA
DeliveryUncertain      UNCERTAIN            UNCERTAIN            the server may hold it: never
                                                                 sent again without a decision
AuthenticationFailed   RENEW_AND_RETRY      RENEW_AND_RETRY      530 5.7.57, 535 5.7.3: one fresh
TokenRefused                                                     token (OAuth) before stopping;
                                                                 STOP_BATCH when ``can_renew``
                                                                 is false (a password)
BasicAuthDisabled      STOP_BATCH           STOP_BATCH           SMTP AUTH off (SmtpAuthDisabled,
                                                                 535 5.7.139), passwords retired
                                                                 (BasicAuthRetired, 550 5.7.30)
any other              STOP_BATCH           STOP_BATCH           settings, certificate, sender
                                                                 refused (5.7.60), quota (554 5.2.0),
                                                                 the identity provider's refusals
                                                                 (mail.identity_problems)
=====================  ===================  ===================  ===============================

A batch that stops leaves the invoice in hand and the rest queued; a
deferred invoice stays queued and the batch goes on.
"""

from __future__ import annotations

from enum import StrEnum

from tuiapp.mail import problems as p


class Decision(StrEnum):
    #: The same message again after a pause, on a new connection.
    RETRY = "retry"
    #: Fresh credentials, then the same message again at once.
    RENEW_AND_RETRY = "renew-and-retry"
    #: Refused for now: this invoice goes back to the queue, the batch goes on.
    DEFER = "defer"
    #: Refused for good: this invoice fails, the batch goes on.
    FAIL_INVOICE = "fail-invoice"
    #: Every invoice would meet it: the batch stops, this invoice back in the queue.
    STOP_BATCH = "stop-batch"
    #: The server may hold the message: its state is unknown.
    UNCERTAIN = "uncertain"


#: Tries of one message, the first included (the engine's default).
MAX_TRIES = 3

#: Problem class -> (decision before the last try, at the last try); a class
#: not listed takes its nearest listed base's row.
TABLE: dict[type[p.SmtpProblem], tuple[Decision, Decision]] = {
    p.TransientFailure: (Decision.RETRY, Decision.STOP_BATCH),
    p.ServerUnreachable: (Decision.RETRY, Decision.STOP_BATCH),
    p.MessageDeferred: (Decision.RETRY, Decision.DEFER),
    p.MessageRejected: (Decision.FAIL_INVOICE, Decision.FAIL_INVOICE),
    p.DeliveryUncertain: (Decision.UNCERTAIN, Decision.UNCERTAIN),
    p.AuthenticationFailed: (Decision.RENEW_AND_RETRY, Decision.RENEW_AND_RETRY),
    p.BasicAuthDisabled: (Decision.STOP_BATCH, Decision.STOP_BATCH),
    p.SmtpProblem: (Decision.STOP_BATCH, Decision.STOP_BATCH),
}


def decide(problem: p.SmtpProblem, attempt: int, *, max_tries: int = MAX_TRIES, can_renew: bool = False) -> Decision:
    """What to do after ``problem`` ended try number ``attempt`` (from 0) of a message.

    ``can_renew``: the credentials were not renewed since the last message that
    went through, so a refusal may be an expired token worth one more try (the
    engine keeps that count: one renewal, then the batch stops).
    """
    before_last, at_last = next(TABLE[kind] for kind in type(problem).__mro__ if kind in TABLE)
    decision = at_last if attempt + 1 >= max_tries else before_last
    if decision is Decision.RENEW_AND_RETRY and not can_renew:
        return Decision.STOP_BATCH
    return decision
