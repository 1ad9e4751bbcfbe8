"""Plain data shared by every layer: the snapshot a scan collects and the findings it yields.

Everything here is a frozen dataclass of tuples, strings and JSON-like mappings, so a
snapshot round-trips through JSON (see ``auditor.snapshot``) and checks can be pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypedDict, cast

from auditor.profile import VendorProfile, Zone


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: critical 4 … info 0."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


# --------------------------------------------------------------------------- snapshot


# The api of an error that stopped the collection of a whole bucket: every call about it counts as failed.
COLLECTOR = "collector"
BUCKET_APIS = frozenset({"GetBucketLocation", "GetBucketPolicy", "GetBucketCors", "GetBucketEncryption",
                         "GetPublicAccessBlock", "GetBucketOwnershipControls", "GetBucketVersioning",
                         "ListObjectsV2", "HeadObject", "GetObject"})


@dataclass(frozen=True, slots=True)
class ApiError:
    """An API call that was refused or failed: data, never swallowed."""

    api: str  # e.g. "GetBucketPolicy"
    code: str  # e.g. "AccessDenied", "ServiceUnavailable", "NotSupported"
    message: str = ""

    def describe(self) -> str:
        text = (f"collecting this resource failed ({self.code})" if self.api == COLLECTOR
                else f"{self.api} failed with {self.code}")
        return f"{text}: {self.message}" if self.message else text


@dataclass(frozen=True, slots=True)
class ObjectState:
    """One sampled object: listing data, plus what HeadObject and content probes saw."""

    key: str
    size: int = 0
    last_modified: str | None = None
    # HeadObject (None when not fetched)
    sse: str | None = None  # "AES256" | "aws:kms" | "aws:kms:dsse" | None
    kms_key_id: str | None = None
    # Content probes (bounded range reads): free-form, keyed by probe name,
    # e.g. {"exif": {"orientation": 6}, "mp4": {"major_brand": "mp42", ...}}
    probes: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[ApiError, ...] = ()

    @property
    def exif(self) -> ExifFacts | None:
        return cast("ExifFacts | None", self.probes.get("exif"))

    @property
    def mp4(self) -> Mp4Facts | None:
        return cast("Mp4Facts | None", self.probes.get("mp4"))

    @property
    def mirax(self) -> MiraxFacts | None:
        return cast("MiraxFacts | None", self.probes.get("mirax"))


class ExifFacts(TypedDict, total=False):
    """What the EXIF probe read from an image's first bytes (``auditor.probe.exif``)."""

    format: str | None
    orientation: int | None  # None: no orientation tag
    error: str


class Mp4Facts(TypedDict, total=False):
    """What the MP4 probe read from the box headers and the sample description (``auditor.probe.mp4``)."""

    major_brand: str | None
    reads: int
    sample_entry: str
    codec: str
    profile_idc: int
    chroma: str | None
    bit_depth: int
    pix_fmt: str
    error: str


class MiraxFacts(TypedDict):
    """The listing of a ``.mrxs`` slide's companion folder."""

    folder: str
    files: int
    truncated: bool
    slidedat: bool


# The probes' facts as the snapshot stores them: (key, allowed JSON types). A snapshot whose probe holds
# another type for one of these keys is damaged (checked when it loads); other keys are kept as they are.
PROBE_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "exif": {"format": (str, type(None)), "orientation": (int, type(None)), "error": (str,)},
    "mp4": {"major_brand": (str, type(None)), "reads": (int,), "sample_entry": (str,), "codec": (str,),
            "profile_idc": (int,), "chroma": (str, type(None)), "bit_depth": (int,), "pix_fmt": (str,),
            "error": (str,)},
    "mirax": {"folder": (str,), "files": (int,), "truncated": (bool,), "slidedat": (bool,)},
}


@dataclass(frozen=True, slots=True)
class Listing:
    """What one ListObjectsV2 page (or bounded walk) under a prefix returned."""

    prefix: str
    keys_seen: int
    truncated: bool  # more keys exist than were listed


@dataclass(frozen=True, slots=True)
class BucketState:
    name: str
    account_id: str
    region: str | None = None
    # None = "not configured" (the API answered NoSuch…); refused calls go to errors.
    policy: Mapping[str, Any] | None = None
    cors: tuple[Mapping[str, Any], ...] | None = None
    encryption: tuple[Mapping[str, Any], ...] | None = None  # ServerSideEncryptionConfiguration.Rules
    public_access_block: Mapping[str, bool] | None = None
    ownership: str | None = None
    versioning: str | None = None  # "Enabled" | "Suspended" | None (never enabled)
    objects: tuple[ObjectState, ...] = ()
    listings: tuple[Listing, ...] = ()
    blobs: Mapping[str, Any] = field(default_factory=dict)  # small whole objects read for content checks (e.g. COCO summaries)
    errors: tuple[ApiError, ...] = ()

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"

    def error(self, api: str) -> ApiError | None:
        """The recorded failure of ``api`` on this bucket, if any (a failed collection of the whole
        bucket is a failure of every call)."""
        for err in self.errors:
            if err.api == api or (err.api == COLLECTOR and api in BUCKET_APIS):
                return err
        return None


@dataclass(frozen=True, slots=True)
class AccessKey:
    access_key_id: str
    status: str  # "Active" | "Inactive"
    created: str | None = None  # ISO 8601


@dataclass(frozen=True, slots=True)
class AttachedPolicy:
    """A managed policy attached to a principal; its document lives in AccountState.managed_policies."""

    arn: str
    name: str


@dataclass(frozen=True, slots=True)
class InlinePolicy:
    name: str
    document: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class GroupState:
    name: str
    arn: str
    attached: tuple[AttachedPolicy, ...] = ()
    inline: tuple[InlinePolicy, ...] = ()


@dataclass(frozen=True, slots=True)
class UserState:
    name: str
    arn: str
    attached: tuple[AttachedPolicy, ...] = ()
    inline: tuple[InlinePolicy, ...] = ()
    groups: tuple[str, ...] = ()  # group names
    boundary: str | None = None  # managed policy ARN
    access_keys: tuple[AccessKey, ...] | None = None  # None = not collected
    errors: tuple[ApiError, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleState:
    name: str
    arn: str
    trust_policy: Mapping[str, Any] | None = None
    attached: tuple[AttachedPolicy, ...] = ()
    inline: tuple[InlinePolicy, ...] = ()
    boundary: str | None = None


@dataclass(frozen=True, slots=True)
class KeyState:
    key_id: str
    arn: str
    manager: str | None = None  # "AWS" | "CUSTOMER"
    aliases: tuple[str, ...] = ()
    policy: Mapping[str, Any] | None = None
    errors: tuple[ApiError, ...] = ()
    # ListGrants: GrantId, Name, GranteePrincipal, Operations, Constraints. None = not collected.
    grants: tuple[Mapping[str, Any], ...] | None = None

    @property
    def aws_managed(self) -> bool:
        """KeyManager AWS, or a reserved ``alias/aws/…`` alias (emulators report CUSTOMER for those)."""
        return self.manager == "AWS" or any(a.startswith("alias/aws/") for a in self.aliases)


@dataclass(frozen=True, slots=True)
class AccountState:
    name: str  # the config label
    account_id: str
    provider: str = "aws"
    public_access_block: Mapping[str, bool] | None = None
    users: tuple[UserState, ...] = ()
    roles: tuple[RoleState, ...] = ()
    groups: tuple[GroupState, ...] = ()
    managed_policies: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # ARN -> default version document
    keys: tuple[KeyState, ...] = ()
    buckets: tuple[BucketState, ...] = ()
    errors: tuple[ApiError, ...] = ()
    unsupported: tuple[str, ...] = ()  # services the provider lacks (e.g. "iam", "kms" on Wasabi)

    def error(self, api: str) -> ApiError | None:
        for err in self.errors:
            if err.api == api:
                return err
        return None

    def user(self, name: str) -> UserState | None:
        return next((u for u in self.users if u.name == name), None)

    def role(self, name_or_arn: str) -> RoleState | None:
        return next((r for r in self.roles if name_or_arn in (r.name, r.arn)), None)

    def group(self, name: str) -> GroupState | None:
        return next((g for g in self.groups if g.name == name), None)

    def key(self, key_id_or_arn: str) -> KeyState | None:
        """Find a key by id, ARN or alias (``alias/x`` or its ARN)."""
        wanted = key_id_or_arn.split(":alias/")[-1]
        if not wanted.startswith("alias/") and ":alias/" in key_id_or_arn:
            wanted = "alias/" + wanted
        for k in self.keys:
            if key_id_or_arn in (k.key_id, k.arn) or wanted in k.aliases:
                return k
            if key_id_or_arn.endswith("/" + k.key_id):
                return k
        return None

    def bucket(self, name: str) -> BucketState | None:
        if len(self.buckets) < 64:
            return next((b for b in self.buckets if b.name == name), None)
        # An estate of thousands of buckets is looked up by name thousands of times: indexed once.
        hit = _BUCKET_INDEX.get(id(self.buckets))
        if hit is None or hit[0] is not self.buckets:
            if len(_BUCKET_INDEX) >= 64:
                _BUCKET_INDEX.clear()
            index: dict[str, BucketState] = {}
            for b in self.buckets:
                index.setdefault(b.name, b)  # the first of a name, as a scan in order finds it
            hit = _BUCKET_INDEX[id(self.buckets)] = (self.buckets, index)
        return hit[1].get(name)


# id(buckets tuple) -> (the tuple, kept alive so that its id is not reused; name -> first bucket of the name)
_BUCKET_INDEX: dict[int, tuple[tuple[BucketState, ...], dict[str, BucketState]]] = {}


@dataclass(frozen=True, slots=True)
class SkippedAccount:
    name: str
    reason: str
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class Integration:
    """One vendor integration to check: from the config, or inferred from a bucket policy / trust.

    ``profile`` is the vendor's profile (``auditor.profile``), bound when the config is read or the
    rules run; it is not part of a snapshot (a snapshot is re-bound to the packs that evaluate it).
    """

    vendor: str
    account: str  # account label
    bucket: str
    mode: str = "read-only"
    options: Mapping[str, str] = field(default_factory=dict)  # vendor-specific keys, as the profile declares them
    inferred: bool = False
    profile: VendorProfile | None = field(default=None, compare=False, repr=False, metadata={"snapshot": False})

    def option(self, key: str, default: str | None = None) -> str | None:
        """The raw value of one integration key (for messages and tests; code uses the typed accessors)."""
        return self.options.get(key, default)

    def _typed(self, type_: str) -> str | None:
        spec = self.profile.key_of_type(type_) if self.profile else None
        return (self.options.get(spec.name) or spec.default or None) if spec else None

    @property
    def role_arn(self) -> str | None:
        """The role the vendor assumes (assumed-role access)."""
        return self._typed("role-arn")

    @property
    def user_name(self) -> str | None:
        """The IAM user whose keys the vendor holds (iam-user access)."""
        return self._typed("user-name")

    @property
    def external_id(self) -> str | None:
        return self._typed("external-id")

    @property
    def vendor_principal(self) -> str | None:
        """The vendor's own principal ARN, when the integration names it."""
        return self._typed("principal-arn")

    @property
    def vendor_account(self) -> str | None:
        """The vendor's account: fixed by the profile, or an integration key."""
        return self._typed("account-id") or (self.profile.account if self.profile else None)

    def values(self) -> dict[str, str]:
        """Template values of this integration (see ``VendorProfile.values``)."""
        if self.profile is None:
            return dict(self.options)
        return self.profile.values(self.options, self.bucket, self.mode)

    def zone(self, name: str) -> Zone:
        """A named zone of the profile, resolved for this integration."""
        if self.profile is None or name not in self.profile.zones:
            raise KeyError(f"zone {name!r} is not defined for vendor {self.vendor}")
        return self.profile.zone(name, self.options, self.bucket, self.mode)

    def buckets(self) -> tuple[str, ...]:
        """Every bucket the vendor reaches: its own, and any other its zones name in this mode."""
        if self.profile is None:
            return (self.bucket,)
        return self.profile.buckets_of(self.options, self.bucket, self.mode)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a scan collected; evaluation needs nothing else."""

    started_at: str
    finished_at: str
    accounts: tuple[AccountState, ...] = ()
    skipped: tuple[SkippedAccount, ...] = ()
    integrations: tuple[Integration, ...] = ()
    schema_version: int = 1


# --------------------------------------------------------------------------- findings


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    vendor: str
    status: Status
    severity: Severity
    account_id: str
    region: str | None
    bucket: str | None
    resource: str
    inferred: bool
    title: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    remediation: str | None = None
    reference: str = ""
    principal: str | None = None  # the vendor principal the finding is about, when there is one
    suppression: Mapping[str, Any] | None = None  # {"reason", "until", "rule", "resource"} when suppressed
    # "readiness" (a vendor requirement: will the integration work) or "exposure" (baseline hygiene and
    # least privilege: is it wider than it needs to be).
    kind: str = "readiness"
    # Set when the integration's own vendor guide requires what an exposure rule flags: the guide's title
    # and section. Such a finding is severity info and never blocks or counts for the exit status.
    required_by: str | None = None
    guide: Mapping[str, str] | None = None  # {"title", "url", "section"} of the vendor guide the rule follows
    same_fact_as: tuple[str, ...] = ()  # fingerprints of findings of other rules that report the same fact
    # Set on a copy made for display (escaped text): the identity of the finding it shows.
    shown_fingerprint: str | None = field(default=None, compare=False, repr=False)

    @property
    def suppressed(self) -> bool:
        return self.suppression is not None

    @property
    def fingerprint(self) -> str:
        """Stable identity across scans: rule id + resource + principal + vendor."""
        import hashlib

        if self.shown_fingerprint is not None:  # noqa: SIM102
            return self.shown_fingerprint
        text = "\x1f".join((self.rule_id, self.resource, self.principal or "", self.vendor))
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def to_json(self, data: Callable[[Any], Any] | None = None) -> dict[str, Any]:
        """The PRODUCT.md §4 finding object (plus ``reference`` and ``principal``). ``data`` converts
        the evidence and the suppression (default ``plain_data``)."""
        data = data or plain_data
        return {
            "rule_id": self.rule_id,
            "vendor": self.vendor,
            "status": str(self.status),
            "severity": str(self.severity),
            "account_id": self.account_id,
            "region": self.region,
            "bucket": self.bucket,
            "resource": self.resource,
            "inferred": self.inferred,
            "title": self.title,
            "message": self.message,
            "evidence": data(self.evidence),
            "remediation": self.remediation,
            "reference": self.reference,
            "principal": self.principal,
            "fingerprint": self.fingerprint,
            "suppressed": self.suppressed,
            "suppression": data(self.suppression) if self.suppression else None,
            "kind": self.kind,
            "required_by": self.required_by,
            "guide": dict(self.guide) if self.guide else None,
            "same_fact_as": list(self.same_fact_as),
        }

    @property
    def counted(self) -> bool:
        """Whether a fail counts at all (for blocking and the exit status): not suppressed, not required by the guide."""
        return not self.suppressed and self.required_by is None


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Findings of one scan with the facts a report's header needs."""

    started_at: str
    finished_at: str
    accounts: tuple[str, ...]  # account ids scanned
    buckets: int
    findings: tuple[Finding, ...]
    skipped: tuple[SkippedAccount, ...] = ()
    tool_version: str = "0.1.0"
    # Calls that failed during collection, one entry per (account, bucket, api, code): a scan with any
    # is incomplete (exit 3) even where no rule's verdict depended on the call.
    failed_calls: tuple[Mapping[str, Any], ...] = ()

    def counts(self) -> dict[str, dict[str, int]]:
        """{status: {severity: n}} over the findings that are not suppressed; a fact that a vendor rule and a
        baseline rule both report (``same_fact_as``) counts once."""
        out: dict[str, dict[str, int]] = {s.value: {v.value: 0 for v in Severity} for s in Status}
        linked: set[str] = set()
        for f in self.findings:
            if f.suppressed or (linked and f.fingerprint in linked):
                continue
            out[f.status.value][f.severity.value] += 1
            linked.update(f.same_fact_as)
        return out

    @property
    def suppressed(self) -> int:
        return sum(1 for f in self.findings if f.suppressed)


def plain_data(value: Any) -> Any:
    """Mappings/tuples/frozensets → dict/list, for JSON."""
    if isinstance(value, Mapping):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [plain_data(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, StrEnum):
        return value.value
    return value
