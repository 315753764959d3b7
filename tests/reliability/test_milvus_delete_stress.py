"""The service's delete-visibility stress test, unchanged, on a gallery whose vectors live in Milvus
(Milvus Lite in the gallery folder, and a real Milvus server)."""
from __future__ import annotations

from pathlib import Path

import pytest

from lookalike.faces.pipeline import FacePipeline
from lookalike.gallery import Gallery
from lookalike.index import index_class
from lookalike.service.app import create_app
from tests.index.milvus_server import index_case
from tests.reliability.test_service_under_stress import TOKEN
from tests.reliability.test_service_under_stress import (
    test_no_deleted_face_after_delete_is_acknowledged as delete_stress,
)
from tests.service.live import live_server

pytestmark = [pytest.mark.reliability,
              pytest.mark.skipif(not index_class("milvus").available(), reason="pymilvus is not installed")]


@pytest.mark.parametrize("where", ["milvus", "milvus@server"])
def test_no_deleted_face_after_delete_is_acknowledged_on_milvus(
        where: str, gallery_copy: Path, pipeline: FacePipeline, photos: dict[str, Path],
        request: pytest.FixtureRequest) -> None:
    name, params = index_case(where, request)
    with Gallery.open(gallery_copy, index=name, **params) as g:  # the copy's vectors move into Milvus
        assert g.index_name == "milvus" and len(g.index) == len(g.store.face_ids())
    with live_server(create_app(gallery_copy, token=TOKEN, pipeline=pipeline)) as url:
        delete_stress(url, photos)
