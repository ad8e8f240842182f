"""The send log's French, for the TUI and the CLI (each problem's own sentence sits beside its
class, in ``tuiapp.mail.problems``; a database or disk problem carries its own)."""

from __future__ import annotations

from typing import cast

from tuiapp.domain.formatting import counted, format_duration, format_wait, plural
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
            return f"Début de l'envoi : {counted(total, 'facture', 'factures')}."
        case ev.InvoiceClaimed(invoice=invoice):
            return f"{_who(invoice)} : envoi à {', '.join(invoice.recipients)}..."
        case ev.InvoiceSkipped(invoice=invoice, status=status):
            return f"{_who(invoice)} : ignorée, déjà prise en charge ailleurs ({_label(status)})."
        case ev.InvoiceSent(invoice=invoice):
            return f"{_who(invoice)} : envoyée à {', '.join(invoice.recipients)}."
        case ev.InvoicePartial(invoice=invoice, refused=refused):
            refusals = "; ".join(f"{address} ({reply})" for address, reply in refused.items())
            refused_text = plural(len(refused), "adresse refusée", "adresses refusées")
            return f"{_who(invoice)} : envoi partiel, {refused_text} : {refusals}."
        case ev.InvoiceFailed(invoice=invoice, problem=problem):
            return f"{_who(invoice)} : échec. {problem}"
        case ev.InvoiceDeferred(invoice=invoice, problem=problem):
            return f"{_who(invoice)} : reportée, elle reste en attente pour le prochain envoi. {problem}"
        case ev.InvoiceUnknown(invoice=invoice, problem=problem):
            return f"{_who(invoice)} : {problem}"
        case ev.RetryScheduled(problem=problem, attempt=attempt, delay=delay):
            when = f"dans {format_wait(delay)}" if delay > 0 else "immédiat"
            return f"{problem} Nouvel essai {when} (essai {attempt + 1})."
        case ev.PacingWait(delay=delay):
            return f"Limite de messages par minute : pause de {format_wait(delay)}."
        case ev.ConnectionWait(limit=limit):
            return (f"Limite de {counted(limit, 'connexion simultanée', 'connexions simultanées')} au serveur "
                    "atteinte (autres envois en cours) : attente qu'une connexion se libère.")
        case ev.BatchStopped(problem=problem, remaining=remaining, kept=kept):
            stays = plural(remaining, "reste", "restent")
            text = f"Envoi arrêté. {problem} {counted(remaining, 'facture', 'factures')} {stays} en attente."
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
    parts = [counted(finished.sent, "envoyée", "envoyées")]
    for count, one, several in (
        (finished.partial, "envoi partiel", "envois partiels"),
        (finished.failed, "échec", "échecs"),
        (finished.unknown, "état inconnu", "états inconnus"),
        (finished.skipped, "déjà prise en charge ailleurs", "déjà prises en charge ailleurs"),
        (finished.remaining, "en attente", "en attente"),
    ):
        if count:
            parts.append(counted(count, one, several))
    prefix = ("Envoi annulé" if finished.cancelled
              else "Envoi interrompu" if finished.stopped or finished.interrupted else "Envoi terminé")
    return f"{prefix} : {', '.join(parts)}."
