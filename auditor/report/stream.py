"""Reports written as a stream, so that memory does not grow with the size of the report.

``json.dumps(indent=2)`` of a 50,000-finding scan builds every finding's dict and the whole
text (tens of MB) before the first byte is written. ``LazyList`` stands for a list in a document
whose items are made only while the encoder walks it, and ``write_json`` writes the encoder's
pieces as they come, in the format of ``json.dumps(indent=2)``: the bytes are those it would
write.
"""

from __future__ import annotations

import json
import math
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
    with atomic_text(path, encoding) as fh:
        out: list[str] = []

        def flush() -> None:
            fh.write(json_text("".join(out)))
            out.clear()

        _encode(document, "\n", out, flush)
        out.append("\n")
        flush()


# The encoder ``json.dumps`` uses with ``indent`` is written in Python and yields every token on its
# own, through several generators; at 50,000 findings it took most of a report's time. This one
# writes the same text: the same order of checks (a bool is not written as an int), the same
# numbers (``int.__repr__``, ``float.__repr__``), strings through the same C escaper, keys converted
# as ``json`` converts them, and the same errors. Pieces are gathered and escaped a few thousand
# at a time.
_string = json.encoder.encode_basestring  # the C escaper when there is one
_int = int.__repr__
_float = float.__repr__
_FLUSH_PIECES = 4096


def _number(value: float) -> str:
    if value != value or value in (math.inf, -math.inf):
        raise ValueError("Out of range float values are not JSON compliant: " + repr(value))
    return _float(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return _string(key)
    if isinstance(key, float):
        return _string(_number(key))
    if key is True:
        return '"true"'
    if key is False:
        return '"false"'
    if key is None:
        return '"null"'
    if isinstance(key, int):
        return _string(_int(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


def indented(value: Any, *, sort_keys: bool = False, default: Callable[[Any], Any] | None = None) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False, sort_keys=..., default=...)``."""
    out: list[str] = []
    _encode(value, "\n", out, lambda: None, sort_keys, default)
    return "".join(out)


def _encode(value: Any, newline: str, out: list[str], flush: Callable[[], None], sort_keys: bool = False,
            default: Callable[[Any], Any] | None = None) -> None:
    if isinstance(value, str):
        out.append(_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(_int(value))
    elif isinstance(value, float):
        out.append(_number(value))
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            out.append(separator)
            _encode(item, inner, out, flush, sort_keys, default)
            separator = "," + inner
            if len(out) > _FLUSH_PIECES:
                flush()
        out.append(newline + "]")
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in sorted(value.items()) if sort_keys else value.items():
            out.append(separator + _key(key) + ": ")
            _encode(item, inner, out, flush, sort_keys, default)
            separator = "," + inner
        out.append(newline + "}")
    elif default is not None:
        _encode(default(value), newline, out, flush, sort_keys, default)
    else:
        raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")
