"""Snapshot + rule packs → findings. Pure: no I/O, no clock."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import cast

from auditor.checks._access import release_caches
from auditor.checks.registry import Outcome, Target, registry
from auditor.checks.resources import RESOURCE_CHECK
from auditor.docshape import policy_problem
from auditor.infer import infer_integrations
from auditor.model import AccountState, ApiError, BucketState, Finding, Integration, Severity, Snapshot, Status
from auditor.policy import PolicyError
from auditor.redact import redact
from auditor.rulepack import Rule, RulePack

# The collector calls behind each read permission a check declares. A check depends on the data
# of every call behind its reads: when one of them failed, "not applicable" and "pass" cannot be
# concluded (the engine turns them into unknown with that call's error), whatever the check does.
READ_APIS: dict[str, tuple[str, ...]] = {
    "s3:ListBucket": ("ListObjectsV2",),
    "s3:GetObject": ("ListObjectsV2",),  # object reads are of the objects the listing sampled
    "s3:GetBucketPolicy": ("GetBucketPolicy",),
    "s3:GetBucketCORS": ("GetBucketCors",),
    "s3:GetEncryptionConfiguration": ("GetBucketEncryption",),
    "s3:GetBucketPublicAccessBlock": ("GetPublicAccessBlock",),
    "s3:GetAccountPublicAccessBlock": ("GetAccountPublicAccessBlock",),
    "s3:GetBucketOwnershipControls": ("GetBucketOwnershipControls",),
    "s3:GetBucketVersioning": ("GetBucketVersioning",),
    "iam:GetAccountAuthorizationDetails": ("GetAccountAuthorizationDetails",),
    "kms:DescribeKey": ("DescribeKey",),
    "kms:ListAliases": ("ListAliases",),
}


# The collector call behind each field of the snapshot: a check that read the field depends on the call.
BUCKET_FIELD_APIS: dict[str, tuple[str, ...]] = {
    "policy": ("GetBucketPolicy",), "cors": ("GetBucketCors",), "encryption": ("GetBucketEncryption",),
    "public_access_block": ("GetPublicAccessBlock",), "ownership": ("GetBucketOwnershipControls",),
    "versioning": ("GetBucketVersioning",), "objects": ("ListObjectsV2",), "listings": ("ListObjectsV2",),
    "region": ("GetBucketLocation",),
}
ACCOUNT_FIELD_APIS: dict[str, tuple[str, ...]] = {
    "users": ("GetAccountAuthorizationDetails",), "roles": ("GetAccountAuthorizationDetails",),
    "groups": ("GetAccountAuthorizationDetails",), "managed_policies": ("GetAccountAuthorizationDetails",),
    "keys": ("DescribeKey", "ListAliases"), "public_access_block": ("GetAccountPublicAccessBlock",),
}


class _Reads:
    """A view of a bucket or account that notes which fields a check reads (so the engine knows
    which calls its verdict rests on, whether or not the check declared them)."""

    __slots__ = ("_obj", "_fields", "_seen")

    def __init__(self, obj, fields: dict[str, tuple[str, ...]]):
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_fields", fields)
        object.__setattr__(self, "_seen", set())

    def __getattr__(self, name):
        if name in self._fields:
            self._seen.add(name)
        return getattr(self._obj, name)

    def __setattr__(self, name, value):
        raise AttributeError("snapshot data is read-only")

    def __eq__(self, other):
        return self._obj == (other._obj if isinstance(other, _Reads) else other)

    def __hash__(self):
        return hash(self._obj)

    def apis(self) -> tuple[str, ...]:
        return tuple(api for name in sorted(self._seen) for api in self._fields[name])


def dependencies(spec) -> tuple[str, ...]:
    """Every API whose failure leaves ``spec`` without data it needs: its ``needs`` and the calls behind its reads."""
    apis = list(spec.needs)
    for action in spec.reads:
        apis += READ_APIS.get(action, ())
    return tuple(dict.fromkeys(apis))


def _failed(target: Target, apis: Iterable[str]):
    for api in apis:
        err = target.bucket.error(api) or target.account.error(api)
        if err is not None and err.code != "NotSupported":  # a provider without the API: the check decides
            return err
    return None


def _readable(snapshot: Snapshot) -> Snapshot:
    """The snapshot with every policy that is not a policy document (``null``, ``{}``, a list — from a
    server or a crafted snapshot) replaced by a recorded MalformedPolicy error: unknown, never "no policy"."""
    changed = False

    def readable(item, api: str):
        nonlocal changed
        problem = policy_problem(item.policy) if item.policy is not None else None
        if not problem:
            return item
        changed = True
        return dataclasses.replace(item, policy=None, errors=item.errors + (ApiError(api, "MalformedPolicy", problem),))

    accounts = [dataclasses.replace(account,
                                    buckets=tuple(readable(b, "GetBucketPolicy") for b in account.buckets),
                                    keys=tuple(readable(k, "GetKeyPolicy") for k in account.keys))
                for account in snapshot.accounts]
    return dataclasses.replace(snapshot, accounts=tuple(accounts)) if changed else snapshot


def _inferred(snapshot: Snapshot, packs: Sequence[RulePack]) -> tuple[Integration, ...]:
    """Inferred integrations; an account whose data inference cannot read loses only its own."""
    try:
        return tuple(infer_integrations(snapshot, packs))
    except Exception:  # noqa: BLE001
        out: list[Integration] = []
        for account in snapshot.accounts:
            try:
                out += infer_integrations(dataclasses.replace(snapshot, accounts=(account,)), packs)
            except Exception:  # noqa: BLE001 — the account's configured integrations are still checked
                continue
        return tuple(out)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """What every part of an evaluation starts from (plain data: it is what a worker process gets).

    ``units`` lists the evaluation's independent pieces in the order their findings are reported:
    ``(account, -1)`` the account's own rules, ``(account, bucket)`` one bucket's baseline rules,
    ``(-1, i)`` the rules of integration ``i``."""

    snapshot: Snapshot
    packs: tuple[RulePack, ...]
    integrations: tuple[Integration, ...]
    units: tuple[tuple[int, int], ...]


@dataclasses.dataclass
class Part:
    """The findings of a run of units, and the rules not evaluated for what is missing (by account and ARN)."""

    findings: list[Finding]
    dropped: dict[tuple[str, str], list[str]]


def prepare(snapshot: Snapshot, packs: Sequence[RulePack]) -> Prepared:
    by_vendor = {p.vendor.id: p for p in packs}
    # Profiles are not part of a snapshot: bind each integration to the pack that evaluates it.
    configured = tuple(replace(i, profile=by_vendor[i.vendor].vendor if i.vendor in by_vendor else None)
                       for i in snapshot.integrations)
    snapshot = _readable(replace(snapshot, integrations=configured))
    integrations = configured + _inferred(snapshot, packs)
    units = [u for a, account in enumerate(snapshot.accounts)
             for u in [(a, -1)] + [(a, b) for b in range(len(account.buckets))]]
    units += [(-1, i) for i in range(len(integrations))]
    return Prepared(snapshot, tuple(packs), integrations, tuple(units))


class Lookups:
    """The lookups every unit uses, made once per process from a ``Prepared``."""

    def __init__(self, prepared: Prepared):
        self.checks = registry()
        self.by_vendor = {p.vendor.id: p for p in prepared.packs}
        # Indexed once: an estate has thousands of buckets and hundreds of integrations.
        self.per_bucket: dict[tuple[str, str], tuple[Integration, ...]] = {}
        for i in prepared.integrations:
            for name in i.buckets():  # a vendor's permissions on every bucket it reaches are checked there
                self.per_bucket[(i.account, name)] = self.per_bucket.get((i.account, name), ()) + (i,)
        accounts = prepared.snapshot.accounts
        self.accounts = {a.name: a for a in reversed(accounts)}  # the first account of a name wins
        self.buckets = {(name, b.name): b for name, a in self.accounts.items() for b in reversed(a.buckets)}
        self.baseline = self.by_vendor.get("baseline")
        rules = self.baseline.rules if self.baseline else ()
        self.per_account = [r for r in rules if self.checks[r.check].scope == "account"]
        self.per_bucket_rules = [r for r in rules if self.checks[r.check].scope != "account"]


def evaluate_units(prepared: Prepared, start: int, end: int, context: Lookups | None = None) -> Part:
    """The findings of ``prepared.units[start:end]``, in order."""
    ctx = context or Lookups(prepared)
    snapshot, checks, baseline = prepared.snapshot, ctx.checks, ctx.baseline
    findings: list[Finding] = []
    # Rules whose outcome was only "this integration's bucket/role/user does not exist", by what is missing:
    # the integration's resources rule reports it once and lists them.
    dropped: dict[tuple[str, str], list[str]] = {}
    for a, b in prepared.units[start:end]:
        if a >= 0:
            account = snapshot.accounts[a]
            if baseline is None:
                continue
            if b < 0:
                if ctx.per_account:
                    target = Target(snapshot, account, BucketState(name="", account_id=account.account_id), None,
                                    baseline.vendor)
                    for rule in ctx.per_account:
                        findings.extend(dataclasses.replace(f, bucket=None, region=None,
                                                            resource=f"arn:aws:iam::{account.account_id}:root")
                                        for f in _run(rule, target, checks))
                continue
            bucket = account.buckets[b]
            target = Target(snapshot, account, bucket, None, baseline.vendor,
                            ctx.per_bucket.get((account.name, bucket.name), ()))
            for rule in ctx.per_bucket_rules:
                if account.provider in rule.providers:
                    findings.extend(_run(rule, target, checks, dropped))
            continue
        _integration(prepared.integrations[b], ctx, snapshot, findings, dropped)
    return Part(findings, dropped)


def _integration(integ: Integration, ctx: Lookups, snapshot: Snapshot, findings: list[Finding],
                 dropped: dict[tuple[str, str], list[str]]) -> None:
    pack = ctx.by_vendor.get(integ.vendor)
    if pack is None:
        return
    integ_account = ctx.accounts.get(integ.account)
    if integ_account is None:
        return  # account skipped: reported with the scan's skipped accounts
    integ_bucket = ctx.buckets.get((integ.account, integ.bucket))
    on_bucket = ctx.per_bucket[(integ.account, integ.bucket)]
    rules = [r for r in pack.rules if integ.mode in r.modes and integ_account.provider in r.providers]
    own = [r for r in rules if r.check == RESOURCE_CHECK]
    if integ_bucket is None and own:
        # Nothing of the integration can be checked: its resources rule says so once, listing the others.
        placeholder = BucketState(name=integ.bucket, account_id=integ_account.account_id)
        for rule in own:
            findings.extend(_run(rule, Target(snapshot, integ_account, placeholder, integ, pack.vendor, on_bucket),
                                 ctx.checks))
        dropped.setdefault((integ_account.account_id, f"arn:aws:s3:::{integ.bucket}"), []).extend(
            r.id for r in rules if r not in own)
        return
    for rule in rules:
        if integ_bucket is None:
            findings.append(_missing_bucket(rule, integ_account, integ))
            continue
        findings.extend(_run(rule, Target(snapshot, integ_account, integ_bucket, integ, pack.vendor, on_bucket),
                             ctx.checks, dropped))


def finish(prepared: Prepared, parts: Iterable[Part]) -> tuple[Finding, ...]:
    """The evaluation's findings from the parts of its units, given in unit order."""
    findings: list[Finding] = []
    dropped: dict[tuple[str, str], list[str]] = {}
    for part in parts:
        findings += part.findings
        for key, ids in part.dropped.items():
            dropped.setdefault(key, []).extend(ids)
    if dropped:
        own_ids = {r.id for p in prepared.packs for r in p.rules if r.check == RESOURCE_CHECK}
        findings = [_with_not_evaluated(f, dropped) if f.rule_id in own_ids else f for f in findings]
    # One finding per (rule, resource): an account configured twice (two labels, one account id)
    # reports its roles once.
    first: dict[tuple, Finding] = {}
    for f in findings:
        first.setdefault((f.rule_id, f.vendor, f.account_id, f.bucket, f.resource, f.principal), f)
    return _link_same_facts(tuple(first.values()), prepared.packs)


def evaluate(snapshot: Snapshot, packs: Sequence[RulePack]) -> tuple[Finding, ...]:
    """Every applicable rule against every bucket and integration: one finding per (rule, resource)."""
    prepared = prepare(snapshot, packs)
    try:
        return finish(prepared, [evaluate_units(prepared, 0, len(prepared.units))])
    finally:
        release_caches()


def _link_same_facts(findings: tuple[Finding, ...], packs: Sequence[RulePack]) -> tuple[Finding, ...]:
    """A vendor rule and the baseline rule its profile names as reporting the same fact (``same_fact``:
    the trust's external id, block public access) point at each other, so one problem is counted once."""
    same = {r.id: r.same_fact for p in packs for r in p.rules if r.same_fact}
    if not same:
        return findings
    wanted = set(same.values())
    index: dict[tuple, list[int]] = {}
    for i, f in enumerate(findings):
        if f.rule_id in wanted:
            index.setdefault((f.rule_id, f.account_id, "principal", f.principal), []).append(i)
            index.setdefault((f.rule_id, f.account_id, "bucket", f.bucket), []).append(i)
    links: dict[int, list[str]] = {}
    for i, f in enumerate(findings):
        other = same.get(f.rule_id)
        if not other or f.status == Status.PASS:
            continue
        key = (other, f.account_id, "principal", f.principal) if f.principal else (other, f.account_id, "bucket", f.bucket)
        for j in index.get(key, ()):
            if findings[j].status == f.status:
                links.setdefault(i, []).append(findings[j].fingerprint)
                links.setdefault(j, []).append(f.fingerprint)
    if not links:
        return findings
    return tuple(replace(f, same_fact_as=tuple(dict.fromkeys(links[i]))) if i in links else f
                 for i, f in enumerate(findings))


def _with_not_evaluated(f: Finding, dropped: dict[tuple[str, str], list[str]]) -> Finding:
    """The resources finding with the rules that were not evaluated because what it names is missing."""
    missing = f.evidence.get("missing") if isinstance(f.evidence, dict) else None
    ids = sorted({r for arn in missing or () for r in dropped.get((f.account_id, arn), ())})
    if not ids:
        return f
    shown = ", ".join(ids[:8]) + (" …" if len(ids) > 8 else "")
    return dataclasses.replace(f, evidence={**f.evidence, "not_evaluated": ids},
                               message=f"{f.message} Not evaluated without it: {shown}.")


def _unknown(err) -> Outcome:
    return Outcome(Status.UNKNOWN, f"Could not verify: {err.describe()}.",
                   {"api_error": {"api": err.api, "code": err.code, "message": err.message}})


def _unknown_as_before(spec, rule: Rule, target: Target, err,
                       dropped: dict[tuple[str, str], list[str]] | None = None) -> tuple[Outcome, ...]:
    """Unknown outcomes for a check whose required call failed. The check still runs (on what did
    arrive) only to name its resources and principals, so each finding keeps its identity (its
    fingerprint, for ``diff``); every verdict it reaches is replaced by unknown."""
    try:
        result = spec.fn(target, **rule.params)
        outcomes = () if result is None else (result,) if isinstance(result, Outcome) else tuple(result)
    except Exception:  # noqa: BLE001 — a check without its data may well fail: one plain unknown
        outcomes = ()
    if outcomes and dropped is not None:
        outcomes = _present(rule, target, outcomes, dropped)
        if not outcomes:
            return ()  # what it needs does not exist: the integration's resources rule says so
    if not outcomes:
        return (_unknown(err),)
    plain = _unknown(err)
    places = dict.fromkeys((o.resource, o.principal, o.account_level) for o in outcomes)
    return tuple(dataclasses.replace(plain, resource=r, principal=p, account_level=a) for r, p, a in places)


def _present(rule: Rule, target: Target, outcomes: tuple[Outcome, ...],
             dropped: dict[tuple[str, str], list[str]] | None) -> tuple[Outcome, ...]:
    """``outcomes`` without those that only say the integration's bucket, role or user is missing (its
    resources rule reports that once); the rule is noted as not evaluated for it."""
    if dropped is None or rule.check == RESOURCE_CHECK:
        return outcomes
    kept = []
    for o in outcomes:
        if o.missing:
            ids = dropped.setdefault((target.account.account_id, o.missing), [])
            if rule.id not in ids:
                ids.append(rule.id)
        else:
            kept.append(o)
    return tuple(kept)


def _run(rule: Rule, target: Target, checks,
         dropped: dict[tuple[str, str], list[str]] | None = None) -> Iterable[Finding]:
    spec = checks[rule.check]
    for api in spec.needs:
        err = target.bucket.error(api) or target.account.error(api)
        if err is not None:
            named = _unknown_as_before(spec, rule, target, err, dropped)
            yield from (_finding(rule, target, o) for o in named)
            return
    bucket_reads, account_reads = _Reads(target.bucket, BUCKET_FIELD_APIS), _Reads(target.account, ACCOUNT_FIELD_APIS)
    # The read-recording views stand in for the bucket and the account they wrap.
    watched = dataclasses.replace(target, bucket=cast(BucketState, bucket_reads),
                                  account=cast(AccountState, account_reads))
    try:
        result = spec.fn(watched, **rule.params)
        outcomes = () if result is None else (result,) if isinstance(result, Outcome) else tuple(result)
        if outcomes and dropped is not None:
            outcomes = _present(rule, target, outcomes, dropped)
            if not outcomes:
                return  # only "missing": the integration's resources rule reports it
        failed = _failed(target, dependencies(spec) + bucket_reads.apis() + account_reads.apis())
        if failed is not None:
            # Enforced here, not per check: without the data of a failed call, "not applicable" and
            # "pass" are not conclusions. A pass keeps its resource and principal (and so its
            # fingerprint); a fail found in the data that did arrive stands.
            if not outcomes:
                outcomes = (_unknown(failed),)
            else:
                outcomes = tuple(o if o.status != Status.PASS else dataclasses.replace(
                    o, status=Status.UNKNOWN, message=f"Could not verify: {failed.describe()}.",
                    evidence={**o.evidence, "api_error": {"api": failed.api, "code": failed.code,
                                                          "message": failed.message}},
                    remediation=None) for o in outcomes)
        if not outcomes:
            return  # not applicable (e.g. no .mrxs keys): no finding
    except PolicyError as e:
        # AWS refuses such documents, but a snapshot, an S3-compatible store or an operator newer
        # than this evaluator can still hold one: this rule is unknown, the scan goes on.
        yield _finding(rule, target, Outcome(
            Status.UNKNOWN, f"Could not evaluate a policy: {e}.", {"policy_error": str(e)}))
        return
    except Exception as e:  # one faulty check must not sink a scan of thousands of buckets
        text = redact(str(e))[:300]
        yield _finding(rule, target, Outcome(
            Status.UNKNOWN, f"Could not verify: the {rule.check} check failed ({type(e).__name__}: {text}); "
            "please report this with the snapshot.", {"check_error": {"type": type(e).__name__, "message": text}}))
        return
    for outcome in outcomes:
        yield _finding(rule, target, outcome)


def _finding(rule: Rule, target: Target, outcome: Outcome) -> Finding:
    integ = target.integration
    bucket: str | None = target.bucket.name
    region: str | None = target.bucket.region
    if outcome.account_level:
        bucket, region = None, None
    elif outcome.resource and outcome.resource.startswith("arn:aws:s3:::"):
        # A finding about another bucket of the integration (Tenyks's metadata bucket) is filed under it.
        name = outcome.resource[len("arn:aws:s3:::"):].split("/", 1)[0]
        if name != bucket:
            other = target.account.bucket(name)
            bucket, region = name, other.region if other else None
    return Finding(
        rule_id=rule.id,
        vendor=rule.vendor,
        status=outcome.status,
        severity=Severity.INFO if outcome.required_by else outcome.severity or rule.severity,
        account_id=target.account.account_id,
        region=region,
        bucket=bucket,
        resource=outcome.resource or target.bucket.arn,
        inferred=bool(integ and integ.inferred),
        title=rule.title,
        message=outcome.message,
        evidence=outcome.evidence,
        remediation=outcome.remediation,
        reference=rule.reference,
        principal=outcome.principal,
        kind=rule.kind,
        required_by=outcome.required_by,
        guide=rule.guide,
    )


def _missing_bucket(rule: Rule, account: AccountState, integ: Integration) -> Finding:
    err = account.error("ListBuckets")
    why = err.describe() if err else f"bucket {integ.bucket!r} was not found in account {account.name} ({account.account_id})"
    return Finding(
        rule_id=rule.id, vendor=rule.vendor, status=Status.UNKNOWN, severity=rule.severity,
        account_id=account.account_id, region=None, bucket=integ.bucket, resource=f"arn:aws:s3:::{integ.bucket}",
        inferred=integ.inferred, title=rule.title, message=f"Could not verify: {why}.",
        evidence={"integration": {"vendor": integ.vendor, "bucket": integ.bucket}}, remediation=None,
        reference=rule.reference, kind=rule.kind, guide=rule.guide,
    )


def bucket_count(snapshot: Snapshot) -> int:
    return sum(len(a.buckets) for a in snapshot.accounts)


__all__ = ["evaluate", "bucket_count", "BucketState"]
