"""Use-case tests share the service tests' small real gallery (ten LFW people, five photos each)."""

from tests.service.conftest import base_gallery, gallery_copy, photos, pipeline  # noqa: F401
