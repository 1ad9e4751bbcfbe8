"""Snapshot ⇄ JSON, so a scan can be evaluated again offline (``--from-snapshot``)."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from auditor import model
from auditor.errors import SnapshotError
from auditor.model import Snapshot
from auditor.report.files import write_atomic


def to_data(obj: Any) -> Any:
    """A dataclass tree as plain JSON data."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if f.metadata.get("snapshot", True)}
    if isinstance(obj, Mapping):
        return {str(k): to_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_data(v) for v in obj]
    return obj


def from_data(cls: type, data: Any) -> Any:
    """Rebuild an instance of ``cls`` (a model dataclass) from :func:`to_data` output."""
    return _build(cls, data, cls.__name__)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(model))


def _build(tp: Any, data: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise SnapshotError(f"{where}: expected an object")
        hints = _hints(tp)
        if tp is model.ObjectState and isinstance(data.get("probes"), dict):
            _check_probes(data["probes"], f"{where}.probes")
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in data and f.metadata.get("snapshot", True):
                kwargs[f.name] = _build(hints[f.name], data[f.name], f"{where}.{f.name}")
        try:
            return tp(**kwargs)
        except TypeError as e:
            raise SnapshotError(f"{where}: {e}") from None
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _build(inner[0], data, where)
    if origin is tuple:
        if not isinstance(data, list):
            raise SnapshotError(f"{where}: expected a list")
        item = typing.get_args(tp)[0]
        return tuple(_build(item, v, f"{where}[{i}]") for i, v in enumerate(data))
    if origin in (Mapping, dict, typing.Mapping) or tp is Mapping:
        if not isinstance(data, dict):
            raise SnapshotError(f"{where}: expected an object")
        return data
    if tp is bool and not isinstance(data, bool):
        raise SnapshotError(f"{where}: expected true or false, got {_kind(data)}")
    if tp is int and (isinstance(data, bool) or not isinstance(data, int)):
        raise SnapshotError(f"{where}: expected an integer, got {_kind(data)}")
    if tp is str and not isinstance(data, str):
        raise SnapshotError(f"{where}: expected a string, got {_kind(data)}")
    return data


def _check_probes(probes: dict[str, Any], where: str) -> None:
    """The probes' known facts have their types (``model.PROBE_FIELDS``); other keys are kept as they are."""
    if "head" in probes and not isinstance(probes["head"], bool):
        raise SnapshotError(f"{where}.head: expected true or false, got {_json_type(probes['head'])}")
    for name, fields in model.PROBE_FIELDS.items():
        facts = probes.get(name)
        if facts is None:
            continue
        if not isinstance(facts, dict):
            raise SnapshotError(f"{where}.{name}: expected an object, got {_json_type(facts)}")
        for key, types_ in fields.items():
            if key in facts and not (isinstance(facts[key], types_) and not (isinstance(facts[key], bool)
                                                                          and bool not in types_)):
                want = " or ".join(_TYPE_NAMES.get(t, "null") for t in types_)
                raise SnapshotError(f"{where}.{name}.{key}: expected {want}, got {_json_type(facts[key])}")


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"
def _kind(value: Any) -> str:
    return {type(None): "null", bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


MAX_DEPTH = 64  # real snapshots nest a policy document a few levels deep


def _check_values(value: Any, where: str = "snapshot", depth: int = 0) -> None:
    """Reject what no scan writes and later stages cannot carry: deep nesting, NaN/Infinity (rejected
    while parsing), strings that are not Unicode text (lone surrogates)."""
    stack = [(value, where, depth)]
    while stack:
        v, w, d = stack.pop()
        if d > MAX_DEPTH:
            raise SnapshotError(f"{w}: nested more than {MAX_DEPTH} levels deep")
        if isinstance(v, str):
            _check_text(v, w)
        elif isinstance(v, dict):
            for k, item in v.items():
                _check_text(k, w)
                stack.append((item, f"{w}.{k}" if len(w) < 200 else w, d + 1))
        elif isinstance(v, list):
            stack.extend((item, f"{w}[{i}]" if len(w) < 200 else w, d + 1) for i, item in enumerate(v))


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SnapshotError(f"{where}: holds a lone surrogate (\\ud800–\\udfff), which is not text") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def dump(snapshot: Snapshot) -> str:
    return json.dumps(to_data(snapshot), indent=1, ensure_ascii=False)


def load(text: str, source: str = "snapshot") -> Snapshot:
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise SnapshotError(f"{source}: not an auditor snapshot: nested too deeply to read") from None
    except ValueError as e:  # JSONDecodeError, NaN/Infinity
        raise SnapshotError(f"{source}: not JSON ({e})") from None
    if not isinstance(data, dict) or data.get("schema_version") != 1:
        raise SnapshotError(f"{source}: not an auditor snapshot (schema_version 1 expected)")
    try:
        _check_values(data)
        snapshot: Snapshot = from_data(Snapshot, data)
        return snapshot
    except SnapshotError as e:
        raise SnapshotError(f"{source}: {e} — the file was changed after `auditor scan --save-snapshot` wrote it; "
                            "use the original or scan again") from None


def save_snapshot(snapshot: Snapshot, path: Path) -> None:
    write_atomic(Path(path), dump(snapshot))


def load_snapshot(path: Path) -> Snapshot:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise SnapshotError(f"{path}: cannot read snapshot ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise SnapshotError(f"{path}: not an auditor snapshot: byte {e.start} is not UTF-8 — use the file "
                            "`auditor scan --save-snapshot` wrote") from None
    return load(text, str(path))
