"""Check functions and their registry. Checks are pure: snapshot in, outcomes out."""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> None:
    """Import every check module so its @check decorators run."""
    for info in pkgutil.iter_modules(__path__):
        if info.name != "registry" and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
