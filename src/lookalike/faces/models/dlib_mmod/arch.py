"""The layer layout of dlib's MMOD face detector (``mmod_human_face_detector.dat``).

As for the face ResNet (:mod:`lookalike.faces.models.dlib_resnet.arch`), the file stores layer details only, so
the reader needs the C++ template, written here as :class:`Token` from the loss to the input. It
mirrors ``net_type`` in dlib's ``tools/python/src/cnn_face_detector.cpp`` and
``examples/dnn_mmod_face_detection_ex.cpp``::

    con5d<N>    = con<N,5,5,2,2>                       (no padding)
    con5<N>     = con<N,5,5,1,1>                       (padding 2)
    downsampler = relu<affine<con5d<32, relu<affine<con5d<32, relu<affine<con5d<16, SUBNET>>>>>>>>>
    rcon5       = relu<affine<con5<45, SUBNET>>>
    net_type    = loss_mmod<con<1,9,9,1,1, rcon5<rcon5<rcon5<downsampler<
                  input_rgb_image_pyramid<pyramid_down<6>>>>>>>>

The file was saved while training, so its ``affine`` layers are stored as ``bn_con2`` records;
dlib converts them to ``affine`` when loading and so does our reader.
"""

from __future__ import annotations

from lookalike.faces.models.dlib_mmod._dlib import Token

#: pyramid_down<6>: each pyramid level is 5/6 of the previous one
PYRAMID_N = 6


def mmod_face_detector() -> list[Token]:
    """Template of dlib's CNN face detector, outermost (loss) first, input last."""
    tokens = [Token("loss_mmod"), Token("con", (1, 9, 9, 1, 1))]
    for _ in range(3):
        tokens += [Token("relu"), Token("affine"), Token("con", (45, 5, 5, 1, 1))]
    for filters in (32, 32, 16):
        tokens += [Token("relu"), Token("affine"), Token("con", (filters, 5, 5, 2, 2))]
    tokens.append(Token("input_rgb_image_pyramid", (PYRAMID_N,)))
    return tokens
