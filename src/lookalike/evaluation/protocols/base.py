"""The protocol interface, the context a protocol runs in, and the registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from typing import Protocol as TypingProtocol

import numpy as np

from lookalike.errors import LookalikeError
from lookalike.faces.batch import labelled
from lookalike.faces.pipeline import FacePipeline
from lookalike.gallery.sources import folder_per_person, lfw


class Protocol(TypingProtocol):
    """One evaluation protocol."""

    name: str
    summary: str
    #: data set folders (under the data-set root) it reads
    needs: tuple[str, ...]

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        """Measure; the result is JSON-ready."""
        ...

    def markdown(self, result: dict[str, Any], ctx: EvalContext) -> list[str]:
        """The result as Markdown lines."""
        ...


@dataclass
class EvalContext:
    """What a protocol gets: the pipeline under test, where the data sets are, the indexes to try,
    the output folder for plots, and a list to leave notes in."""

    pipeline: FacePipeline
    data_root: Path
    out_dir: Path
    indexes: list[str]
    workers: int = 0
    notes: list[str] = field(default_factory=list)
    _rows: dict[str, tuple[np.ndarray, str]] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        """The model and pipeline, as a plot legend says them."""
        return f"{self.pipeline.card.name} [{self.pipeline.spec.describe()}]"

    def vectors(self, paths: list[str]) -> np.ndarray:
        """One vector per labelled photo, through the pipeline under test (cached on disk and here)."""
        self._load(paths)
        return np.stack([self._rows[p][0] for p in paths]) if paths else np.empty((0, self.pipeline.dim), np.float32)

    def found_by(self, paths: list[str]) -> dict[str, int]:
        """How many photos had their face found by each detector, or stood in by the central box."""
        self._load(paths)
        out: dict[str, int] = {}
        for p in paths:
            how = self._rows[p][1] or "none"
            out[how] = out.get(how, 0) + 1
        return out

    def _load(self, paths: list[str]) -> None:
        missing = [p for p in dict.fromkeys(paths) if p not in self._rows]
        if missing:
            got = labelled(self.pipeline, missing, self.workers)
            self._rows.update(zip(missing, zip(got.vectors, got.how)))

    def labelled_photos(self, folder: str, min_images: int = 1) -> tuple[list[str], list[str]]:
        """Paths and labels of a labelled data set folder (LFW layout or a folder per person)."""
        root = self.data_root / folder
        if not root.is_dir():
            raise LookalikeError(f"data set {folder!r} not found in {self.data_root}")
        items = lfw(root, min_images=min_images) if (root / "pairs.txt").exists() else folder_per_person(root)
        return [str(i.path) for i in items], [str(i.person) for i in items]


_PROTOCOLS: dict[str, Protocol] = {}


def register(protocol: Protocol) -> None:
    """Make a protocol available to `lookalike eval` by its name."""
    _PROTOCOLS[protocol.name] = protocol


def available_protocols() -> dict[str, str]:
    """Protocol names and their summaries, in registration order."""
    return {name: p.summary for name, p in _PROTOCOLS.items()}


def get_protocol(name: str) -> Protocol:
    try:
        return _PROTOCOLS[name]
    except KeyError:
        raise LookalikeError(f"unknown protocol {name!r}; choose from {list(_PROTOCOLS)}") from None


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"
