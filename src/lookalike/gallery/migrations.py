"""Upgrades of the gallery store's SQLite schema, run once when an older store is opened.

Schema 2 (this version) gives ``people``, ``images`` and ``faces`` ``AUTOINCREMENT`` ids: an id is
never handed out twice, even after the row with the highest id was deleted, so a face id a client
holds (or a browser cached a thumbnail for) can never come to mean another face.
"""

from __future__ import annotations

import sqlite3

#: the tables whose ids must never be reused, with their schema-2 definitions
TABLES_V2 = {
    "people": """CREATE TABLE people (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE
)""",
    "images": """CREATE TABLE images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,          -- where the photo was read from (the resume key)
    person_id INTEGER REFERENCES people(id),
    sha256 TEXT,
    width INTEGER, height INTEGER,
    status TEXT NOT NULL,               -- ok | noface | error
    message TEXT
)""",
    "faces": """CREATE TABLE faces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,   -- the id used in the vector index; never reused
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    person_id INTEGER REFERENCES people(id),
    left INTEGER NOT NULL, top INTEGER NOT NULL, right INTEGER NOT NULL, bottom INTEGER NOT NULL,
    score REAL,
    embedder TEXT NOT NULL,
    embedding BLOB NOT NULL
)""",
}

INDEXES = """
CREATE INDEX IF NOT EXISTS faces_image ON faces(image_id);
CREATE INDEX IF NOT EXISTS faces_person ON faces(person_id);
CREATE INDEX IF NOT EXISTS images_person ON images(person_id);
CREATE INDEX IF NOT EXISTS images_sha256 ON images(sha256);
"""


def stored_version(db: sqlite3.Connection) -> int | None:
    """The schema version recorded in the store, or None for a new (empty) file."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone():
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def migrate_1_to_2(db: sqlite3.Connection, id_floor: dict[str, int] | None = None) -> None:
    """Rebuild the three tables with AUTOINCREMENT ids, keeping every row and id (one transaction).

    ``id_floor`` (table → id): ids at or below it are never handed out again, for ids that were in
    use once but are gone from the table (e.g. the highest face id held by the saved vector index).
    SQLite's documented table-rebuild procedure: foreign keys off, copy, drop, rename, check.
    """
    db.execute("PRAGMA foreign_keys=OFF")
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            for table, ddl in TABLES_V2.items():
                db.execute(ddl.replace(f"CREATE TABLE {table} (", f"CREATE TABLE {table}_v2 ("))
                db.execute(f"INSERT INTO {table}_v2 SELECT * FROM {table}")
                db.execute(f"DROP TABLE {table}")
                db.execute(f"ALTER TABLE {table}_v2 RENAME TO {table}")
            for stmt in filter(None, (s.strip() for s in INDEXES.split(";"))):
                db.execute(stmt)
            for table, floor in (id_floor or {}).items():
                _raise_sequence(db, table, floor)
            bad = db.execute("PRAGMA foreign_key_check").fetchall()
            if bad:
                raise sqlite3.DatabaseError(f"foreign key check failed after the upgrade: {bad[:3]}")
            db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    finally:
        db.execute("PRAGMA foreign_keys=ON")


def _raise_sequence(db: sqlite3.Connection, table: str, floor: int) -> None:
    """Make the next AUTOINCREMENT id of ``table`` larger than ``floor``."""
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    if row is None:
        db.execute("INSERT INTO sqlite_sequence(name, seq) VALUES (?, ?)", (table, int(floor)))
    elif int(row[0]) < floor:
        db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (int(floor), table))
