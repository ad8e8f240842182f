"""The send log's French, for the TUI and the CLI (each problem's own sentence sits beside its
class, in ``tuiapp.mail.problems``; a database or disk problem carries its own)."""

from __future__ import annotations

from typing import cast

from tuiapp.domain.formatting import format_duration
from tuiapp.domain.status import LABELS as STATUS_LABELS  # the French names of the send states: the one table
from tuiapp.domain.status import SendStatus
from tuiapp.sending import events as ev


def _who(invoice: ev.InvoiceRef) -> str:
    return f"{invoice.resident} (facture {invoice.number})"


def _label(status: str) -> str:
    # the stored text finds its StrEnum key (equal, same hash); a state without a name shows as is
    return STATUS_LABELS.get(cast(SendStatus, status), status)


def describe(event: ev.Event) -> str:
    """The log line for one engine event."""
    match event:
        case ev.BatchStarted(total=total):
            return f"Début de l'envoi : {total} facture(s)."
        case ev.InvoiceClaimed(invoice=invoice):
            return f"{_who(invoice)} : envoi à {', '.join(invoice.recipients)}..."
        case ev.InvoiceSkipped(invoice=invoice, status=status):
            return f"{_who(invoice)} : ignorée, déjà prise en charge ailleurs ({_label(status)})."
        case ev.InvoiceSent(invoice=invoice):
            return f"{_who(invoice)} : envoyée à {', '.join(invoice.recipients)}."
        case ev.InvoicePartial(invoice=invoice, refused=refused):
            refusals = "; ".join(f"{address} ({reply})" for address, reply in refused.items())
            return f"{_who(invoice)} : envoi partiel, adresse(s) refusée(s) : {refusals}."
        case ev.InvoiceFailed(invoice=invoice, problem=problem):
            return f"{_who(invoice)} : échec. {problem}"
        case ev.InvoiceDeferred(invoice=invoice, problem=problem):
            return f"{_who(invoice)} : reportée, elle reste en attente pour le prochain envoi. {problem}"
        case ev.InvoiceUnknown(invoice=invoice, problem=problem):
            return f"{_who(invoice)} : {problem}"
        case ev.RetryScheduled(problem=problem, attempt=attempt, delay=delay):
            return f"{problem} Nouvel essai dans {delay:.0f} s (essai {attempt + 1})."
        case ev.PacingWait(delay=delay):
            return f"Limite de messages par minute : pause de {delay:.0f} s."
        case ev.ConnectionWait(limit=limit):
            return (f"Limite de {limit} connexion(s) simultanée(s) au serveur atteinte (autres envois en cours) : "
                    "attente qu'une connexion se libère.")
        case ev.BatchStopped(problem=problem, remaining=remaining, kept=kept):
            text = f"Envoi arrêté. {problem} {remaining} facture(s) restent en attente."
            if kept:
                text += (" Le résultat de la facture en cours, gardé dans le journal d'envoi, sera enregistré "
                         "dès que la base le permettra (au plus tard au prochain démarrage de tuiapp) ; elle ne "
                         "sera pas renvoyée.")
            return text
        case ev.DatabaseWait(problem=problem, delay=None):
            return f"Base indisponible. {problem} Service arrêté."
        case ev.DatabaseWait(problem=problem, delay=delay):
            return f"Base indisponible. {problem} Nouvel essai dans {format_duration(max(delay or 0, 1))}."
        case ev.BatchFinished():
            return summary(event)
    return str(event)


def summary(finished: ev.BatchFinished) -> str:
    parts = [f"{finished.sent} envoyée(s)"]
    for count, label in (
        (finished.partial, "envoi(s) partiel(s)"),
        (finished.failed, "échec(s)"),
        (finished.unknown, "état(s) inconnu(s)"),
        (finished.skipped, "déjà prise(s) en charge ailleurs"),
        (finished.remaining, "en attente"),
    ):
        if count:
            parts.append(f"{count} {label}")
    prefix = ("Envoi annulé" if finished.cancelled
              else "Envoi interrompu" if finished.stopped or finished.interrupted else "Envoi terminé")
    return f"{prefix} : {', '.join(parts)}."
