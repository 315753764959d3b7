"""Clusters of a gallery's faces in its SQLite store: cluster id per face, a representative face and
an optional name per cluster, and an undo log of merges.

Tables (created on first use, beside the store's own):

* ``clusters(id, name, representative)`` — ``name`` is the person a user gave the cluster;
* ``face_clusters(face_id → faces.id ON DELETE CASCADE, cluster_id → clusters.id, scale)`` — ``scale``
  is the face's local scale (distance to its k-th neighbour), kept for adding faces later;
* ``cluster_log(id, action, payload JSON, undone)`` — what a merge moved, so it can be undone.

Every change is one transaction. Naming a cluster also sets the person of its faces in the store, so
a named cluster is a person of the gallery (searchable, listed with the people).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from lookalike.errors import LookalikeError
from lookalike.gallery.store import Store

_TABLES = (
    """CREATE TABLE IF NOT EXISTS clusters (
        id INTEGER PRIMARY KEY,
        name TEXT,
        representative INTEGER
    )""",
    """CREATE TABLE IF NOT EXISTS face_clusters (
        face_id INTEGER PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,
        cluster_id INTEGER NOT NULL REFERENCES clusters(id),
        scale REAL                      -- the face's local scale when it was clustered
    )""",
    "CREATE INDEX IF NOT EXISTS face_clusters_cluster ON face_clusters(cluster_id)",
    """CREATE TABLE IF NOT EXISTS cluster_log (
        id INTEGER PRIMARY KEY,
        action TEXT NOT NULL,
        payload TEXT NOT NULL,
        undone INTEGER NOT NULL DEFAULT 0
    )""",
)


class ClusterNotFoundError(LookalikeError):
    """A cluster id that the gallery does not have."""


@dataclass(frozen=True)
class ClusterInfo:
    """One cluster as listed: id, name (None until named), size, representative face, some face ids."""

    cluster_id: int
    name: str | None
    size: int
    representative: int | None
    faces: list[int]

    def as_dict(self) -> dict[str, object]:
        return {"id": self.cluster_id, "name": self.name, "size": self.size,
                "representative": self.representative, "faces": self.faces}


class ClusterStore:
    """The cluster tables of one gallery store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        with store.transaction() as db:
            for sql in _TABLES:
                db.execute(sql)

    # reads ---------------------------------------------------------------------------------
    def assignments(self) -> dict[int, int]:
        """``{face id: cluster id}`` of every clustered face."""
        return dict(self.store.query("SELECT face_id, cluster_id FROM face_clusters"))

    def scales(self) -> dict[int, float]:
        """``{face id: local scale}`` of every clustered face that has one."""
        return dict(self.store.query("SELECT face_id, scale FROM face_clusters WHERE scale IS NOT NULL"))

    def unclustered(self) -> np.ndarray:
        """Face ids of the store that no cluster holds yet."""
        rows = self.store.query(
            "SELECT id FROM faces WHERE id NOT IN (SELECT face_id FROM face_clusters) ORDER BY id")
        return np.array([r[0] for r in rows], dtype=np.int64)

    def names(self) -> dict[int, str]:
        return dict(self.store.query("SELECT id, name FROM clusters WHERE name IS NOT NULL"))

    def members(self, cluster_id: int) -> list[int]:
        self._check(cluster_id)
        return [r[0] for r in self.store.query(
            "SELECT face_id FROM face_clusters WHERE cluster_id = ? ORDER BY face_id", (cluster_id,))]

    def get(self, cluster_id: int, faces: int | None = None) -> ClusterInfo:
        self._check(cluster_id)
        name, rep = self.store.query("SELECT name, representative FROM clusters WHERE id = ?", (cluster_id,))[0]
        members = self.members(cluster_id)
        if rep not in members:
            rep = members[0] if members else None
        shown = members if faces is None else ([rep] if rep is not None else []) + [
            f for f in members if f != rep][: max(faces - 1, 0)]
        return ClusterInfo(cluster_id, name, len(members), rep, shown)

    def list(self, min_size: int = 1, limit: int | None = None, offset: int = 0,
             faces: int = 12) -> list[ClusterInfo]:
        """Clusters, named first, then by size (largest first)."""
        rows = self.store.query(
            "SELECT c.id, COUNT(fc.face_id) AS n FROM clusters c JOIN face_clusters fc ON fc.cluster_id = c.id "
            "GROUP BY c.id HAVING n >= ? ORDER BY (c.name IS NULL), n DESC, c.id LIMIT ? OFFSET ?",
            (min_size, -1 if limit is None else limit, offset))
        return [self.get(cid, faces) for cid, _ in rows]

    def counts(self) -> dict[str, int]:
        one = lambda q: int(self.store.query(q)[0][0])
        return {
            "clusters": one("SELECT COUNT(DISTINCT cluster_id) FROM face_clusters"),
            "named": one("SELECT COUNT(*) FROM clusters c WHERE name IS NOT NULL AND EXISTS "
                         "(SELECT 1 FROM face_clusters fc WHERE fc.cluster_id = c.id)"),
            "clustered_faces": one("SELECT COUNT(*) FROM face_clusters"),
        }

    def _check(self, cluster_id: int) -> None:
        if not self.store.query("SELECT 1 FROM clusters WHERE id = ?", (int(cluster_id),)):
            raise ClusterNotFoundError(f"no cluster {cluster_id} in this gallery")

    # writes --------------------------------------------------------------------------------
    def replace_all(self, groups: Sequence[Sequence[int]], representatives: Sequence[int],
                    names: Sequence[str | None], scales: dict[int, float], median_scale: float) -> list[int]:
        """Forget every cluster and the undo log; store these groups of face ids. Returns their ids."""
        with self.store.transaction() as db:
            db.execute("DELETE FROM face_clusters")
            db.execute("DELETE FROM clusters")
            db.execute("DELETE FROM cluster_log")
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('cluster_median_scale', ?)",
                       (repr(float(median_scale)),))
            ids = [self._insert(db, g, r, n) for g, r, n in zip(groups, representatives, names)]
            self._set_scales(db, scales)
            return ids

    def median_scale(self) -> float | None:
        v = self.store.get_meta("cluster_median_scale")
        return float(v) if v else None

    def add_groups(self, groups: Sequence[Sequence[int]], representatives: Sequence[int],
                   scales: dict[int, float]) -> list[int]:
        """New unnamed clusters of not yet clustered faces."""
        with self.store.transaction() as db:
            ids = [self._insert(db, g, r, None) for g, r in zip(groups, representatives)]
            self._set_scales(db, scales)
            return ids

    def assign(self, face_ids: Iterable[int], cluster_ids: Iterable[int], scales: dict[int, float]) -> None:
        """Put faces into existing clusters (faces take the cluster's name as their person)."""
        with self.store.transaction() as db:
            for f, c in zip(face_ids, cluster_ids):
                db.execute("INSERT OR REPLACE INTO face_clusters(face_id, cluster_id) VALUES (?, ?)", (int(f), int(c)))
                name = db.execute("SELECT name FROM clusters WHERE id = ?", (int(c),)).fetchone()[0]
                if name:
                    self._set_person(db, [int(f)], name)
            self._set_scales(db, scales)

    def set_representative(self, cluster_id: int, face_id: int) -> None:
        with self.store.transaction() as db:
            db.execute("UPDATE clusters SET representative = ? WHERE id = ?", (int(face_id), int(cluster_id)))

    def name(self, cluster_id: int, name: str | None) -> None:
        """Name a cluster (None: forget its name); its faces become that person of the gallery."""
        self._check(cluster_id)
        if name is not None and not name.strip():
            raise LookalikeError("a cluster name cannot be empty")
        with self.store.transaction() as db:
            db.execute("UPDATE clusters SET name = ? WHERE id = ?", (name.strip() if name else None, cluster_id))
            faces = [r[0] for r in db.execute("SELECT face_id FROM face_clusters WHERE cluster_id = ?", (cluster_id,))]
            self._set_person(db, faces, name.strip() if name else None, clear=True)

    def merge(self, cluster_ids: Sequence[int]) -> int:
        """Move every face of ``cluster_ids[1:]`` into ``cluster_ids[0]``; logged for :meth:`undo_merge`.

        The target keeps its name; if it has none it takes the first name among the others.
        """
        ids = list(dict.fromkeys(int(c) for c in cluster_ids))
        if len(ids) < 2:
            raise LookalikeError("name at least two different clusters to merge")
        for c in ids:
            self._check(c)
        target, sources = ids[0], ids[1:]
        with self.store.transaction() as db:
            tname, _trep = db.execute("SELECT name, representative FROM clusters WHERE id = ?", (target,)).fetchone()
            moved = []
            for s in sources:
                name, rep = db.execute("SELECT name, representative FROM clusters WHERE id = ?", (s,)).fetchone()
                faces = [r[0] for r in db.execute("SELECT face_id FROM face_clusters WHERE cluster_id = ?", (s,))]
                moved.append({"id": s, "name": name, "representative": rep, "faces": faces})
            new_name = tname or next((m["name"] for m in moved if m["name"]), None)
            persons = self._persons(db, ids)  # who each face was before, for undo
            payload = {"target": target, "target_name": tname, "sources": moved, "persons": persons}
            for m in moved:
                db.execute("UPDATE face_clusters SET cluster_id = ? WHERE cluster_id = ?", (target, m["id"]))
                db.execute("DELETE FROM clusters WHERE id = ?", (m["id"],))
            if new_name != tname:
                db.execute("UPDATE clusters SET name = ? WHERE id = ?", (new_name, target))
            if new_name:
                all_faces = [r[0] for r in db.execute("SELECT face_id FROM face_clusters WHERE cluster_id = ?",
                                                      (target,))]
                self._set_person(db, all_faces, new_name)
            db.execute("INSERT INTO cluster_log(action, payload) VALUES ('merge', ?)", (json.dumps(payload),))
        return target

    def undo_merge(self) -> dict[str, object]:
        """Undo the last merge not yet undone: its clusters come back with their faces and names."""
        with self.store.transaction() as db:
            row = db.execute("SELECT id, payload FROM cluster_log WHERE action = 'merge' AND undone = 0 "
                             "ORDER BY id DESC LIMIT 1").fetchone()
            if row is None:
                raise LookalikeError("there is no merge to undo")
            log_id, payload = row[0], json.loads(row[1])
            target = payload["target"]
            restored = []
            for m in payload["sources"]:
                db.execute("INSERT INTO clusters(id, name, representative) VALUES (?, ?, ?)",
                           (m["id"], m["name"], m["representative"]))
                for f in m["faces"]:  # faces removed since the merge stay removed
                    db.execute("UPDATE face_clusters SET cluster_id = ? WHERE face_id = ? AND cluster_id = ?",
                               (m["id"], f, target))
                restored.append(m["id"])
            db.execute("UPDATE clusters SET name = ? WHERE id = ?", (payload["target_name"], target))
            for face, person in payload["persons"].items():
                self._set_person(db, [int(face)], person, clear=True)
            db.execute("UPDATE cluster_log SET undone = 1 WHERE id = ?", (log_id,))
        return {"target": target, "restored": restored}

    def split(self, face_ids: Sequence[int]) -> int:
        """Move these faces (all of one cluster) into a new unnamed cluster; they lose the cluster's name."""
        ids = [int(f) for f in dict.fromkeys(face_ids)]
        if not ids:
            raise LookalikeError("name the faces to split off")
        have = dict(self.store.query(
            f"SELECT face_id, cluster_id FROM face_clusters WHERE face_id IN ({','.join('?' * len(ids))})", ids))
        missing = [f for f in ids if f not in have]
        if missing:
            raise LookalikeError(f"faces not in any cluster: {missing[:10]}")
        if len(set(have.values())) != 1:
            raise LookalikeError("faces to split off must come from one cluster")
        source = next(iter(have.values()))
        with self.store.transaction() as db:
            named = db.execute("SELECT name FROM clusters WHERE id = ?", (source,)).fetchone()[0] is not None
            new = self._insert(db, [], ids[0], None)
            for f in ids:
                db.execute("UPDATE face_clusters SET cluster_id = ? WHERE face_id = ?", (new, f))
            self._set_person(db, ids, None, clear=named)
        return new

    # helpers -------------------------------------------------------------------------------
    @staticmethod
    def _insert(db: object, faces: Sequence[int], representative: int, name: str | None) -> int:
        cur = db.execute("INSERT INTO clusters(name, representative) VALUES (?, ?)",  # type: ignore[attr-defined]
                         (name, int(representative)))
        cid = int(cur.lastrowid)
        db.executemany("INSERT OR REPLACE INTO face_clusters(face_id, cluster_id) VALUES (?, ?)",  # type: ignore[attr-defined]
                       [(int(f), cid) for f in faces])
        if name:
            ClusterStore._set_person(db, faces, name)
        return cid

    @staticmethod
    def _persons(db: object, cluster_ids: Sequence[int]) -> dict[str, str | None]:
        rows = db.execute(  # type: ignore[attr-defined]
            "SELECT fc.face_id, p.name FROM face_clusters fc JOIN faces f ON f.id = fc.face_id "
            f"LEFT JOIN people p ON p.id = f.person_id WHERE fc.cluster_id IN ({','.join('?' * len(cluster_ids))})",
            list(cluster_ids)).fetchall()
        return {str(f): name for f, name in rows}

    @staticmethod
    def _set_scales(db: object, scales: dict[int, float]) -> None:
        db.executemany("UPDATE face_clusters SET scale = ? WHERE face_id = ?",  # type: ignore[attr-defined]
                       [(float(s), int(f)) for f, s in scales.items()])

    @staticmethod
    def _set_person(db: object, faces: Sequence[int], name: str | None, clear: bool = False) -> None:
        """Faces become person ``name``; ``name=None`` forgets their person only when ``clear``."""
        if name is None and not clear:
            return
        pid = None
        if name:
            db.execute("INSERT OR IGNORE INTO people(name) VALUES (?)", (name,))  # type: ignore[attr-defined]
            pid = db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()[0]  # type: ignore[attr-defined]
        db.executemany("UPDATE faces SET person_id = ? WHERE id = ?",  # type: ignore[attr-defined]
                       [(pid, int(f)) for f in faces])
