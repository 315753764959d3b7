"""The keys of a gallery's ``meta`` table, defined once (store, gallery, index state and calibration use them)."""

from __future__ import annotations

SCHEMA_VERSION = "schema_version"
#: bumped by every change to the set of faces; the saved index records the generation it matches
GENERATION = "generation"
#: the embedder's card name and dimension: a gallery holds vectors of one model only
EMBEDDER = "embedder"
DIM = "dim"
#: the pipeline spec the gallery's vectors were made with (JSON) and its key
SPEC = "spec"
SPEC_KEY = "spec_key"
#: the registry key of the embedder runtime last used (onnx / torch / dlib: same vectors)
EMBEDDER_KEY = "embedder_key"
#: the vector index's registry name and parameters
INDEX = "index"
INDEX_PARAMS = "index_params"
#: the calibrated same-person threshold, the embedder it was measured for, and the details (JSON)
THRESHOLD = "threshold"
THRESHOLD_EMBEDDER = "threshold_embedder"
CALIBRATION = "calibration"
