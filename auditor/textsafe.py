"""Text from AWS, snapshots and configs shown to a person: control characters made visible.

An object key, a server's error message or an IAM ARN can hold ESC and other control
characters: printed raw, one of them can clear the terminal, set its title or plant an
OSC 8 hyperlink. Bidirectional overrides can make a key read backwards in a terminal,
an HTML page or a spreadsheet. Every such character is shown as its escape (``\\x1b``,
``\\u202e``), so what a reader sees is what the data holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Bidi embeddings/overrides (U+202A–U+202E) and isolates (U+2066–U+2069), plus the marks
# that reorder text without being visible (LRM, RLM, ALM).
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"

_C0_C1 = "".join(chr(c) for c in range(0x20)) + "\x7f" + "".join(chr(c) for c in range(0x80, 0xA0))
# Line and paragraph separators break a table row or a CSV row in some viewers.
_SEPARATORS = "\u2028\u2029"


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_TERMINAL = re.compile("[" + re.escape("".join(c for c in _C0_C1 if c != "\n") + BIDI + _SEPARATORS) + "]")
_TERMINAL_ONE_LINE = re.compile("[" + re.escape(_C0_C1 + BIDI + _SEPARATORS) + "]")
_DOCUMENT = re.compile("[" + re.escape("".join(c for c in _C0_C1 if c not in "\n\r\t") + BIDI + _SEPARATORS) + "]")


def terminal(text: object, *, one_line: bool = False) -> str:
    """``text`` safe to print on a terminal: every C0/C1 control (but newline, unless ``one_line``),
    DEL, bidi control and line separator shown as its escape."""
    s = text if isinstance(text, str) else str(text)
    return (_TERMINAL_ONE_LINE if one_line else _TERMINAL).sub(lambda m: _escape(m.group(0)), s)


def document(text: str) -> str:
    """``text`` for an HTML page or a CSV cell: bidi controls and control characters other than
    tab, CR and LF (which those formats quote or escape themselves) shown as escapes."""
    return _DOCUMENT.sub(lambda m: _escape(m.group(0)), text)


def deep(value: Any, fn=document) -> Any:
    """``fn`` applied to every string (keys included) inside mappings, lists and tuples."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, Mapping):
        return {deep(k, fn) if isinstance(k, str) else k: deep(v, fn) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(deep(v, fn) for v in value) if isinstance(value, tuple) else [deep(v, fn) for v in value]
    return value


_JSON_UNSAFE = {ord(c): f"\\u{ord(c):04x}" for c in _C0_C1[0x20:] + BIDI + _SEPARATORS}
_JSON_UNSAFE_RE = re.compile("[" + re.escape("".join(map(chr, _JSON_UNSAFE))) + "]")


def json_text(dumped: str) -> str:
    """JSON text (from ``json.dumps``) with C1 controls, bidi controls and line separators written as
    ``\\uXXXX`` escapes: the same data for any JSON reader, harmless when a person runs ``cat`` on it."""
    if dumped.isascii() and "\x7f" not in dumped:
        return dumped  # nothing to escape (the usual case, checked at memory speed)
    # A regular expression finds the few characters ten times faster than ``str.translate`` walks them.
    return _JSON_UNSAFE_RE.sub(lambda m: _JSON_UNSAFE[ord(m.group(0))], dumped)
