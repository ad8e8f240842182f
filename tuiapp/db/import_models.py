"""The tables of imports: the billing software's own PDFs, and the saved column mappings."""

from __future__ import annotations

from peewee import BlobField, CharField, ForeignKeyField, TextField

from tuiapp.db.database import BaseModel
from tuiapp.db.fields import UTCDateTimeField, utcnow
from tuiapp.db.models import Invoice


class InvoicePdf(BaseModel):
    """The billing software's own PDF of an invoice (``tuiapp import pdfs``): sent instead of a
    generated one. Its bytes live in the database, so one file holds everything an operator sends."""

    invoice = ForeignKeyField(Invoice, backref="imported_pdf", on_delete="CASCADE", unique=True)
    invoice_id: int  # Peewee's accessor for the key's value, told to mypy
    sha256 = CharField()
    data = BlobField()
    file_name = CharField()
    imported_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "invoice_pdf"


class ImportProfile(BaseModel):
    """A column mapping saved under a name for one kind of import (``--profile``): JSON of
    {column header: field}."""

    name = CharField()
    kind = CharField()  # residents, invoices, pdfs
    mapping = TextField()
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "import_profile"
        indexes = ((("name", "kind"), True),)


#: Every import table, parents first.
IMPORT_MODELS = [InvoicePdf, ImportProfile]
