"""The layer layout of dlib's face ResNet (``dlib_face_recognition_resnet_model_v1``).

dlib describes a network as nested C++ templates; its files store only the layer *details*, not
the template, and tag/skip layers carry no identifier on disk. To read a file we therefore need
the template, written here as a flat list of :class:`Token` from the output (loss) to the input,
mirroring ``anet_type`` in dlib's ``examples/dnn_face_recognition_ex.cpp`` and
``tools/python/src/face_recognition.cpp``::

    residual<N>      = add_prev1<block<N, stride 1, tag1<SUBNET>>>
    residual_down<N> = add_prev2<avg_pool<2,2,2,2, skip1<tag2<block<N, stride 2, tag1<SUBNET>>>>>>
    block<N, s>      = affine<con<N,3,3,1,1, relu<affine<con<N,3,3,s,s, SUBNET>>>>>
    ares<N>          = relu<residual<N>>,  ares_down<N> = relu<residual_down<N>>
    net = loss_metric<fc_no_bias<128, avg_pool_everything<
          ares_down256 ares256 ares256 ares_down256 ares128 ares128 ares_down128
          ares64 ares64 ares64 ares_down64 ares32 ares32 ares32
          max_pool<3,3,2,2, relu<affine<con<32,7,7,2,2, input_rgb_image_sized<150>>>>>>>>
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Token:
    """One template layer: ``kind`` plus its compile-time arguments."""

    kind: str
    args: tuple[int, ...] = ()

    @property
    def is_wrapper(self) -> bool:
        """Tag and skip layers: no details on disk, only a version number."""
        return self.kind in ("tag", "skip")


def _block(n: int, stride: int) -> list[Token]:
    return [
        Token("affine"),
        Token("con", (n, 3, 3, 1, 1)),
        Token("relu"),
        Token("affine"),
        Token("con", (n, 3, 3, stride, stride)),
    ]


def _ares(n: int) -> list[Token]:
    return [Token("relu"), Token("add_prev", (1,)), *_block(n, 1), Token("tag", (1,))]


def _ares_down(n: int) -> list[Token]:
    return [
        Token("relu"),
        Token("add_prev", (2,)),
        Token("avg_pool", (2, 2, 2, 2)),
        Token("skip", (1,)),
        Token("tag", (2,)),
        *_block(n, 2),
        Token("tag", (1,)),
    ]


def face_resnet_v1() -> list[Token]:
    """Template of dlib's 128-d face ResNet, outermost (loss) first, input last."""
    levels = [
        _ares_down(256),
        _ares(256), _ares(256), _ares_down(256),
        _ares(128), _ares(128), _ares_down(128),
        _ares(64), _ares(64), _ares(64), _ares_down(64),
        _ares(32), _ares(32), _ares(32),
    ]  # fmt: skip
    tokens = [Token("loss_metric"), Token("fc_no_bias", (128,)), Token("avg_pool", (0, 0, 1, 1))]
    for level in levels:
        tokens.extend(level)
    tokens += [
        Token("max_pool", (3, 3, 2, 2)),
        Token("relu"),
        Token("affine"),
        Token("con", (32, 7, 7, 2, 2)),
        Token("input_rgb_image_sized", (150,)),
    ]
    return tokens
