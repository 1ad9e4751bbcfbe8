"""Small real files for content tests: JPEG/PNG with EXIF orientation, MP4 headers with chosen brand and chroma."""

from __future__ import annotations

import io
import struct


def jpeg(orientation: int | None = None, fmt: str = "JPEG") -> bytes:
    from PIL import Image

    img = Image.new("RGB", (16, 16), (10, 120, 200))
    buf = io.BytesIO()
    if orientation is None:
        img.save(buf, fmt)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        img.save(buf, fmt, exif=exif.tobytes())
    return buf.getvalue()


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _bits_to_bytes(bits: str) -> bytes:
    bits += "1" + "0" * ((8 - (len(bits) + 1) % 8) % 8)  # rbsp trailing bits
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))


def _ue(n: int) -> str:
    code = bin(n + 1)[2:]
    return "0" * (len(code) - 1) + code


def avcc(profile: int = 100, chroma: int = 1, bit_depth: int = 8) -> bytes:
    body = _ue(0)  # seq_parameter_set_id
    if profile in (100, 110, 122, 244):
        body += _ue(chroma) + ("0" if chroma == 3 else "") + _ue(bit_depth - 8) + _ue(bit_depth - 8)
    sps = bytes([0x67, profile, 0, 31]) + _bits_to_bytes(body)
    pps = bytes([0x68, 0xCE, 0x3C, 0x80])
    return (bytes([1, profile, 0, 31, 0xFF, 0xE1]) + struct.pack(">H", len(sps)) + sps
            + bytes([1]) + struct.pack(">H", len(pps)) + pps)


def mp4(brand: bytes = b"mp42", chroma: int = 1, profile: int = 100, entry: bytes = b"avc1",
        mdat_first: int = 0) -> bytes:
    """ftyp, then (optionally a large mdat), then moov → … → stsd → avc1/avcC."""
    visual = bytes(6) + struct.pack(">H", 1) + bytes(16) + struct.pack(">HH", 16, 16) + bytes(50)
    config = box(b"avcC", avcc(profile, chroma)) if entry in (b"avc1", b"avc3") else b""
    sample = box(entry, visual + config)
    stsd = box(b"stsd", bytes(4) + struct.pack(">I", 1) + sample)
    moov = box(b"moov", box(b"trak", box(b"mdia", box(b"minf", box(b"stbl", stsd)))))
    ftyp = box(b"ftyp", brand + struct.pack(">I", 0) + brand + b"isom")
    mdat = box(b"mdat", bytes(mdat_first)) if mdat_first else b""
    return ftyp + mdat + moov
