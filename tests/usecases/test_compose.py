"""Composed queries: prototype arithmetic against hand-computed vectors, the held-out protocol's
leave-out rule (the target person's photos never reach the attribute model or prototype), and
`lookalike compose` on real Yale photos with clear errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lookalike.cli import app
from lookalike.errors import LookalikeError
from lookalike.evaluation.protocols.compose import ComposeData, held_out_fold, source_rule
from lookalike.gallery.labels import LabelledSet
from lookalike.training.attributes import unit
from lookalike.usecases.compose import (
    arithmetic,
    choose_weight,
    compose_rows,
    parse_attributes,
    people_groups,
    prototype,
    target_ranks,
)

runner = CliRunner()
YALE6 = r"(?P<person>subject0[1-6])\.(?P<expression>happy|normal|sad|sleepy|surprised|wink)\.gif$"


def test_prototypes_and_arithmetic_by_hand() -> None:
    v = np.array([[0.0, 0.0], [1.0, 10.0], [5.0, 2.0]])
    assert prototype(v, "median").tolist() == [1.0, 2.0]
    assert prototype(v, "mean").tolist() == [2.0, 4.0]
    with pytest.raises(LookalikeError, match="unknown prototype rule"):
        prototype(v, "mode")
    # [unit identity ; w × unit attribute]: (3, 4) → (0.6, 0.8); (0, 2) → (0, 1) × 0.5
    assert np.allclose(compose_rows(np.array([3.0, 4.0]), [(np.array([0.0, 2.0]), 0.5)]), [0.6, 0.8, 0.0, 0.5])
    # plus and minus, block by block, back to unit length
    r = 1 / np.sqrt(2)
    assert np.allclose(arithmetic(np.array([2.0, 0.0]), [np.array([0.0, 3.0])]), [r, r])
    # (3, 4) → (0.6, 0.8); minus (0, 5) → (0, 1): (0.6, −0.2) → (3, −1) / √10
    assert np.allclose(arithmetic(np.array([3.0, 4.0]), [], [np.array([0.0, 5.0])]), np.array([3.0, -1.0]) / np.sqrt(10))
    with pytest.raises(LookalikeError, match="cancel out"):
        arithmetic(np.array([1.0, 0.0]), [], [np.array([2.0, 0.0])])
    assert parse_attributes(["expression=happy", " glasses = yes "]) == [("expression", "happy"), ("glasses", "yes")]
    for bad in (["happy"], ["=x"], ["a=1", "a=2"]):
        with pytest.raises(LookalikeError):
            parse_attributes(bad)


def test_target_ranks_by_hand() -> None:
    # two people (identity e1 / e2), two values (attribute e1 / e2); query "p, value b" with w = 1
    ids = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1]], np.float64)
    attr = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], np.float64)
    people, values = np.array(["p", "p", "q", "q"]), np.array(["a", "b", "a", "b"])
    protos = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}
    r = target_ranks(ids, attr, people, values, protos, ["p"], [0.0, 1.0])
    assert r.targets == [("p", "a"), ("p", "b")]
    # w = 0: identity alone; the person prototype of "p, a" is photo 1 itself → photo 1 ranks first, photo 0 second
    assert r.ranks[0.0] == [2, 2] and r.ranks[1.0] == [1, 1]


def _synthetic(people_n: int = 8, seed: int = 0) -> ComposeData:
    """Rows whose first feature is the row number (so a fit can say which rows it saw)."""
    rng = np.random.default_rng(seed)
    values = ["happy", "sad", "wink"]
    people = np.repeat([f"p{i}" for i in range(people_n)], 3)
    vals = np.tile(values, people_n)
    ident = unit(np.repeat(rng.normal(size=(people_n, 8)), 3, axis=0) + 0.05 * rng.normal(size=(3 * people_n, 8)))
    attr = {v: rng.normal(size=4) for v in values}
    feats = np.stack([np.concatenate([[i], attr[v] + 0.3 * rng.normal(size=4)]) for i, v in enumerate(vals)])
    return ComposeData(ident, feats, people, vals)


class RecordingFit:
    """A stand-in attribute model fit that records the rows it is given."""

    def __init__(self) -> None:
        self.seen: list[set[int]] = []

    def __call__(self, features: np.ndarray, values: list[str]):
        self.seen.append({int(r) for r in features[:, 0]})

        class Model:
            def embed(self, x: np.ndarray) -> np.ndarray:
                return unit(x[:, 1:])

        return Model()


def test_held_out_never_shows_the_target_person_to_the_attribute_model_or_prototype() -> None:
    d = _synthetic()
    for person in sorted(set(d.people.tolist())):
        fit = RecordingFit()
        fold = held_out_fold(d, person, fit)
        own = set(np.flatnonzero(d.people == person).tolist())
        assert len(fit.seen) == len(people_groups([p for p in d.people if p != person])) + 1
        assert all(not (rows & own) for rows in fit.seen), f"{person}'s photos reached the attribute model"
        assert set().union(*fit.seen) == set(range(len(d.people))) - own  # every other person's photo was used
        train = d.people != person
        for value, proto in fold.protos.items():  # the attribute prototype: other people's photos only
            assert np.allclose(proto, np.median(fold.attr[train & (d.values == value)], axis=0))
        assert len(fold.ranks.targets) == 3 and all(p == person for p, _ in fold.ranks.targets)


def test_weight_choice_uses_only_the_rows_given() -> None:
    d = _synthetic()
    keep = d.people != "p0"
    fit = RecordingFit()
    w, ranks = choose_weight(d.identity[keep], d.features[keep], d.people[keep], d.values[keep], fit)
    assert all(r < len(d.people) and d.people[r] != "p0" for rows in fit.seen for r in rows)
    assert w in ranks.ranks and {p for p, _ in ranks.targets} == set(d.people[keep].tolist())


def test_source_rule_leaves_the_target_out() -> None:
    d = _synthetic(people_n=4)
    assert len(source_rule(d, leave_out=True)) == len(source_rule(d, leave_out=False)) == 12


@pytest.fixture(scope="module")
def yale(datasets: Path) -> Path:
    return datasets / "yale_faces"


def _compose(*args: str) -> tuple[int, dict]:
    res = runner.invoke(app, ["compose", *args, "--json"])
    return res.exit_code, json.loads(res.stdout.strip().splitlines()[-1])


def test_cli_compose_on_yale(yale: Path) -> None:
    code, out = _compose(str(yale), "--labels-regex", YALE6, "--person", "subject03", "-a", "expression=happy",
                         "-k", "6", "--index", "hnsw")
    assert code == 0, out
    q, n = out["query"], out["neighbours"]
    assert q["person"] == "subject03" and q["attributes"] == {"expression": "happy"} and q["photos"] == 36
    assert 0 < q["weights"]["expression"] <= 1
    assert [x["rank"] for x in n] == [1, 2, 3, 4, 5, 6]
    assert set(n[0]) >= {"rank", "face_id", "person", "distance", "similarity", "image", "attributes"}
    assert all(x["person"] == "subject03" for x in n[:6])  # the person's six photos first
    ranked = [x["attributes"]["expression"] for x in n]
    assert ranked.index("happy") <= 1, ranked  # and the happy one at the top (or next to it)
    # plus / minus photos through the served pipeline, searched with NGT
    happy = str(yale / "subject05" / "subject05.happy.gif")
    sad = str(yale / "subject05" / "subject05.sad.gif")
    code, out = _compose(str(yale), "--labels-regex", YALE6, "--person", "subject03", "-a", "expression=normal",
                         "--plus", happy, "--minus", sad, "-k", "3", "--index", "ngt")
    assert code == 0 and len(out["neighbours"]) == 3 and out["query"]["plus"] == [happy]


@pytest.mark.parametrize(("args", "says"), [
    (["--person", "subject99", "-a", "expression=happy"], "people: subject01, subject02, subject03"),
    (["--person", "subject01", "-a", "expression=angry"], "expression values: happy, normal, sad, sleepy, surprised, wink"),
    (["--person", "subject01", "-a", "mood=x"], "kinds: expression"),
    (["-a", "expression=happy"], "give a person"),
])
def test_cli_compose_errors_list_what_exists(yale: Path, args: list[str], says: str) -> None:
    code, out = _compose(str(yale), "--labels-regex", YALE6, *args)
    assert code == 1 and says in out["error"]["message"], out


@pytest.mark.parametrize(("pattern", "says"), [
    (r"(?P<who>subject\d+)", "needs a named group (?P<person>…)"),
    (r"(?P<person>subject\d+", "not a valid regular expression"),
    (r"(?P<person>nobody)", "matched none of the 164 photos"),
])
def test_cli_compose_bad_patterns(yale: Path, pattern: str, says: str) -> None:
    code, out = _compose(str(yale), "--labels-regex", pattern, "--person", "x")
    assert code == 1 and out["error"]["type"] == "LabelPatternError" and says in out["error"]["message"]


def test_fitted_kind_is_kept_and_reloaded(yale: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lookalike.gallery.labels import labels_from_names
    from lookalike.usecases import compose as uc

    labels = labels_from_names(yale, YALE6)
    first = uc.ComposeSpace(labels).kind("expression")

    def refit(*_: object, **__: object) -> None:
        raise AssertionError("the kept fit should have been read back")

    monkeypatch.setattr(uc, "choose_weight", refit)
    again = uc.ComposeSpace(labels).kind("expression")
    assert again.weight == first.weight and np.allclose(again.vectors, first.vectors)
    assert again.protos.keys() == first.protos.keys()
    feats = uc.ComposeSpace(labels).features[:3]
    assert np.allclose(again.model.embed(feats), first.model.embed(feats), atol=1e-6)


def test_without_pytorch_a_typed_error_before_any_photo_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make run` installs no PyTorch: composing answers MissingDependencyError naming the extra, at once."""
    from lookalike.errors import MissingDependencyError
    from lookalike.usecases.compose import ComposeSpace

    class Untouchable:
        spec = None

        def __getattr__(self, name: str) -> None:
            raise AssertionError(f"the pipeline was used ({name}) before the dependency check")

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch → ImportError
    with pytest.raises(MissingDependencyError, match=r"lookalike\[train\]"):
        ComposeSpace(LabelledSet(photos=[], root=Path(".")), pipeline=Untouchable())  # type: ignore[arg-type]
