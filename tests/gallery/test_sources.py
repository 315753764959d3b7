"""Readers of the LFW layout and protocol files, CelebA's identity file, folder trees and loose photos."""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from lookalike.errors import LookalikeError
from lookalike.gallery.sources import (
    celeba,
    detect_source,
    folder_per_person,
    lfw,
    loose_photos,
    read_lfw_pairs,
    read_lfw_people,
    sample_people,
)


def test_lfw_layout_and_people(lfw_root: Path) -> None:
    items = lfw(lfw_root)
    assert len(items) == 13_233 and all(it.path.is_absolute() and it.path.exists() for it in items)
    assert items[0].selection == "labelled"
    counts = Counter(it.person for it in items)
    assert len(counts) == 5_749
    many = lfw(lfw_root, min_images=2)
    assert len({it.person for it in many}) == 1_680
    people = read_lfw_people(lfw_root / "people.txt")
    assert len(people) > 5_000 and all(n > 0 for _, n in people)


def test_lfw_pairs_follow_the_files_folds(lfw_root: Path) -> None:
    pairs = read_lfw_pairs(lfw_root)
    assert len(pairs) == 6_000
    for fold in range(10):
        chunk = pairs[fold * 600:(fold + 1) * 600]
        assert {p.fold for p in chunk} == {fold}
        assert [p.same for p in chunk] == [True] * 300 + [False] * 300
    assert all(p.left.exists() and p.right.exists() for p in pairs)
    dev = read_lfw_pairs(lfw_root, "pairsDevTrain.txt")
    assert len(dev) == 2_200 and sum(p.same for p in dev) == 1_100


def test_pairs_file_with_wrong_count_is_refused(tmp_path: Path, lfw_root: Path) -> None:
    lines = (lfw_root / "pairs.txt").read_text().splitlines()
    (tmp_path / "pairs.txt").write_text("\n".join(lines[:-5]) + "\n")
    with pytest.raises(LookalikeError, match="expected 6000 pairs"):
        read_lfw_pairs(tmp_path)


def test_sample_people_is_seeded_and_filtered(lfw_root: Path) -> None:
    items = lfw(lfw_root)
    a = sample_people(items, 50, min_images=2, seed=7)
    b = sample_people(items, 50, min_images=2, seed=7)
    c = sample_people(items, 50, min_images=2, seed=8)
    assert a == b and a != c
    counts = Counter(it.person for it in a)
    assert len(counts) == 50 and min(counts.values()) >= 2


def celeba_fixture(lfw_root: Path, dest: Path, people: list[str]) -> dict[str, str]:
    """CelebA's layout built from LFW photos: ``identity_CelebA.txt`` + ``img_align_celeba/NNNNNN.jpg``."""
    images = dest / "img_align_celeba"
    images.mkdir(parents=True)
    lines, truth, n = [], {}, 0
    for ident, person in enumerate(people, start=101):
        for photo in sorted((lfw_root / person).iterdir())[:3]:
            n += 1
            name = f"{n:06d}.jpg"
            shutil.copyfile(photo, images / name)
            lines.append(f"{name} {ident}")
            truth[name] = f"celeba_{ident}"
    (dest / "identity_CelebA.txt").write_text("\n".join(lines) + "\n")
    return truth


def test_celeba_reader_on_fixture(lfw_root: Path, tmp_path: Path) -> None:
    truth = celeba_fixture(lfw_root, tmp_path, ["Aaron_Peirsol", "Abdullah_Gul", "Adrien_Brody"])
    kind, items = detect_source(tmp_path)
    assert kind == "celeba"
    assert {it.path.name: it.person for it in items} == truth
    assert all(it.path.exists() for it in items)
    (tmp_path / "identity_CelebA.txt").write_text("000001.jpg not-a-number\n")
    with pytest.raises(LookalikeError, match="identity"):
        celeba(tmp_path / "identity_CelebA.txt")


def test_detect_source_kinds(lfw_root: Path, tmp_path: Path, group_photos: Path) -> None:
    assert detect_source(lfw_root)[0] == "lfw"
    tree = tmp_path / "tree"
    (tree / "Ann").mkdir(parents=True)
    shutil.copyfile(lfw_root / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg", tree / "Ann" / "a.jpg")
    (tree / "Ann" / "notes.txt").write_text("not a photo")
    kind, items = detect_source(tree)
    assert kind == "folders" and [(it.path.name, it.person) for it in items] == [("a.jpg", "Ann")]
    assert folder_per_person(tree) == items
    kind, items = detect_source(group_photos)
    assert kind == "photos" and all(it.person is None and it.selection == "all" for it in items)
    assert loose_photos(group_photos / "dlib_bald_guys.jpg")[0].person is None
    with pytest.raises(LookalikeError, match="does not exist"):
        detect_source(tmp_path / "missing")
