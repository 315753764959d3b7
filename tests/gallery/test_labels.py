"""Labelled folders with attributes: labels from file names (regex with named groups) or a CSV, and
the typed errors for bad patterns, bad files and names that do not exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookalike.errors import LabelPatternError, UnknownLabelError
from lookalike.gallery.labels import labels_from_csv, labels_from_names, read_labels, select

PATTERN = r"(?P<person>[a-z]+)_(?P<expression>[a-z]+)(?:_(?P<glasses>glasses))?\.jpg$"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("ann_happy.jpg", "ann_sad_glasses.jpg", "bob_happy.jpg", "bob_sad.jpg", "notes.txt",
                 "sub/cid_wink.jpg", "sub/unlabelled photo.jpg", ".hidden/ann_happy.jpg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    return tmp_path


def test_regex_labels_people_and_several_attribute_kinds(folder: Path) -> None:
    labels = labels_from_names(folder, PATTERN)
    assert [(p.path.name, p.person, p.attributes) for p in labels.photos] == [
        ("ann_happy.jpg", "ann", {"expression": "happy"}),
        ("ann_sad_glasses.jpg", "ann", {"expression": "sad", "glasses": "glasses"}),
        ("bob_happy.jpg", "bob", {"expression": "happy"}),
        ("bob_sad.jpg", "bob", {"expression": "sad"}),
        ("cid_wink.jpg", "cid", {"expression": "wink"}),
    ]
    assert labels.unmatched == 1  # "unlabelled photo.jpg"; notes.txt is no photo, .hidden is skipped
    assert labels.people == ["ann", "bob", "cid"] and labels.kinds == ["expression", "glasses"]
    assert labels.values("expression") == ["happy", "sad", "wink"]
    assert [labels.photos[i].path.name for i in select(labels, "ann", [("expression", "sad")])] == ["ann_sad_glasses.jpg"]
    assert len(labels.with_kind("glasses")) == 1


def test_pattern_sees_the_relative_path(folder: Path) -> None:
    labels = labels_from_names(folder, r"^(?P<folder>sub)/(?P<person>[a-z]+)_")
    assert [(p.person, p.attributes) for p in labels.photos] == [("cid", {"folder": "sub"})]


@pytest.mark.parametrize(("pattern", "says"), [
    (r"(?P<person>[a-z+", "not a valid regular expression"),
    (r"(?P<who>[a-z]+)_(?P<expression>[a-z]+)", "needs a named group (?P<person>…)"),
    (r"(?P<person>zzz)_", "matched none of the 6 photos"),
])
def test_bad_patterns_are_typed_errors(folder: Path, pattern: str, says: str) -> None:
    with pytest.raises(LabelPatternError, match=None) as err:
        labels_from_names(folder, pattern)
    assert says in str(err.value)


def test_unknown_names_list_what_exists(folder: Path) -> None:
    labels = labels_from_names(folder, PATTERN)
    with pytest.raises(UnknownLabelError, match="people: ann, bob, cid"):
        select(labels, "dan")
    with pytest.raises(UnknownLabelError, match="expression values: happy, sad, wink"):
        select(labels, "ann", [("expression", "angry")])
    with pytest.raises(UnknownLabelError, match="kinds: expression, glasses"):
        select(labels, None, [("mood", "x")])


def test_csv_labels(folder: Path) -> None:
    csv = folder / "labels.csv"
    csv.write_text("path,person,expression,lighting\nann_happy.jpg,ann,happy,left\nsub/cid_wink.jpg,cid,wink,\n")
    labels = labels_from_csv(csv)
    assert [(p.path.name, p.person, p.attributes) for p in labels.photos] == [
        ("ann_happy.jpg", "ann", {"expression": "happy", "lighting": "left"}),
        ("cid_wink.jpg", "cid", {"expression": "wink"}),  # an empty cell leaves the kind unset
    ]
    assert read_labels(folder, csv_path=csv).people == ["ann", "cid"]


@pytest.mark.parametrize(("text", "says"), [
    ("file,person\nann_happy.jpg,ann\n", "needs the columns 'path' and 'person'"),
    ("path,person\nmissing.jpg,ann\n", "line 2: no photo"),
    ("path,person\nann_happy.jpg,\n", "line 2: empty path or person"),
    ("path,person\n", "lists no photos"),
])
def test_bad_csv_files(folder: Path, text: str, says: str) -> None:
    csv = folder / "labels.csv"
    csv.write_text(text)
    with pytest.raises(LabelPatternError) as err:
        labels_from_csv(csv)
    assert says in str(err.value)


def test_exactly_one_way_to_label(folder: Path) -> None:
    with pytest.raises(LabelPatternError, match="exactly one"):
        read_labels(folder)
    with pytest.raises(LabelPatternError, match="exactly one"):
        read_labels(folder, PATTERN, folder / "x.csv")
