"""The byte parsers on real small files."""

from __future__ import annotations

import pytest

from auditor.probe import coco, exif, mp4
from tests.content.media import jpeg
from tests.content.media import mp4 as make_mp4


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "WEBP"])
def test_exif_orientation(fmt):
    assert exif.read_orientation(jpeg(6, fmt))["orientation"] == 6
    assert exif.read_orientation(jpeg(None, fmt))["orientation"] is None


def test_exif_from_a_truncated_head():
    data = jpeg(6) + bytes(200_000)
    assert exif.read_orientation(data[: exif.HEAD_BYTES])["orientation"] == 6
    assert "error" in exif.read_orientation(b"not an image")


def test_an_unreadable_image_reads_the_same_in_every_scan():
    """No memory address of a buffer object in the message: a diff between two scans would show it changed."""
    error = exif.read_orientation(b"x")["error"]
    assert " at 0x" not in error and "object" not in error, error


@pytest.mark.parametrize("chroma, profile, expected", [
    (1, 100, "yuv420p"), (3, 244, "yuv444p"), (2, 122, "yuv422p"), (1, 66, "yuv420p"), (1, 77, "yuv420p"),
])
def test_mp4_pixel_format(chroma, profile, expected):
    data = make_mp4(b"mp42", chroma=chroma, profile=profile)
    assert mp4.major_brand(data) == "mp42"
    moov_at = data.index(b"moov") - 4
    facts = mp4.video_format(data[moov_at:])
    assert facts["codec"] == "h264" and facts["pix_fmt"] == expected


def test_mp4_unknown_codec_is_reported_not_guessed():
    data = make_mp4(entry=b"mp4v")
    facts = mp4.video_format(data[data.index(b"moov") - 4:])
    assert "pix_fmt" not in facts and "mp4v" in facts["error"]


def test_coco_summary_and_integrity():
    good = {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1}],
            "categories": [{"id": 1, "name": "cat"}]}
    s = coco.summarise(good, "annotations")
    assert (s["kind"], s["images"], s["annotations"], s["problems"]) == ("dataset", 1, 1, [])
    bad = {**good, "annotations": [{"id": 1, "image_id": 9, "category_id": 7}]}
    problems = coco.summarise(bad, "annotations")["problems"]
    assert any("image id" in p for p in problems) and any("category id" in p for p in problems)
    results = coco.summarise([{"image_id": 1, "category_id": 1, "score": 0.5}, {"image_id": 2}], "predictions")
    assert results["kind"] == "results" and "lack image_id" in results["problems"][0]
    assert coco.missing_files(["a.jpg", "b.jpg"], {"a.jpg"}) == ["b.jpg"]
