"""The one normal form of a folder prefix, shared by collectors, checks and plans."""

from __future__ import annotations


def norm_prefix(value: str | None) -> str:
    """'' for the whole bucket, else 'a/b/' (no leading slash, one trailing slash)."""
    p = (value or "").strip().lstrip("/")
    if p and not p.endswith("/") and not p.endswith("*"):
        p += "/"
    return p.rstrip("*")
