"""An existing version-6 PostgreSQL base, with its rows, brought to version 7 when the app opens it:
the rows kept, the new columns at their defaults. The server is ``tests/pg_cluster.py``'s."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import psycopg

from tuiapp.db.database import open_database, release
from tuiapp.db.migrations import SCHEMA_VERSION, V7_COLUMNS
from tuiapp.db.postgres_schema import _V6_SCHEMA, BASELINE, VERSION_TABLE
from tuiapp.domain.db_target import parse_target


def _make_v6_base(url: str) -> None:
    """The schema and rows a tuiapp of version 6 wrote, as the base's owner."""
    with psycopg.connect(url) as connection:
        for statement in _V6_SCHEMA:
            connection.execute(statement)  # type: ignore[arg-type]
        connection.execute(f'INSERT INTO "{VERSION_TABLE}" ("version") VALUES (6)')  # type: ignore[arg-type]
        connection.execute(
            'INSERT INTO "association" ("id", "name", "address", "smtp_host", "smtp_port", "smtp_security", '
            '"smtp_username", "smtp_auth_method", "smtp_timeout", "smtp_rate_per_minute") '
            "VALUES (1, 'Les Amis du Foyer', '3 rue des Lilas', 'smtp.example.org', 587, 'starttls', "
            "'fh@example.org', 'password', 30, 30)")
        connection.execute(
            'INSERT INTO "structure" ("code", "name", "address", "sender_email", "sender_name", '
            '"subject_template", "body_template") '
            "VALUES ('FH', 'Foyer Les Tilleuls', '', 'fh@example.org', 'Foyer', 'Facture', 'Bonjour')")
        connection.execute(
            'INSERT INTO "resident" ("structure_id", "last_name", "first_name", "email", "guardian_name", '
            "\"active\") VALUES (1, 'MAILLY', 'Josiane', 'j@example.org', '', TRUE)")
        connection.execute(
            'INSERT INTO "invoice" ("resident_id", "structure_id", "period_year", "period_month", "number", '
            "\"issue_date\", \"amount_ht\") VALUES (1, 1, 2024, 9, 'FH-2024-09-001', '2024-09-28', 123456)")


def test_a_version_6_base_with_rows_is_brought_to_version_7_and_keeps_them(pg_database):
    from tuiapp.db.models import Association, Invoice, Resident, Structure

    assert BASELINE == 6 and SCHEMA_VERSION == 7
    _make_v6_base(pg_database.url)
    open_database(parse_target(pg_database.url))
    try:
        from tuiapp.db.database import db

        assert db.execute_sql(f'SELECT "version" FROM "{VERSION_TABLE}"').fetchall() == [(7,)]
        association = Association.get_solo()
        assert (association.name, association.address, association.smtp_host) == (
            "Les Amis du Foyer", "3 rue des Lilas", "smtp.example.org")
        assert (association.siret, association.phone, association.email, association.website, association.iban,
                association.bic, association.cheque_payee, association.payment_days) == ("", "", "", "", "", "", "", 0)
        structure = Structure.get(Structure.code == "FH")
        assert (structure.name, structure.sender_email, structure.has_sender) == ("Foyer Les Tilleuls", "fh@example.org", True)
        assert (structure.finess, structure.vat_statement, structure.billing_contact) == ("", "", "")
        resident = Resident.get()
        assert (resident.last_name, resident.first_name, resident.email, resident.active) == (
            "MAILLY", "Josiane", "j@example.org", True)
        assert (resident.address, resident.guardian_relation, resident.guardian_address, resident.direct_debit) == (
            "", "", "", False)
        invoice = Invoice.get()
        assert (invoice.number, invoice.amount_ht, invoice.issue_date, invoice.resident_id, invoice.structure_id) == (
            "FH-2024-09-001", Decimal("1234.56"), date(2024, 9, 28), resident.id, structure.id)
        added = {(table, column) for table, column, _, _ in V7_COLUMNS}
        columns = set(db.execute_sql(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        ).fetchall())
        assert added <= columns
        # a row written after the migration gets the same defaults
        Structure.create(code="MAS", name="MAS Les Cèdres")
        assert Structure.get(Structure.code == "MAS").vat_statement == ""
    finally:
        release()
