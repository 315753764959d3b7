"""The gallery's SQLite store: people, images, faces with boxes, and embeddings tagged with their model.

The store is the source of truth: the vector index is derived from it and can always be rebuilt.
Every write is one transaction (WAL journal), so a crash leaves either all or none of an image's faces.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lookalike.errors import CorruptFileError, IndexMismatchError
from lookalike.gallery.migrations import INDEXES, TABLES_V2, migrate_1_to_2, stored_version

SCHEMA_VERSION = 2  # 2: AUTOINCREMENT ids (never reused); stores of schema 1 are upgraded on open

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    + ";\n".join(ddl.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS") for ddl in TABLES_V2.values())
    + ";\n"
    + INDEXES
)


@dataclass(frozen=True)
class FaceRecord:
    """A stored face as the outside world sees it."""

    face_id: int
    person: str | None
    image: str
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class NewFace:
    """A face about to be stored."""

    box: tuple[int, int, int, int]
    score: float
    embedding: np.ndarray


@dataclass(frozen=True)
class Removal:
    """What a delete took away: faces, people left without a face, and photos no record uses any more."""

    face_ids: list[int]
    people: list[str]
    paths: list[str]


class Store:
    """SQLite-backed gallery records. One connection, guarded by a lock; safe across threads."""

    def __init__(self, path: str | Path, face_id_floor: int = 0) -> None:
        """Open (or create) the store; ``face_id_floor``: face ids up to it were handed out before
        (used only when a schema-1 store is upgraded, so that no such id is handed out again)."""
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            ok = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise sqlite3.DatabaseError(ok)
            if stored_version(self._db) == 1:
                migrate_1_to_2(self._db, {"faces": face_id_floor})
            self._db.executescript(_SCHEMA)  # idempotent (IF NOT EXISTS); runs in autocommit
            with self.transaction():
                self._db.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
                self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0')")
        except sqlite3.DatabaseError as exc:
            raise CorruptFileError(
                f"the gallery store {self.path} is damaged or not a lookalike store ({exc}); "
                "it was left untouched — restore it from a backup or build a new gallery"
            ) from exc
        version = int(self.get_meta("schema_version") or 0)
        if version != SCHEMA_VERSION:
            raise CorruptFileError(f"{self.path} has store schema {version}; this lookalike reads {SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; commits on success, rolls back on any exception."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # meta ------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        """Bumped by every change to the set of faces; the index records the generation it matches."""
        return int(self.get_meta("generation") or 0)

    def _bump(self, db: sqlite3.Connection) -> None:
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    # writes ----------------------------------------------------------------------------
    def check_embedder(self, name: str, dim: int) -> None:
        """Tie the store to one embedder; refuse vectors from another."""
        have = self.get_meta("embedder")
        if have is None:
            with self.transaction() as db:
                db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('embedder', ?)", (name,))
                db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('dim', ?)", (str(dim),))
        elif have != name:
            raise IndexMismatchError(
                f"this gallery holds embeddings of model {have!r}, not {name!r}; "
                "use the same embedder or build a new gallery"
            )

    def add_image(
        self,
        path: str,
        person: str | None,
        faces: Iterable[NewFace],
        embedder: str,
        sha256: str | None = None,
        size: tuple[int, int] | None = None,
        status: str = "ok",
        message: str | None = None,
        unique_content: bool = False,
    ) -> list[int]:
        """Record one image and its faces atomically; returns the new face ids (empty if already stored).

        ``unique_content``: also skip the image when a photo with the same SHA-256 is stored (under
        any path or person), decided inside the same transaction as the insert."""
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM images WHERE path = ?", (path,)).fetchone():
                return []
            if unique_content and sha256 and db.execute(
                "SELECT 1 FROM images WHERE sha256 = ? AND status = 'ok'", (sha256,)
            ).fetchone():
                return []
            pid = self._person_id(db, person) if person else None
            w, h = size if size else (None, None)
            cur = db.execute(
                "INSERT INTO images(path, person_id, sha256, width, height, status, message) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (path, pid, sha256, w, h, status, message),
            )
            image_id = cur.lastrowid
            ids = []
            for f in faces:
                emb = np.ascontiguousarray(f.embedding, dtype=np.float32)
                cur = db.execute(
                    "INSERT INTO faces(image_id, person_id, left, top, right, bottom, score, embedder, embedding) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (image_id, pid, *map(int, f.box), float(f.score), embedder, emb.tobytes()),
                )
                ids.append(int(cur.lastrowid))
            if ids:
                self._bump(db)
        return ids

    def remove_faces(self, face_ids: Iterable[int]) -> list[int]:
        """Delete faces by id; returns the ids that existed."""
        return self.delete_faces(face_ids).face_ids

    def delete_faces(self, face_ids: Iterable[int]) -> Removal:
        """Delete faces, then what only they used: their image once it has no face left, and their
        person once they have no face left (with the person's remaining image records)."""
        ids = [int(i) for i in face_ids]
        gone: list[int] = []
        images: set[int] = set()
        people: set[int] = set()
        with self.transaction() as db:
            for i in ids:
                row = db.execute("SELECT image_id, person_id FROM faces WHERE id = ?", (i,)).fetchone()
                if row is None:
                    continue
                db.execute("DELETE FROM faces WHERE id = ?", (i,))
                gone.append(i)
                images.add(int(row[0]))
                if row[1] is not None:
                    people.add(int(row[1]))
            paths: list[str] = []
            for image_id in images:
                if not db.execute("SELECT 1 FROM faces WHERE image_id = ?", (image_id,)).fetchone():
                    paths += [r[0] for r in db.execute("SELECT path FROM images WHERE id = ?", (image_id,))]
                    db.execute("DELETE FROM images WHERE id = ?", (image_id,))
            names: list[str] = []
            for pid in people:
                if not db.execute("SELECT 1 FROM faces WHERE person_id = ?", (pid,)).fetchone():
                    names += [r[0] for r in db.execute("SELECT name FROM people WHERE id = ?", (pid,))]
                    paths += [r[0] for r in db.execute("SELECT path FROM images WHERE person_id = ?", (pid,))]
                    db.execute("DELETE FROM images WHERE person_id = ?", (pid,))
                    db.execute("DELETE FROM people WHERE id = ?", (pid,))
            if gone:
                self._bump(db)
        return Removal(gone, sorted(names), paths)

    def remove_person(self, name: str) -> list[int]:
        """Delete every face and image of a person; returns the removed face ids."""
        return self.delete_person(name).face_ids

    def delete_person(self, name: str) -> Removal:
        """Delete a person with every face and image record of theirs."""
        with self.transaction() as db:
            row = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
            if not row:
                return Removal([], [], [])
            ids = [r[0] for r in db.execute("SELECT id FROM faces WHERE person_id = ?", (row[0],))]
            paths = [r[0] for r in db.execute("SELECT path FROM images WHERE person_id = ?", (row[0],))]
            db.execute("DELETE FROM faces WHERE person_id = ?", (row[0],))
            db.execute("DELETE FROM images WHERE person_id = ?", (row[0],))
            db.execute("DELETE FROM people WHERE id = ?", (row[0],))
            if ids:
                self._bump(db)
        return Removal(ids, [name], paths)

    @staticmethod
    def _person_id(db: sqlite3.Connection, name: str) -> int:
        db.execute("INSERT OR IGNORE INTO people(name) VALUES (?)", (name,))
        return int(db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()[0])

    # reads -----------------------------------------------------------------------------
    def query(self, sql: str, params: Iterable[object] = ()) -> list[tuple]:
        """Rows of one read-only SQL statement (for modules that keep their own tables here)."""
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def has_image(self, path: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM images WHERE path = ?", (path,)).fetchone() is not None

    def paths_with_sha256(self, sha256: str) -> set[str]:
        """Stored image paths whose file content has this SHA-256 (the same photo, wherever it lies)."""
        with self._lock:
            rows = self._db.execute("SELECT path FROM images WHERE sha256 = ?", (sha256,)).fetchall()
        return {r[0] for r in rows}

    def owner_of_content(self, sha256: str) -> tuple[str, str | None] | None:
        """``(path, person)`` of a stored photo with this SHA-256 and faces, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT i.path, p.name FROM images i LEFT JOIN people p ON p.id = i.person_id "
                "WHERE i.sha256 = ? AND i.status = 'ok' ORDER BY i.id LIMIT 1",
                (sha256,),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def image_paths(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT path FROM images")}

    def embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        """All ``(face_ids, embeddings)``, ordered by id."""
        dim = int(self.get_meta("dim") or 0)
        with self._lock:
            rows = self._db.execute("SELECT id, embedding FROM faces ORDER BY id").fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        if not rows:
            return ids, np.empty((0, dim), dtype=np.float32)
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        return ids, vecs.copy()

    def embeddings_of(self, face_ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """``(face_ids, embeddings)`` of the given faces that exist, ordered by id."""
        ids = sorted(int(i) for i in face_ids)
        rows: list[tuple[int, bytes]] = []
        with self._lock:
            for s in range(0, len(ids), 500):
                chunk = ids[s : s + 500]
                q = f"SELECT id, embedding FROM faces WHERE id IN ({','.join('?' * len(chunk))}) ORDER BY id"
                rows += self._db.execute(q, chunk).fetchall()
        out = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        if not rows:
            return out, np.empty((0, int(self.get_meta("dim") or 0)), dtype=np.float32)
        return out, np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1).copy()

    def face_ids(self) -> np.ndarray:
        with self._lock:
            rows = self._db.execute("SELECT id FROM faces ORDER BY id").fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def faces(self, face_ids: Iterable[int]) -> dict[int, FaceRecord]:
        """Records of the given faces (missing ids are absent from the result)."""
        ids = [int(i) for i in face_ids]
        out: dict[int, FaceRecord] = {}
        with self._lock:
            for s in range(0, len(ids), 500):
                chunk = ids[s : s + 500]
                q = (
                    "SELECT f.id, p.name, i.path, f.left, f.top, f.right, f.bottom FROM faces f "
                    "JOIN images i ON i.id = f.image_id LEFT JOIN people p ON p.id = f.person_id "
                    f"WHERE f.id IN ({','.join('?' * len(chunk))})"
                )
                for fid, name, path, left, top, right, bottom in self._db.execute(q, chunk):
                    out[fid] = FaceRecord(fid, name, path, (left, top, right, bottom))
        return out

    def people(self) -> list[tuple[str, int, int]]:
        """``(name, images, faces)`` per person, by name."""
        with self._lock:
            return self._db.execute(
                "SELECT p.name, (SELECT COUNT(*) FROM images i WHERE i.person_id = p.id), "
                "(SELECT COUNT(*) FROM faces f WHERE f.person_id = p.id) FROM people p ORDER BY p.name"
            ).fetchall()

    def counts(self) -> dict[str, int]:
        """Numbers of people, images (by status) and faces."""
        with self._lock:
            one = lambda q: int(self._db.execute(q).fetchone()[0])
            out = {
                "people": one("SELECT COUNT(*) FROM people"),
                "images": one("SELECT COUNT(*) FROM images"),
                "faces": one("SELECT COUNT(*) FROM faces"),
            }
            for status, n in self._db.execute("SELECT status, COUNT(*) FROM images GROUP BY status"):
                out[f"images_{status}"] = int(n)
        return out
