"""The sending tab's decision on a send whose fate is unknown (``k``): did the message leave?"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from textual.widget import Widget

from tuiapp.db.models import SendRecord, SendStatus
from tuiapp.db.queries import SendRow
from tuiapp.domain.roles import Role, decide_refusal
from tuiapp.sending import outbox, workflow
from tuiapp.widgets.db_errors import DATABASE_ERRORS, database_message, database_problem
from tuiapp.widgets.dialogs import ChoiceScreen
from tuiapp.widgets.rights import refuse


def refusal(node: Widget, record_id: int) -> str | None:
    """An operator decides on their own sends only; an administrator on anyone's."""
    role = getattr(node.app, "role", Role.ADMIN)
    if role is Role.ADMIN:
        return None
    try:
        owner = SendRecord.get_by_id(record_id).operator
    except DATABASE_ERRORS as exc:  # not known whose it is: not decided
        return "Rien n'a été décidé. " + database_message(node, exc)
    return decide_refusal(role, owner, outbox.operator_name())


def ask_decision(node: Widget, row: SendRow, *, resend: Callable[[workflow.Plan], None],
                 decided: Callable[[], None]) -> None:
    """Ask about ``row``'s unknown send; "resend" queues it again and calls ``resend`` with its plan
    (this tab sends it now), "delivered" marks it sent and calls ``decided``."""
    record_id = row.send_record_id
    if record_id is None:
        return
    if reason := refusal(node, record_id):
        refuse(node, reason)
        return
    question = (f"L'envoi de la facture {row.number} ({row.resident}) a été interrompu : le message est "
                "peut-être parti. Vérifiez les éléments envoyés de la boîte mail, puis :")
    choices = {"d": ("delivered", "il est bien parti : le marquer envoyé"),
               "r": ("resend", "il n'est pas parti : le renvoyer maintenant")}

    def answered(choice: str | None) -> None:
        if choice:
            try:
                new_id = workflow.resolve(record_id, delivered=choice == "delivered")
            except DATABASE_ERRORS as exc:  # nothing decided: the record stays "unknown"
                database_problem(node, exc, prefix="Rien n'a été décidé. ")
                return
            if new_id:  # queued again: this send takes it up
                resend(workflow.plan_rows([replace(row, send_status=SendStatus.QUEUED, send_record_id=new_id)]))
            else:
                decided()

    node.app.push_screen(ChoiceScreen(question, choices), answered)
