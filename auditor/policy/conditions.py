"""IAM condition operators (IAM User Guide, "IAM JSON policy elements: Condition operators").

Each base operator compares one request value with the policy's values. Set operators
(``ForAnyValue:``/``ForAllValues:``), ``...IfExists``, ``Null`` and missing keys are handled by
:func:`evaluate_condition`. Results are three-valued: True, False, or None when the key's
value is unknown to the scanner (e.g. a vendor's ``aws:SourceIp``).
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from auditor.policy.variables import UnknownVariable, has_variables, resolve, resolve_pattern
from auditor.policy.variables import wildcard as _wild

Tri = bool | None

_NEGATED = {
    "StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals", "DateNotEquals",
    "NotIpAddress", "ArnNotEquals", "ArnNotLike",
}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _date(text: str) -> dt.datetime | None:
    text = str(text).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):  # epoch seconds (IAM docs: "epoch or UNIX time")
        try:
            return dt.datetime.fromtimestamp(float(text), dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            value = dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _ip_in(value: str, network: str) -> bool | None:
    try:
        pol = ipaddress.ip_network(network.strip(), strict=False)
    except ValueError:
        return None
    try:
        return ipaddress.ip_address(value.strip()) in pol
    except ValueError:
        try:  # a request value given as a network (CIDR): contained in the policy's network
            net = ipaddress.ip_network(value.strip(), strict=False)
            return net.version == pol.version and net.subnet_of(pol)  # type: ignore[arg-type]
        except (ValueError, TypeError):
            return None


_ARN = re.compile(r"^arn:([^:]*):([^:]*):([^:]*):([^:]*):(.+)$", re.DOTALL)


def _arn_like(value: str, pattern: str | re.Pattern[str]) -> bool | None:
    """ArnLike: each of the six ARN parts matches the pattern's part, with wildcards."""
    v = _ARN.match(value)
    if isinstance(pattern, re.Pattern):  # a pattern with substituted variables: match whole
        return None if not v else pattern.fullmatch(value) is not None
    if pattern == "*":
        return True if v else None
    p = _ARN.match(pattern)
    if not v or not p:
        return None
    return all(_wild(pp).fullmatch(vp) is not None for vp, pp in zip(v.groups(), p.groups(), strict=True))


def _parsed(parse: Callable[[str], object | None], test: Callable[[object, object], bool]) -> Callable[[str, str], bool | None]:
    def compare(v: str, p: str) -> bool | None:
        a, b = parse(v), parse(p)
        return None if a is None or b is None else test(a, b)

    return compare


def _cmp(op: str) -> Callable[[str, str], bool | None]:
    """The positive comparison behind ``op``; None when an input is invalid (negated operators then fail)."""
    base = op.replace("Not", "", 1) if op in _NEGATED else op
    if base == "StringEquals":
        return lambda v, p: v == p
    if base == "StringEqualsIgnoreCase":
        return lambda v, p: v.lower() == p.lower()
    if base == "StringLike":
        return lambda v, p: _wild(p).fullmatch(v) is not None
    if base.startswith("Numeric"):
        return _parsed(_number, _ORDER[base[len("Numeric"):]])
    if base.startswith("Date"):
        return _parsed(_date, _ORDER[base[len("Date"):]])
    if base == "Bool":
        return lambda v, p: v.lower() == p.lower()
    if base == "BinaryEquals":
        return lambda v, p: _b64(v) == _b64(p)
    if base == "IpAddress":
        return _ip_in
    if base in ("ArnEquals", "ArnLike"):
        return _arn_like
    raise KeyError(op)


def _b64(text: str) -> bytes | str:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return text


@lru_cache(maxsize=64)
def _cmp_cached(op: str) -> Callable[[str, str], bool | None]:
    return _cmp(op)


# Both sides are of one comparable type (numbers or datetimes), as the operator's family decides.
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}

BASE_OPERATORS = frozenset({
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
    "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
    "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals", "DateNotEquals", "DateLessThan",
    "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress",
    "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
})


@lru_cache(maxsize=1024)
def parse_operator(name: str) -> tuple[str | None, str, bool]:
    """``ForAnyValue:StringLikeIfExists`` → ("ForAnyValue", "StringLike", True)."""
    prefix = None
    if ":" in name:
        prefix, name = name.split(":", 1)
        if prefix not in ("ForAnyValue", "ForAllValues"):
            raise ValueError(f"unknown set operator {prefix!r}")
    if_exists = name.endswith("IfExists") and name != "IfExists"
    if if_exists:
        name = name[: -len("IfExists")]
    if name not in BASE_OPERATORS:
        raise ValueError(f"unknown condition operator {name!r}")
    return prefix, name, if_exists


_WILDCARD_OPS = ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike", "ArnEquals", "ArnNotEquals")


def matches_value(op: str, value: str, policy_values: Sequence[str], context: Mapping[str, object], *,
                  unknown: frozenset[str] = frozenset(), variables: bool = True) -> bool:
    """Does ``value`` satisfy ``op`` against the policy's values (any of them; negated: none of them)?

    An invalid input or an unresolvable variable never matches; for a negated operator it makes
    the whole test fail rather than succeed (it is an error, not a difference). With
    ``variables`` false (a policy without ``"Version": "2012-10-17"``) ``${...}`` is literal text.
    Raises :class:`UnknownVariable` when the outcome hangs on a variable whose key is unknown.
    """
    test = _cmp_cached(op)
    hit = False
    error = False
    undecided: UnknownVariable | None = None
    for raw in policy_values:
        try:
            if variables and has_variables(raw) and op in _WILDCARD_OPS:
                pattern = resolve_pattern(raw, context, unknown)
                if pattern is None:
                    error = True
                    continue
                outcome = _arn_like(value, pattern) if op.startswith("Arn") else pattern.fullmatch(value) is not None
            else:
                resolved = resolve(raw, context, unknown=unknown) if variables else raw
                if resolved is None:
                    error = True
                    continue
                outcome = test(value, resolved)
        except UnknownVariable as e:
            undecided = e
            continue
        if outcome is None:
            error = True
        elif outcome:
            hit = True
    if hit:
        return op not in _NEGATED
    if op in _NEGATED and error:
        return False
    if undecided is not None:
        raise undecided
    return op in _NEGATED


def _any(results: Iterable[Callable[[], bool]]) -> Tri:
    undecided = False
    for r in results:
        try:
            if r():
                return True
        except UnknownVariable:
            undecided = True
    return None if undecided else False


def _all(results: Iterable[Callable[[], bool]]) -> Tri:
    undecided = False
    for r in results:
        try:
            if not r():
                return False
        except UnknownVariable:
            undecided = True
    return None if undecided else True


def evaluate_condition(operator: str, key_lookup: tuple[bool, list[str] | None, bool], policy_values: Sequence[str],
                       context: Mapping[str, object], *, unknown: frozenset[str] = frozenset(),
                       variables: bool = True) -> Tri:
    """One operator/key pair. ``key_lookup`` = (present, values, unknown).

    ``unknown``: lowercase keys the scanner cannot know; a policy variable naming one of them makes
    the outcome undecided (None) unless it comes out the same either way.
    """
    prefix, op, if_exists = parse_operator(operator)
    present, values, key_unknown = key_lookup
    if key_unknown:
        return None
    if op == "Null":
        # Null: "true" means the key must be absent, "false" that it must be present.
        want_absent = [str(v).lower() == "true" for v in policy_values]
        absent = not present or values == []
        return any(w == absent for w in want_absent)
    if not present or values is None:
        if prefix == "ForAllValues":
            return True  # vacuously true over an empty set (IAM docs, ForAllValues)
        if prefix == "ForAnyValue":
            return False
        if if_exists:
            return True
        # IAM docs: a missing key does not match — except negated operators, which then match.
        return op in _NEGATED

    def one(v: str) -> Callable[[], bool]:
        return lambda: matches_value(op, v, policy_values, context, unknown=unknown, variables=variables)

    if prefix == "ForAllValues":
        return _all(one(v) for v in values)
    if prefix == "ForAnyValue":
        return _any(one(v) for v in values)
    if len(values) != 1:
        # A single-valued operator on a multivalued key: use ForAnyValue/ForAllValues (IAM docs,
        # "Multivalued context keys"); the condition does not match.
        return False
    return _any([one(values[0])])
