"""The trainable architectures (defined with the saved-model store in
:mod:`lookalike.faces.models.trained.nets`, so serving a trained model needs no training code)."""

from lookalike.faces.models.trained.nets import (
    ARCHS,
    RESNET_TAIL_START,
    LinearHead,
    MlpHead,
    ResNetFineTune,
    SmallCNN,
    build_model,
    from_config,
    saved_state,
)

__all__ = ["ARCHS", "RESNET_TAIL_START", "LinearHead", "MlpHead", "ResNetFineTune", "SmallCNN", "build_model",
           "from_config", "saved_state"]
