"""Schema versions and the migrations between them.

The schema version is SQLite's ``user_version``. Version 1 is frozen as the
SQL it was created with, so that later changes to the models never alter what
"version 1" means; each later version is a function that changes the schema
with ``playhouse.migrate`` (and data with queries), run in one transaction.
A database written by an older tuiapp is upgraded when it is opened; one
written by a newer tuiapp is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Callable

from peewee import SQL, BooleanField, CharField, SqliteDatabase

from tuiapp.db.database import DatabaseOpenError

# playhouse.migrate (and the PostgreSQL modules it imports, 5 ms) is imported by the migrations
# that use it: opening a base already up to date, as every start does, never needs it.

# Version 1, exactly as first released. Never edit: add a migration instead.
_V1_SCHEMA = (
    'CREATE TABLE "metadata" ("key" VARCHAR(255) NOT NULL PRIMARY KEY, "value" TEXT NOT NULL);',
    'CREATE TABLE "association" ("id" INTEGER NOT NULL PRIMARY KEY CHECK (id = 1), "name" VARCHAR(255) NOT NULL, "address" TEXT NOT NULL, "smtp_host" VARCHAR(255) NOT NULL, "smtp_port" INTEGER NOT NULL CHECK (smtp_port BETWEEN 1 AND 65535), "smtp_security" VARCHAR(255) NOT NULL CHECK (smtp_security IN (\'starttls\', \'ssl\', \'none\')), "smtp_username" VARCHAR(255) NOT NULL, "smtp_auth_method" VARCHAR(255) NOT NULL CHECK (smtp_auth_method IN (\'password\', \'oauth2\')), "smtp_timeout" INTEGER NOT NULL CHECK (smtp_timeout > 0), "smtp_rate_per_minute" INTEGER NOT NULL CHECK (smtp_rate_per_minute >= 0), "smtp_ca_file" VARCHAR(255));',
    'CREATE TABLE "structure" ("id" INTEGER NOT NULL PRIMARY KEY, "code" VARCHAR(255) NOT NULL, "name" VARCHAR(255) NOT NULL, "address" TEXT NOT NULL, "sender_email" VARCHAR(255), "sender_name" VARCHAR(255) NOT NULL, "reply_to" VARCHAR(255), "bcc" VARCHAR(255), "subject_template" TEXT NOT NULL, "body_template" TEXT NOT NULL);',
    'CREATE UNIQUE INDEX "structure_code" ON "structure" ("code");',
    'CREATE TABLE "resident" ("id" INTEGER NOT NULL PRIMARY KEY, "structure_id" INTEGER NOT NULL, "last_name" VARCHAR(255) NOT NULL, "first_name" VARCHAR(255) NOT NULL, "email" VARCHAR(255), "guardian_name" VARCHAR(255) NOT NULL, "guardian_email" VARCHAR(255), "active" INTEGER NOT NULL, FOREIGN KEY ("structure_id") REFERENCES "structure" ("id") ON DELETE RESTRICT);',
    'CREATE INDEX "resident_structure_id_last_name_first_name" ON "resident" ("structure_id", "last_name", "first_name");',
    'CREATE TABLE "invoice" ("id" INTEGER NOT NULL PRIMARY KEY, "resident_id" INTEGER NOT NULL, "structure_id" INTEGER NOT NULL, "period_year" INTEGER NOT NULL CHECK (period_year BETWEEN 2000 AND 2100), "period_month" INTEGER NOT NULL CHECK (period_month BETWEEN 1 AND 12), "number" VARCHAR(255) NOT NULL, "issue_date" DATE NOT NULL, "amount_ht" INTEGER NOT NULL, "last_printed_at" TEXT, "last_mailed_at" TEXT, FOREIGN KEY ("resident_id") REFERENCES "resident" ("id") ON DELETE RESTRICT, FOREIGN KEY ("structure_id") REFERENCES "structure" ("id") ON DELETE RESTRICT);',
    'CREATE INDEX "invoice_structure_id" ON "invoice" ("structure_id");',
    'CREATE UNIQUE INDEX "invoice_number" ON "invoice" ("number");',
    'CREATE INDEX "invoice_period_year_period_month_structure_id" ON "invoice" ("period_year", "period_month", "structure_id");',
    'CREATE UNIQUE INDEX "invoice_resident_id_period_year_period_month" ON "invoice" ("resident_id", "period_year", "period_month");',
    'CREATE TABLE "invoice_line" ("id" INTEGER NOT NULL PRIMARY KEY, "invoice_id" INTEGER NOT NULL, "position" INTEGER NOT NULL, "label" VARCHAR(255) NOT NULL, "quantity" INTEGER NOT NULL, "unit_price" INTEGER NOT NULL, "amount" INTEGER NOT NULL, FOREIGN KEY ("invoice_id") REFERENCES "invoice" ("id") ON DELETE CASCADE);',
    'CREATE INDEX "invoice_line_invoice_id_position" ON "invoice_line" ("invoice_id", "position");',
    'CREATE TABLE "send_record" ("id" INTEGER NOT NULL PRIMARY KEY, "invoice_id" INTEGER NOT NULL, "recipients" TEXT NOT NULL, "status" VARCHAR(255) NOT NULL CHECK (status IN (\'queued\', \'sending\', \'sent\', \'partial\', \'failed\', \'unknown\')), "attempts" INTEGER NOT NULL, "last_reply" TEXT, "refused_recipients" TEXT, "message_id" VARCHAR(255), "operator" VARCHAR(255) NOT NULL, "created_at" TEXT NOT NULL, "started_at" TEXT, "finished_at" TEXT, "error" TEXT, FOREIGN KEY ("invoice_id") REFERENCES "invoice" ("id") ON DELETE RESTRICT);',
    'CREATE INDEX "send_record_invoice_id" ON "send_record" ("invoice_id");',
    'CREATE INDEX "send_record_status_invoice_id" ON "send_record" ("status", "invoice_id");',
    'CREATE UNIQUE INDEX "send_record_one_active_per_invoice" ON "send_record" ("invoice_id") WHERE status IN (\'queued\', \'sending\');',
)


def _to_v1(database: SqliteDatabase) -> None:
    for statement in _V1_SCHEMA:
        database.execute_sql(statement)


def _to_v2(database: SqliteDatabase) -> None:
    """AUTH without TLS becomes an explicit choice; send records know their batch and claimer."""
    from playhouse.migrate import SqliteMigrator
    from playhouse.migrate import migrate as apply_operations

    migrator = SqliteMigrator(database)
    apply_operations(
        migrator.add_column("association", "smtp_allow_insecure_auth", BooleanField(default=False)),
        migrator.add_column("send_record", "batch", CharField(null=True)),
        migrator.add_column("send_record", "claimed_by", CharField(null=True)),
    )


def _to_v3(database: SqliteDatabase) -> None:
    """The send slots and open connections of every process, for the limits per mail account."""
    for statement in (
        'CREATE TABLE "send_slot" ("id" INTEGER NOT NULL PRIMARY KEY, "account" VARCHAR(255) NOT NULL, '
        '"holder" VARCHAR(255) NOT NULL, "reserved_at" REAL NOT NULL, "sent_at" REAL);',
        'CREATE INDEX "send_slot_account_reserved_at" ON "send_slot" ("account", "reserved_at");',
        'CREATE TABLE "smtp_connection" ("id" INTEGER NOT NULL PRIMARY KEY, "account" VARCHAR(255) NOT NULL, '
        '"holder" VARCHAR(255) NOT NULL, "opened_at" REAL NOT NULL, "refreshed_at" REAL NOT NULL);',
        'CREATE INDEX "smtp_connection_account" ON "smtp_connection" ("account");',
    ):
        database.execute_sql(statement)


def _to_v4(database: SqliteDatabase) -> None:
    """The test messages operators ask the sender service for."""
    database.execute_sql(
        'CREATE TABLE "test_message" ("id" INTEGER NOT NULL PRIMARY KEY, "structure_id" INTEGER NOT NULL, '
        '"recipient" VARCHAR(255) NOT NULL, "requested_by" VARCHAR(255) NOT NULL, "status" VARCHAR(255) NOT NULL, '
        '"reply" TEXT, "error" TEXT, "created_at" TEXT NOT NULL, "finished_at" TEXT, '
        'FOREIGN KEY ("structure_id") REFERENCES "structure" ("id") ON DELETE CASCADE);')
    database.execute_sql('CREATE INDEX "test_message_structure_id" ON "test_message" ("structure_id");')


def _to_v5(database: SqliteDatabase) -> None:
    """OAuth 2.0: three authentication methods (the check is widened: the table is rebuilt), and
    the Entra tenant, application, certificate and identity provider of the association."""
    (sql,) = database.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'association'").fetchone()
    old_check = "CHECK (smtp_auth_method IN ('password', 'oauth2'))"
    if old_check not in sql:
        raise DatabaseOpenError("La table association n'a pas la forme attendue : mise à jour impossible.")
    new_check = "CHECK (smtp_auth_method IN ('password', 'oauth2-app', 'oauth2-device'))"
    rebuilt = sql.replace(old_check, new_check).replace('CREATE TABLE "association"', 'CREATE TABLE "association_v5"', 1)
    database.execute_sql("UPDATE association SET smtp_auth_method = 'oauth2-device' WHERE smtp_auth_method = 'oauth2'")
    database.execute_sql(rebuilt)
    database.execute_sql('INSERT INTO "association_v5" SELECT * FROM "association"')
    database.execute_sql('DROP TABLE "association"')
    database.execute_sql('ALTER TABLE "association_v5" RENAME TO "association"')
    from playhouse.migrate import SqliteMigrator
    from playhouse.migrate import migrate as apply_operations

    migrator = SqliteMigrator(database)
    apply_operations(
        # with a default in SQL too: a row written without them (by hand, by a script) stays valid
        migrator.add_column("association", "smtp_oauth_tenant", CharField(default="", constraints=[SQL("DEFAULT ''")])),
        migrator.add_column("association", "smtp_oauth_client_id",
                            CharField(default="", constraints=[SQL("DEFAULT ''")])),
        migrator.add_column("association", "smtp_oauth_certificate", CharField(null=True)),
        migrator.add_column("association", "smtp_oauth_authority",
                            CharField(default="", constraints=[SQL("DEFAULT ''")])),
    )


def _to_v6(database: SqliteDatabase) -> None:
    """Imports: the billing software's resident ID, credit notes (an *avoir* may share its period
    with an invoice: the unique index on resident and period goes), rectified invoices, the
    billing software's own PDFs, what each send carried, and the saved column mappings."""
    for statement in (
        'ALTER TABLE "resident" ADD COLUMN "external_id" VARCHAR(255)',
        'CREATE UNIQUE INDEX "resident_external_id" ON "resident" ("external_id")',
        'ALTER TABLE "invoice" ADD COLUMN "kind" VARCHAR(255) NOT NULL DEFAULT \'facture\' '
        "CHECK (kind IN ('facture', 'avoir'))",
        'ALTER TABLE "invoice" ADD COLUMN "rectified_at" TEXT',
        'DROP INDEX "invoice_resident_id_period_year_period_month"',
        'CREATE INDEX "invoice_resident_id_period_year_period_month" ON "invoice" '
        '("resident_id", "period_year", "period_month")',
        'ALTER TABLE "send_record" ADD COLUMN "amount_ht" INTEGER',
        'ALTER TABLE "send_record" ADD COLUMN "pdf_sha256" VARCHAR(255)',
        'CREATE TABLE "invoice_pdf" ("id" INTEGER NOT NULL PRIMARY KEY, "invoice_id" INTEGER NOT NULL, '
        '"sha256" VARCHAR(255) NOT NULL, "data" BLOB NOT NULL, "file_name" VARCHAR(255) NOT NULL, '
        '"imported_at" TEXT NOT NULL, '
        'FOREIGN KEY ("invoice_id") REFERENCES "invoice" ("id") ON DELETE CASCADE)',
        'CREATE UNIQUE INDEX "invoice_pdf_invoice_id" ON "invoice_pdf" ("invoice_id")',
        'CREATE TABLE "import_profile" ("id" INTEGER NOT NULL PRIMARY KEY, "name" VARCHAR(255) NOT NULL, '
        '"kind" VARCHAR(255) NOT NULL, "mapping" TEXT NOT NULL, "updated_at" TEXT NOT NULL)',
        'CREATE UNIQUE INDEX "import_profile_name_kind" ON "import_profile" ("name", "kind")',
    ):
        database.execute_sql(statement)


#: Version 7, the same columns on both engines: (table, column, SQLite type, PostgreSQL type), each
#: NOT NULL with a default in SQL too (a row written without them, by hand or a script, stays valid).
V7_COLUMNS = (
    ("association", "siret", "VARCHAR(255)", "''"),
    ("association", "phone", "VARCHAR(255)", "''"),
    ("association", "email", "VARCHAR(255)", "''"),
    ("association", "website", "VARCHAR(255)", "''"),
    ("association", "iban", "VARCHAR(255)", "''"),
    ("association", "bic", "VARCHAR(255)", "''"),
    ("association", "cheque_payee", "VARCHAR(255)", "''"),
    ("association", "payment_days", "INTEGER", "0 CHECK (payment_days BETWEEN 0 AND 90)"),
    ("structure", "finess", "VARCHAR(255)", "''"),
    ("structure", "vat_statement", "VARCHAR(255)", "''"),
    ("structure", "billing_contact", "TEXT", "''"),
    ("resident", "address", "TEXT", "''"),
    ("resident", "guardian_relation", "VARCHAR(255)", "''"),
    ("resident", "guardian_address", "TEXT", "''"),
    ("resident", "direct_debit", "BOOLEAN", "FALSE"),
)


def v7_statements(*, postgres: bool) -> list[str]:
    """The statements of version 7 on one engine (text columns ``COLLATE "C"`` on PostgreSQL)."""
    statements = []
    for table, column, kind, default in V7_COLUMNS:
        if kind == "BOOLEAN" and not postgres:
            kind, default = "INTEGER", "0"
        collate = ' COLLATE "C"' if postgres and kind in ("TEXT", "VARCHAR(255)") else ""
        statements.append(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {kind}{collate} NOT NULL DEFAULT {default}')
    return statements


def _to_v7(database: SqliteDatabase) -> None:
    """What an invoice a family understands needs: the association's identifiers, contact and payment
    details; the structures' FINESS, VAT statement and billing contact; the residents' and guardians'
    postal addresses, the guardian's relation, and payment by direct debit."""
    for statement in v7_statements(postgres=False):
        database.execute_sql(statement)


#: version -> the function that brings a database from version - 1 to it.
MIGRATIONS: dict[int, Callable[[SqliteDatabase], None]] = {
    1: _to_v1,
    2: _to_v2,
    3: _to_v3,
    4: _to_v4,
    5: _to_v5,
    6: _to_v6,
    7: _to_v7,
}
SCHEMA_VERSION = max(MIGRATIONS)


def schema_version(database: SqliteDatabase) -> int:
    return database.execute_sql("PRAGMA user_version").fetchone()[0]


def _has_tables(database: SqliteDatabase) -> bool:
    row = database.execute_sql("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    return row[0] > 0


def migrate(database: SqliteDatabase) -> int:
    """Bring the database to ``SCHEMA_VERSION``; returns the version it had.

    The version is read again inside an immediate (write-locked) transaction,
    so two processes opening a new file at once do not both migrate it.
    """
    found = schema_version(database)
    refuse_newer(found)
    if found == SCHEMA_VERSION:
        return found
    # A migration may rebuild a table that others reference; SQLite ignores
    # "PRAGMA foreign_keys" inside a transaction, so it is switched off around
    # it, and the references are checked before committing.
    database.execute_sql("PRAGMA foreign_keys = 0")
    try:
        with database.atomic("IMMEDIATE"):
            found = schema_version(database)
            refuse_newer(found)
            if found == 0 and _has_tables(database):
                raise DatabaseOpenError(
                    f"« {database.database} » est une base SQLite d'un autre logiciel : tuiapp ne l'ouvre pas."
                )
            for version in range(found + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[version](database)
                database.execute_sql(f"PRAGMA user_version = {int(version)}")
            if database.execute_sql("PRAGMA foreign_key_check").fetchone() is not None:
                raise DatabaseOpenError(
                    "La mise à jour de la base a échoué (références incohérentes) ; elle n'a pas été modifiée."
                )
    finally:
        database.execute_sql("PRAGMA foreign_keys = 1")
    return found


def refuse_newer(found: int) -> None:
    if found > SCHEMA_VERSION:
        raise DatabaseOpenError(
            f"Cette base a été écrite par une version plus récente de tuiapp (schéma {found}, "
            f"cette version connaît le schéma {SCHEMA_VERSION}). Mettez tuiapp à jour."
        )
