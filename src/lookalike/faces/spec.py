"""The pipeline specification: everything between a photo's bytes and its descriptors, frozen and hashable.

One :class:`PipelineSpec` decides the detector and its upsampling, the fallback detector for labelled
photos, which face of a labelled photo is "the" face, the landmark model, the chip padding, the
test-time augmentation and the embedder. Its :attr:`PipelineSpec.key` is stored with a gallery and
with every cached embedding, so vectors of two different specs are never mixed.

:func:`default_spec` is the spec the evaluation chose on LFW View 1 (``benchmarks/lfw_recipe.py``):
what ``lookalike eval`` measures is what ``lookalike search`` and the page run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from functools import cached_property
from typing import Any

from lookalike.errors import LookalikeError
from lookalike.faces.embed import EmbedderCard, default_embedder_key, embedder_card

DETECTORS = ("hog", "cnn", "mmod")
FALLBACKS = ("none", "cnn", "mmod")
#: which detection is a labelled photo's face: the one nearest the photo's centre, or the nearest
#: among those whose box contains the centre (LFW photos are centred on the labelled face)
PICKS = ("central", "covers")
LANDMARKS = ("5", "68")
#: bump when the meaning of a field changes, so older cached vectors are not reused
SPEC_VERSION = 3


@dataclass(frozen=True)
class PipelineSpec:
    """Photo → descriptors settings. ``padding=None`` takes the embedder's own chip padding.

    ``fallback`` runs only on *labelled* photos (ingest of a labelled source, enrolment, evaluation),
    which are known to show a face, and only where the detector finds none: a query photo where the
    detector finds nothing is "no face".
    ``mirror`` averages each descriptor with that of the horizontally mirrored chip; ``jitter``
    averages over that many of dlib's random jitters (reproducible: seeded by dlib per call order).
    """

    detector: str = "hog"
    upsample: int | str = "auto"
    fallback: str = "cnn"
    pick: str = "covers"
    landmarks: str = "5"
    padding: float | None = 0.20
    mirror: bool = True
    jitter: int = 0
    embedder: str = "onnx"
    #: smallest face (pixels) the ``mmod`` detector looks for; None: its default. Left out of
    #: :attr:`key` while None, so the keys of specs without it are unchanged.
    min_face: int | None = None

    def __post_init__(self) -> None:
        checks = ((self.detector, DETECTORS, "detector"), (self.fallback, FALLBACKS, "fallback"),
                  (self.pick, PICKS, "pick"), (self.landmarks, LANDMARKS, "landmarks"))
        for value, allowed, what in checks:
            if value not in allowed:
                raise LookalikeError(f"{what} must be one of {allowed}, got {value!r}")
        if self.upsample != "auto" and (not isinstance(self.upsample, int) or not 0 <= self.upsample <= 3):
            raise LookalikeError(f"upsample must be 'auto' or 0..3, got {self.upsample!r}")
        if self.padding is not None and not 0.0 <= self.padding <= 1.0:
            raise LookalikeError(f"padding must be between 0 and 1, got {self.padding}")
        if self.min_face is not None and (not isinstance(self.min_face, int) or not 10 <= self.min_face <= 4096):
            raise LookalikeError(f"min_face must be None or 10..4096 pixels, got {self.min_face!r}")
        if self.jitter < 0:
            raise LookalikeError(f"jitter must be ≥ 0, got {self.jitter}")

    @property
    def card(self) -> EmbedderCard:
        """The embedder's card (no model is loaded)."""
        return embedder_card(self.embedder)

    @property
    def chip_padding(self) -> float:
        return self.card.chip_padding if self.padding is None else float(self.padding)

    @cached_property  # asked for several times per ingested photo; the spec is frozen
    def key(self) -> str:
        """Short hash of everything that changes the vectors. Runtimes of one model (same card name)
        share a key: ``onnx``, ``torch`` and ``dlib`` give interchangeable vectors."""
        d: dict[str, Any] = asdict(self)
        d.pop("embedder")
        if d["min_face"] is None:
            d.pop("min_face")
        d.update(padding=self.chip_padding, embedder_name=self.card.name, chip=self.card.chip_size,
                 v=SPEC_VERSION)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def parse(cls, text: str, base: PipelineSpec | None = None) -> PipelineSpec:
        """``"padding=0.25,mirror=0,embedder=dlib"`` → ``base`` (default: :func:`default_spec`) with those fields."""
        base = base or default_spec()
        kw: dict[str, Any] = {}
        names = {f.name for f in fields(cls)}
        for part in filter(None, (p.strip() for p in text.split(","))):
            k, _, v = part.partition("=")
            if k not in names:
                raise LookalikeError(f"unknown pipeline field {k!r}; fields: {sorted(names)}")
            kw[k] = _coerce(getattr(base, k), v, k)
        return replace(base, **kw)

    def describe(self) -> str:
        """Only the fields that differ from the default spec, e.g. ``"padding=0.25,mirror=False"``."""
        default = default_spec()
        d = {k: v for k, v in asdict(self).items() if k != "embedder" and v != getattr(default, k)}
        return ",".join(f"{k}={v}" for k, v in d.items()) or "default"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "key": self.key, "embedder_name": self.card.name}


def _coerce(current: Any, text: str, field: str) -> Any:
    if isinstance(current, bool):
        return text.lower() in ("1", "true", "yes", "on")
    if field == "upsample":
        return text if text == "auto" else int(text)
    if field == "min_face":
        return None if text.lower() in ("", "none") else int(text)
    if field == "padding":
        return None if text.lower() in ("", "none", "model") else float(text)
    try:
        return type(current)(text)
    except ValueError:
        raise LookalikeError(f"bad value {text!r} for pipeline field {field!r}") from None


def default_spec(embedder: str | None = None) -> PipelineSpec:
    """The evaluated default (HOG, CNN fallback on labelled photos, the face covering the centre,
    5-point chips with padding 0.20, mirror averaging) with ``embedder`` or the fastest installed one."""
    return PipelineSpec(embedder=embedder or default_embedder_key())


#: what ``lookalike search`` ran before the spec existed (padding 0.25, no mirror, HOG only): kept
#: for the latency benchmark's before/after comparison and for reading older galleries
LEGACY_SPEC_TEXT = "fallback=none,pick=central,padding=0.25,mirror=0"
