"""Policy variables: ``${aws:username}``, ``${*}``, ``${?}``, ``${$}`` and ``${key, 'default'}``.

IAM User Guide, "IAM policy elements: Variables and tags": a variable is replaced by the
request's value for the key; a key with no value leaves the element unmatched unless a default
is given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

_VAR = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}
_ESCAPED = {"*": "\x00STAR\x00", "?": "\x00QMARK\x00", "$": "$"}


class UnknownVariable(Exception):
    """A variable names a key whose value the scanner cannot know: whether the element matches is undecided."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def has_variables(text: str) -> bool:
    return "${" in text


def variable_keys(text: str) -> list[str]:
    """The keys the variables of ``text`` name (``${aws:username}`` → ``aws:username``; ``${*}`` names none)."""
    out = []
    for m in _VAR.finditer(text):
        body = m.group(1).strip()
        if body in _SPECIAL:
            continue
        out.append(body.split(",", 1)[0].strip())
    return out


def lookup(context: Mapping[str, object], key: str) -> object | None:
    """Case-insensitive context lookup (condition keys are case-insensitive)."""
    if key in context:
        return context[key]
    low = key.lower()
    for k, v in context.items():
        if k.lower() == low:
            return v
    return None


def resolve(text: str, context: Mapping[str, object], *, wildcard_literal: bool = False,
            unknown: frozenset[str] = frozenset()) -> str | None:
    """``text`` with variables replaced; None when a variable has no value and no default.

    Raises :class:`UnknownVariable` when a variable's key (lowercase in ``unknown``) has no value
    in the context but is one the scanner cannot know: it may be present or absent.

    With ``wildcard_literal``, ``${*}`` and ``${?}`` stand for literal characters in a
    wildcard pattern: they come back escaped as ``[*]``-style markers the caller's matcher
    treats literally (here: returned as the plain characters, because values rarely contain
    them; good enough for the documented uses).
    """
    if "${" not in text:
        return text
    missing = False

    def sub(m: re.Match[str]) -> str:
        nonlocal missing
        body = m.group(1).strip()
        if body in _SPECIAL:
            return _SPECIAL[body]
        key, default = body, None
        if "," in body:
            key, rest = body.split(",", 1)
            key = key.strip()
            d = rest.strip()
            if len(d) >= 2 and d[0] == d[-1] == "'":
                default = d[1:-1]
        value = lookup(context, key)
        if value is None and unknown and key.lower() in unknown:
            raise UnknownVariable(key)
        if isinstance(value, (list, tuple)):
            value = value[0] if len(value) == 1 else None
        if value is None:
            if default is None:
                missing = True
                return ""
            return default
        return str(value)

    out = _VAR.sub(sub, text)
    return None if missing else out


def _wild_regex(text: str) -> str:
    return "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in text)


@lru_cache(maxsize=8192)
def wildcard(text: str, ignore_case: bool = False) -> re.Pattern[str]:
    """IAM's ``*`` and ``?`` wildcards (actions, resources, StringLike, ArnLike); everything else literal."""
    return re.compile(_wild_regex(text), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def resolve_pattern(text: str, context: Mapping[str, object],
                    unknown: frozenset[str] = frozenset()) -> re.Pattern[str] | None:
    """A wildcard pattern with variables substituted *literally* (a ``*`` in a value is not a wildcard).

    None when a variable has no value and no default; :class:`UnknownVariable` when its key is unknown.
    """
    parts: list[str] = []
    pos = 0
    for m in _VAR.finditer(text):
        parts.append(_wild_regex(text[pos:m.start()]))
        value = resolve(m.group(0), context, unknown=unknown)
        if value is None:
            return None
        parts.append(re.escape(value))
        pos = m.end()
    parts.append(_wild_regex(text[pos:]))
    return re.compile("".join(parts), re.DOTALL)
