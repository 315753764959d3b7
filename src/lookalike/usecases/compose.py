"""Composed queries: "this person, with that expression" — vector arithmetic on labelled faces.

A photo's composed vector is ``[unit identity ; w_1 × attribute_1 ; …]``: the served pipeline's
identity descriptor scaled to length 1, then one unit attribute vector per attribute kind asked
about (:mod:`lookalike.training.attributes`), each times its weight ``w`` (concatenation, as in
source 002). A query is the same concatenation of *prototypes* — the median (the source's rule) or
mean of a person's identity vectors, of an attribute value's attribute vectors, or of given photos'
— with ``--plus`` photos added and ``--minus`` photos subtracted block by block, each block scaled
back to length 1.

The weight ``w`` of a kind is chosen by leave-people-out on the people it is given (never on the
people queried in an evaluation): their people are split into up to five groups; for each group
the attribute model is fitted on the other groups' photos, every (person, value) target of the
group is queried with the person prototype of that person's *other* photos, and the ``w`` of the
grid with the most top-1 hits (then the best mean reciprocal rank) wins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.errors import LookalikeError, NoFaceError
from lookalike.faces.pipeline import FacePipeline
from lookalike.faces.spec import PipelineSpec, default_spec
from lookalike.gallery.labels import LabelledSet
from lookalike.training.attributes import (
    AttributeConfig,
    AttributeModel,
    attribute_features,
    fit_attribute_model,
    require_training_stack,
    unit,
)

#: candidate attribute weights (the attribute block is unit length, like the identity block)
WEIGHT_GRID: tuple[float, ...] = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0)
#: people groups of the leave-people-out weight choice
WEIGHT_FOLDS = 5
RULES = ("median", "mean")

Fit = Callable[[np.ndarray, list[str]], AttributeModel]


def prototype(vectors: np.ndarray, rule: str = "median") -> np.ndarray:
    """The element-wise median (the source's rule) or mean of vectors."""
    v = np.asarray(vectors, np.float64)
    if v.ndim != 2 or len(v) == 0:
        raise LookalikeError("a prototype needs at least one vector")
    if rule == "median":
        return np.median(v, axis=0)
    if rule == "mean":
        return v.mean(axis=0)
    raise LookalikeError(f"unknown prototype rule {rule!r}; choose one of {list(RULES)}")


def compose_rows(identity: np.ndarray, blocks: Sequence[tuple[np.ndarray, float]]) -> np.ndarray:
    """``[unit identity ; w × unit attribute …]`` per row (or for one vector)."""
    parts = [unit(identity)] + [w * unit(a) for a, w in blocks]
    return np.concatenate(parts, axis=-1)


def arithmetic(base: np.ndarray | None, plus: Sequence[np.ndarray] = (), minus: Sequence[np.ndarray] = ()
               ) -> np.ndarray:
    """``unit(unit(base) + Σ unit(plus) − Σ unit(minus))`` (``base`` may be None)."""
    terms = ([unit(base)] if base is not None else []) + [unit(p) for p in plus] + [-unit(m) for m in minus]
    if not terms:
        raise LookalikeError("nothing to compose: give a person, an attribute or --plus photos")
    total = np.sum(terms, axis=0)
    if np.linalg.norm(total) < 1e-9:
        raise LookalikeError("the plus and minus terms cancel out: the query vector is zero")
    return unit(total)


# --------------------------------------------------------------------------------- the weight choice
@dataclass
class TargetRanks:
    """For each (person, value) target: the rank (1 = first) of its nearest target photo, per weight."""

    targets: list[tuple[str, str]] = field(default_factory=list)
    ranks: dict[float, list[int]] = field(default_factory=dict)

    def top(self, w: float, k: int) -> float:
        r = np.asarray(self.ranks[w])
        return float((r <= k).mean()) if len(r) else 0.0

    def mrr(self, w: float) -> float:
        r = np.asarray(self.ranks[w], np.float64)
        return float((1.0 / r).mean()) if len(r) else 0.0

    def best(self) -> float:
        """The weight with the most top-1 hits, then the best mean reciprocal rank, then the smallest."""
        return max(self.ranks, key=lambda w: (self.top(w, 1), self.mrr(w), -w))

    def extend(self, other: TargetRanks) -> None:
        self.targets += other.targets
        for w, r in other.ranks.items():
            self.ranks.setdefault(w, []).extend(r)


def target_ranks(identity: np.ndarray, attr: np.ndarray, people: np.ndarray, values: np.ndarray,
                 protos: dict[str, np.ndarray], query_people: Sequence[str], grid: Sequence[float],
                 rule: str = "median", leave_target_out: bool = True) -> TargetRanks:
    """Rank of each (person, value) target of ``query_people`` among every row, for each weight.

    The person prototype is the ``rule`` of the person's identity vectors without the target photos
    (``leave_target_out``) or with them; the attribute prototype is ``protos[value]``.
    """
    ids = unit(identity)
    out = TargetRanks(ranks={float(w): [] for w in grid})
    for person in query_people:
        mine = people == person
        for value in sorted(set(values[mine].tolist())):
            if value not in protos:
                continue
            target = mine & (values == value)
            source = mine & ~target if leave_target_out else mine
            if not source.any():
                continue
            q_id = unit(prototype(ids[source], rule))
            d_id = ((ids - q_id) ** 2).sum(1)
            d_at = ((attr - unit(protos[value])) ** 2).sum(1)
            out.targets.append((str(person), str(value)))
            for w in out.ranks:
                d = d_id + w * w * d_at
                out.ranks[w].append(int((d < d[target].min()).sum()) + 1)
    return out


def people_groups(people: Sequence[str], n: int = WEIGHT_FOLDS) -> list[list[str]]:
    """Sorted people dealt round-robin into ``min(n, len)`` groups."""
    names = sorted(set(people))
    n = max(1, min(n, len(names)))
    return [names[i::n] for i in range(n)]


def choose_weight(identity: np.ndarray, features: np.ndarray, people: np.ndarray, values: np.ndarray,
                  fit: Fit = fit_attribute_model, grid: Sequence[float] = WEIGHT_GRID, rule: str = "median",
                  folds: int = WEIGHT_FOLDS) -> tuple[float, TargetRanks]:
    """The grid weight with the most top-1 hits (then best MRR) under leave-people-out on these rows only."""
    ranks = TargetRanks(ranks={float(w): [] for w in grid})
    for group in people_groups(people.tolist(), folds):
        train = ~np.isin(people, group)
        if len(set(values[train].tolist())) < 2:
            continue
        model = fit(features[train], values[train].tolist())
        attr = model.embed(features)
        protos = {v: prototype(attr[train & (values == v)], rule) for v in set(values[train].tolist())}
        ranks.extend(target_ranks(identity, attr, people, values, protos, group, grid, rule))
    if not ranks.targets:
        raise LookalikeError("too few people to choose the attribute weight (need people with two or more "
                             "values of the attribute)")
    best = ranks.best()
    return best, ranks


# ------------------------------------------------------------------------------------- the space
@dataclass
class KindSpace:
    """One attribute kind in a labelled set: its model, weight, every photo's vector, value prototypes."""

    kind: str
    weight: float
    model: AttributeModel
    vectors: np.ndarray  # (n, dim) for every photo of the set
    protos: dict[str, np.ndarray]


class ComposeSpace:
    """A labelled set's identity vectors and attribute features through one pipeline; attribute kinds
    are fitted on first use (and kept)."""

    def __init__(self, labels: LabelledSet, spec: PipelineSpec | None = None, workers: int = 0,
                 rule: str = "median", fit: Fit = fit_attribute_model, pipeline: FacePipeline | None = None) -> None:
        if rule not in RULES:
            raise LookalikeError(f"unknown prototype rule {rule!r}; choose one of {list(RULES)}")
        require_training_stack()  # before any photo is read: the features and the fit both need PyTorch
        self.labels, self.rule, self.fit = labels, rule, fit
        self.pipeline = pipeline or FacePipeline(spec or default_spec())
        self.spec = self.pipeline.spec
        paths = labels.paths
        self.identity = unit(self.pipeline.labelled_vectors(paths, workers, progress=False))
        self.features = attribute_features(paths, self.spec, workers)
        self.people = np.array([p.person for p in labels.photos])
        self._kinds: dict[str, KindSpace] = {}

    def kind(self, kind: str) -> KindSpace:
        if kind not in self._kinds:
            self.labels.check_kind(kind)
            rows = np.array([kind in p.attributes for p in self.labels.photos])
            values = np.array([p.attributes.get(kind, "") for p in self.labels.photos])
            file = self._saved(kind, values)
            loaded = _load_kind(file, kind) if file is not None else None
            if loaded is not None:
                self._kinds[kind] = loaded
                return loaded
            w, _ = choose_weight(self.identity[rows], self.features[rows], self.people[rows], values[rows],
                                 self.fit, rule=self.rule)
            model = self.fit(self.features[rows], values[rows].tolist())
            vectors = model.embed(self.features)
            protos = {v: prototype(vectors[rows & (values == v)], self.rule) for v in set(values[rows].tolist())}
            self._kinds[kind] = KindSpace(kind, w, model, vectors, protos)
            if file is not None:
                _save_kind(file, self._kinds[kind])
        return self._kinds[kind]

    def _saved(self, kind: str, values: np.ndarray) -> Path | None:
        """Where the fitted kind of this very labelled set is kept (None: a custom fit, never cached).

        The key covers every photo's path, size and modification time, its labels, the pipeline spec,
        the attribute settings, the prototype rule and the weight grid."""
        if self.fit is not fit_attribute_model:
            return None
        import hashlib
        import json

        from lookalike.settings import cache_dir

        def stamp(p: Path) -> list[int]:
            st = p.stat()
            return [st.st_size, st.st_mtime_ns]

        key = json.dumps([[str(p.path), stamp(p.path), p.person] for p in self.labels.photos] + [
            values.tolist(), self.spec.key, asdict(AttributeConfig()), self.rule, list(WEIGHT_GRID), WEIGHT_FOLDS])
        return cache_dir() / "compose" / f"space-{kind}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz"

    def photo_vectors(self, photo: str | Path | bytes, kinds: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Identity and attribute vectors of the largest face of a query photo."""
        from lookalike.faces.models.dlib_resnet.activations import activation_features

        res = self.pipeline.process(photo, 1)
        if not res.faces:
            raise NoFaceError(f"no face was found in {photo if not isinstance(photo, bytes) else 'the photo'}")
        face = res.faces[0]
        feats = activation_features(face.chip[None])
        return unit(face.embedding), [self.kind(k).model.embed(feats)[0] for k in kinds]


def _save_kind(file: Path, ks: KindSpace) -> None:
    from lookalike.io import atomic_save_npz
    from lookalike.training.attributes import model_arrays

    names = sorted(ks.protos)
    atomic_save_npz(file, weight=np.array(ks.weight), vectors=ks.vectors, proto_values=np.array(names, dtype=str),
                    protos=np.stack([ks.protos[v] for v in names]),
                    **{f"model.{k}": v for k, v in model_arrays(ks.model).items()})


def _load_kind(file: Path, kind: str) -> KindSpace | None:
    from lookalike.training.attributes import model_from_arrays

    if not file.exists():
        return None
    try:
        with np.load(file, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        model = model_from_arrays({k[6:]: v for k, v in arrays.items() if k.startswith("model.")})
        protos = dict(zip((str(v) for v in arrays["proto_values"]), arrays["protos"]))
        return KindSpace(kind, float(arrays["weight"]), model, arrays["vectors"], protos)
    except (OSError, ValueError, KeyError, RuntimeError):
        return None  # a cache is disposable: fit again


@dataclass
class ComposeQuery:
    """Like ``person``, with ``attributes`` (kind, value), plus and minus photos."""

    person: str | None = None
    attributes: list[tuple[str, str]] = field(default_factory=list)
    plus: list[str | Path | bytes] = field(default_factory=list)
    minus: list[str | Path | bytes] = field(default_factory=list)
    k: int = 10
    index: str = "hnsw"


def parse_attributes(items: Sequence[str]) -> list[tuple[str, str]]:
    """``["expression=happy", …]`` → ``[("expression", "happy"), …]`` (one value per kind)."""
    out: list[tuple[str, str]] = []
    for item in items:
        kind, sep, value = item.partition("=")
        if not sep or not kind.strip() or not value.strip():
            raise LookalikeError(f"an attribute is KIND=VALUE (e.g. expression=happy), got {item!r}")
        if any(k == kind.strip() for k, _ in out):
            raise LookalikeError(f"attribute kind {kind.strip()!r} given twice")
        out.append((kind.strip(), value.strip()))
    return out


def search_rows(rows: np.ndarray, query: np.ndarray, k: int, index: str) -> tuple[np.ndarray, np.ndarray]:
    """``(distances, positions)`` of the ``k`` nearest rows through a registered index."""
    from lookalike.index.base import create_index

    x = np.ascontiguousarray(rows, dtype=np.float32)
    idx = create_index(index, x.shape[1])
    idx.add(x, np.arange(len(x), dtype=np.int64))
    d, ids = idx.search(np.ascontiguousarray(query[None], dtype=np.float32), min(k, len(x)))
    keep = ids[0] >= 0
    return np.asarray(d[0])[keep], np.asarray(ids[0])[keep].astype(np.int64)


def compose(space: ComposeSpace, q: ComposeQuery) -> dict[str, Any]:
    """The ``k`` photos of the labelled set nearest the composed query, in the usual answer shape."""
    if q.person is None and not q.plus:
        raise LookalikeError("give a person (--person) or photos to add (--plus)")
    if q.k < 1:
        raise LookalikeError(f"k must be at least 1, got {q.k}")
    if q.person is not None:
        space.labels.check_person(q.person)
    for kind, value in q.attributes:
        space.labels.check_value(kind, value)
    kinds = [k for k, _ in q.attributes]
    plus = [space.photo_vectors(p, kinds) for p in q.plus]
    minus = [space.photo_vectors(p, kinds) for p in q.minus]
    base_id = prototype(space.identity[space.people == q.person], space.rule) if q.person is not None else None
    q_id = arithmetic(base_id, [p[0] for p in plus], [m[0] for m in minus])
    blocks, q_blocks, weights = [], [], {}
    for i, (kind, value) in enumerate(q.attributes):
        ks = space.kind(kind)
        weights[kind] = ks.weight
        blocks.append((ks.vectors, ks.weight))
        q_blocks.append((arithmetic(ks.protos[value], [p[1][i] for p in plus], [m[1][i] for m in minus]), ks.weight))
    rows = compose_rows(space.identity, blocks)
    query = compose_rows(q_id, q_blocks)
    dist, pos = search_rows(rows, query, q.k, q.index)
    d_max = 2.0 * float(np.sqrt(1.0 + sum(w * w for w in weights.values())))
    photos = space.labels.photos
    neighbours = [{"rank": r + 1, "face_id": None, "person": photos[i].person,
                   "distance": round(float(d), 6),
                   "similarity": round(100.0 * max(0.0, 1.0 - float(d) / d_max), 2),
                   "image": str(photos[i].path), "attributes": dict(photos[i].attributes)}
                  for r, (d, i) in enumerate(zip(dist, pos))]
    return {"query": {"person": q.person, "attributes": dict(q.attributes),
                      "plus": [p if isinstance(p, str) else "(upload)" if isinstance(p, bytes) else str(p) for p in q.plus],
                      "minus": [m if isinstance(m, str) else "(upload)" if isinstance(m, bytes) else str(m) for m in q.minus],
                      "weights": weights, "rule": space.rule, "index": q.index, "photos": len(photos)},
            "neighbours": neighbours}


def default_config() -> AttributeConfig:
    return AttributeConfig()
