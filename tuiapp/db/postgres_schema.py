"""The schema on PostgreSQL: created at version 6, then the same migrations as SQLite.

A PostgreSQL database starts at ``BASELINE``, the schema SQLite reaches through migrations 1 to
6, written here once in PostgreSQL's words and frozen like SQLite's version 1: never edit it.
A later version adds its step to ``MIGRATIONS`` here as well as to ``tuiapp.db.migrations``
(a test checks that both reach ``SCHEMA_VERSION``). The version is the one row of the
``schema_version`` table, which no model maps (SQLite keeps its in ``user_version``).

Differences with SQLite, each for the same behaviour:
- ids are ``SERIAL``; booleans ``BOOLEAN``; PDFs ``BYTEA``; instants in seconds ``DOUBLE PRECISION``
  (PostgreSQL's ``REAL`` keeps 6 digits: not enough for a time in seconds);
- every text column is ``COLLATE "C"``: ordered by code point, as SQLite orders, whatever the
  server's locale (a ``fr_FR`` database would sort otherwise, and differently on another server);
- ``fold(text)``: the function by which names are sorted and searched (``tuiapp.db.database.fold``
  in Python on SQLite): accents, case and compatibility forms removed. For letters with no
  decomposition only Œ Æ Ø Ł Đ Þ (and ß, ẞ to ss) are lowered beyond ASCII, which French names
  need; Python's ``casefold`` goes further (Greek, Cyrillic), and drops the combining marks of
  other scripts too: Python's ``fold`` is the reference, this one agrees with it on Latin names.
"""

from __future__ import annotations

from collections.abc import Callable

from peewee import Database

from tuiapp.db.database import WRITER_LOCK, DatabaseOpenError

BASELINE = 6
VERSION_TABLE = "schema_version"

_C = 'COLLATE "C"'
_V6_SCHEMA = (
    f'CREATE TABLE "{VERSION_TABLE}" ("version" INTEGER NOT NULL)',
    f'CREATE TABLE "metadata" ("key" VARCHAR(255) {_C} NOT NULL PRIMARY KEY, "value" TEXT {_C} NOT NULL)',
    f'CREATE TABLE "association" ("id" INTEGER NOT NULL PRIMARY KEY CHECK (id = 1), '
    f'"name" VARCHAR(255) {_C} NOT NULL, "address" TEXT {_C} NOT NULL, "smtp_host" VARCHAR(255) {_C} NOT NULL, '
    '"smtp_port" INTEGER NOT NULL CHECK (smtp_port BETWEEN 1 AND 65535), '
    f'"smtp_security" VARCHAR(255) {_C} NOT NULL CHECK (smtp_security IN (\'starttls\', \'ssl\', \'none\')), '
    f'"smtp_username" VARCHAR(255) {_C} NOT NULL, '
    f'"smtp_auth_method" VARCHAR(255) {_C} NOT NULL '
    "CHECK (smtp_auth_method IN ('password', 'oauth2-app', 'oauth2-device')), "
    '"smtp_timeout" INTEGER NOT NULL CHECK (smtp_timeout > 0), '
    '"smtp_rate_per_minute" INTEGER NOT NULL CHECK (smtp_rate_per_minute >= 0), '
    f'"smtp_ca_file" VARCHAR(255) {_C}, "smtp_allow_insecure_auth" BOOLEAN NOT NULL DEFAULT FALSE, '
    f'"smtp_oauth_tenant" VARCHAR(255) {_C} NOT NULL DEFAULT \'\', '
    f'"smtp_oauth_client_id" VARCHAR(255) {_C} NOT NULL DEFAULT \'\', "smtp_oauth_certificate" VARCHAR(255) {_C}, '
    f'"smtp_oauth_authority" VARCHAR(255) {_C} NOT NULL DEFAULT \'\')',
    f'CREATE TABLE "structure" ("id" SERIAL NOT NULL PRIMARY KEY, "code" VARCHAR(255) {_C} NOT NULL, '
    f'"name" VARCHAR(255) {_C} NOT NULL, "address" TEXT {_C} NOT NULL, "sender_email" VARCHAR(255) {_C}, '
    f'"sender_name" VARCHAR(255) {_C} NOT NULL, "reply_to" VARCHAR(255) {_C}, "bcc" VARCHAR(255) {_C}, '
    f'"subject_template" TEXT {_C} NOT NULL, "body_template" TEXT {_C} NOT NULL)',
    'CREATE UNIQUE INDEX "structure_code" ON "structure" ("code")',
    f'CREATE TABLE "resident" ("id" SERIAL NOT NULL PRIMARY KEY, "structure_id" INTEGER NOT NULL, '
    f'"last_name" VARCHAR(255) {_C} NOT NULL, "first_name" VARCHAR(255) {_C} NOT NULL, '
    f'"email" VARCHAR(255) {_C}, "guardian_name" VARCHAR(255) {_C} NOT NULL, "guardian_email" VARCHAR(255) {_C}, '
    f'"active" BOOLEAN NOT NULL, "external_id" VARCHAR(255) {_C}, '
    'FOREIGN KEY ("structure_id") REFERENCES "structure" ("id") ON DELETE RESTRICT)',
    'CREATE UNIQUE INDEX "resident_external_id" ON "resident" ("external_id")',
    'CREATE INDEX "resident_structure_id_last_name_first_name" ON "resident" ("structure_id", "last_name", "first_name")',
    'CREATE TABLE "invoice" ("id" SERIAL NOT NULL PRIMARY KEY, "resident_id" INTEGER NOT NULL, '
    '"structure_id" INTEGER NOT NULL, "period_year" INTEGER NOT NULL CHECK (period_year BETWEEN 2000 AND 2100), '
    f'"period_month" INTEGER NOT NULL CHECK (period_month BETWEEN 1 AND 12), "number" VARCHAR(255) {_C} NOT NULL, '
    f'"issue_date" DATE NOT NULL, "amount_ht" INTEGER NOT NULL, "last_printed_at" TEXT {_C}, '
    f'"last_mailed_at" TEXT {_C}, "kind" VARCHAR(255) {_C} NOT NULL DEFAULT \'facture\' '
    f"CHECK (kind IN ('facture', 'avoir')), \"rectified_at\" TEXT {_C}, "
    'FOREIGN KEY ("resident_id") REFERENCES "resident" ("id") ON DELETE RESTRICT, '
    'FOREIGN KEY ("structure_id") REFERENCES "structure" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "invoice_structure_id" ON "invoice" ("structure_id")',
    'CREATE UNIQUE INDEX "invoice_number" ON "invoice" ("number")',
    'CREATE INDEX "invoice_period_year_period_month_structure_id" ON "invoice" ("period_year", "period_month", "structure_id")',
    'CREATE INDEX "invoice_resident_id_period_year_period_month" ON "invoice" ("resident_id", "period_year", "period_month")',
    'CREATE TABLE "invoice_line" ("id" SERIAL NOT NULL PRIMARY KEY, "invoice_id" INTEGER NOT NULL, '
    f'"position" INTEGER NOT NULL, "label" VARCHAR(255) {_C} NOT NULL, "quantity" INTEGER NOT NULL, '
    '"unit_price" INTEGER NOT NULL, "amount" INTEGER NOT NULL, '
    'FOREIGN KEY ("invoice_id") REFERENCES "invoice" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "invoice_line_invoice_id_position" ON "invoice_line" ("invoice_id", "position")',
    f'CREATE TABLE "send_record" ("id" SERIAL NOT NULL PRIMARY KEY, "invoice_id" INTEGER NOT NULL, '
    f'"recipients" TEXT {_C} NOT NULL, "status" VARCHAR(255) {_C} NOT NULL '
    "CHECK (status IN ('queued', 'sending', 'sent', 'partial', 'failed', 'unknown')), "
    f'"attempts" INTEGER NOT NULL, "last_reply" TEXT {_C}, "refused_recipients" TEXT {_C}, '
    f'"message_id" VARCHAR(255) {_C}, "operator" VARCHAR(255) {_C} NOT NULL, "created_at" TEXT {_C} NOT NULL, '
    f'"started_at" TEXT {_C}, "finished_at" TEXT {_C}, "error" TEXT {_C}, "batch" VARCHAR(255) {_C}, '
    f'"claimed_by" VARCHAR(255) {_C}, "amount_ht" INTEGER, "pdf_sha256" VARCHAR(255) {_C}, '
    'FOREIGN KEY ("invoice_id") REFERENCES "invoice" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "send_record_invoice_id" ON "send_record" ("invoice_id")',
    'CREATE INDEX "send_record_status_invoice_id" ON "send_record" ("status", "invoice_id")',
    'CREATE UNIQUE INDEX "send_record_one_active_per_invoice" ON "send_record" ("invoice_id") '
    "WHERE status IN ('queued', 'sending')",
    'CREATE TABLE "invoice_pdf" ("id" SERIAL NOT NULL PRIMARY KEY, "invoice_id" INTEGER NOT NULL, '
    f'"sha256" VARCHAR(255) {_C} NOT NULL, "data" BYTEA NOT NULL, "file_name" VARCHAR(255) {_C} NOT NULL, '
    f'"imported_at" TEXT {_C} NOT NULL, '
    'FOREIGN KEY ("invoice_id") REFERENCES "invoice" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "invoice_pdf_invoice_id" ON "invoice_pdf" ("invoice_id")',
    f'CREATE TABLE "import_profile" ("id" SERIAL NOT NULL PRIMARY KEY, "name" VARCHAR(255) {_C} NOT NULL, '
    f'"kind" VARCHAR(255) {_C} NOT NULL, "mapping" TEXT {_C} NOT NULL, "updated_at" TEXT {_C} NOT NULL)',
    'CREATE UNIQUE INDEX "import_profile_name_kind" ON "import_profile" ("name", "kind")',
    f'CREATE TABLE "send_slot" ("id" SERIAL NOT NULL PRIMARY KEY, "account" VARCHAR(255) {_C} NOT NULL, '
    f'"holder" VARCHAR(255) {_C} NOT NULL, "reserved_at" DOUBLE PRECISION NOT NULL, "sent_at" DOUBLE PRECISION)',
    'CREATE INDEX "send_slot_account_reserved_at" ON "send_slot" ("account", "reserved_at")',
    f'CREATE TABLE "smtp_connection" ("id" SERIAL NOT NULL PRIMARY KEY, "account" VARCHAR(255) {_C} NOT NULL, '
    f'"holder" VARCHAR(255) {_C} NOT NULL, "opened_at" DOUBLE PRECISION NOT NULL, '
    '"refreshed_at" DOUBLE PRECISION NOT NULL)',
    'CREATE INDEX "smtp_connection_account" ON "smtp_connection" ("account")',
    f'CREATE TABLE "test_message" ("id" SERIAL NOT NULL PRIMARY KEY, "structure_id" INTEGER NOT NULL, '
    f'"recipient" VARCHAR(255) {_C} NOT NULL, "requested_by" VARCHAR(255) {_C} NOT NULL, '
    f'"status" VARCHAR(255) {_C} NOT NULL, "reply" TEXT {_C}, "error" TEXT {_C}, "created_at" TEXT {_C} NOT NULL, '
    f'"finished_at" TEXT {_C}, FOREIGN KEY ("structure_id") REFERENCES "structure" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "test_message_structure_id" ON "test_message" ("structure_id")',
    # lower() only after the accents are gone: under COLLATE "C" it lowers ASCII alone.
    'CREATE FUNCTION "fold"(value TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ '
    "SELECT replace(replace(translate(lower(regexp_replace(normalize(coalesce(value, ''), NFKD), "
    "'[\\u0300-\\u034e\\u0350-\\u036f]', '', 'g')), 'ŒÆØŁĐÞ', 'œæøłđþ'), 'ß', 'ss'), 'ẞ', 'ss') $$",
)

def _to_v7(database: Database) -> None:
    """The same columns as SQLite's version 7 (``tuiapp.db.migrations.V7_COLUMNS``)."""
    from tuiapp.db.migrations import v7_statements

    for statement in v7_statements(postgres=True):
        database.execute_sql(statement)


#: version -> the step from version - 1 to it, on PostgreSQL (versions after ``BASELINE``).
MIGRATIONS: dict[int, Callable[[Database], None]] = {7: _to_v7}


def migrate_postgres(database: Database, schema_version: int) -> int:
    """Bring the database to ``schema_version`` (``tuiapp.db.migrations.SCHEMA_VERSION``); returns
    the version it had (0: it was empty). A change is made in one transaction, under the writers'
    lock: two processes opening a new database at once do not both create it."""
    from tuiapp.db.migrations import refuse_newer

    (encoding,) = database.execute_sql("SHOW server_encoding").fetchone()
    if encoding.upper() not in ("UTF8", "UTF-8"):
        raise DatabaseOpenError(f"La base « {database.database} » est en {encoding}, pas en UTF-8 : les noms "
                                "accentués n'y tiendraient pas. Demandez à son administrateur de la créer avec "
                                "ENCODING 'UTF8'.")
    # A base already up to date opens without the writers' lock: a writer (an import) holds it for
    # seconds, and opening a SQLite file waits for no writer either.
    tables = _tables(database)
    if tables:
        found = _version(database, tables)
        refuse_newer(found)
        if found == schema_version:
            return found
    with database.atomic():
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
        tables = _tables(database)
        if not tables:
            for statement in _V6_SCHEMA:
                database.execute_sql(statement)
            database.execute_sql(f'INSERT INTO "{VERSION_TABLE}" ("version") VALUES (%s)', (BASELINE,))
            found = 0
        else:
            found = _version(database, tables)
            refuse_newer(found)
        for version in range(max(found, BASELINE) + 1, schema_version + 1):
            MIGRATIONS[version](database)
        if max(found, BASELINE) < schema_version:
            database.execute_sql(f'UPDATE "{VERSION_TABLE}" SET "version" = %s', (schema_version,))
    return found


def _tables(database: Database) -> set[str]:
    return {row[0] for row in database.execute_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}


def _version(database: Database, tables: set[str]) -> int:
    rows = []
    if VERSION_TABLE in tables:
        rows = database.execute_sql(f'SELECT "version" FROM "{VERSION_TABLE}"').fetchall()
    if len(rows) != 1 or rows[0][0] is None:
        raise DatabaseOpenError(f"« {database.database} » contient déjà les tables d'un autre logiciel : "
                                "tuiapp ne l'utilise pas. Donnez-lui une base vide.")
    return int(rows[0][0])
