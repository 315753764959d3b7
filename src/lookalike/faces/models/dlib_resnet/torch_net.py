"""Build dlib's face ResNet as a PyTorch module from a :class:`~lookalike.faces.models.dlib_resnet.format.DlibNetwork`.

The module takes the chips exactly as the :class:`~lookalike.faces.embed.Embedder` protocol does —
``(n, 150, 150, 3)`` uint8 RGB — and does dlib's input scaling inside the graph, so the ONNX export
of it needs no pre-processing either.

Semantics copied from dlib (``dlib/dnn/layers.h``, ``dlib/cuda/cpu_dlib.cpp``):

* ``con_`` pads ``k // 2`` only when the stride is 1, otherwise not at all; output size
  ``1 + (in + 2·pad - k) // stride`` (what ``nn.Conv2d`` computes too);
* ``add_prev_`` adds tensors of different shapes by zero-padding both at the end of the channel,
  row and column axes up to the larger shape (``tt::add(dest, src1, src2)``); in this network
  that happens for channels (32→64, …) and once spatially (3×3 conv output + 4×4 pooled input);
* ``affine_`` (conv mode) is ``gamma[c]·x + beta[c]``; by default it is folded into the
  preceding convolution (:func:`~lookalike.faces.models.dlib_resnet.format.fold_affine`), which changes float
  rounding only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from lookalike.faces.models.dlib_resnet.format import (
    AddPrev,
    Affine,
    Conv,
    DlibNetwork,
    FullyConnected,
    Pool,
    Relu,
    Skip,
    Tag,
    fold_affine,
)


class _Input(nn.Module):
    """uint8 NHWC RGB → float32 NCHW, ``(pixel - mean) / 256`` as ``input_rgb_image`` does."""

    def __init__(self, mean: tuple[float, float, float], scale: float) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2).to(torch.float32)
        return (x - self.mean) / self.scale


class _AddPrev(nn.Module):
    """Sum of the current output and a tagged one, zero-padded at the end to the larger shape."""

    def __init__(self, shape_a: tuple[int, int, int], shape_b: tuple[int, int, int]) -> None:
        super().__init__()
        out = tuple(max(a, b) for a, b in zip(shape_a, shape_b))
        self.pad_a = _end_pad(shape_a, out)
        self.pad_b = _end_pad(shape_b, out)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.pad_a is not None:
            a = F.pad(a, self.pad_a)
        if self.pad_b is not None:
            b = F.pad(b, self.pad_b)
        return a + b


def _end_pad(shape: tuple[int, int, int], out: tuple[int, ...]) -> list[int] | None:
    c, h, w = shape
    if (c, h, w) == out:
        return None
    return [0, out[2] - w, 0, out[1] - h, 0, out[0] - c]  # F.pad order: W, H, C


class _Flatten(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(x, 1)


class DlibResNet(nn.Module):
    """The dlib network as a flat list of steps with dlib's tag / skip / add_prev wiring."""

    def __init__(self, net: DlibNetwork, fold_affine_layers: bool = True) -> None:
        super().__init__()
        self.input = _Input(net.input.mean, net.input.scale)
        steps: list[nn.Module] = []
        kinds: list[tuple[str, int]] = []  # ("op", 0) | ("tag", id) | ("skip", id) | ("add", id)
        shape = (3, net.input.size, net.input.size)
        tag_shapes: dict[int, tuple[int, int, int]] = {}
        layers = fold_affine(net).layers if fold_affine_layers else net.layers
        for layer in layers:
            if isinstance(layer, Conv):
                module, shape = _conv(layer, shape)
                steps.append(module)
                kinds.append(("op", 0))
            elif isinstance(layer, Tag):
                tag_shapes[layer.id] = shape
                steps.append(nn.Identity())
                kinds.append(("tag", layer.id))
            elif isinstance(layer, Skip):
                shape = tag_shapes[layer.id]
                steps.append(nn.Identity())
                kinds.append(("skip", layer.id))
            elif isinstance(layer, AddPrev):
                other = tag_shapes[layer.tag]
                steps.append(_AddPrev(shape, other))
                shape = tuple(max(a, b) for a, b in zip(shape, other))  # type: ignore[assignment]
                kinds.append(("add", layer.tag))
            else:
                module, shape = _simple(layer, shape)
                steps.append(module)
                kinds.append(("op", 0))
        self.steps = nn.ModuleList(steps)
        self.kinds = kinds
        self.output_dim = shape[0]
        self.channels_last = False

    def use_channels_last(self, enabled: bool = True) -> DlibResNet:
        """Run convolutions on NHWC-strided tensors (often faster with oneDNN on CPU)."""
        self.channels_last = enabled
        return self.to(memory_format=torch.channels_last if enabled else torch.contiguous_format)

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        x = self.input(chips)
        x = x.contiguous(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
        return run_steps(self.kinds, self.steps, x)


def run_steps(kinds: list, steps: nn.ModuleList | list, x: torch.Tensor,
              visit: Callable[[int, torch.Tensor], None] | None = None, stop: int | None = None) -> torch.Tensor:
    """Run a ported dlib network's steps: an op, a tag (remember the tensor), a skip (recall one), or an
    ``add_prev`` (add a remembered tensor). Tags must be defined inside the steps given. ``visit(i, x)``
    sees the tensor after step ``i``; ``stop`` ends the run after that step (intermediate activations)."""
    tags: dict[int, torch.Tensor] = {}
    for i, ((kind, tag), step) in enumerate(zip(kinds, steps)):
        if kind == "op":
            x = step(x)
        elif kind == "tag":
            tags[tag] = x
        elif kind == "skip":
            x = tags[tag]
        else:
            x = step(x, tags[tag])
        if visit is not None:
            visit(i, x)
        if i == stop:
            break
    return x


def _conv(layer: Conv, shape: tuple[int, int, int]) -> tuple[nn.Module, tuple]:
    out_c, in_c, kh, kw = layer.weight.shape
    if in_c != shape[0]:
        raise ValueError(f"convolution expects {in_c} channels, gets {shape[0]}")
    conv = nn.Conv2d(in_c, out_c, (kh, kw), stride=layer.stride, padding=layer.padding, bias=True)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(layer.weight))
        conv.bias.copy_(torch.from_numpy(layer.bias) if layer.bias is not None else torch.zeros(out_c))
    h = 1 + (shape[1] + 2 * layer.padding[0] - kh) // layer.stride[0]
    w = 1 + (shape[2] + 2 * layer.padding[1] - kw) // layer.stride[1]
    return conv, (out_c, h, w)


class _Affine(nn.Module):
    def __init__(self, layer: Affine) -> None:
        super().__init__()
        self.register_buffer("gamma", torch.from_numpy(layer.gamma.copy()).view(1, -1, 1, 1))
        self.register_buffer("beta", torch.from_numpy(layer.beta.copy()).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma + self.beta


def _simple(layer: object, shape: tuple[int, int, int]) -> tuple[nn.Module, tuple]:
    c, h, w = shape
    if isinstance(layer, Relu):
        return nn.ReLU(inplace=False), shape
    if isinstance(layer, Affine):
        return _Affine(layer), shape
    if isinstance(layer, Pool):
        if layer.size == (0, 0):  # pool everything
            mod = nn.AdaptiveAvgPool2d(1) if layer.op == "avg" else nn.AdaptiveMaxPool2d(1)
            return nn.Sequential(mod, _Flatten()), (c, 1, 1)
        cls = nn.MaxPool2d if layer.op == "max" else nn.AvgPool2d
        mod = cls(layer.size, stride=layer.stride, padding=layer.padding)
        h = 1 + (h + 2 * layer.padding[0] - layer.size[0]) // layer.stride[0]
        w = 1 + (w + 2 * layer.padding[1] - layer.size[1]) // layer.stride[1]
        return mod, (c, h, w)
    if isinstance(layer, FullyConnected):
        out_f, in_f = layer.weight.shape
        if in_f != c * h * w:
            raise ValueError(f"fc expects {in_f} inputs, gets {c * h * w}")
        fc = nn.Linear(in_f, out_f, bias=layer.bias is not None)
        with torch.no_grad():
            fc.weight.copy_(torch.from_numpy(layer.weight))
            if layer.bias is not None:
                fc.bias.copy_(torch.from_numpy(layer.bias))
        return (fc if (h, w) == (1, 1) else nn.Sequential(_Flatten(), fc)), (out_f, 1, 1)
    raise ValueError(f"unsupported layer {type(layer).__name__}")


def build_model(net: DlibNetwork, fold_affine_layers: bool = True) -> DlibResNet:
    """A ready-to-run (eval mode, no grad) torch module for ``net``."""
    model = DlibResNet(net, fold_affine_layers=fold_affine_layers).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
