"""Pure-Python reader for dlib's serialised DNN files (``*.dat`` written by ``dlib::serialize``).

Only what the face ResNet needs is supported: ``loss_metric``, ``fc`` (no bias), ``avg_pool``,
``max_pool``, ``relu``, ``affine``, ``con``, ``add_prev``, tag/skip layers and
``input_rgb_image_sized``. Anything else — another file type, another architecture, a truncated
file — raises :class:`~lookalike.errors.CorruptFileError` naming the byte offset.

dlib's encoding, as read here (see ``dlib/serialize.h``, ``dlib/dnn/core.h``, ``dlib/dnn/layers.h``):

* integers: one control byte (bit 7 = negative, low 4 bits = byte count ``n``), then ``n``
  little-endian magnitude bytes;
* floats: a ``float_details`` pair of integers, value = mantissa · 2**exponent;
* strings: integer length, then the bytes; bools: ASCII ``'0'`` / ``'1'``;
* tensors: version 2, four integer dims (n, k, nr, nc), then raw little-endian float32;
* an ``add_layer`` writes its version, then its *sub-network* (recursively), then its own
  details and some training state, so layer details appear innermost (input) first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lookalike.errors import CorruptFileError
from lookalike.faces.models.dlib_resnet.arch import Token, face_resnet_v1

_MAX_NAME = 64


# --------------------------------------------------------------------------- layer records


@dataclass(frozen=True)
class InputRGB:
    """``input_rgb_image_sized``: tensor = (pixel - mean) / 256, channels R, G, B."""

    mean: tuple[float, float, float]
    size: int
    scale: float = 256.0


@dataclass(frozen=True)
class Conv:
    """``con_``: cross-correlation, ``weight`` (out, in, kh, kw), ``bias`` (out,)."""

    weight: np.ndarray
    bias: np.ndarray | None
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class Affine:
    """``affine_`` in conv mode: y = gamma[c] * x + beta[c] (a batch-norm folded at training end)."""

    gamma: np.ndarray
    beta: np.ndarray


@dataclass(frozen=True)
class Relu:
    """``relu_``."""


@dataclass(frozen=True)
class Pool:
    """``max_pool_`` / ``avg_pool_``; ``size == (0, 0)`` pools the whole feature map."""

    op: str  # "max" | "avg"
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class AddPrev:
    """``add_prev_<tagN>``: output = current + tagged, both zero-padded to the larger shape."""

    tag: int


@dataclass(frozen=True)
class Tag:
    """``tagN``: remember the current output under ``id`` (identity)."""

    id: int


@dataclass(frozen=True)
class Skip:
    """``skipN``: replace the current output with the one remembered under ``id``."""

    id: int


@dataclass(frozen=True)
class FullyConnected:
    """``fc_``: y = x_flat @ weight.T (+ bias); ``weight`` (out, in)."""

    weight: np.ndarray
    bias: np.ndarray | None


@dataclass(frozen=True)
class LossMetric:
    """``loss_metric_``: training-only; the network output is the descriptor itself."""

    margin: float
    dist_thresh: float


@dataclass(frozen=True)
class InputRGBPyramid:
    """``input_rgb_image_pyramid<pyramid_down<N>>``: the image and its pyramid tiled into one tensor."""

    mean: tuple[float, float, float]
    padding: int  # between pyramid levels
    outer_padding: int  # around the whole tiled image
    pyramid_n: int  # pyramid_down<N>: each level is (N-1)/N of the previous one
    scale: float = 256.0


@dataclass(frozen=True)
class DetectorWindow:
    """One sliding window of ``loss_mmod``: its size in pixels of a pyramid level, and label."""

    width: int
    height: int
    label: str = ""


@dataclass(frozen=True)
class LossMMOD:
    """``loss_mmod_``: the detector's windows and non-max suppression settings (``mmod_options``)."""

    windows: tuple[DetectorWindow, ...]
    nms_iou: float  # test_box_overlap: boxes overlap if IoU (over their bounding box) > nms_iou
    nms_covered: float  # ... or if either is covered by more than this fraction
    use_bbr: bool = False  # bounding-box regression: 4 extra output channels per window
    assume_image_pyramid: bool = True


Layer = Conv | Affine | Relu | Pool | AddPrev | Tag | Skip | FullyConnected


@dataclass
class DlibNetwork:
    """A network read from a dlib file: input, layers input→output, loss."""

    input: InputRGB | InputRGBPyramid
    layers: list[Layer] = field(default_factory=list)
    loss: LossMetric | LossMMOD | None = None

    def arrays(self) -> dict[str, np.ndarray]:
        """All parameter arrays, keyed ``"<layer index>.<name>"`` (for caching)."""
        out: dict[str, np.ndarray] = {}
        for i, layer in enumerate(self.layers):
            for name in ("weight", "bias", "gamma", "beta"):
                value = getattr(layer, name, None)
                if isinstance(value, np.ndarray):
                    out[f"{i}.{name}"] = value
        return out


# --------------------------------------------------------------------------- primitives


class _Reader:
    """Cursor over the file bytes; every failure becomes a CorruptFileError with the offset."""

    def __init__(self, data: bytes, source: str) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.source = source
        self.expected = "face ResNet"
        self.expected_file = "dlib_face_recognition_resnet_model_v1.dat"

    def fail(self, what: str) -> CorruptFileError:
        return CorruptFileError(
            f"{self.source}: not a dlib {self.expected} file we can read ({what} at byte {self.pos}); "
            f"use {self.expected_file} from face_recognition_models"
        )

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"truncated: needed {n} more bytes")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int(self) -> int:
        ctrl = self.take(1)[0]
        size = ctrl & 0x0F
        if size == 0 or size > 8 or ctrl & 0x70:
            self.pos -= 1
            raise self.fail(f"bad integer control byte 0x{ctrl:02x}")
        value = int.from_bytes(self.take(size), "little")
        return -value if ctrl & 0x80 else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        specials = {32000: math.inf, 32001: -math.inf, 32002: math.nan}
        if exponent in specials:
            return specials[exponent]
        return math.ldexp(mantissa, exponent)

    def uint8(self) -> int:
        """A ``uint8_t``: serialised as one raw byte."""
        return int(self.take(1)[0])

    def bool(self) -> bool:
        ch = bytes(self.take(1))
        if ch not in (b"0", b"1"):
            self.pos -= 1
            raise self.fail(f"bad bool byte {ch!r}")
        return ch == b"1"

    def string(self) -> str:
        n = self.int()
        if not 0 <= n <= _MAX_NAME:
            raise self.fail(f"implausible string length {n}")
        raw = bytes(self.take(n))
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise self.fail(f"non-ASCII string {raw!r}") from None

    def peek_string(self) -> str | None:
        """The string at the cursor if one plausibly starts there, without moving."""
        start = self.pos
        try:
            s = self.string()
        except CorruptFileError:
            return None
        finally:
            self.pos = start
        return s if s.isidentifier() else None

    def expect_version(self, allowed: tuple[int, ...], what: str) -> int:
        v = self.int()
        if v not in allowed:
            raise self.fail(f"{what} version {v}, expected one of {allowed}")
        return v

    def tensor(self) -> np.ndarray:
        self.expect_version((2,), "tensor")
        dims = [self.int() for _ in range(4)]
        if any(d < 0 for d in dims):
            raise self.fail(f"negative tensor dims {dims}")
        count = math.prod(dims)
        if count * 4 > len(self.data) - self.pos:
            raise self.fail(f"truncated tensor of shape {dims}")
        raw = self.take(count * 4)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(dims)

    def alias(self) -> tuple[int, int, int, int]:
        self.expect_version((1,), "alias_tensor")
        dims = tuple(self.int() for _ in range(4))
        if any(d < 0 for d in dims):
            raise self.fail(f"negative alias dims {dims}")
        return dims  # type: ignore[return-value]

    def at_end(self) -> bool:
        return self.pos == len(self.data)


def _default_padding(kernel: int, stride: int) -> int:
    """dlib's template default: ``_padding = _stride != 1 ? 0 : _nr / 2``."""
    return 0 if stride != 1 else kernel // 2


def _slice(params: np.ndarray, offset: int, shape: tuple[int, ...], r: _Reader, what: str) -> np.ndarray:
    count = math.prod(shape)
    flat = params.reshape(-1)
    if offset + count > flat.size:
        raise r.fail(f"{what}: {count} values at offset {offset} exceed {flat.size} parameters")
    return flat[offset : offset + count].reshape(shape).copy()


# --------------------------------------------------------------------------- layer details


def _read_input(r: _Reader, token: Token) -> InputRGB:
    name = r.string()
    if name != "input_rgb_image_sized":
        raise r.fail(f"input layer {name!r}, expected 'input_rgb_image_sized'")
    mean = (r.float(), r.float(), r.float())
    nr, nc = r.int(), r.int()
    if (nr, nc) != (token.args[0], token.args[0]):
        raise r.fail(f"input size {nr}x{nc}, expected {token.args[0]}")
    return InputRGB(mean=mean, size=nr)


def _read_con(r: _Reader, name: str, token: Token) -> Conv:
    if name not in ("con_4", "con_5", "con_6"):
        raise r.fail(f"unsupported convolution record {name!r}")
    params = r.tensor()
    num_filters = r.int()
    nr, nc, sy, sx = r.int(), r.int(), r.int(), r.int()
    py, px = r.int(), r.int()
    filters, biases = r.alias(), r.alias()
    for _ in range(4):  # learning-rate and weight-decay multipliers
        r.float()
    use_bias = r.bool() if name in ("con_5", "con_6") else True
    if name == "con_6" and r.bool():
        raise r.fail("con_ with fused relu is not supported")
    want_n, want_nr, want_nc, want_sy, want_sx = token.args
    if (num_filters, nr, nc, sy, sx) != (want_n, want_nr, want_nc, want_sy, want_sx):
        raise r.fail(f"con {num_filters} {nr}x{nc}/{sy}, expected {want_n} {want_nr}x{want_nc}/{want_sy}")
    if (py, px) != (_default_padding(nr, sy), _default_padding(nc, sx)):
        raise r.fail(f"con padding {py},{px} differs from dlib's default")
    if filters[0] != num_filters or filters[2:] != (nr, nc):
        raise r.fail(f"con filter shape {filters}")
    weight = _slice(params, 0, filters, r, "con filters")
    bias = _slice(params, weight.size, (num_filters,), r, "con biases") if use_bias and any(biases) else None
    return Conv(weight=weight, bias=bias, stride=(sy, sx), padding=(py, px))


def _read_affine(r: _Reader, name: str, token: Token) -> Affine:
    if name == "bn_con2":
        return _read_bn_con(r)
    if name not in ("affine_", "affine_2"):
        raise r.fail(f"unsupported affine record {name!r}")
    params = r.tensor()
    gamma_shape, beta_shape = r.alias(), r.alias()
    mode = r.int()
    if name == "affine_2" and r.bool():
        raise r.fail("disabled affine layer is not supported")
    if mode != 0 or gamma_shape != beta_shape or gamma_shape[0] != 1 or gamma_shape[2:] != (1, 1):
        raise r.fail(f"affine layer in mode {mode} with shape {gamma_shape} (expected conv mode)")
    gamma = _slice(params, 0, (gamma_shape[1],), r, "affine gamma")
    beta = _slice(params, gamma.size, (beta_shape[1],), r, "affine beta")
    return Affine(gamma=gamma, beta=beta)


def _read_bn_con(r: _Reader) -> Affine:
    """A ``bn_con2`` record read into an ``affine`` layer, as dlib's ``affine_(const bn_&)`` does.

    ``gamma' = gamma / sqrt(running_variance + eps)``, ``beta' = beta - gamma' · running_mean``
    (float32, like dlib's ``matrix<float>`` expression).
    """
    params = r.tensor()
    gamma_shape, beta_shape = r.alias(), r.alias()
    for _ in range(2):  # means, invstds of the last training batch
        r.tensor()
    running_means, running_variances = r.tensor(), r.tensor()
    r.int(), r.int()  # num_updates, running_stats_window_size
    for _ in range(4):  # learning-rate and weight-decay multipliers
        r.float()
    eps = r.float()
    if gamma_shape != beta_shape or gamma_shape[0] != 1 or gamma_shape[2:] != (1, 1):
        raise r.fail(f"bn_con layer with shape {gamma_shape} (expected conv mode)")
    k = gamma_shape[1]
    if running_means.size != k or running_variances.size != k:
        raise r.fail(f"bn_con running statistics of size {running_means.size}, expected {k}")
    gamma = _slice(params, 0, (k,), r, "bn gamma")
    beta = _slice(params, k, (k,), r, "bn beta")
    var = running_variances.reshape(-1).astype(np.float32)
    g = (gamma / np.sqrt(var + np.float32(eps))).astype(np.float32)
    b = (beta - g * running_means.reshape(-1).astype(np.float32)).astype(np.float32)
    return Affine(gamma=g, beta=b)


def _read_relu(r: _Reader, name: str, token: Token) -> Relu:
    if name not in ("relu_", "relu_2"):
        raise r.fail(f"unsupported relu record {name!r}")
    if name == "relu_2" and r.bool():
        raise r.fail("disabled relu layer is not supported")
    return Relu()


def _read_pool(r: _Reader, name: str, token: Token) -> Pool:
    op = token.kind.split("_")[0]
    if name != f"{op}_pool_2":
        raise r.fail(f"pool record {name!r}, expected '{op}_pool_2'")
    nr, nc, sy, sx, py, px = (r.int() for _ in range(6))
    if (nr, nc, sy, sx) != token.args:
        raise r.fail(f"{op}_pool {nr}x{nc}/{sy}, expected {token.args}")
    if (py, px) != (_default_padding(nr, sy), _default_padding(nc, sx)):
        raise r.fail(f"{op}_pool padding {py},{px} differs from dlib's default")
    return Pool(op=op, size=(nr, nc), stride=(sy, sx), padding=(py, px))


def _read_add_prev(r: _Reader, name: str, token: Token) -> AddPrev:
    if name != "add_prev_":
        raise r.fail(f"unsupported add_prev record {name!r}")
    return AddPrev(tag=token.args[0])


def _read_fc(r: _Reader, name: str, token: Token) -> FullyConnected:
    if name not in ("fc_2", "fc_3"):
        raise r.fail(f"unsupported fc record {name!r}")
    num_outputs, num_inputs = r.int(), r.int()
    params = r.tensor()
    weights, _biases = r.alias(), r.alias()
    bias_mode = r.int()
    for _ in range(4):
        r.float()
    if name == "fc_3":
        r.bool()
    if num_outputs != token.args[0] or bias_mode != 1:
        raise r.fail(f"fc with {num_outputs} outputs and bias mode {bias_mode}, expected fc_no_bias")
    if weights[:2] != (num_inputs, num_outputs):
        raise r.fail(f"fc weight shape {weights}")
    w = _slice(params, 0, (num_inputs, num_outputs), r, "fc weights")  # dlib: y = x · W
    return FullyConnected(weight=np.ascontiguousarray(w.T), bias=None)


def _read_loss_metric(r: _Reader) -> LossMetric:
    name = r.string()
    if name == "loss_metric_":
        return LossMetric(margin=0.1, dist_thresh=0.75)
    if name != "loss_metric_2":
        raise r.fail(f"loss layer {name!r}, expected 'loss_metric_2'")
    return LossMetric(margin=r.float(), dist_thresh=r.float())


def _read_loss_mmod(r: _Reader) -> LossMMOD:
    """``loss_mmod_`` and its ``mmod_options`` (versions 1 to 4, see ``dlib/dnn/loss.h``)."""
    name = r.string()
    if name != "loss_mmod_":
        raise r.fail(f"loss layer {name!r}, expected 'loss_mmod_'")
    version = r.expect_version((1, 2, 3, 4), "mmod_options")
    if version == 1:
        windows = [DetectorWindow(r.int(), r.int())]
    else:
        windows = []
        for _ in range(r.int()):
            v = r.expect_version((1, 2), "detector window")
            w, h = r.int(), r.int()
            windows.append(DetectorWindow(w, h, r.string() if v == 2 else ""))
    r.float(), r.float(), r.float()  # loss per false alarm / missed target, truth match IoU (training)
    nms_iou, nms_covered = r.float(), r.float()
    r.float(), r.float()  # overlaps_ignore (training)
    pyramid = r.uint8() == 0 if version >= 3 else True  # use_image_pyramid::yes == 0
    bbr = False
    if version >= 4:
        bbr = r.bool()
        r.float()  # bbr_lambda (training)
    if not windows:
        raise r.fail("loss_mmod without detector windows")
    return LossMMOD(tuple(windows), nms_iou, nms_covered, use_bbr=bbr, assume_image_pyramid=pyramid)


def _read_input_rgb(r: _Reader, token: Token) -> InputRGB:
    return _read_input(r, token)


def _read_input_pyramid(r: _Reader, token: Token) -> InputRGBPyramid:
    """``input_rgb_image_pyramid`` (padding 10 / 11 when the record predates them) or ``...2``."""
    name = r.string()
    if name not in ("input_rgb_image_pyramid", "input_rgb_image_pyramid2"):
        raise r.fail(f"input layer {name!r}, expected 'input_rgb_image_pyramid'")
    mean = (r.float(), r.float(), r.float())
    padding, outer = (r.int(), r.int()) if name.endswith("2") else (10, 11)
    return InputRGBPyramid(mean=mean, padding=padding, outer_padding=outer, pyramid_n=token.args[0])


_LOSS_READERS = {"loss_metric": _read_loss_metric, "loss_mmod": _read_loss_mmod}
_INPUT_READERS = {
    "input_rgb_image_sized": ("input_rgb_image_sized", _read_input_rgb),
    "input_rgb_image_pyramid": ("input_rgb_image_pyramid", _read_input_pyramid),
}


_DETAIL_READERS = {
    "con": _read_con,
    "affine": _read_affine,
    "relu": _read_relu,
    "max_pool": _read_pool,
    "avg_pool": _read_pool,
    "add_prev": _read_add_prev,
    "fc_no_bias": _read_fc,
}


def _read_details(r: _Reader, token: Token) -> Layer:
    name = r.string()
    return _DETAIL_READERS[token.kind](r, name, token)


def _skip_training_state(r: _Reader, add_layer_version: int, wraps_input: bool) -> None:
    """The bools and tensors an ``add_layer`` stores after its details (training state)."""
    r.bool(), r.bool(), r.bool()  # setup called, gradient stale, output/gradient disabled
    r.tensor(), r.tensor()  # x_grad, cached_output
    if wraps_input:
        r.tensor()  # grad_final
        if add_layer_version >= 3:
            r.int()  # sample expansion factor
    elif add_layer_version >= 2:
        r.tensor()  # params_grad


# --------------------------------------------------------------------------- network


def parse_network(
    data: bytes,
    template: list[Token] | None = None,
    source: str = "<bytes>",
    what: tuple[str, str] | None = None,
) -> DlibNetwork:
    """Decode a serialised dlib network laid out as ``template`` (default: the face ResNet).

    ``what`` names the expected network and file for error messages (default: the face ResNet).
    """
    tokens = template if template is not None else face_resnet_v1()
    r = _Reader(data, source)
    if what is not None:
        r.expected, r.expected_file = what
    if tokens[0].kind not in _LOSS_READERS or tokens[-1].kind not in _INPUT_READERS:
        raise ValueError(f"template must run from one of {sorted(_LOSS_READERS)} to one of {sorted(_INPUT_READERS)}")
    r.expect_version((1,), "loss layer")
    loss = _LOSS_READERS[tokens[0].kind](r)

    body = tokens[1:-1]  # outermost first
    compute = [t for t in body if not t.is_wrapper]
    versions: list[int] = []
    for i, token in enumerate(body):
        if token.is_wrapper:
            r.expect_version((1,), f"{token.kind} layer")
        elif token is compute[-1]:
            versions.append(r.expect_version((2, 3), "input add_layer"))
        else:
            versions.append(r.expect_version((1, 2), "add_layer"))
    input_name, read_input = _INPUT_READERS[tokens[-1].kind]
    if not (r.peek_string() or "").startswith(input_name):
        raise r.fail(f"input layer not where the {r.expected} template puts it")
    net = DlibNetwork(input=read_input(r, tokens[-1]), loss=loss)

    # Details come innermost first; tag/skip layers are placed from the template.
    inner_first = list(reversed(body))
    versions_inner_first = list(reversed(versions))
    k = 0
    for token in inner_first:
        if token.kind == "tag":
            net.layers.append(Tag(token.args[0]))
        elif token.kind == "skip":
            net.layers.append(Skip(token.args[0]))
        else:
            net.layers.append(_read_details(r, token))
            _skip_training_state(r, versions_inner_first[k], wraps_input=(k == 0))
            k += 1
    if not r.at_end():
        raise r.fail(f"{len(r.data) - r.pos} unexpected trailing bytes")
    return net


def fold_affine(net: DlibNetwork) -> DlibNetwork:
    """The same network with every ``affine`` that follows a convolution folded into it.

    ``gamma·(W∗x + b) + beta = (gamma·W)∗x + (gamma·b + beta)``: computed in float64 and rounded
    once to float32, so only float rounding changes (see :mod:`lookalike.faces.models.dlib_resnet.embedders`).
    """
    layers: list[Layer] = []
    i = 0
    while i < len(net.layers):
        layer = net.layers[i]
        nxt = net.layers[i + 1] if i + 1 < len(net.layers) else None
        if isinstance(layer, Conv) and isinstance(nxt, Affine):
            g = nxt.gamma.astype(np.float64)
            bias = layer.bias.astype(np.float64) if layer.bias is not None else np.zeros(len(g))
            weight = layer.weight.astype(np.float64) * g[:, None, None, None]
            layers.append(Conv(weight=weight.astype(np.float32), bias=(bias * g + nxt.beta).astype(np.float32),
                               stride=layer.stride, padding=layer.padding))  # fmt: skip
            i += 2
        else:
            layers.append(layer)
            i += 1
    return DlibNetwork(input=net.input, layers=layers, loss=net.loss)


def read_dlib_network(path: str | Path) -> DlibNetwork:
    """Read dlib's ``dlib_face_recognition_resnet_model_v1.dat`` (or a file of the same layout)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise CorruptFileError(f"{p}: cannot read dlib network file: {exc}") from exc
    return parse_network(data, source=str(p))

