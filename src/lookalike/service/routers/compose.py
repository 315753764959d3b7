"""Composed queries over a labelled folder: "like P, but happy" (``POST /api/compose``) and the ``/compose`` page.

The folders it may read are those under one root, ``LOOKALIKE_COMPOSE_ROOT`` (unset: composed queries
are off, and every endpoint answers so); a request names a folder relative to it and labels
its photos with a pattern (``labels_regex``) or a CSV inside it (``labels_csv``). The fitted space of
a (folder, labels, rule) is kept in memory for the next request (the first one fits the attribute
models: seconds).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, Field

from lookalike import __version__
from lookalike.errors import LookalikeError
from lookalike.gallery.labels import LabelledSet, read_labels
from lookalike.service.http_errors import NotFoundError
from lookalike.service.routers.pages import TEMPLATES
from lookalike.service.state import ServiceState, get_state
from lookalike.settings import datasets_dir
from lookalike.usecases.compose import ComposeQuery, ComposeSpace, compose

router = APIRouter(prefix="/api/compose", tags=["compose"])
page_router = APIRouter(tags=["page"])
State = Annotated[ServiceState, Depends(get_state)]
#: fitted spaces kept in memory
KEEP = 4


class LabelsIn(BaseModel):
    folder: str = Field("", max_length=500, description="folder under the compose root ('' = the root)")
    labels_regex: str | None = Field(None, max_length=1000, description="regex with (?P<person>…) and attribute groups")
    labels_csv: str | None = Field(None, max_length=500, description="CSV in the folder: path, person, attribute columns")
    rule: str = Field("median", pattern="^(median|mean)$", description="prototype rule")


class ComposeIn(LabelsIn):
    person: str | None = Field(None, max_length=500)
    attributes: dict[str, str] = Field(default_factory=dict, description="kind → value, e.g. {\"expression\": \"happy\"}")
    plus: list[str] = Field(default_factory=list, max_length=20, description="photos (paths in the folder) to add")
    minus: list[str] = Field(default_factory=list, max_length=20, description="photos (paths in the folder) to subtract")
    k: int = Field(10, ge=1, le=100)
    index: str = Field("hnsw", max_length=40)


def compose_root() -> FsPath:
    """The folder whose labelled sub-folders may be queried (no request reads outside it).

    ``LOOKALIKE_COMPOSE_ROOT`` when set (empty: composed queries are off); else the public data-set
    folder (:func:`lookalike.settings.datasets_dir`) when there is one.
    """
    env = os.environ.get("LOOKALIKE_COMPOSE_ROOT")
    if env is None and (data := datasets_dir()).is_dir():
        return data.resolve()
    if not env:
        raise NotFoundError("composed queries are off on this server: start it with LOOKALIKE_COMPOSE_ROOT set to "
                            "the folder whose labelled photo folders may be queried")
    root = FsPath(env).resolve()
    if not root.is_dir():
        raise NotFoundError(f"LOOKALIKE_COMPOSE_ROOT {env!r} is not a folder")
    return root


def _inside(root: FsPath, rel: str, what: str) -> FsPath:
    path = (root / rel).resolve()
    if not path.is_relative_to(root):
        raise LookalikeError(f"the {what} must be inside the compose root")
    if not path.exists():
        raise NotFoundError(f"no {what} {rel!r} under the compose root")
    return path


class _Spaces:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: OrderedDict[tuple, ComposeSpace] = OrderedDict()

    def get(self, body: LabelsIn, state: ServiceState) -> ComposeSpace:
        labels, key = _labels(body)
        key = (*key, body.rule, state.pipeline.spec.key)
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        space = ComposeSpace(labels, rule=body.rule, pipeline=state.pipeline)  # the served pipeline
        with self.lock:
            self.items[key] = space
            while len(self.items) > KEEP:
                self.items.popitem(last=False)
        return space


SPACES = _Spaces()


def _labels(body: LabelsIn) -> tuple[LabelledSet, tuple]:
    root = compose_root()
    folder = _inside(root, body.folder, "folder")
    csv = _inside(folder, body.labels_csv, "label file") if body.labels_csv else None
    labels = read_labels(folder, body.labels_regex, csv)
    return labels, (str(folder), body.labels_regex, str(csv) if csv else None)


@router.post("/labels")
async def labels(body: LabelsIn, state: State) -> dict[str, Any]:
    """What a label pattern finds in a folder: photos, unmatched files, people, attribute kinds and values."""
    def work() -> dict[str, Any]:
        found, _ = _labels(body)
        return {**found.summary(), "people_names": found.people}

    return await state.run(work)


@router.post("")
async def compose_query(body: ComposeIn, state: State) -> dict[str, Any]:
    """The photos of a labelled folder nearest ``[person prototype ; w × attribute prototypes]`` (plus and
    minus photos added block by block), in the usual answer shape: ``query`` and ``neighbours``."""
    def work() -> dict[str, Any]:
        space = SPACES.get(body, state)
        folder = FsPath(space.labels.root or compose_root())
        plus = [str(_inside(folder, p, "photo")) for p in body.plus]
        minus = [str(_inside(folder, p, "photo")) for p in body.minus]
        q = ComposeQuery(body.person or None, list(body.attributes.items()), plus, minus, body.k, body.index)
        answer = compose(space, q)
        root = compose_root()
        for n in answer["neighbours"]:  # paths relative to the root: what /api/compose/photo takes
            n["image"] = FsPath(n["image"]).resolve().relative_to(root).as_posix()
        return answer

    return await state.run(work)


@router.get("/photo")
async def photo(path: Annotated[str, Query(max_length=1000)]) -> FileResponse:
    """A photo under the compose root (for the page's thumbnails)."""
    from lookalike.gallery.sources import IMAGE_SUFFIXES

    file = _inside(compose_root(), path, "photo")
    if not file.is_file() or file.suffix.lower() not in IMAGE_SUFFIXES:
        raise NotFoundError(f"no photo {path!r} under the compose root")
    return FileResponse(file)


@page_router.get("/compose", response_class=HTMLResponse, include_in_schema=False)
async def compose_page(request: Request) -> HTMLResponse:
    """The composed-query page: a labelled folder, a person, an attribute value → the nearest photos."""
    return TEMPLATES.TemplateResponse(request, "compose.html", {"version": __version__})
