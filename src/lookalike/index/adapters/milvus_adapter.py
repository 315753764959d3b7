"""Milvus behind the :class:`~lookalike.index.Index` protocol: Milvus Lite (a local folder) or a server.

One client API (pymilvus ``MilvusClient``) for both:

- ``uri=None``: an embedded Milvus Lite in a fresh temporary folder (benchmarks, protocol tests);
  in a gallery, ``milvus.db`` inside the gallery folder (see :meth:`MilvusIndex.in_gallery`);
- ``uri="/path/faces.db"``: Milvus Lite in that folder;
- ``uri="http://host:19530"``: a Milvus standalone or cluster; the token comes from the environment
  (``LOOKALIKE_MILVUS_TOKEN``), never from the gallery's files.

Each row holds the face id (primary key), the person and the model (scalar fields, so a search can be
limited to chosen people or to one model) and the vector. Searches run at ``Strong`` consistency by
default: a delete acknowledged by any client is invisible to every later search by any client (the
weaker levels only promise that to the writing client, or after a staleness bound; see
``docs/scaling.md`` for what each costs). A server that does not answer raises
:class:`~lookalike.errors.IndexUnavailableError` within ``timeout`` seconds.

The SQLite store stays the source of truth: :meth:`live_ids` lists what the collection holds, and the
gallery replays the difference (or rebuilds the collection) on open.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from lookalike.errors import (
    CorruptFileError,
    IndexMismatchError,
    IndexUnavailableError,
    LookalikeError,
    MissingDependencyError,
)
from lookalike.index.adapters._common import installed, padded
from lookalike.index.base import Index, register
from lookalike.io import atomic_write_bytes

#: the environment variable that holds the server's token ("user:password" or an API key)
TOKEN_ENV = "LOOKALIKE_MILVUS_TOKEN"
#: the Milvus Lite folder inside a gallery folder
GALLERY_FILE = "milvus.db"
CONSISTENCY_LEVELS = ("Strong", "Bounded", "Session", "Eventually")
MAX_TOPK = 16_384  # Milvus' limit on k and on one query's page
MANIFEST_KIND = "lookalike-milvus-manifest"
SEARCH_BATCH = 64  # queries per search call (bounds one call's time)

T = TypeVar("T")


def _pymilvus() -> Any:
    try:
        import pymilvus
    except ImportError:
        raise MissingDependencyError("pymilvus", extra="scale", purpose="the Milvus vector store") from None
    return pymilvus


def is_lite(uri: str) -> bool:
    """True for a local Milvus Lite folder, False for a server address."""
    return "://" not in uri


@register("milvus")
class MilvusIndex(Index):
    """Vectors in a Milvus collection (Milvus Lite or a server), searched with Milvus' HNSW index."""

    persistent = True
    supports_filter = True

    def __init__(
        self,
        dim: int,
        space: str = "l2",
        uri: str | None = None,
        collection: str | None = None,
        M: int = 16,
        ef_construction: int = 200,
        ef: int = 64,
        consistency: str = "Strong",
        batch: int = 5_000,
        timeout: float = 5.0,
        op_timeout: float = 300.0,
        _attach: bool = False,
    ) -> None:
        super().__init__(dim, space)
        if consistency not in CONSISTENCY_LEVELS:
            raise ValueError(f"consistency must be one of {CONSISTENCY_LEVELS}, got {consistency!r}")
        for name, value in (("M", M), ("ef_construction", ef_construction), ("ef", ef), ("batch", batch)):
            if int(value) < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        self._tmp: str | None = None
        if uri is None:
            self._tmp = tempfile.mkdtemp(prefix="lookalike-milvus-")
            weakref.finalize(self, shutil.rmtree, self._tmp, True)
            uri = os.path.join(self._tmp, GALLERY_FILE)
        self.uri = str(uri)
        self.collection = collection or "faces"
        self.M, self.ef_construction, self.ef = int(M), int(ef_construction), int(ef)
        self.consistency = consistency
        self.batch = int(batch)
        self.timeout = float(timeout)  # connecting and answering at all
        self.op_timeout = float(op_timeout)  # one insert / search / flush call
        self._failed: LookalikeError | None = None  # a write failed: the collection may lag the caller
        self._client = self._connect()
        if _attach:
            self._attach()
        else:
            self._create()

    # connection ---------------------------------------------------------------------------
    @classmethod
    def available(cls) -> bool:
        return installed("pymilvus")

    def _connect(self) -> Any:
        pm = _pymilvus()
        if is_lite(self.uri):
            if not installed("milvus_lite"):
                raise LookalikeError(
                    "Milvus Lite is not installed; install it with: pip install 'lookalike[scale]' "
                    "(or pass a server address such as http://host:19530)")
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
        token = os.environ.get(TOKEN_ENV, "")
        with self._errors("connect"):
            return pm.MilvusClient(uri=self.uri, token=token, timeout=self.timeout)

    @contextmanager
    def _errors(self, what: str, write: bool = False) -> Iterator[None]:
        """Turn pymilvus and gRPC failures into typed errors; remember failed writes."""
        pm = _pymilvus()
        import grpc

        try:
            yield
        except (pm.exceptions.MilvusException, grpc.RpcError, ConnectionError, OSError, TimeoutError) as exc:
            text = str(exc)
            lost = isinstance(exc, (pm.exceptions.MilvusUnavailableException, pm.exceptions.ConnectError,
                                    grpc.RpcError, ConnectionError, OSError, TimeoutError)) or any(
                s in text.lower() for s in ("unavailable", "deadline", "connect", "timeout", "closed"))
            where = "Milvus Lite at" if is_lite(self.uri) else "the Milvus server at"
            err: LookalikeError
            if lost:
                err = IndexUnavailableError(
                    f"{where} {self.uri} did not answer ({what}): {text.strip()[:300]} — start it or fix "
                    f"--index-uri; the gallery's store is unchanged and the index catches up on the next open")
            else:
                err = LookalikeError(f"Milvus {what} on {self.uri} failed: {text.strip()[:300]}")
            if write:
                self._failed = err
            raise err from None

    def _call(self, what: str, fn: Callable[..., T], *args: Any, write: bool = False, **kwargs: Any) -> T:
        with self._errors(what, write):
            return fn(*args, timeout=self.op_timeout, **kwargs)

    def close(self) -> None:
        """Release the connection (the collection stays)."""
        with contextlib.suppress(Exception):  # closing a dead connection must not mask the original error
            self._client.close()

    # the collection -------------------------------------------------------------------------
    def _metric(self) -> str:
        return "L2" if self.space == "l2" else "IP"

    def _create(self) -> None:
        """A new, empty collection (an existing one of the same name is dropped: a new index is empty)."""
        pm = _pymilvus()
        c = self._client
        if self._call("has_collection", c.has_collection, self.collection):
            self._call("drop_collection", c.drop_collection, self.collection, write=True)
        schema = pm.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", pm.DataType.INT64, is_primary=True)
        schema.add_field("person", pm.DataType.VARCHAR, max_length=1024)
        schema.add_field("model", pm.DataType.VARCHAR, max_length=256)
        schema.add_field("vec", pm.DataType.FLOAT_VECTOR, dim=self.dim)
        ip = c.prepare_index_params()
        ip.add_index("vec", index_type="HNSW", metric_type=self._metric(),
                     params={"M": self.M, "efConstruction": self.ef_construction})
        self._call("create_collection", c.create_collection, self.collection, schema=schema, index_params=ip,
                   consistency_level=self.consistency, write=True)

    def _attach(self) -> None:
        c = self._client
        if not self._call("has_collection", c.has_collection, self.collection):
            raise CorruptFileError(f"Milvus at {self.uri} has no collection {self.collection!r}")
        desc = self._call("describe_collection", c.describe_collection, self.collection)
        dims = [f.get("params", {}).get("dim") for f in desc.get("fields", []) if f.get("name") == "vec"]
        if not dims or int(dims[0]) != self.dim:
            raise IndexMismatchError(f"collection {self.collection!r} holds {dims} dimensions, not {self.dim}")
        self._call("load_collection", c.load_collection, self.collection)

    # the protocol ---------------------------------------------------------------------------
    @property
    def params(self) -> dict[str, Any]:
        return {"M": self.M, "ef_construction": self.ef_construction, "ef": self.ef, "space": self.space,
                "consistency": self.consistency, "server": not is_lite(self.uri)}

    def set_search_params(self, **params: Any) -> None:
        ef = params.pop("ef", None)
        consistency = params.pop("consistency", None)
        super().set_search_params(**params)
        if ef is not None:
            if int(ef) < 1:
                raise ValueError(f"ef must be at least 1, got {ef}")
            self.ef = int(ef)
        if consistency is not None:
            if consistency not in CONSISTENCY_LEVELS:
                raise ValueError(f"consistency must be one of {CONSISTENCY_LEVELS}, got {consistency!r}")
            self.consistency = consistency

    def __len__(self) -> int:
        res = self._call("count", self._client.query, self.collection, filter="", output_fields=["count(*)"],
                         consistency_level="Strong")
        return int(res[0]["count(*)"])

    def add(self, vectors: np.ndarray, ids: np.ndarray, people: Sequence[str | None] | None = None,
            model: str | None = None) -> None:
        """Insert in batches of ``batch`` rows; ``people`` (one per vector) and ``model`` fill the scalar
        fields that :meth:`search` can filter on."""
        vec = self._check_vectors(vectors)
        ids_arr = self._check_ids(ids, len(vec))
        if people is not None and len(people) != len(vec):
            raise ValueError(f"got {len(people)} people for {len(vec)} vectors")
        for lo in range(0, len(vec), self.batch):
            hi = min(lo + self.batch, len(vec))
            rows = [{"id": int(i), "person": (people[lo + j] if people is not None else None) or "",
                     "model": model or "", "vec": v}
                    for j, (i, v) in enumerate(zip(ids_arr[lo:hi].tolist(), vec[lo:hi]))]
            self._call("insert", self._client.insert, self.collection, rows, write=True)

    def remove(self, ids: np.ndarray) -> None:
        arr = np.unique(np.asarray(ids, dtype=np.int64).reshape(-1))
        for lo in range(0, len(arr), self.batch):
            self._call("delete", self._client.delete, self.collection, ids=arr[lo:lo + self.batch].tolist(),
                       write=True)

    def search(self, queries: np.ndarray, k: int, people: Collection[str] | None = None,
               model: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Nearest neighbours, optionally only among faces of ``people`` and/or of ``model``."""
        q = self._check_vectors(queries, "queries")
        k = self._check_k(k)
        dist, out = padded(len(q), k)
        if not len(q):
            return dist, out
        kk = min(k, MAX_TOPK)
        clauses = []
        if people is not None:
            clauses.append(f"person in {json.dumps(sorted(people))}")
        if model is not None:
            clauses.append(f"model == {json.dumps(model)}")
        res: list[Any] = []
        for lo in range(0, len(q), SEARCH_BATCH):
            res.extend(self._call(
                "search", self._client.search, self.collection, data=list(q[lo:lo + SEARCH_BATCH]), limit=kk,
                filter=" and ".join(clauses), output_fields=[], consistency_level=self.consistency,
                search_params={"metric_type": self._metric(), "params": {"ef": max(self.ef, kk)}},
            ))
        for row, hits in enumerate(res):
            n = min(len(hits), kk)
            if not n:
                continue
            out[row, :n] = [int(h["id"]) for h in hits[:n]]
            d = np.array([float(h["distance"]) for h in hits[:n]], dtype=np.float32)
            dist[row, :n] = np.sqrt(np.maximum(d, 0.0)) if self.space == "l2" else 1.0 - d
        order = np.argsort(dist, axis=1, kind="stable")  # Milvus' float ties may come out of order
        return np.take_along_axis(dist, order, 1), np.take_along_axis(out, order, 1)

    def live_ids(self) -> np.ndarray:
        """Every id the collection holds (sorted), read at Strong consistency."""
        found: list[int] = []
        it = self._call("query_iterator", self._client.query_iterator, self.collection, batch_size=MAX_TOPK,
                        filter="id >= 0", output_fields=["id"], consistency_level="Strong")
        with self._errors("query_iterator"):
            while page := it.next():
                found.extend(int(r["id"]) for r in page)
            it.close()
        return np.unique(np.array(found, dtype=np.int64))

    def build(self) -> None:
        """Seal the growing segment and index it (Milvus Lite searches fresh rows slowly until then)."""
        self._call("flush", self._client.flush, self.collection, write=True)

    # persistence: the vectors live in Milvus; the file is a small manifest that finds them again --------
    def save(self, path: str | Path) -> None:
        """Flush and write the manifest atomically; refused after a failed write (the collection may lag)."""
        if self._failed is not None:  # the same clear error again; the manifest keeps the last good state
            raise type(self._failed)(str(self._failed))
        self.build()
        path = Path(path)
        uri: str | None = self.uri
        if is_lite(self.uri) and Path(self.uri).resolve() == (path.parent / GALLERY_FILE).resolve():
            uri = None  # the gallery's own folder: found again relative to the manifest
        manifest = {"kind": MANIFEST_KIND, "uri": uri, "collection": self.collection, "dim": self.dim,
                    "space": self.space, "M": self.M, "ef_construction": self.ef_construction, "ef": self.ef,
                    "consistency": self.consistency, "batch": self.batch, "timeout": self.timeout,
                    "op_timeout": self.op_timeout}
        atomic_write_bytes(path, json.dumps(manifest, indent=1).encode())

    @classmethod
    def load(cls, path: str | Path) -> MilvusIndex:
        path = Path(path)
        try:
            m = json.loads(path.read_text())
            if m.get("kind") != MANIFEST_KIND:
                raise ValueError("not a Milvus manifest")
            uri = m["uri"] or str(path.parent / GALLERY_FILE)
            params = {k: m[k] for k in ("M", "ef_construction", "ef", "consistency", "batch", "timeout",
                                              "op_timeout")}
            dim, space, collection = int(m["dim"]), str(m["space"]), str(m["collection"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorruptFileError(f"cannot read the Milvus manifest {path}: {exc}") from exc
        return cls(dim, space, uri=uri, collection=collection, _attach=True, **params)

    @classmethod
    def in_gallery(cls, params: dict[str, Any], root: Path) -> dict[str, Any]:
        """Milvus Lite in the gallery folder unless a server ``uri`` is given; on a server, one collection
        per gallery folder."""
        out = dict(params)
        if not out.get("uri"):
            out["uri"] = str(root / GALLERY_FILE)
        elif not out.get("collection"):
            import hashlib

            out["collection"] = "lookalike_" + hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
        return out
