"""Face models trained by ``lookalike train``: safetensors weights + a JSON card, loaded by key.

A saved model is a folder ``<models dir>/<key>/`` holding ``model.safetensors`` (tensors only,
read with :func:`safetensors.numpy.load_file` / :func:`safetensors.torch.load_file` — never a
pickle) and ``card.json``: architecture and its arguments, the pipeline spec and base embedder it
sits on, loss, data, folds, seed, metrics, date. The models folder is ``LOOKALIKE_MODELS`` when
set, else ``<data dir>/models`` (:func:`lookalike.settings.data_dir`).

Every saved model is registered with :func:`lookalike.faces.embed.register_embedder` when the
registry loads its families, and a model saved later registers on the first use of its key, so
``ingest``, ``search``, ``serve`` and ``eval`` take a trained model by its key.
"""

from lookalike.faces.models.trained.store import (
    ModelCard,
    find_embedder,
    list_models,
    load_card,
    models_dir,
    register,
    register_saved,
    save_model,
)

__all__ = ["ModelCard", "find_embedder", "list_models", "load_card", "models_dir", "register", "register_saved",
           "save_model"]
