"""Vendor profiles: everything vendor-specific, as data read from one TOML file per vendor.

A profile says who the vendor is and how it gets in (``access``), which integration keys a
user sets (typed, with defaults and help), the named zones of a bucket it touches, what it
needs per mode, what ``plan`` proposes and how it is inferred. Code switches on ``access``,
on zone names and on key *types*, never on a vendor's id. Loaded and validated by
``auditor.rulepack``; nothing here does I/O.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.prefixes import norm_prefix

ACCESS_KINDS = ("fixed-principal", "assumed-role", "iam-user")
PROVIDERS = ("aws", "wasabi", "s3-compatible")
MODES = ("read-only", "read-write")

# Integration key types: how a value is validated and what generic code does with it.
KEY_TYPES = {
    "string": "any non-empty text",
    "prefix": "a folder (key prefix) in the bucket; 'a/b' and 'a/b/' are the same",
    "bucket": "a bucket name",
    "role-arn": "the ARN of the role in your account that the vendor assumes",
    "principal-arn": "the vendor's own principal ARN (from its set-up screen)",
    "account-id": "the vendor's 12-digit AWS account id",
    "external-id": "the external id the vendor sends when it assumes the role",
    "user-name": "the name of the IAM user whose access keys the vendor holds",
}
# Placeholders every template may use besides the integration keys.
BUILTINS = ("bucket", "bucket_arn", "principal", "vendor_account", "mode", "zone", "zone_bucket", "zones",
            "zone_buckets")
# zone / zone_bucket: the zone's own prefix and bucket (in a zone's ``what``);
# zones[NAME] / zone_buckets[NAME]: any zone's prefix and bucket (in plan templates).

ARN_ROLE = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:role/.+$")
ARN_PRINCIPAL = re.compile(r"^arn:aws[\w-]*:(iam|sts)::\d{12}:.+$")
ACCOUNT_ID = re.compile(r"^\d{12}$")


def placeholders(template: Any) -> set[str]:
    """Every ``{name}`` used in a template (a string, or lists/tables of strings)."""
    out: set[str] = set()
    if isinstance(template, str):
        for _, name, spec, conversion in string.Formatter().parse(template):
            if name is not None and (spec or conversion or not name):
                out.add("{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}")
            elif name:
                out.add(name)
    elif isinstance(template, Mapping):
        for k, v in template.items():
            out |= placeholders(k) | placeholders(v)
    elif isinstance(template, (list, tuple)):
        for v in template:
            out |= placeholders(v)
    return out


def render(template: Any, values: Mapping[str, str]) -> Any:
    """Fill ``{name}`` placeholders in a string, or in every string of a list/table."""
    if isinstance(template, str):
        return template.format_map(values)
    if isinstance(template, Mapping):
        return {render(k, values): render(v, values) for k, v in template.items()}
    if isinstance(template, (list, tuple)):
        return [render(v, values) for v in template]
    return template


@dataclass(frozen=True, slots=True)
class Guide:
    """The vendor's own set-up guide, as users can find it."""

    title: str = ""
    url: str = ""
    section: str = ""

    def cite(self, section: str = "") -> str:
        """Title, section and address, as an auditor looks the guide up: 'RedBrick AI, "Configuring AWS s3",
        section "S3 Bucket Settings" (https://…)'."""
        text = self.title or self.url
        section = section or self.section
        if section:
            text += f', section "{section}"'
        return f"{text} ({self.url})" if self.title and self.url else text


@dataclass(frozen=True, slots=True)
class GuideRequirement:
    """A setting the vendor's own guide asks for that a baseline (exposure) rule would flag.

    On a bucket that holds every zone of ``zones`` (for one integration in one of ``modes``), the
    baseline rule ``rule`` reports what falls within it as ``required_by`` the guide's ``section``:
    severity info, never blocking. ``narrower`` names the narrower alternative, where there is one.
    For ``baseline.vendor-excess-privilege``: ``objects`` / ``bucket`` are the actions the guide grants
    on the whole bucket; for ``baseline.cors-wildcard-origin``: ``methods`` are those its "*" rule allows.
    """

    rule: str
    section: str
    zones: tuple[str, ...] = ()
    modes: tuple[str, ...] = MODES
    narrower: str = ""
    objects: frozenset[str] = frozenset()
    bucket: frozenset[str] = frozenset()
    methods: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One integration key: config key, check/plan flag and --help line."""

    name: str
    type: str = "string"
    required: bool = False
    required_in: tuple[str, ...] = ()  # required only in these modes
    default: str | None = None
    help: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def needed(self, mode: str) -> bool:
        return self.required or mode in self.required_in

    def problem(self, value: str) -> tuple[str, str] | None:
        """(problem, fix) when ``value`` is not of this key's type."""
        if self.type == "role-arn" and not ARN_ROLE.match(value):
            return f"'{value}' is not an IAM role ARN", "use arn:aws:iam::ACCOUNT:role/NAME"
        if self.type == "principal-arn" and not ARN_PRINCIPAL.match(value):
            return f"'{value}' is not an IAM ARN", "copy the ARN shown in the vendor's set-up screen"
        if self.type == "account-id" and not ACCOUNT_ID.match(value):
            return f"'{value}' is not a 12-digit account id", "write the 12 digits"
        if self.type == "bucket" and not re.fullmatch(r"[a-z0-9][a-z0-9.\-_]{1,254}", value, re.IGNORECASE):
            return f"'{value}' is not a bucket name", "write the bare name, without s3://"
        return None


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    """A named part of a bucket the vendor touches: a prefix (template), in a bucket, with required files."""

    name: str
    prefix: str = ""  # template, e.g. "{dataset}{images_dir}"
    default: str = ""  # used when the prefix renders empty (V7's thumbnails go to data/)
    bucket: str = ""  # template naming another bucket (e.g. "{metadata_bucket}"); "" = the integration's
    files: Mapping[str, str] = field(default_factory=dict)  # role -> key template of files that must exist
    what: str = ""  # how messages name the zone (template); default from the prefix


@dataclass(frozen=True, slots=True)
class Zone:
    """A zone resolved for one integration."""

    name: str
    bucket: str
    prefix: str
    files: Mapping[str, str]
    what: str


@dataclass(frozen=True, slots=True)
class ModeNeeds:
    """Least privilege for one mode: object actions per zone, bucket actions, and a note."""

    objects: tuple[tuple[str, frozenset[str]], ...] = ()  # (zone, actions)
    bucket: frozenset[str] = frozenset()
    list_zone: str = ""  # s3:ListBucket is needed only with s3:prefix under this zone's prefix (Datature)


@dataclass(frozen=True, slots=True)
class StatementTemplate:
    """A policy statement ``plan`` proposes, with when it applies."""

    statement: Mapping[str, Any]
    modes: tuple[str, ...] = MODES
    when_key_suffix: str = ""  # only when a sampled key ends with this (e.g. ".mrxs")
    condition_unless_empty: str = ""  # drop the Condition when this key's value is empty
    unless_same: tuple[str, ...] = ()  # skip when these templates render to the same value


@dataclass(frozen=True, slots=True)
class PlanSpec:
    statements: tuple[StatementTemplate, ...] = ()  # bucket policy (fixed-principal) or identity policy
    policy_name: str = ""  # inline policy name for roles and users
    cors: Mapping[str, Any] | None = None
    trust: Mapping[str, Any] | None = None  # the trust statement (assumed-role)
    key_policy: Mapping[str, Any] | None = None  # statement template; "Action" per mode under "actions"
    key_actions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InferSpec:
    scope_key: str = ""  # key that receives the single folder a grant names
    write_key: str = ""  # fixed-principal: key set when writes go to that folder
    write_default: str = ""  # fixed-principal: where writes go when the write key is unset
    # fixed-principal: the vendor's principals on other providers. A bucket policy naming one of them, in an
    # account of this profile's provider, is this profile's integration (V7's AWS role on Wasabi is V7 on Wasabi).
    principals: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Request:
    """How a request of the vendor reaches the bucket (decides condition keys; see issue 14)."""

    name: str
    auth: str = "header"  # "header" | "presigned"
    https: bool = True
    modes: tuple[str, ...] = MODES  # the modes in which the vendor makes it
    zones: tuple[str, ...] = ()  # the zones it touches (default: every zone)
    actions: tuple[str, ...] = ()  # the actions it carries (default: every needed action)


@dataclass(frozen=True, slots=True)
class VendorProfile:
    """A vendor (or the baseline) as data."""

    id: str
    name: str
    doc: str = ""
    principal: str | None = None  # fixed vendor principal (fixed-principal access)
    account: str | None = None  # the vendor's own account, when it is fixed
    origin: str | None = None  # first web origin, for messages
    extra: Mapping[str, Any] = field(default_factory=dict)
    guide: Guide = field(default_factory=Guide)
    access: str | None = None  # None for the baseline
    origins: tuple[str, ...] = ()
    providers: tuple[str, ...] = PROVIDERS
    modes: tuple[str, ...] = MODES
    features: tuple[str, ...] = ()  # e.g. "items-list"
    keys: tuple[KeySpec, ...] = ()
    zones: Mapping[str, ZoneSpec] = field(default_factory=dict)
    requests: tuple[Request, ...] = ()
    needs: Mapping[str, ModeNeeds] = field(default_factory=dict)
    plan: PlanSpec = field(default_factory=PlanSpec)
    infer: InferSpec = field(default_factory=InferSpec)
    guide_requires: tuple[GuideRequirement, ...] = ()
    source: str = ""
    replaces: str = ""  # the built-in pack this one replaces, if any
    rule_checks: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (check, zone param, modes) of its rules:
    # what the collectors probe follows from the checks the vendor's rules use

    @property
    def short_name(self) -> str:
        """The name without a parenthesised qualifier: 'V7 Darwin (AWS S3)' -> 'V7 Darwin'."""
        return self.name.split(" (")[0]

    def key(self, name: str) -> KeySpec | None:
        return next((k for k in self.keys if k.name == name), None)

    def key_of_type(self, type_: str) -> KeySpec | None:
        return next((k for k in self.keys if k.type == type_), None)

    # -- values of one integration ------------------------------------------------------

    def values(self, options: Mapping[str, str], bucket: str, mode: str) -> dict[str, str]:
        """Template values: every key (prefix keys normalised, defaults applied) and the built-ins."""
        out: dict[str, str] = {}
        for k in self.keys:
            raw = options.get(k.name) or k.default or ""
            out[k.name] = norm_prefix(raw) if k.type == "prefix" else raw
        for name, value in options.items():
            out.setdefault(name, value)
        account = self.account or ""
        acct_key = self.key_of_type("account-id")
        if acct_key and options.get(acct_key.name):
            account = options[acct_key.name]
        out.update(bucket=bucket, bucket_arn=f"arn:aws:s3:::{bucket}", principal=self.principal or "",
                   vendor_account=account, mode=mode)
        return out

    def zone(self, name: str, options: Mapping[str, str], bucket: str, mode: str) -> Zone:
        spec = self.zones[name]
        values = self.values(options, bucket, mode)
        prefix = norm_prefix(render(spec.prefix, values)) or spec.default
        where = render(spec.bucket, values) if spec.bucket else ""
        where = where or bucket
        files = {role: render(t, values) for role, t in spec.files.items()}
        values.update(zone=prefix, zone_bucket=where)
        if spec.what:
            what = render(spec.what, values)
        else:
            what = f"objects under {prefix}" if prefix else "every object in the bucket"
        return Zone(name, where, prefix, files, what)

    def plan_values(self, options: Mapping[str, str], bucket: str, mode: str) -> dict[str, Any]:
        """Template values for plan statements: ``values`` plus every zone's prefix and bucket."""
        values: dict[str, Any] = self.values(options, bucket, mode)
        zones = {n: self.zone(n, options, bucket, mode) for n in self.zones}
        values["zones"] = {n: z.prefix for n, z in zones.items()}
        values["zone_buckets"] = {n: z.bucket for n, z in zones.items()}
        return values

    def buckets_of(self, options: Mapping[str, str], bucket: str, mode: str) -> tuple[str, ...]:
        """Every bucket the vendor reaches in ``mode``: its own, and other buckets its zones name."""
        out = [bucket]
        needs = self.needs.get(mode)
        for zname, _ in needs.objects if needs else ():
            z = self.zone(zname, options, bucket, mode)
            if z.bucket not in out:
                out.append(z.bucket)
        return tuple(out)
