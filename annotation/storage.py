"""Files through Django's storage API: uploaded attachments and export files.

The backend is ``STORAGES["default"]``: the local filesystem under ``MEDIA_ROOT`` by default, S3
(or any S3-compatible store) through django-storages with ``QUORUM_STORAGE=s3`` (settings.py).
Code here only calls the storage API (``save``, ``open``, ``size``, ``url``, ``delete``), so both
backends run the same path.

Uploads are accepted by what their bytes are, not by the name or the ``Content-Type`` the client
sent (settings ``QUORUM_ATTACHMENT_TYPES``): ``identify`` decodes images with Pillow (a PNG
signature followed by HTML is not a PNG), reads the pixel size from the decoded image (so the
upload answer can be copied into ``attachment_width`` / ``attachment_height``), and recognises PDF
and MP4 with ``filetype``; a PCD point cloud is accepted when its header parses and the data it
announces is there.
"""

from __future__ import annotations

import io
import secrets
import struct
from dataclasses import dataclass
from typing import IO

import filetype
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from PIL import Image

HEAD_BYTES = 8192  # filetype needs the first 261 bytes; a PCD header fits in a few hundred

EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "video/mp4": "mp4",
    "application/x-pcd": "pcd",
}
# What Pillow raises on a file that does not decode.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError)
# Pillow's format name for each image type it must decode as.
PIL_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}


@dataclass(frozen=True)
class Sniffed:
    """What an upload is. ``problem`` is set when its bytes start like ``content_type`` but do not
    decode as one (truncated, corrupt, or another file behind a signature)."""

    content_type: str
    width: int | None = None
    height: int | None = None
    problem: str = ""


def identify(content: IO[bytes]) -> Sniffed | None:
    """What a seekable file is, or None when it is none of the formats Quorum knows. Images are
    decoded (up to ``QUORUM_ATTACHMENT_MAX_PIXELS``); the position is left at the start."""
    content.seek(0)
    head = content.read(HEAD_BYTES)
    content.seek(0)
    kind = filetype.guess_mime(head) if head else None
    if kind in PIL_FORMATS:
        return _decode_image(content, kind)
    if kind in ("application/pdf", "video/mp4"):
        return Sniffed(kind)
    if head.startswith((b"# .PCD", b"VERSION")):
        problem = _pcd_problem(content)
        content.seek(0)
        return Sniffed("application/x-pcd", problem=problem)
    return None


def identify_head(head: bytes) -> Sniffed | None:
    """What a file is from its first ``HEAD_BYTES`` only (a remote attachment is never downloaded
    whole): the type from its signature and, for an image, the pixel size from its header, which
    Pillow reads without decoding pixels. ``width`` is None when the header does not parse."""
    kind = filetype.guess_mime(head) if head else None
    if kind in PIL_FORMATS:
        try:
            with Image.open(io.BytesIO(head)) as image:
                if image.format != PIL_FORMATS[kind]:
                    return Sniffed(kind, problem=f"it decodes as {image.format}, not {kind}")
                width, height = image.size
        except _DECODE_ERRORS as exc:
            return Sniffed(kind, problem=f"its header does not parse ({type(exc).__name__})")
        return Sniffed(kind, width, height)
    if kind is not None:
        return Sniffed(kind)
    return None


def _decode_image(content: IO[bytes], kind: str) -> Sniffed:
    try:
        with Image.open(content) as image:
            if image.format != PIL_FORMATS[kind]:
                return Sniffed(kind, problem=f"it decodes as {image.format}, not {kind}")
            width, height = image.size
            if width * height > settings.QUORUM_ATTACHMENT_MAX_PIXELS:
                return Sniffed(
                    kind,
                    problem=f"{width}x{height} pixels is over the "
                    f"{settings.QUORUM_ATTACHMENT_MAX_PIXELS:,}-pixel limit (QUORUM_ATTACHMENT_MAX_PIXELS)",
                )  # fmt: skip
            image.verify()  # the file's structure (chunk checksums, markers) up to its end
        content.seek(0)
        with Image.open(content) as image:
            image.load()  # and the pixels themselves
    except _DECODE_ERRORS as exc:
        return Sniffed(kind, problem=f"it does not decode as {kind} ({type(exc).__name__}: {exc})"[:300])
    finally:
        content.seek(0)
    return Sniffed(kind, width, height)


_PCD_SIZES = {"1", "2", "4", "8"}


def _pcd_problem(content: IO[bytes]) -> str:
    """Why a file that starts like a PCD point cloud is not one ("" when it is): its header must
    parse (the fields agree in number, the sizes and types are valid, WIDTH x HEIGHT = POINTS) and,
    for uncompressed binary data, the file must hold every point."""
    content.seek(0)
    header: dict[str, list[str]] = {}
    consumed = 0
    for _ in range(20):
        line = content.readline(512)
        consumed += len(line)
        text = line.decode("ascii", "replace").strip()
        if not text or text.startswith("#"):
            continue
        key, *values = text.split()
        header[key.upper()] = values
        if key.upper() == "DATA":
            break
    try:
        fields, sizes, types = header["FIELDS"], header["SIZE"], header["TYPE"]
        counts = header.get("COUNT", ["1"] * len(fields))
        width, height, points = int(header["WIDTH"][0]), int(header["HEIGHT"][0]), int(header["POINTS"][0])
        data = header["DATA"][0].lower()
    except (KeyError, IndexError, ValueError):
        return "its PCD header lacks FIELDS, SIZE, TYPE, WIDTH, HEIGHT, POINTS or DATA"
    if not (len(fields) == len(sizes) == len(types) == len(counts)) or not fields:
        return "its PCD header's FIELDS, SIZE, TYPE and COUNT do not agree"
    if (
        not set(sizes) <= _PCD_SIZES
        or not set(types) <= {"I", "U", "F"}
        or not all(c.isdigit() for c in counts)
    ):
        return "its PCD header has an invalid SIZE, TYPE or COUNT"
    if width * height != points or points < 0:
        return "its PCD header's WIDTH x HEIGHT is not POINTS"
    if data not in ("ascii", "binary", "binary_compressed"):
        return "its PCD DATA must be ascii, binary or binary_compressed"
    if data == "binary":
        content.seek(0, 2)
        available = content.tell() - consumed
        needed = points * sum(int(s) * int(c) for s, c in zip(sizes, counts, strict=True))
        if available < needed:
            return f"its PCD data is truncated ({available} of {needed} bytes)"
    return ""


def attachment_name(*, client_id, project_id, content_type: str) -> str:
    """A fresh storage name. The random part is unguessable: with public-read storage the URL is
    the capability."""
    return f"attachments/{client_id}/{project_id}/{secrets.token_urlsafe(18)}.{EXTENSIONS[content_type]}"


def save(name: str, content: IO[bytes]) -> str:
    """Store ``content`` (read in chunks by the backend) under ``name``; the name actually used
    (a backend may change it to avoid overwriting) is returned."""
    return default_storage.save(name, File(content, name=name))


def open_for_read(name: str):
    return default_storage.open(name, "rb")


def delete(name: str) -> None:
    if name:
        default_storage.delete(name)


def size(name: str) -> int:
    return default_storage.size(name)


def url(name: str) -> str:
    """The backend's URL for ``name``: ``MEDIA_URL``-relative on the filesystem, an (optionally
    signed) object URL on S3."""
    return default_storage.url(name)
