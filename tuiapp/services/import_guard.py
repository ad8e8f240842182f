"""The one rule of every import about sends: an invoice that is waiting to be sent, being sent,
or whose last send is *unknown* (the message may have left) is never changed by an import.

An *unknown* send is decided first (``tuiapp resolve``, or ``k`` in the sending tab): were the
import to change the invoice before, a later « it did arrive » would mark the new version as
mailed when the resident got the old one, and the rectified invoice would never be sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from tuiapp.db.models import SendRecord
from tuiapp.domain.status import SendStatus

_CHUNK = 500  # ids per IN (...) list

#: Why an import leaves the invoice alone, said after « cette facture » or « la facture N° ».
IN_FLIGHT = ("est en attente d'envoi ou en cours d'envoi : importez après l'envoi (ou retirez-la "
             "de la file).")
UNKNOWN = ("a un envoi à l'état inconnu (le message est peut-être parti) : décidez d'abord s'il est "
           "arrivé (tuiapp resolve, ou k dans l'onglet Envoi), puis importez.")


def send_blocks(invoice_ids: Sequence[int]) -> dict[int, str]:
    """Those of these invoices that an import must not change, with why (``IN_FLIGHT``, ``UNKNOWN``)."""
    blocked: dict[int, str] = {}
    for start in range(0, len(invoice_ids), _CHUNK):
        part = list(invoice_ids[start: start + _CHUNK])
        query = (SendRecord.select(SendRecord.invoice, SendRecord.status)
                 .where(SendRecord.invoice.in_(part)).order_by(SendRecord.invoice, SendRecord.id))
        last: dict[int, str] = {}
        active: set[int] = set()
        for invoice_id, status in cast(Iterable[tuple[Any, ...]], query.tuples()):
            last[invoice_id] = status
            if status in SendStatus.active():
                active.add(invoice_id)
        blocked.update((invoice_id, UNKNOWN) for invoice_id, status in last.items() if status == SendStatus.UNKNOWN)
        blocked.update((invoice_id, IN_FLIGHT) for invoice_id in active)
    return blocked
