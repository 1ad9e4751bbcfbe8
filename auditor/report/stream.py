"""Reports written as a stream, so that memory does not grow with the size of the report.

``json.dumps(indent=2)`` of a 50,000-finding scan builds every finding's dict and the whole
text (tens of MB) before the first byte is written. ``LazyList`` stands for a list in a document
whose items are made only while the encoder walks it, and ``write_json`` writes the encoder's
pieces as they come. The pure-Python encoder that ``json.dumps`` itself uses with ``indent`` does
the formatting, so the bytes are those ``json.dumps`` would write.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from auditor.report.files import atomic_text
from auditor.textsafe import json_text


class LazyList(list[Any]):
    """A list for the JSON encoder whose ``n`` items come from ``make()`` when it is walked."""

    def __init__(self, make: Callable[[], Iterable[Any]], n: int):
        super().__init__()
        self._make, self._n = make, n

    def __iter__(self) -> Iterator[Any]:
        return iter(self._make())

    def __len__(self) -> int:
        return self._n

    def __bool__(self) -> bool:
        return self._n > 0


def write_json(path: Path | str, document: Any, *, encoding: str = "utf-8") -> None:
    """``json_text(json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)) + "\\n"``
    written piece by piece (``json_text`` escapes one character at a time, so pieces can be)."""
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False, allow_nan=False)
    with atomic_text(path, encoding) as fh:
        for piece in encoder.iterencode(document):
            fh.write(json_text(piece))
        fh.write("\n")
