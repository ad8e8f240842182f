"""Every French sentence about sending, in one place, for the TUI and the CLI."""

from __future__ import annotations

from tuiapp.sending import events as ev
from tuiapp.mail import problems as se
from tuiapp.domain import status

_PROBLEMS: dict[type[se.SmtpProblem], str] = {
    se.ServerUnreachable: "Serveur injoignable : vérifiez le nom du serveur, le port et la connexion réseau.",
    se.TlsUnavailable: "Le serveur ne propose pas de connexion sécurisée (STARTTLS) : vérifiez le port et la sécurité choisie.",
    se.CertificateRejected: "Certificat non reconnu : le serveur n'a pas pu être authentifié, la connexion a été refusée.",
    se.TlsFailed: "La connexion sécurisée (TLS) a échoué : vérifiez le port et la sécurité choisie (STARTTLS ou SSL).",
    se.InsecureAuthRefused: (
        "Authentification refusée sur une connexion non chiffrée : le mot de passe circulerait en clair. "
        "Choisissez STARTTLS ou SSL."
    ),
    se.AuthenticationFailed: "Identifiant ou mot de passe refusé par le serveur.",
    se.BasicAuthDisabled: (
        "Le fournisseur a désactivé l'authentification par mot de passe pour ce compte "
        "(à réactiver par votre responsable informatique)."
    ),
    se.PasswordMissing: "Aucun mot de passe SMTP enregistré pour ce compte (tuiapp smtp password, ou la fenêtre Serveur SMTP).",
    se.SenderRefused: (
        "Adresse d'expéditeur refusée par le serveur : le compte SMTP n'a pas le droit d'envoyer "
        "au nom de cette adresse (onglet Mail de la structure)."
    ),
    se.QuotaExceeded: (
        "Limite d'envoi du serveur atteinte : les factures restantes sont gardées en attente ; "
        "relancez l'envoi plus tard (en général après 24 heures)."
    ),
    se.TransientFailure: "Le serveur est momentanément indisponible.",
    se.DeliveryUncertain: (
        "La connexion a été coupée juste après l'envoi du message : il est peut-être arrivé. "
        "État inconnu, il ne sera pas renvoyé sans votre accord."
    ),
    se.MessageRejected: "Message refusé par le serveur.",
}

#: The French names of the send states: the one table, in ``tuiapp.domain.status``.
STATUS_LABELS = status.LABELS


def explain(problem: se.SmtpProblem | Exception) -> str:
    """One French sentence, with the server's reply when there is one."""
    if not isinstance(problem, se.SmtpProblem):  # a database or disk problem: its own French text
        return str(problem)
    text = next(_PROBLEMS[kind] for kind in type(problem).__mro__ if kind in _PROBLEMS)
    if problem.code == 535 and type(problem) is se.AuthenticationFailed:
        text = ("Mot de passe refusé par le serveur (535). Vérifiez l'identifiant et le mot de passe "
                "(fenêtre Serveur SMTP, ou tuiapp smtp password).")
    if problem.detail.startswith("ca-file-missing:"):
        text = f"Fichier de certificats introuvable : {problem.detail.partition(':')[2]}."
    if problem.detail == "no-auth":
        text = "Le serveur ne propose pas d'authentification : vérifiez le port et la sécurité choisie."
    if problem.server_reply:
        text += f" Réponse du serveur : {problem.server_reply}"
    return text


def _who(invoice: ev.InvoiceRef) -> str:
    return f"{invoice.resident} (facture {invoice.number})"


def describe(event: ev.Event) -> str:
    """The log line for one engine event."""
    match event:
        case ev.BatchStarted(total=total):
            return f"Début de l'envoi : {total} facture(s)."
        case ev.InvoiceClaimed(invoice=invoice):
            return f"{_who(invoice)} : envoi à {', '.join(invoice.recipients)}..."
        case ev.InvoiceSkipped(invoice=invoice, status=status):
            return f"{_who(invoice)} : ignorée, déjà prise en charge ailleurs ({STATUS_LABELS.get(status, status)})."
        case ev.InvoiceSent(invoice=invoice):
            return f"{_who(invoice)} : envoyée à {', '.join(invoice.recipients)}."
        case ev.InvoicePartial(invoice=invoice, refused=refused):
            refusals = "; ".join(f"{address} ({reply})" for address, reply in refused.items())
            return f"{_who(invoice)} : envoi partiel, adresse(s) refusée(s) : {refusals}."
        case ev.InvoiceFailed(invoice=invoice, problem=problem):
            return f"{_who(invoice)} : échec. {problem}"
        case ev.InvoiceDeferred(invoice=invoice, problem=problem):
            return f"{_who(invoice)} : reportée, elle reste en attente pour le prochain envoi. {problem}"
        case ev.InvoiceUncertain(invoice=invoice, problem=problem):
            return f"{_who(invoice)} : {problem}"
        case ev.RetryScheduled(problem=problem, attempt=attempt, delay=delay):
            return f"{explain(problem)} Nouvel essai dans {delay:.0f} s (essai {attempt + 1})."
        case ev.PacingWait(delay=delay):
            return f"Limite de messages par minute : pause de {delay:.0f} s."
        case ev.BatchStopped(problem=problem, remaining=remaining, kept=kept):
            text = f"Envoi arrêté. {explain(problem)} {remaining} facture(s) restent en attente."
            if kept:
                text += (" Le résultat de la facture en cours, gardé dans le journal d'envoi, sera enregistré "
                         "au prochain démarrage de tuiapp ; elle ne sera pas renvoyée.")
            return text
        case ev.BatchFinished():
            return summary(event)
    return str(event)


def summary(finished: ev.BatchFinished) -> str:
    parts = [f"{finished.sent} envoyée(s)"]
    for count, label in (
        (finished.partial, "envoi(s) partiel(s)"),
        (finished.failed, "échec(s)"),
        (finished.uncertain, "état(s) inconnu(s)"),
        (finished.skipped, "déjà prise(s) en charge ailleurs"),
        (finished.remaining, "en attente"),
    ):
        if count:
            parts.append(f"{count} {label}")
    prefix = ("Envoi annulé" if finished.cancelled
              else "Envoi interrompu" if finished.stopped or finished.interrupted else "Envoi terminé")
    return f"{prefix} : {', '.join(parts)}."
