"""One well-formed e-mail per invoice, built with the standard ``email`` package."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid

from tuiapp.domain.documents import InvoiceDocument, has_sender
from tuiapp.domain.errors import TuiappError
from tuiapp.domain.templates import render
from tuiapp.domain.validation import distinct_addresses

_LINE_BREAK = re.compile(r"[\r\n]")
# The email package folds a long all-ASCII header as "Subject:\r\n Votre ...",
# which readers then show with a leading space. Messages are built with the
# SMTP policy (base64 and quoted-printable lines of 76) and written out with
# headers allowed up to RFC 5322's 998 characters.
_WIRE_POLICY = SMTP.clone(max_line_length=998)


class CompositionError(TuiappError):
    """The invoice's message cannot be built (missing sender, bad header, ...)."""


def _header(value: str, what: str) -> str:
    if _LINE_BREAK.search(value):
        raise CompositionError(f"{what} : retour à la ligne interdit dans un en-tête de mail.")
    return value


def _sender(name: str, address: str, code: str) -> str:
    """``Name <address>``; an address that is not ASCII (written around validation) is refused."""
    try:
        return _header(formataddr((name, address)), "Expéditeur")
    except UnicodeError:
        raise CompositionError(
            f"La structure {code} a une adresse d'expéditeur invalide : « {address} » (onglet Mail de la structure)."
        ) from None


def message_id_for(sender: str) -> str:
    """A new Message-ID on the sender's domain."""
    return make_msgid(domain=sender.rpartition("@")[2])


def compose(
    doc: InvoiceDocument,
    pdf: bytes,
    pdf_name: str,
    *,
    message_id: str | None = None,
    date=None,
) -> EmailMessage:
    """The message for one invoice: From the structure, To the resident's addresses."""
    if not has_sender(doc.sender_email):
        raise CompositionError(
            f"La structure {doc.structure_code} n'a pas d'adresse d'expéditeur (onglet Mail de la structure)."
        )
    if not doc.recipients:
        raise CompositionError(f"{doc.resident_name} n'a aucune adresse e-mail.")
    values = doc.keyword_values
    subject = render(doc.subject_template, values).strip()
    body = render(doc.body_template, values)
    message = EmailMessage(policy=SMTP)
    message["From"] = _sender(doc.sender_name, doc.sender_email, doc.structure_code)
    message["To"] = ", ".join(_header(address, "Destinataire") for address in doc.recipients)
    if doc.reply_to:
        message["Reply-To"] = _header(doc.reply_to, "Adresse de réponse")
    message["Subject"] = _header(subject, "Objet")
    message["Date"] = format_datetime(date) if date else format_datetime(_now())
    message["Message-ID"] = _header(message_id or message_id_for(doc.sender_email), "Message-ID")
    message.set_content(body if body.endswith("\n") else body + "\n")
    # The file name goes out RFC 2231-encoded (filename*=utf-8''...), so accents survive.
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=_header(pdf_name, "Pièce jointe"))
    return message


def compose_test(structure, to: str) -> EmailMessage:
    """A short message from a structure's sender, to check the settings end to end."""
    if not has_sender(structure.sender_email):
        raise CompositionError(f"La structure {structure.code} n'a pas d'adresse d'expéditeur.")
    message = EmailMessage(policy=SMTP)
    message["From"] = _sender(structure.sender_name, structure.sender_email, structure.code)
    message["To"] = _header(to, "Destinataire")
    message["Subject"] = f"Message d'essai de tuiapp - {_header(structure.name, 'Structure')}"
    message["Date"] = format_datetime(_now())
    message["Message-ID"] = message_id_for(structure.sender_email)
    message.set_content(
        "Ce message vérifie les réglages d'envoi des factures de contribution.\n"
        f"Expéditeur : {structure.sender_name} <{structure.sender_email}>\n"
    )
    return message


def message_bytes(message: EmailMessage) -> bytes:
    """The message as it goes on the wire."""
    return message.as_bytes(policy=_WIRE_POLICY)


def invoice_message_bytes(
    doc: InvoiceDocument,
    pdf: bytes,
    pdf_name: str,
    *,
    message_id: str | None = None,
    date=None,
) -> bytes:
    """The invoice's message, PDF attached, as it goes on the wire."""
    return message_bytes(compose(doc, pdf, pdf_name, message_id=message_id, date=date))


def envelope_recipients(doc: InvoiceDocument) -> list[str]:
    """Who the server is asked to deliver to: the addresses, plus the Bcc copy (once)."""
    return distinct_addresses(*doc.recipients, doc.bcc)


def _now():
    from datetime import datetime

    return datetime.now().astimezone()
