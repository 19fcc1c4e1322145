"""Files through Django's storage API: uploaded attachments and export files.

The backend is ``STORAGES["default"]``: the local filesystem under ``MEDIA_ROOT`` by default, S3
(or any S3-compatible store) through django-storages with ``QUORUM_STORAGE=s3`` (settings.py).
Code here only calls the storage API (``save``, ``open``, ``size``, ``url``, ``delete``), so both
backends run the same path.

Uploads are accepted by what their bytes are, not by the name or the ``Content-Type`` the client
sent: ``sniff`` reads the magic numbers of the allowed formats (settings
``QUORUM_ATTACHMENT_TYPES``). For images it also reads the pixel size from the header, so the
upload answer can be copied into ``attachment_width`` / ``attachment_height`` (COCO and YOLO
exports need it).
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass
from typing import IO

from django.core.files import File
from django.core.files.storage import default_storage

SNIFF_BYTES = 64 * 1024  # enough for a JPEG's size marker behind typical EXIF blocks

EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "video/mp4": "mp4",
    "application/x-pcd": "pcd",
}


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    width: int | None = None
    height: int | None = None


def _png_size(head: bytes) -> tuple[int, int] | None:
    if len(head) >= 24 and head[12:16] == b"IHDR":
        return struct.unpack(">II", head[16:24])
    return None


def _gif_size(head: bytes) -> tuple[int, int] | None:
    return struct.unpack("<HH", head[6:10]) if len(head) >= 10 else None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:
        w = int.from_bytes(head[24:27], "little") + 1
        h = int.from_bytes(head[27:30], "little") + 1
        return w, h
    if chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", head[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 4 <= len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        (length,) = struct.unpack(">H", head[i + 2 : i + 4])
        if marker in _JPEG_SOF and i + 9 <= len(head):
            h, w = struct.unpack(">HH", head[i + 5 : i + 9])
            return w, h
        i += 2 + length
    return None


def sniff(head: bytes) -> Sniffed | None:
    """The content type of a file from its first bytes (and, for images, its pixel size), or
    None when it is none of the formats Quorum knows."""
    size = None
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        kind, size = "image/png", _png_size(head)
    elif head.startswith(b"\xff\xd8\xff"):
        kind, size = "image/jpeg", _jpeg_size(head)
    elif head[:6] in (b"GIF87a", b"GIF89a"):
        kind, size = "image/gif", _gif_size(head)
    elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        kind, size = "image/webp", _webp_size(head)
    elif head.startswith(b"%PDF-"):
        kind = "application/pdf"
    elif head[4:8] == b"ftyp":
        kind = "video/mp4"
    elif head.startswith(b"# .PCD") or head.startswith(b"VERSION"):
        kind = "application/x-pcd"
    else:
        return None
    if size is not None and (size[0] <= 0 or size[1] <= 0):
        size = None
    return Sniffed(kind, *(size or (None, None)))


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
