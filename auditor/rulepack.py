"""Vendor packs: one TOML file per vendor (``rules/*.toml``, and user packs from ``--rules-dir``).

A pack is the vendor's profile (``[vendor]``, ``[integration]``, ``[zones]``, ``[requests]``,
``[needs.<mode>]``, ``[plan]``, ``[infer]``; see ``auditor.profile``) and its ``[[rules]]``: what
the vendor requires, each rule naming the check that detects it. Every pack is validated when
it loads — first against ``auditor/schema/vendor-pack.schema.json``, then for what a schema
cannot say (a check that exists, its parameters, zones and keys that the profile defines, action
names that are real IAM actions). A problem is one RuleError naming the file, the rule id, the
key and the fix, raised before any API call.
"""

from __future__ import annotations

import difflib
import importlib.resources
import json
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from auditor.checks.registry import REQUIRED, CheckSpec, registry
from auditor.checks.resources import RESOURCE_CHECK
from auditor.errors import RuleError
from auditor.model import Severity
from auditor.profile import (
    BUILTINS,
    MODES,
    PROVIDERS,
    Guide,
    GuideRequirement,
    InferSpec,
    KeySpec,
    ModeNeeds,
    PlanSpec,
    Request,
    StatementTemplate,
    VendorProfile,
    ZoneSpec,
    placeholders,
)

# Options of `check` and `plan` that an integration key (which becomes a flag) must not shadow.
RESERVED_FLAGS = frozenset(("profile", "endpoint_url", "provider", "region", "format", "output_dir", "output",
                            "fail_on", "show_passes", "csv_excel", "quiet", "rules_dir", "help", "verbose", "debug",
                            "no_color", "config", "version"))


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    vendor: str
    title: str
    severity: Severity
    check: str
    reference: str
    params: Mapping[str, Any] = field(default_factory=dict)
    modes: tuple[str, ...] = ("read-only", "read-write")
    description: str = ""
    source: str = ""
    providers: tuple[str, ...] = PROVIDERS
    section: str = ""
    # "readiness": a vendor requirement (will the integration work); "exposure": baseline hygiene and
    # least privilege (is it wider than needed). Vendor rules are readiness unless they say otherwise.
    kind: str = "readiness"
    same_fact: str = ""  # the baseline rule that reports the same fact (one problem, counted once)
    guide: Mapping[str, str] | None = None  # {"title", "url", "section"} of the vendor's guide


@dataclass(frozen=True, slots=True)
class RulePack:
    vendor: VendorProfile
    rules: tuple[Rule, ...]
    source: str

    @property
    def replaces(self) -> str:
        return self.vendor.replaces


# ----------------------------------------------------------------------------- loading


def load_packs(paths: Iterable[Path] | None = None, dirs: Sequence[Path | str] = ()) -> tuple[RulePack, ...]:
    """The built-in packs (or only ``paths``), then every ``*.toml`` of ``dirs``, validated.

    A pack from ``dirs`` whose vendor id is a built-in's replaces that built-in (``replaces``
    names it); two user packs with one id, or one rule id in two packs, is a RuleError.
    """
    if paths is not None:
        packs = [parse_pack(Path(p).read_text(encoding="utf-8"), str(p)) for p in paths]
    else:
        packs = list(_builtin_packs())
    for d in dirs:
        packs = _overlay(packs, _dir_packs(Path(d)))
    seen: dict[str, str] = {}
    for pack in packs:
        for rule in pack.rules:
            if rule.id in seen:
                raise RuleError(pack.source, rule.id, f"duplicate rule id (also in {seen[rule.id]})",
                                key="id", hint="give each rule its own id")
            seen[rule.id] = pack.source
    return tuple(packs)


@cache
def _builtin_packs() -> tuple[RulePack, ...]:
    root = importlib.resources.files("auditor.rules")
    files = sorted((p for p in root.iterdir() if p.name.endswith(".toml")), key=lambda p: p.name)
    return tuple(parse_pack(p.read_text(encoding="utf-8"), f"rules/{p.name}") for p in files)


def _dir_packs(d: Path) -> list[RulePack]:
    if not d.is_dir():
        raise RuleError(str(d), None, "is not a directory of vendor packs",
                        hint="give --rules-dir (or [scan] rule_dirs) a directory holding *.toml packs")
    files = sorted(d.glob("*.toml"))
    if not files:
        raise RuleError(str(d), None, "holds no *.toml vendor pack", hint="put one VENDOR.toml per vendor there")
    out: list[RulePack] = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise RuleError(str(f), None, f"cannot read the pack ({e})", hint="check the file") from None
        out.append(parse_pack(text, str(f)))
    ids: dict[str, str] = {}
    for p in out:
        if p.vendor.id in ids:
            raise RuleError(p.source, None, f"vendor id '{p.vendor.id}' is also defined in {ids[p.vendor.id]}",
                            key="vendor.id", hint="one pack per vendor id")
        ids[p.vendor.id] = p.source
    return out


def _overlay(packs: list[RulePack], extra: list[RulePack]) -> list[RulePack]:
    by_id = {p.vendor.id: i for i, p in enumerate(packs)}
    out = list(packs)
    for pack in extra:
        if pack.vendor.id in by_id:
            i = by_id[pack.vendor.id]
            replaced = replace(pack, vendor=replace(pack.vendor, replaces=out[i].source))
            out[i] = replaced
        else:
            by_id[pack.vendor.id] = len(out)
            out.append(pack)
    return out


def profiles(packs: Sequence[RulePack]) -> dict[str, VendorProfile]:
    """Vendor id → profile, for every pack but the baseline."""
    return {p.vendor.id: p.vendor for p in packs if p.vendor.access is not None}


# ----------------------------------------------------------------------------- parsing


@cache
def _schema() -> dict[str, Any]:
    text = importlib.resources.files("auditor.schema").joinpath("vendor-pack.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def parse_pack(text: str, source: str) -> RulePack:
    """One pack from its TOML text; ``source`` names the file in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RuleError(source, None, f"invalid TOML: {e}", hint="fix the syntax at that line") from None
    _validate_schema(data, source)
    vendor = _profile(data, source)
    checks = registry()
    rules = tuple(_rule(raw, vendor, checks, source) for raw in data.get("rules", []))
    if vendor.access is not None and not any(r.check == RESOURCE_CHECK for r in rules):
        rules = (_resources_rule(vendor, source), *rules)
    vendor = replace(vendor, rule_checks=tuple((r.check, str(r.params.get("zone", "")), r.modes) for r in rules))
    return RulePack(vendor=vendor, rules=rules, source=source)


def _validate_schema(data: dict[str, Any], source: str) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if not errors:
        return
    err = jsonschema.exceptions.best_match(errors)
    path = list(err.absolute_path)
    rule_id = None
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        raw = data["rules"][path[1]]
        rule_id = str(raw.get("id", f"#{path[1] + 1}")) if isinstance(raw, dict) else f"#{path[1] + 1}"
        path = path[2:]
    key = ".".join(str(p) for p in path) or None
    problem, hint = _explain(err)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        if extra:
            key = ".".join(str(p) for p in [*path, extra[0]])
    raise RuleError(source, rule_id, problem, key=key, hint=hint)


def _explain(err: Any) -> tuple[str, str]:
    v, inst, sch = err.validator, err.instance, err.schema
    if v == "additionalProperties":
        allowed = sorted(sch.get("properties", {}))
        extra = sorted(set(inst) - set(allowed)) if isinstance(inst, dict) else []
        close = difflib.get_close_matches(extra[0], allowed, 1) if extra else []
        hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"unknown key '{extra[0] if extra else '?'}'", hint
    if v == "required":
        missing = [k for k in sch.get("required", []) if isinstance(inst, dict) and k not in inst]
        return f"missing required key '{missing[0] if missing else '?'}'", f"add {missing[0] if missing else 'it'} = ..."
    if v == "enum":
        return f"{json.dumps(inst)} is not allowed", "use one of: " + ", ".join(map(str, sch["enum"]))
    if v == "type":
        return f"must be {_a(sch['type'])}, got {json.dumps(inst)[:40]}", f"write {_a(sch['type'])}"
    if v == "pattern":
        return f"{json.dumps(inst)} does not match {sch['pattern']}", _pattern_hint(sch["pattern"])
    if v == "minLength":
        return "must not be empty", "write a value"
    if v in ("minItems", "uniqueItems"):
        return err.message, "list each value once, at least one"
    return err.message, "see docs/vendor-packs.md"


def _a(t: Any) -> str:
    names = {"string": "a string", "boolean": "true or false", "array": "a list", "object": "a table",
             "integer": "an integer", "number": "a number"}
    return names.get(t, str(t)) if isinstance(t, str) else " or ".join(names.get(x, x) for x in t)


def _pattern_hint(pattern: str) -> str:
    if "\\d{12}" in pattern and "arn" in pattern:
        return "write an ARN such as arn:aws:iam::123456789012:role/NAME"
    if "\\d{12}" in pattern:
        return "write the 12-digit account id"
    if ":[A-Za-z0-9]+" in pattern:
        return "write an IAM action such as s3:GetObject"
    if "\\." in pattern:
        return "write '<vendor id>.<name>' in lower case, e.g. acme.read-grant"
    return "use lower-case letters, digits and '-'"


def _err(source: str, rule: str | None, key: str | None, problem: str, hint: str) -> RuleError:
    return RuleError(source, rule, problem, key=key, hint=hint)


def _suggest(value: str, choices: Iterable[str]) -> str:
    choices = sorted(choices)
    close = difflib.get_close_matches(value, choices, 1)
    return f"did you mean '{close[0]}'?" if close else f"use one of: {', '.join(choices) or '(none defined)'}"


def is_action(name: str) -> bool:
    """``name`` is a real IAM action (exact, no wildcard), per the action catalogue."""
    from auditor.policy import expand_actions

    service, sep, _ = name.partition(":")
    if not sep or "*" in name or "?" in name:
        return False
    return name.lower() in {a.lower() for a in expand_actions(f"{service}:*")}


def _check_actions(actions: Iterable[Any], source: str, rule: str | None, key: str) -> None:
    for a in actions:
        if not isinstance(a, str) or not is_action(a):
            raise _err(source, rule, key, f"'{a}' is not an IAM action",
                       "write the exact action name as AWS spells it, e.g. s3:GetObject (no wildcards)")


def _statement_actions(stmt: Mapping[str, Any]) -> list[Any]:
    acts = stmt.get("Action", [])
    return [acts] if isinstance(acts, str) else list(acts)


def _profile(data: dict[str, Any], source: str) -> VendorProfile:
    v = data["vendor"]
    vid = v["id"]
    modes = tuple(v.get("modes", MODES))
    keys = []
    for name, spec in (data.get("integration") or {}).items():
        k = KeySpec(name=name, type=spec.get("type", "string"), required=spec.get("required", False),
                    required_in=tuple(spec.get("required_in", ())), default=spec.get("default"), help=spec["help"])
        if name in ("vendor", "account", "bucket", "mode"):
            raise _err(source, None, f"integration.{name}", f"'{name}' is a key of every integration",
                       "give the vendor's key another name")
        if name in RESERVED_FLAGS:
            raise _err(source, None, f"integration.{name}", f"'{name}' would clash with the --{name.replace('_', '-')} "
                       "option of check and plan", "give the vendor's key another name")
        bad = k.problem(k.default) if k.default else None
        if bad:
            raise _err(source, None, f"integration.{name}.default", bad[0], bad[1])
        keys.append(k)
    key_names = {k.name for k in keys}
    known = key_names | set(BUILTINS)

    zone_names = set(data.get("zones") or {})

    def check_placeholders(template: Any, key: str) -> None:
        for field_name in placeholders(template):
            if field_name.startswith("{"):
                raise _err(source, None, key, f"'{field_name}' is not a placeholder",
                           "write {KEY} (no format spec, conversion or empty braces; a literal brace is {{ or }})")
            name, _, index = field_name.partition("[")
            index = index.rstrip("]")
            if name in ("zones", "zone_buckets"):
                if index not in zone_names:
                    raise _err(source, None, key, f"unknown zone '{index}' in '{{{field_name}}}'",
                               _suggest(index, zone_names))
                continue
            if index or "." in name:
                raise _err(source, None, key, f"'{{{field_name}}}' is not a placeholder",
                           "write {KEY}, {zones[ZONE]} or {zone_buckets[ZONE]}")
            if name not in known:
                raise _err(source, None, key, f"unknown placeholder '{{{name}}}'",
                           _suggest(name, known) + " (integration keys and " + ", ".join(BUILTINS) + ")")

    access = v.get("access")
    if vid != "baseline" and access is None:
        raise _err(source, None, "vendor.access", "a vendor needs 'access'",
                   'write access = "fixed-principal", "assumed-role" or "iam-user"')
    if access == "fixed-principal" and not v.get("principal"):
        raise _err(source, None, "vendor.principal", "fixed-principal access needs the vendor's principal",
                   'write principal = "arn:aws:iam::ACCOUNT:role/NAME"')
    for kind, type_ in (("assumed-role", "role-arn"), ("iam-user", "user-name")):
        if access == kind and not any(k.type == type_ for k in keys):
            raise _err(source, None, "integration", f"{kind} access needs an integration key of type '{type_}'",
                       f'add [integration] KEY = {{ type = "{type_}", required = true, help = "..." }}')

    zones = {}
    for name, z in (data.get("zones") or {}).items():
        check_placeholders(z, f"zones.{name}")
        zones[name] = ZoneSpec(name=name, prefix=z["prefix"], default=z.get("default", ""), bucket=z.get("bucket", ""),
                               files=dict(z.get("files", {})), what=z.get("what", ""))

    needs = {}
    for mode, n in (data.get("needs") or {}).items():
        if mode not in modes:
            raise _err(source, None, f"needs.{mode}", f"mode '{mode}' is not one of the vendor's modes",
                       f"use one of: {', '.join(modes)} (or add it to vendor.modes)")
        objects = []
        for zname, actions in (n.get("objects") or {}).items():
            if zname not in zones:
                raise _err(source, None, f"needs.{mode}.objects.{zname}", f"unknown zone '{zname}'",
                           _suggest(zname, zones))
            _check_actions(actions, source, None, f"needs.{mode}.objects.{zname}")
            objects.append((zname, frozenset(actions)))
        _check_actions(n.get("bucket", []), source, None, f"needs.{mode}.bucket")
        list_zone = n.get("list_zone", "")
        if list_zone and list_zone not in zones:
            raise _err(source, None, f"needs.{mode}.list_zone", f"unknown zone '{list_zone}'", _suggest(list_zone, zones))
        if list_zone and "s3:ListBucket" not in n.get("bucket", []):
            raise _err(source, None, f"needs.{mode}.list_zone", "list_zone limits s3:ListBucket, which the mode does "
                       "not need", f'add "s3:ListBucket" to needs.{mode}.bucket or remove list_zone')
        needs[mode] = ModeNeeds(tuple(objects), frozenset(n.get("bucket", [])), list_zone)
    if access is not None:
        for mode in modes:
            if mode not in needs:
                raise _err(source, None, f"needs.{mode}", f"the vendor offers {mode} but says nothing of what it needs",
                           f"add [needs.{mode}] with objects = {{ ZONE = [\"s3:GetObject\"] }}")

    p: dict[str, Any] = data.get("plan") or {}
    statements = []
    for i, st in enumerate(p.get("statements", [])):
        key = f"plan.statements[{i}]"
        check_placeholders(st, key)
        _check_actions(_statement_actions(st["statement"]), source, None, f"{key}.statement.Action")
        cue = st.get("condition_unless_empty", "")
        if cue and cue not in key_names:
            raise _err(source, None, f"{key}.condition_unless_empty", f"unknown integration key '{cue}'",
                       _suggest(cue, key_names))
        for m in st.get("modes", ()):
            if m not in modes:
                raise _err(source, None, f"{key}.modes", f"mode '{m}' is not one of the vendor's modes",
                           f"use one of: {', '.join(modes)}")
        statements.append(StatementTemplate(dict(st["statement"]), tuple(st.get("modes", modes)),
                                            st.get("when_key_suffix", ""), cue, tuple(st.get("unless_same", ()))))
    for name in ("cors", "trust", "key_policy"):
        if name in p:
            check_placeholders(p[name], f"plan.{name}")
    if "trust" in p:
        _check_actions(_statement_actions(p["trust"]), source, None, "plan.trust.Action")
    key_actions = {m: tuple(a) for m, a in (p.get("key_actions") or {}).items()}
    for m, acts in key_actions.items():
        _check_actions(acts, source, None, f"plan.key_actions.{m}")
    plan = PlanSpec(tuple(statements), p.get("policy_name", f"auditor-{vid}"), p.get("cors"), p.get("trust"),
                    p.get("key_policy"), key_actions)

    inf = data.get("infer") or {}
    for name in ("scope_key", "write_key"):
        if inf.get(name) and inf[name] not in key_names:
            raise _err(source, None, f"infer.{name}", f"unknown integration key '{inf[name]}'",
                       _suggest(inf[name], key_names))
    infer = InferSpec(inf.get("scope_key", ""), inf.get("write_key", ""), inf.get("write_default", ""),
                      tuple(inf.get("principals", ())))
    requests = []
    for name, r in (data.get("requests") or {}).items():
        for z in r.get("zones", ()):
            if z not in zones:
                raise _err(source, None, f"requests.{name}.zones", f"unknown zone '{z}'", _suggest(z, zones))
        _check_actions(r.get("actions", ()), source, None, f"requests.{name}.actions")
        requests.append(Request(name, r.get("auth", "header"), r.get("https", True), tuple(r.get("modes", modes)),
                                tuple(r.get("zones", ())), tuple(r.get("actions", ()))))
    guide = Guide(**v.get("guide", {}))
    requires = []
    for i, g in enumerate(data.get("guide_requires", [])):
        for z in g.get("zones", ()):
            if z not in zones:
                raise _err(source, None, f"guide_requires[{i}].zones", f"unknown zone '{z}'", _suggest(z, zones))
        for key in ("objects", "bucket"):
            _check_actions(g.get(key, ()), source, None, f"guide_requires[{i}].{key}")
        requires.append(GuideRequirement(
            rule=g["rule"], section=g["section"], zones=tuple(g.get("zones", ())), modes=tuple(g.get("modes", modes)),
            narrower=g.get("narrower", ""), objects=frozenset(g.get("objects", ())),
            bucket=frozenset(g.get("bucket", ())), methods=frozenset(m.upper() for m in g.get("methods", ()))))
    origins = tuple(v.get("origins", [v["origin"]] if v.get("origin") else []))
    return VendorProfile(
        id=vid, name=v["name"], doc=v.get("doc", "") or guide.cite(), principal=v.get("principal"),
        account=v.get("account"), origin=v.get("origin") or (origins[0] if origins else None),
        extra=v.get("extra", {}), guide=guide, access=access, origins=origins,
        providers=tuple(v.get("providers", PROVIDERS)), modes=modes, features=tuple(v.get("features", ())),
        keys=tuple(keys), zones=zones, requests=tuple(requests), needs=needs, plan=plan, infer=infer,
        guide_requires=tuple(requires), source=source)


_PRINCIPAL = {"iam-user": " and IAM user", "assumed-role": " and role", "fixed-principal": ""}


def _resources_rule(vendor: VendorProfile, source: str) -> Rule:
    """Every vendor's first rule: what its integration names exists (one finding, instead of one row per rule
    that needs a missing bucket, role or user). A pack may define its own rule with this check instead."""
    what = f"bucket{_PRINCIPAL.get(vendor.access or '', '')}"
    return Rule(id=f"{vendor.id}.resources", vendor=vendor.id, title=f"The integration's {what} exist",
                severity=Severity.CRITICAL, check=RESOURCE_CHECK,
                reference=f"{vendor.guide.cite() or vendor.name}: the integration's {what} must exist for the "
                          "vendor to reach the data.", modes=vendor.modes, source=source,
                providers=PROVIDERS,
                guide={"title": vendor.guide.title, "url": vendor.guide.url, "section": vendor.guide.section}
                if vendor.guide.url else None)


def _rule(raw: dict[str, Any], vendor: VendorProfile, checks: Mapping[str, CheckSpec], source: str) -> Rule:
    rid = raw["id"]
    if not rid.startswith(vendor.id + "."):
        raise _err(source, rid, "id", f"rule id must start with '{vendor.id}.'", f"rename it {vendor.id}.{rid.split('.', 1)[-1]}")
    spec = checks.get(raw["check"])
    if spec is None:
        raise _err(source, rid, "check", f"unknown check '{raw['check']}'", _suggest(raw["check"], checks))
    params: dict[str, Any] = dict(raw.get("params", {}))
    value: Any
    for name, value in params.items():
        p = spec.params.get(name)
        if p is None:
            raise _err(source, rid, f"params.{name}", f"check '{spec.name}' takes no parameter '{name}'",
                       _suggest(name, spec.params) if spec.params else f"check '{spec.name}' takes no parameters")
        right_type = isinstance(value, p.type) and not (isinstance(value, bool) and p.type is not bool)
        if not right_type:
            want = getattr(p.type, "__name__", str(p.type))
            raise _err(source, rid, f"params.{name}", f"has the wrong type ({type(value).__name__})",
                       f"write a {dict(list='list', str='string', bool='true/false', int='number').get(want, want)}")
        if p.choices and value not in p.choices:
            raise _err(source, rid, f"params.{name}", f"{json.dumps(value)} is not allowed",
                       f"use one of: {', '.join(p.choices)}")
        if p.kind == "zone" and (value or p.default is REQUIRED) and value not in vendor.zones:
            raise _err(source, rid, f"params.{name}", f"unknown zone '{value}'", _suggest(value, vendor.zones))
        if p.kind == "key" and value and vendor.key(value) is None:
            raise _err(source, rid, f"params.{name}", f"unknown integration key '{value}'",
                       _suggest(value, [k.name for k in vendor.keys]))
        if p.kind == "actions":
            _check_actions(value, source, rid, f"params.{name}")
    for name, p in spec.params.items():
        if name not in params:
            if p.default is REQUIRED:
                raise _err(source, rid, f"params.{name}", f"check '{spec.name}' needs parameter '{name}'",
                           f"add {name} = ... to params ({p.doc})" if p.doc else f"add {name} = ... to params")
            if p.kind == "zone" and p.default and p.default not in vendor.zones:
                raise _err(source, rid, f"params.{name}", f"check '{spec.name}' needs parameter '{name}' (a zone)",
                           _suggest(str(p.default), vendor.zones))
            params[name] = p.default
    modes = tuple(raw.get("modes", vendor.modes))
    for m in modes:
        if m not in vendor.modes:
            raise _err(source, rid, "modes", f"mode '{m}' is not one of the vendor's modes",
                       f"use one of: {', '.join(vendor.modes)}")
    same = raw.get("same_fact", "")
    if same and not same.startswith("baseline."):
        raise _err(source, rid, "same_fact", f"'{same}' is not a baseline rule id", "write baseline.<rule>")
    section = raw.get("section", "")
    guide = ({"title": vendor.guide.title, "url": vendor.guide.url, "section": section or vendor.guide.section}
             if vendor.guide.url else None)
    return Rule(id=rid, vendor=vendor.id, title=raw["title"], severity=Severity(raw["severity"]), check=spec.name,
                reference=cite(vendor, raw["reference"], section), params=params, modes=modes,
                description=raw.get("description", ""), source=source, providers=tuple(raw.get("providers", PROVIDERS)),
                section=section, kind=raw.get("kind", "exposure" if vendor.access is None else "readiness"),
                same_fact=same, guide=guide)


def cite(vendor: VendorProfile, reference: str, section: str) -> str:
    """A rule's reference as a person can follow it: the guide's public title, section and address, then
    the guide's words. A reference that already names the guide (or cites AWS docs) is kept as written."""
    guide = vendor.guide
    if not guide.url or guide.url in reference or (guide.title and reference.startswith(guide.title)):
        return reference
    if vendor.doc and reference.startswith(vendor.doc):  # the quote as written against our copy of the guide
        reference = reference[len(vendor.doc):].lstrip(": ")
    return f"{guide.cite(section)}: {reference}"
