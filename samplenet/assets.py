"""Small binary files the sample sites link to: a 1x1 PNG and attachments that look like their type."""

from __future__ import annotations

import io
import zipfile

# A valid 1x1 PNG (one red pixel).
TINY_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
    b"\x00\x00\x00\x0cIDATx\x9cc8`\xa9\r\x00\x02\xe1\x01%\xfa\xbe\x1d\xed\x00\x00\x00\x00IEND\xaeB`\x82"
)
ATTACHMENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "wps": "application/vnd.ms-works",
    "zip": "application/zip",
}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # WPS files are OLE compound documents


def attachment_bytes(name: str) -> bytes:
    """A few hundred bytes with the magic number of the file's extension."""
    ext = name.rsplit(".", 1)[-1].lower()
    if ext == "pdf":
        return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    if ext in ("docx", "xlsx", "zip"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("readme.txt", f"sample attachment {name}\n")
        return buffer.getvalue()
    return _OLE_MAGIC + f"sample attachment {name}\n".encode()
