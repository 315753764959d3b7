"""Cluster endpoints: browse the gallery's faces grouped by person, cluster, name, merge, split, undo.

Reads are open like the rest of the gallery; every write needs the API token when one is configured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from lookalike import __version__
from lookalike.gallery.clusters import ClusterNotFoundError
from lookalike.service.http_errors import NotFoundError
from lookalike.service.routers.gallery import require_writer
from lookalike.service.routers.pages import TEMPLATES
from lookalike.service.state import ServiceState, get_state
from lookalike.usecases import cluster as uc
from lookalike.usecases.enrol import clean_name

router = APIRouter(prefix="/api/clusters", tags=["clusters"])
State = Annotated[ServiceState, Depends(get_state)]
ClusterId = Annotated[int, Path(ge=1, le=2**62, description="a cluster id from the cluster list")]
Writer = [Depends(require_writer)]
T = TypeVar("T")


class ClusterOut(BaseModel):
    id: int
    name: str | None
    size: int
    representative: int | None
    faces: list[int] = Field(description="face ids, the representative first (thumbnails: /api/gallery/faces/{id}/thumbnail)")


class ClusterListOut(BaseModel):
    clusters: list[ClusterOut]
    summary: dict[str, int]


class RunIn(BaseModel):
    full: bool = Field(False, description="re-cluster every face (names survive); default: only new faces")


class NameIn(BaseModel):
    name: str | None = Field(None, max_length=200, description="the person's name; null forgets it")


class MergeIn(BaseModel):
    ids: list[int] = Field(min_length=2, max_length=1000, description="clusters to merge into the first one")


class SplitIn(BaseModel):
    faces: list[int] = Field(min_length=1, max_length=10000, description="faces of one cluster to move to a new one")


async def _call(state: ServiceState, fn: Callable[..., T], *args: Any) -> T:
    try:
        return await state.run(fn, state.gallery, *args)
    except ClusterNotFoundError as exc:
        raise NotFoundError(str(exc)) from None


@router.get("", response_model=ClusterListOut)
async def list_clusters(
    state: State,
    min_size: Annotated[int, Query(ge=1)] = 1,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    faces: Annotated[int, Query(ge=1, le=100, description="face ids shown per cluster")] = 12,
) -> dict[str, Any]:
    """Clusters, named ones first, then the largest first."""
    def work(g: Any) -> dict[str, Any]:
        rows = uc.list_clusters(g, min_size, limit, offset, faces)
        return {"clusters": [c.as_dict() for c in rows], "summary": uc.cluster_summary(g)}

    return await _call(state, work)


@router.get("/{cluster_id}", response_model=ClusterOut)
async def show(cluster_id: ClusterId, state: State) -> dict[str, Any]:
    """One cluster with every face id."""
    return (await _call(state, uc.show_cluster, cluster_id)).as_dict()


@router.post("/run", dependencies=Writer)
async def run(body: RunIn, state: State) -> dict[str, Any]:
    """Cluster the faces not in a cluster yet (or all of them with ``full``)."""
    return (await _call(state, lambda g: uc.cluster_faces(g, full=body.full))).as_dict()


@router.put("/{cluster_id}/name", response_model=ClusterOut, dependencies=Writer)
async def name(cluster_id: ClusterId, body: NameIn, state: State) -> dict[str, Any]:
    """Name a cluster: its faces become that person of the gallery (searchable under the name)."""
    new = clean_name(body.name) if body.name is not None else None
    return (await _call(state, uc.name_cluster, cluster_id, new)).as_dict()


@router.post("/merge", response_model=ClusterOut, dependencies=Writer)
async def merge(body: MergeIn, state: State) -> dict[str, Any]:
    """Merge clusters into the first one named (undo with ``POST /api/clusters/undo``)."""
    return (await _call(state, uc.merge_clusters, body.ids)).as_dict()


@router.post("/split", response_model=ClusterOut, dependencies=Writer)
async def split(body: SplitIn, state: State) -> dict[str, Any]:
    """Move faces of one cluster into a new cluster of their own."""
    return (await _call(state, uc.split_faces, body.faces)).as_dict()


@router.post("/undo", dependencies=Writer)
async def undo(state: State) -> dict[str, Any]:
    """Undo the last merge."""
    return await _call(state, uc.undo_merge)


page_router = APIRouter(tags=["page"])


@page_router.get("/clusters", response_class=HTMLResponse, include_in_schema=False)
async def clusters_page(request: Request) -> HTMLResponse:
    """The people page: groups of face thumbnails to name, merge, split and undo."""
    return TEMPLATES.TemplateResponse(request, "clusters.html", {"version": __version__})
