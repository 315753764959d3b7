"""The ONNX Runtime / PyTorch face ResNet against dlib itself, plus the .dat reader and the cache.

Equality is checked on 500 aligned LFW chips made by the project's own pipeline (the labelled face
of each photo, 150×150 5-point chips), picked deterministically: photo paths sorted, shuffled with
a fixed seed, the first 500. dlib needs ~80 ms per face, so the chips and dlib's descriptors are
computed once and cached in ``$LOOKALIKE_CACHE/reference-<key>.npz`` (key: photo list, pipeline,
dlib version).

Not bit-exact (explained in :mod:`lookalike.faces.models.dlib_resnet.embedders`): affine layers are folded into the
convolutions and the libraries sum products in a different order, so descriptors differ from
dlib's by float32 rounding; the tests require cosine ≥ 0.9999 per chip and report the max abs diff.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lookalike.errors import CorruptFileError, MissingDependencyError

from ..._env import child_env

dlib = pytest.importorskip("dlib")
frm = pytest.importorskip("face_recognition_models")

REPO = Path(__file__).resolve().parents[3]
N_CHIPS = 500
SEED = 20240508
MIN_COSINE = 0.9999
#: float32 rounding level for descriptor components of magnitude ~0.1 (measured ~4e-7 on CPU)
MAX_ABS = 1e-5


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _report(label: str, out: np.ndarray, ref: np.ndarray, record_property) -> tuple[float, float]:
    cos = _cosines(out, ref)
    max_abs = float(np.abs(out - ref).max())
    record_property(f"{label}_max_abs_diff", max_abs)
    record_property(f"{label}_min_cosine", float(cos.min()))
    print(f"\n{label} vs dlib on {len(out)} LFW chips: max abs diff {max_abs:.3g}, min cosine {cos.min():.8f}")
    return float(cos.min()), max_abs


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def model_path() -> Path:
    return Path(frm.face_recognition_model_location())


@pytest.fixture(scope="session")
def model_bytes(model_path: Path) -> bytes:
    return model_path.read_bytes()


@pytest.fixture(scope="session")
def lfw_chips(lfw_root: Path) -> tuple[np.ndarray, np.ndarray]:
    """(chips, dlib descriptors) for N_CHIPS LFW photos, cached in $LOOKALIKE_CACHE between runs."""
    import hashlib

    from lookalike.faces.models.dlib_resnet.embedders import DlibResNetEmbedder
    from lookalike.faces.pipeline import FacePipeline
    from lookalike.faces.spec import PipelineSpec
    from lookalike.io import atomic_save_npz
    from lookalike.settings import cache_dir

    paths = sorted(lfw_root.glob("*/*.jpg"))
    random.Random(SEED).shuffle(paths)
    paths = paths[:N_CHIPS]
    pipe = FacePipeline(PipelineSpec(embedder="dlib", mirror=False, fallback="none"))
    key = hashlib.sha256("\n".join([dlib.__version__, pipe.key, *map(str, paths)]).encode()).hexdigest()[:16]
    target = cache_dir() / f"reference-{key}.npz"
    dlib_net = DlibResNetEmbedder()
    if target.exists():
        with np.load(target, allow_pickle=False) as z:
            chips, descriptors = z["chips"], z["descriptors"]
        picks = [0, N_CHIPS // 2, N_CHIPS - 1]  # guard against a stale cache: recompute a few references
        assert np.array_equal(dlib_net.embed(chips[picks]), descriptors[picks])
    else:
        chips = pipe.labelled_chips(paths, progress=False)
        descriptors = dlib_net.embed(chips)
        atomic_save_npz(target, chips=chips, descriptors=descriptors)
    assert len(chips) == N_CHIPS
    return chips, descriptors


@pytest.fixture(scope="session")
def onnx_embedder():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from lookalike.faces.models.dlib_resnet.embedders import OnnxEmbedder

    return OnnxEmbedder()


@pytest.fixture(scope="session")
def torch_embedder():
    pytest.importorskip("torch")
    from lookalike.faces.models.dlib_resnet.embedders import TorchResNetEmbedder

    return TorchResNetEmbedder()


# --------------------------------------------------------------------------- reader


def test_reader_reads_dlib_face_resnet(model_path: Path) -> None:
    from lookalike.faces.models.dlib_resnet.format import Conv, FullyConnected, Pool, read_dlib_network

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
    from lookalike.faces.models.dlib_resnet.format import parse_network

    with pytest.raises(CorruptFileError):
        parse_network(data)


@pytest.mark.parametrize("fraction", [0.0001, 0.01, 0.5, 0.999999])
def test_reader_rejects_truncated_file(model_bytes: bytes, fraction: float) -> None:
    from lookalike.faces.models.dlib_resnet.format import parse_network

    with pytest.raises(CorruptFileError, match="truncated|byte"):
        parse_network(model_bytes[: int(len(model_bytes) * fraction)])


def test_reader_rejects_other_architectures(model_bytes: bytes) -> None:
    from lookalike.faces.models.dlib_resnet.format import parse_network

    with pytest.raises(CorruptFileError, match="con_9"):
        parse_network(model_bytes.replace(b"con_4", b"con_9", 1))  # unknown layer version
    with pytest.raises(CorruptFileError, match="loss"):
        parse_network(model_bytes.replace(b"loss_metric_2", b"loss_multicl", 1))


def test_reader_rejects_trailing_bytes_and_missing_file(model_bytes: bytes, tmp_path: Path) -> None:
    from lookalike.faces.models.dlib_resnet.format import parse_network, read_dlib_network

    with pytest.raises(CorruptFileError, match="trailing"):
        parse_network(model_bytes + b"\x00")
    with pytest.raises(CorruptFileError):
        read_dlib_network(tmp_path / "missing.dat")


# --------------------------------------------------------------------------- cache


def test_weights_are_converted_once_and_cached(
    model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lookalike.faces.models.dlib_resnet import weights as model_cache

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
    from lookalike.faces.models.dlib_resnet import weights as model_cache

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
    min_cos, max_abs = _report("onnxruntime", out, ref, record_property)
    assert min_cos >= MIN_COSINE
    assert max_abs < MAX_ABS


def test_torch_matches_dlib_on_500_lfw_chips(lfw_chips, torch_embedder, record_property) -> None:
    chips, ref = lfw_chips
    out = torch_embedder.embed(chips)
    min_cos, max_abs = _report("torch", out, ref, record_property)
    assert min_cos >= MIN_COSINE
    assert max_abs < MAX_ABS


def test_onnx_and_torch_agree(lfw_chips, onnx_embedder, torch_embedder) -> None:
    """Two independently built graphs (onnx.helper and torch.nn) of the same weights."""
    chips, _ = lfw_chips
    a, b = onnx_embedder.embed(chips[:32]), torch_embedder.embed(chips[:32])
    assert np.abs(a - b).max() < MAX_ABS
    assert _cosines(a, b).min() >= 0.99999


def test_batching_and_shapes(lfw_chips, onnx_embedder) -> None:
    chips, _ = lfw_chips
    batched = onnx_embedder.embed(chips[:40])  # 32 + 8 with the default batch size
    single = np.stack([onnx_embedder.embed(c)[0] for c in chips[:3]])  # (150,150,3) is one chip
    np.testing.assert_allclose(batched[:3], single, atol=1e-6)
    assert onnx_embedder.embed(chips[:0]).shape == (0, 128)
    with pytest.raises(ValueError):
        onnx_embedder.embed(np.zeros((1, 100, 100, 3), np.uint8))


def test_onnx_needs_no_torch(lfw_chips, model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server with only onnx + onnxruntime converts the .dat file and builds the graph itself."""
    pytest.importorskip("onnxruntime")
    from lookalike.faces.models.dlib_resnet.embedders import OnnxEmbedder

    monkeypatch.setenv("LOOKALIKE_CACHE", str(tmp_path))
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    emb = OnnxEmbedder(threads=1)
    assert emb.model_file.is_file() and emb.model_file.is_relative_to(tmp_path)
    chips, ref = lfw_chips
    assert _cosines(emb.embed(chips[:8]), ref[:8]).min() >= MIN_COSINE


def test_threads_follow_lookalike_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ingest workers set LOOKALIKE_THREADS so that processes × threads = cores."""
    from lookalike.faces.models.dlib_resnet.embedders import available_cores, default_threads

    monkeypatch.setenv("LOOKALIKE_THREADS", "1")
    assert default_threads() == 1
    monkeypatch.setenv("LOOKALIKE_THREADS", "0")
    assert default_threads() == available_cores()


# --------------------------------------------------------------------------- registry


def test_names_and_registry(onnx_embedder, torch_embedder) -> None:
    from lookalike.faces.embed import available_embedders, default_embedder_key, load_embedder
    from lookalike.faces.models.dlib_resnet.embedders import DlibResNetEmbedder

    assert available_embedders()[:3] == ["onnx", "torch", "dlib"]
    assert default_embedder_key() == "onnx"
    # same name = interchangeable vectors (the equality tests above are what allows it)
    assert onnx_embedder.card.name == torch_embedder.card.name == DlibResNetEmbedder.card.name == "dlib-resnet-v1"
    assert (onnx_embedder.runtime, torch_embedder.runtime) == ("onnxruntime", "torch")
    assert load_embedder().runtime == "onnxruntime"
    assert load_embedder("dlib").runtime == "dlib"


def test_registry_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    from lookalike.faces.embed import load_embedder

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(MissingDependencyError, match="onnxruntime"):
        load_embedder("onnx")
    assert load_embedder().runtime == "torch"
    monkeypatch.setitem(sys.modules, "torch", None)
    assert load_embedder().runtime == "dlib"


def test_import_is_lazy() -> None:
    """Importing lookalike and its face pipeline loads neither torch nor onnxruntime."""
    code = (
        "import sys, lookalike, lookalike.faces.embed, lookalike.faces.pipeline, lookalike.faces.models.dlib_resnet.embedders;"
        "print(sorted(m for m in ('torch', 'onnxruntime', 'onnx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
