"""The PyTorch / ONNX Runtime face ResNet against dlib itself, plus the .dat reader and the cache.

Equality is checked on 500 aligned LFW chips (HOG detector without upsampling, 5-point landmarks,
``dlib.get_face_chip(size=150, padding=0.25)``), picked deterministically: photo paths sorted,
shuffled with a fixed seed, first face of each photo until 500 chips. Chips and dlib's reference
descriptors are cached in ``<repo>/.cache/`` (git-ignored) because dlib needs ~80 ms per face;
the cache key covers the photo list, dlib's version and the model checksum.

Not bit-exact (documented in :mod:`lookalike.faces.fast_embed`): affine layers are folded into the
convolutions and the libraries sum products in a different order, so descriptors differ from
dlib's by float32 rounding (~1e-6); the tests require cosine ≥ 0.9999 and report the max abs diff.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest

from lookalike.errors import CorruptFileError, MissingDependencyError

dlib = pytest.importorskip("dlib")
frm = pytest.importorskip("face_recognition_models")

REPO = Path(__file__).resolve().parents[2]
LFW = Path(os.environ.get("LOOKALIKE_LFW", "/work/shared/datasets/lfw"))
N_CHIPS = 500
SEED = 20240508
MIN_COSINE = 0.9999


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def model_path() -> Path:
    return Path(frm.face_recognition_model_location())


@pytest.fixture(scope="session")
def model_bytes(model_path: Path) -> bytes:
    return model_path.read_bytes()


@pytest.fixture(scope="session")
def fast_cache() -> Path:
    """Converted weights / ONNX export for the embedders under test (git-ignored, reused)."""
    folder = REPO / ".cache" / "lookalike"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOOKALIKE_CACHE", str(folder))
        yield folder


def _make_chips(paths: list[Path], n: int) -> tuple[np.ndarray, list[str]]:
    from PIL import Image

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    chips, used = [], []
    for p in paths:
        img = np.asarray(Image.open(p).convert("RGB"))
        faces = detector(img, 0)
        if not faces:
            continue
        chips.append(dlib.get_face_chip(img, predictor(img, faces[0]), size=150, padding=0.25))
        used.append(str(p.relative_to(LFW)))
        if len(chips) == n:
            break
    return np.stack(chips), used


@pytest.fixture(scope="session")
def lfw_chips(model_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(chips, dlib descriptors) for N_CHIPS LFW photos, cached under .cache/ between runs."""
    if not LFW.is_dir():
        pytest.skip(f"LFW not found at {LFW} (set LOOKALIKE_LFW)")
    paths = sorted(LFW.glob("*/*.jpg"))
    random.Random(SEED).shuffle(paths)
    from lookalike.faces.model_cache import file_sha256

    key = hashlib.sha256(
        "\n".join([dlib.__version__, file_sha256(model_path), str(N_CHIPS), *map(str, paths)]).encode()
    ).hexdigest()[:16]
    cached = REPO / ".cache" / "test_fast_embedder" / f"lfw-chips-{key}.npz"
    net = dlib.face_recognition_model_v1(str(model_path))
    if cached.exists():
        with np.load(cached, allow_pickle=False) as data:
            chips, ref = data["chips"], data["dlib"]
        # guard against a stale cache: recompute a few reference descriptors
        for i in (0, len(chips) // 2, len(chips) - 1):
            assert np.array_equal(np.asarray(net.compute_face_descriptor(chips[i]), np.float32), ref[i])
        return chips, ref
    chips, used = _make_chips(paths, N_CHIPS)
    assert len(chips) == N_CHIPS
    ref = np.stack([np.asarray(net.compute_face_descriptor(c), dtype=np.float32) for c in chips])
    from lookalike.faces.model_cache import atomic_write

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            np.savez(fh, chips=chips, dlib=ref, paths=np.array(used))

    atomic_write(cached, write)
    return chips, ref


@pytest.fixture(scope="session")
def onnx_embedder(fast_cache: Path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    from lookalike.faces.fast_embed import OnnxEmbedder

    return OnnxEmbedder()


@pytest.fixture(scope="session")
def torch_embedder(fast_cache: Path):
    pytest.importorskip("torch")
    from lookalike.faces.fast_embed import TorchResNetEmbedder

    return TorchResNetEmbedder()


# --------------------------------------------------------------------------- reader


def test_reader_reads_dlib_face_resnet(model_path: Path) -> None:
    from lookalike.faces.dlib_format import Conv, FullyConnected, Pool, read_dlib_network

    net = read_dlib_network(model_path)
    assert net.input.size == 150
    np.testing.assert_allclose(net.input.mean, (122.782, 117.001, 104.298), atol=1e-4)
    convs = [layer for layer in net.layers if isinstance(layer, Conv)]
    assert len(convs) == 29
    assert convs[0].weight.shape == (32, 3, 7, 7) and convs[0].bias.shape == (32,)
    assert convs[0].stride == (2, 2) and convs[0].padding == (0, 0)  # dlib: no padding when strided
    assert convs[1].padding == (1, 1)
    pools = [layer for layer in net.layers if isinstance(layer, Pool)]
    assert [p.op for p in pools] == ["max", "avg", "avg", "avg", "avg", "avg"]
    fc = net.layers[-1]
    assert isinstance(fc, FullyConnected) and fc.weight.shape == (128, 256) and fc.bias is None


@pytest.mark.parametrize(
    "data",
    [b"", b"\x89PNG\r\n\x1a\n" + bytes(100), bytes(range(256)) * 4, b"\x01\x01\x01\x05hello"],
    ids=["empty", "png", "noise", "wrong-loss"],
)
def test_reader_rejects_other_files(data: bytes) -> None:
    from lookalike.faces.dlib_format import parse_network

    with pytest.raises(CorruptFileError):
        parse_network(data)


@pytest.mark.parametrize("fraction", [0.0001, 0.01, 0.5, 0.999999])
def test_reader_rejects_truncated_file(model_bytes: bytes, fraction: float) -> None:
    from lookalike.faces.dlib_format import parse_network

    with pytest.raises(CorruptFileError, match="truncated|byte"):
        parse_network(model_bytes[: int(len(model_bytes) * fraction)])


def test_reader_rejects_other_architectures(model_bytes: bytes) -> None:
    from lookalike.faces.dlib_format import parse_network

    with pytest.raises(CorruptFileError, match="con_9"):
        parse_network(model_bytes.replace(b"con_4", b"con_9", 1))  # unknown layer version
    with pytest.raises(CorruptFileError, match="loss"):
        parse_network(model_bytes.replace(b"loss_metric_2", b"loss_multicl", 1))


def test_reader_rejects_trailing_bytes_and_missing_file(model_bytes: bytes, tmp_path: Path) -> None:
    from lookalike.faces.dlib_format import parse_network, read_dlib_network

    with pytest.raises(CorruptFileError, match="trailing"):
        parse_network(model_bytes + b"\x00")
    with pytest.raises(CorruptFileError):
        read_dlib_network(tmp_path / "missing.dat")


# --------------------------------------------------------------------------- cache


def test_weights_are_converted_once_and_cached(
    model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lookalike.faces import model_cache

    monkeypatch.setenv("LOOKALIKE_CACHE", str(tmp_path))
    first = model_cache.load_network(model_path)
    assert not first.from_cache
    assert (tmp_path / "models" / first.sha256 / "weights.npz").is_file()
    assert not list(first.folder.glob("*.tmp*"))  # atomic write left no temporary file

    def no_conversion(*_args, **_kwargs):
        raise AssertionError("the .dat file was converted again")

    monkeypatch.setattr(model_cache, "read_dlib_network", no_conversion)
    second = model_cache.load_network(model_path)
    assert second.from_cache and second.sha256 == first.sha256
    a, b = first.net.arrays(), second.net.arrays()
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert [type(x) for x in first.net.layers] == [type(x) for x in second.net.layers]


def test_damaged_cache_is_rebuilt(model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lookalike.faces import model_cache

    monkeypatch.setenv("LOOKALIKE_CACHE", str(tmp_path))
    first = model_cache.load_network(model_path)
    (first.folder / "weights.npz").write_bytes(b"not an npz")
    with pytest.warns(UserWarning, match="unreadable"):
        again = model_cache.load_network(model_path)
    assert not again.from_cache
    assert model_cache.load_network(model_path).from_cache


# --------------------------------------------------------------------------- equality with dlib


def test_onnx_matches_dlib_on_500_lfw_chips(lfw_chips, onnx_embedder, record_property) -> None:
    chips, ref = lfw_chips
    out = onnx_embedder.embed(chips)
    assert out.shape == (N_CHIPS, 128) and out.dtype == np.float32
    cos = _cosines(out, ref)
    max_abs = float(np.abs(out - ref).max())
    record_property("onnx_max_abs_diff", max_abs)
    record_property("onnx_min_cosine", float(cos.min()))
    print(f"\nonnxruntime vs dlib on {N_CHIPS} chips: max abs diff {max_abs:.3g}, min cosine {cos.min():.8f}")
    assert cos.min() >= MIN_COSINE
    assert max_abs < 1e-3


def test_torch_matches_dlib(lfw_chips, torch_embedder, record_property) -> None:
    chips, ref = lfw_chips
    n = 128  # PyTorch on this CPU is ~8x slower than ONNX Runtime; a quarter of the chips suffices
    out = torch_embedder.embed(chips[:n])
    cos = _cosines(out, ref[:n])
    max_abs = float(np.abs(out - ref[:n]).max())
    record_property("torch_max_abs_diff", max_abs)
    print(f"\ntorch vs dlib on {n} chips: max abs diff {max_abs:.3g}, min cosine {cos.min():.8f}")
    assert cos.min() >= MIN_COSINE
    assert max_abs < 1e-3


def test_onnx_and_torch_agree(lfw_chips, onnx_embedder, torch_embedder) -> None:
    chips, _ = lfw_chips
    a, b = onnx_embedder.embed(chips[:32]), torch_embedder.embed(chips[:32])
    assert np.abs(a - b).max() < 1e-4
    assert _cosines(a, b).min() >= 0.99999


def test_batching_and_shapes(lfw_chips, onnx_embedder) -> None:
    chips, _ = lfw_chips
    batched = onnx_embedder.embed(chips[:40])  # 32 + 8 with the default batch size
    single = np.stack([onnx_embedder.embed(c)[0] for c in chips[:3]])  # (150,150,3) is one chip
    np.testing.assert_allclose(batched[:3], single, atol=1e-5)
    assert onnx_embedder.embed(chips[:0]).shape == (0, 128)
    with pytest.raises(ValueError):
        onnx_embedder.embed(np.zeros((1, 100, 100, 3), np.uint8))


# --------------------------------------------------------------------------- registry


def test_names_and_registry(onnx_embedder, torch_embedder, fast_cache: Path) -> None:
    from lookalike.faces.embed import DlibResNetEmbedder, available_embedders, load_embedder

    assert available_embedders()[:3] == ["onnx", "torch", "dlib"]
    assert onnx_embedder.name == torch_embedder.name == DlibResNetEmbedder.name
    assert (onnx_embedder.runtime, torch_embedder.runtime, DlibResNetEmbedder.runtime) == (
        "onnxruntime",
        "torch",
        "dlib",
    )
    assert load_embedder().runtime == "onnxruntime"


def test_registry_falls_back_without_onnxruntime(fast_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    from lookalike.faces.embed import load_embedder

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(MissingDependencyError, match="onnxruntime"):
        load_embedder("onnx")
    assert load_embedder().runtime == "torch"
