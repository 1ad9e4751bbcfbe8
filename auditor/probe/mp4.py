"""MP4 (ISO BMFF) facts from box headers: the ``ftyp`` major brand and the video's pixel format.

Only box headers and the ``moov`` box are read; ``mdat`` (the media) is skipped. The pixel
format comes from the sample description: ``avc1``/``avc3`` → ``avcC`` (profile and, for High
profiles, chroma_format_idc and bit depth from the SPS), ``hvc1``/``hev1`` → ``hvcC``
(chroma_format_idc, bit depth).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

# H.264 profiles whose SPS carries chroma_format_idc (ITU-T H.264 7.3.2.1.1).
HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}
CHROMA = {0: "gray", 1: "420", 2: "422", 3: "444"}
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, offset, header size, total size) for each box in data[start:end]."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            return
        yield kind, pos, header, size
        pos += size


def major_brand(head: bytes) -> str | None:
    for kind, pos, header, size in boxes(head, 0, min(len(head), 4096)):
        if kind == b"ftyp" and size >= header + 4:
            return head[pos + header:pos + header + 4].decode("latin-1")
        return None
    return None


class _Bits:
    def __init__(self, data: bytes):
        # Remove emulation-prevention bytes (00 00 03 → 00 00).
        out, zeros = bytearray(), 0
        for b in data:
            if zeros >= 2 and b == 3:
                zeros = 0
                continue
            out.append(b)
            zeros = zeros + 1 if b == 0 else 0
        self.data, self.pos = bytes(out), 0

    def bit(self) -> int:
        byte = self.data[self.pos >> 3]
        value = (byte >> (7 - (self.pos & 7))) & 1
        self.pos += 1
        return value

    def bits(self, n: int) -> int:
        v = 0
        for _ in range(n):
            v = (v << 1) | self.bit()
        return v

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad exp-Golomb code")
        return (1 << zeros) - 1 + self.bits(zeros)


def _avc(avcc: bytes) -> dict[str, Any]:
    profile = avcc[1]
    info: dict[str, Any] = {"codec": "h264", "profile_idc": profile}
    if profile not in HIGH_PROFILES:
        info.update(chroma="420", bit_depth=8)  # Baseline/Main/Extended are 4:2:0, 8-bit
        return info
    n_sps = avcc[5] & 0x1F
    if n_sps < 1:
        raise ValueError("avcC has no SPS")
    length = struct.unpack(">H", avcc[6:8])[0]
    sps = avcc[8:8 + length]
    r = _Bits(sps[1:])  # skip the NAL header
    r.bits(8)  # profile_idc
    r.bits(8)  # constraint flags
    r.bits(8)  # level_idc
    r.ue()  # seq_parameter_set_id
    chroma = r.ue()
    if chroma == 3:
        r.bit()  # separate_colour_plane_flag
    depth = r.ue() + 8
    info.update(chroma=CHROMA.get(chroma, str(chroma)), bit_depth=depth)
    return info


def _hevc(hvcc: bytes) -> dict[str, Any]:
    if len(hvcc) < 19:
        raise ValueError("hvcC too short")
    return {"codec": "hevc", "profile_idc": hvcc[1] & 0x1F, "chroma": CHROMA.get(hvcc[16] & 3),
            "bit_depth": (hvcc[17] & 7) + 8}


def video_format(moov: bytes) -> dict[str, Any]:
    """The first video track's codec, chroma subsampling and bit depth, from a whole ``moov`` box."""
    def walk(start: int, end: int) -> dict[str, Any] | None:
        for kind, pos, header, size in boxes(moov, start, end):
            body = pos + header
            if kind in CONTAINERS:
                found = walk(body, pos + size)
                if found:
                    return found
            elif kind == b"stsd":
                # full box: version/flags (4) + entry count (4), then sample entries
                for entry, epos, eheader, esize in boxes(moov, body + 8, pos + size):
                    name = entry.decode("latin-1")
                    # VisualSampleEntry: 6 reserved + 2 index + 16 pre-defined + w,h (4) + 50 more = 78 bytes
                    child_start = epos + eheader + 78
                    for child, cpos, cheader, csize in boxes(moov, child_start, epos + esize):
                        payload = moov[cpos + cheader:cpos + csize]
                        if child == b"avcC":
                            return {"sample_entry": name, **_avc(payload)}
                        if child == b"hvcC":
                            return {"sample_entry": name, **_hevc(payload)}
                    if name in ("avc1", "avc3", "hvc1", "hev1"):
                        return {"sample_entry": name, "error": f"{name} without its configuration box"}
                    if name not in ("mp4a", "text", "tx3g"):
                        return {"sample_entry": name, "error": f"codec {name!r} is not H.264 or HEVC"}
        return None

    found = walk(0, len(moov))
    if not found:
        return {"error": "no video sample description in moov"}
    if "chroma" in found:
        found["pix_fmt"] = ("yuv420p" if found["chroma"] == "420" and found.get("bit_depth") == 8
                            else f"yuv{found['chroma']}p" + ("" if found.get("bit_depth") == 8 else f"{found.get('bit_depth')}"))
    return found
