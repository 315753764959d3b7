"""Shared fixtures: real photos from ``../shared/datasets`` and isolated data folders.

Embeddings of test photos are cached in the git-ignored ``.cache/`` folder of the checkout so a
second run of the suite skips the slow model; a clean clone computes them once.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("LOOKALIKE_CACHE", str(REPO / ".cache"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's real data folder from a test."""
    monkeypatch.setenv("LOOKALIKE_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="session")
def datasets() -> Path:
    """The shared real-photo data sets; the suite needs them (CI has them beside the clone)."""
    from lookalike.settings import datasets_dir

    root = datasets_dir()
    if not (root / "lfw").is_dir():
        pytest.fail(f"real photo data sets not found at {root}; set LOOKALIKE_DATASETS")
    return root


@pytest.fixture(scope="session")
def lfw_root(datasets: Path) -> Path:
    return datasets / "lfw"


@pytest.fixture(scope="session")
def group_photos(datasets: Path) -> Path:
    return datasets / "group_photos"
