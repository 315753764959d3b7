"""Typed errors a user can meet. Every message says what went wrong and what to do."""

from __future__ import annotations


class LookalikeError(Exception):
    """Base class of every error lookalike raises on purpose."""


class ImageError(LookalikeError):
    """The input could not be used as an image."""


class UnreadableImageError(ImageError):
    """The bytes are not a decodable image (empty, random, truncated, wrong format)."""


class ImageTooLargeError(ImageError):
    """The image exceeds the byte or pixel cap."""


class NoFaceError(LookalikeError):
    """No face was found in an image where one was required."""


class GalleryNotFoundError(LookalikeError):
    """No gallery at the given folder (nothing ingested there yet)."""

    def __init__(self, root: object) -> None:
        super().__init__(f"no gallery at {root} (run `lookalike ingest` first)")


class IndexMismatchError(LookalikeError):
    """An index, embedding or gallery belongs to another model, dimension or space."""


class CorruptFileError(LookalikeError):
    """A saved file (index, store) is truncated, corrupted or of an unknown format."""


class MissingDependencyError(LookalikeError):
    """An optional dependency needed for the chosen backend is not installed."""

    def __init__(self, package: str, extra: str | None = None, purpose: str = "") -> None:
        hint = f"pip install 'lookalike[{extra}]'" if extra else f"pip install {package}"
        what = f" for {purpose}" if purpose else ""
        super().__init__(f"the optional package '{package}' is needed{what}; install it with: {hint}")
        self.package = package


class ServiceUnavailableError(LookalikeError):
    """A service lookalike depends on (the index service) did not answer in time or at all."""


class IndexUnavailableError(ServiceUnavailableError):
    """The vector store (a Milvus server) did not answer; the gallery's store is unchanged."""


class AuthorizationError(LookalikeError):
    """A write request came without the configured API token, or with a wrong one."""


class RequestTooLargeError(LookalikeError):
    """A request body (other than an uploaded photo) is larger than its endpoint accepts."""


class ForbiddenRequestError(LookalikeError):
    """A request the service refuses whoever sends it: a cross-site write, a Host it does not serve."""


class GalleryBusyError(LookalikeError):
    """Another process holds the gallery's write lock longer than this one may wait."""


class TrainingDataError(LookalikeError):
    """Training data cannot make the batches asked for (e.g. too few identities for P × K)."""


class SpecMismatchError(IndexMismatchError):
    """A trained model, checkpoint or descriptor set was made under another pipeline spec or base embedder."""


class DeviceUnavailableError(LookalikeError):
    """The compute device asked for (``--device cuda``) is not present on this machine."""


class ModelNotFoundError(LookalikeError):
    """No trained model with that key in the models folder."""


class LabelPatternError(LookalikeError):
    """A label pattern or label file cannot label the photos (invalid regex, no ``person`` group, no match)."""


class UnknownLabelError(LookalikeError):
    """A person, attribute kind or attribute value that the labelled photos do not have (the message lists them)."""
