"""Reading uploaded files within the byte cap, and keeping enrolled photos in the gallery folder."""

from __future__ import annotations

from starlette.datastructures import UploadFile

from lookalike.errors import ImageTooLargeError, UnreadableImageError


async def read_upload(upload: UploadFile | str | None, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of an uploaded file, refusing more than ``max_bytes`` without reading them all."""
    if upload is None or isinstance(upload, str):
        raise UnreadableImageError(f"send the photo as a file in the multipart field '{what}'")
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"the file is larger than {max_bytes / 2**20:.1f} MiB")
    if not data:
        raise UnreadableImageError("the file is empty")
    return data
