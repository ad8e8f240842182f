"""Build a small database exactly as tuiapp's schema version 1 wrote it.

Plain SQL, without the models, so it stays version 1 whatever the models
become. ``python tests/data/build_v1_db.py out.db`` writes one by hand.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from tuiapp.db.migrations import _V1_SCHEMA

ROWS = [
    "INSERT INTO association VALUES (1, 'Les Papillons', '', 'smtp.office365.com', 587, 'starttls', "
    "'facturation@example.org', 'password', 30, 30, NULL)",
    "INSERT INTO structure VALUES (1, 'FH', 'Foyer Les Tilleuls', '', 'facturation@example.org', 'Foyer', "
    "NULL, NULL, 'Facture &periode', 'Vous trouverez ci-joint la facture de &personne pour la période de &periode')",
    "INSERT INTO resident VALUES (1, 1, 'MAILLY', 'Josiane', 'josiane.mailly@example.org', 'UDAF', "
    "'udaf@example.org', 1)",
    "INSERT INTO invoice VALUES (1, 1, 1, 2024, 9, 'FH-202409-001', '2024-09-30', 123456, NULL, "
    "'2024-10-03T09:30:00.000000+00:00')",
    "INSERT INTO invoice_line VALUES (1, 1, 1, 'Hébergement', 3000, 4115, 123450)",
    "INSERT INTO invoice_line VALUES (2, 1, 2, 'Arrondi', 100, 6, 6)",
    "INSERT INTO send_record VALUES (1, 1, 'josiane.mailly@example.org, udaf@example.org', 'sent', 1, "
    "'250 OK', NULL, '<1@example.org>', 'marie', '2024-10-03T09:29:58.000000+00:00', "
    "'2024-10-03T09:29:59.000000+00:00', '2024-10-03T09:30:00.000000+00:00', NULL)",
]


def build(path: Path) -> Path:
    with sqlite3.connect(path) as connection:
        for statement in (*_V1_SCHEMA, *ROWS):
            connection.execute(statement)
        connection.execute("PRAGMA user_version = 1")
    connection.close()
    return path


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))
