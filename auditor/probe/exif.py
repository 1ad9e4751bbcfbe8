"""EXIF orientation from the first bytes of an image (JPEG, PNG eXIf, TIFF, WebP), via Pillow."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, UnidentifiedImageError

ORIENTATION = 0x0112
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")
HEAD_BYTES = 64 * 1024  # EXIF lives in the first segments of the file


def read_orientation(head: bytes) -> dict[str, Any]:
    """{"format", "orientation"} (orientation None when the tag is absent), or {"error"}."""
    try:
        with Image.open(io.BytesIO(head)) as img:
            fmt = img.format
            exif = img.getexif()
            if fmt == "PNG" and not exif:
                # Pillow reads a PNG's eXIf chunk only once it is loaded; a truncated head is fine for that.
                if img.info.get("exif"):
                    exif.load(img.info["exif"])
            value = exif.get(ORIENTATION)
    except UnidentifiedImageError:
        # Pillow's message names its buffer object by memory address: the same object would read
        # differently in every scan (and every diff between scans).
        return {"error": "not a readable image header (no image format Pillow knows starts these bytes)"}
    except (OSError, SyntaxError, ValueError) as e:
        return {"error": f"not a readable image header ({type(e).__name__}: {e})"[:200]}
    return {"format": fmt, "orientation": int(value) if value is not None else None}
