"""COCO files (annotations and predictions): schema and referential integrity, as counts and examples."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

EXAMPLES = 10


def summarise(doc: Any, role: str) -> dict[str, Any]:
    """Facts about one COCO document; ``role`` is "annotations" or "predictions"."""
    problems: list[str] = []
    if isinstance(doc, list):  # a results list: [{"image_id", "category_id", "score", ...}]
        if role == "annotations":
            problems.append("annotations.json is a results list, not a COCO dataset with images and categories")
        bad = [i for i, r in enumerate(doc) if not isinstance(r, dict)
               or not all(k in r for k in ("image_id", "category_id", "score"))]
        if bad:
            problems.append(f"{len(bad)} result(s) lack image_id, category_id or score (e.g. index {bad[0]})")
        return {"kind": "results", "results": len(doc), "problems": problems,
                "image_ids": sorted({r.get("image_id") for r in doc if isinstance(r, dict)} - {None}, key=str)[:100000],
                "category_ids": sorted({r.get("category_id") for r in doc if isinstance(r, dict)} - {None}, key=str)}
    if not isinstance(doc, dict):
        return {"kind": "invalid", "problems": ["the file is neither a COCO dataset object nor a results list"]}
    for key in ("images", "annotations", "categories"):
        if not isinstance(doc.get(key), list):
            problems.append(f"missing or non-list '{key}'")
    images = [i for i in doc.get("images") or [] if isinstance(i, dict)]
    anns = [a for a in doc.get("annotations") or [] if isinstance(a, dict)]
    cats = [c for c in doc.get("categories") or [] if isinstance(c, dict)]
    image_ids = [i.get("id") for i in images]
    cat_ids = {c.get("id") for c in cats}
    if None in image_ids or len(set(image_ids)) != len(image_ids):
        problems.append("image ids are missing or repeated")
    if any("file_name" not in i for i in images):
        problems.append("some images have no file_name")
    ids = set(image_ids)
    dangling_images = [a.get("id") for a in anns if a.get("image_id") not in ids]
    dangling_cats = [a.get("id") for a in anns if a.get("category_id") not in cat_ids]
    if dangling_images:
        problems.append(f"{len(dangling_images)} annotation(s) point to an image id that does not exist")
    if dangling_cats:
        problems.append(f"{len(dangling_cats)} annotation(s) point to a category id that does not exist")
    if role == "predictions" and anns and not all("score" in a for a in anns):
        problems.append("predictions without a score")
    return {
        "kind": "dataset", "images": len(images), "annotations": len(anns), "categories": len(cats),
        "problems": problems,
        "dangling_image_refs": dangling_images[:EXAMPLES], "dangling_category_refs": dangling_cats[:EXAMPLES],
        "file_names": [str(i.get("file_name")) for i in images if i.get("file_name") is not None],
        "image_ids": sorted(ids - {None}, key=str), "category_ids": sorted(cat_ids - {None}, key=str),
    }


def missing_files(file_names: Iterable[str], present: set[str]) -> list[str]:
    """COCO ``file_name``s with no object in the images folder (names relative to it)."""
    return [n for n in file_names if n.lstrip("/") not in present]
