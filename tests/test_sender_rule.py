"""A structure without a sender cannot mail its invoices: one definition (``documents.has_sender``),
which the model (in Python and as a query condition), the forms' warning, the plan of a send and
the composition of a message all follow."""

from __future__ import annotations

import pytest

from tuiapp.db.models import Structure
from tuiapp.domain.documents import has_sender
from tuiapp.mail.compose import CompositionError, compose_test
from tuiapp.sending import workflow
from tuiapp.services import forms


@pytest.mark.parametrize(("sender", "expected"), [(None, False), ("", False), ("facturation@example.org", True)])
def test_one_rule_for_the_sender(database, make_resident, make_invoice, sender, expected):
    structure = Structure.create(code="FAM", name="FAM La Roseraie")
    Structure.update(sender_email=sender).where(Structure.id == structure.id).execute()  # "" too, as an old base has it
    structure = Structure.get_by_id(structure.id)
    assert structure.sender_email == sender
    assert has_sender(sender) is expected
    assert structure.has_sender is expected
    assert [found.id for found in Structure.select().where(Structure.without_sender())] == ([] if expected else [structure.id])
    assert (forms.sender_warning(structure) is None) is expected
    invoice = make_invoice(make_resident(structure=structure, email="r@example.org"))
    assert workflow._without_sender([invoice.id]) == ({} if expected else {invoice.id: str(structure)})
    if expected:
        assert compose_test(structure, "essai@example.org")["From"].addresses[0].addr_spec == sender
    else:
        with pytest.raises(CompositionError, match="n'a pas d'adresse d'expéditeur"):
            compose_test(structure, "essai@example.org")
