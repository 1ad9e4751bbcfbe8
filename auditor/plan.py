"""``auditor plan``: the least-privilege changes that make one bucket ready for one vendor.

The plan is computed from the snapshot and the findings of a scan of that bucket: only what
fails gets a change. Every existing bucket-policy statement, key-policy statement and CORS
rule is kept verbatim — except statements that name only the vendor's principal, which are
replaced by the least-privilege ones the vendor's guide asks for ("tightened"). Each change
comes as the resulting JSON document, the ``aws`` CLI command and a Terraform snippet, with a
readable diff against the current state. Nothing is ever written to the account.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor import remediation as rem
from auditor.model import AccountState, BucketState, Finding, Integration, Snapshot, Status
from auditor.profile import VendorProfile, render

BLOCK_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


@dataclass
class Change:
    kind: str  # bucket-policy | cors | key-policy | trust-policy | role-policy | user-policy | access-key | public-access-block | versioning
    resource: str
    title: str
    before: Any = None
    after: Any = None
    cli: list[str] = field(default_factory=list)
    terraform: str = ""
    fixes: list[str] = field(default_factory=list)  # rule ids this change addresses

    def diff(self) -> str:
        if self.before is None and self.after is None:
            return ""
        a = json.dumps(self.before, indent=2, sort_keys=False).splitlines() if self.before is not None else []
        b = json.dumps(self.after, indent=2, sort_keys=False).splitlines() if self.after is not None else []
        return "\n".join(difflib.unified_diff(a, b, "current", "planned", lineterm=""))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "resource": self.resource, "title": self.title, "fixes": self.fixes,
                "before": self.before, "after": self.after, "cli": self.cli, "terraform": self.terraform,
                "diff": self.diff()}


@dataclass
class Plan:
    vendor: str
    bucket: str
    mode: str
    changes: list[Change] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)  # steps a tool cannot do for you, with the reason

    def to_json(self) -> dict[str, Any]:
        return {"vendor": self.vendor, "bucket": self.bucket, "mode": self.mode,
                "changes": [c.to_json() for c in self.changes], "manual_steps": self.manual}

    def script(self) -> str:
        lines = ["#!/usr/bin/env sh", f"# auditor plan: {self.vendor} on s3://{self.bucket} ({self.mode})", "set -eu", ""]
        for c in self.changes:
            lines.append(f"# {c.title}")
            lines.extend(c.cli)
            lines.append("")
        for m in self.manual:
            lines.append(f"# MANUAL: {m}")
        return "\n".join(lines).rstrip() + "\n"

    def terraform(self) -> str:
        return "\n\n".join(c.terraform for c in self.changes if c.terraform) + "\n"


# ----------------------------------------------------------------------------- helpers


def _tf_name(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", text).strip("_") or "x"


def _heredoc(doc: Any) -> str:
    return "<<-EOT\n" + json.dumps(doc, indent=2) + "\nEOT"


def _names_only(stmt: Mapping[str, Any], principals: set[str]) -> bool:
    """A statement whose Principal is exactly the vendor's principal(s), and nothing else."""
    p = stmt.get("Principal")
    if not isinstance(p, Mapping) or set(p) != {"AWS"}:
        return False
    values = p["AWS"] if isinstance(p["AWS"], list) else [p["AWS"]]
    return bool(values) and all(v in principals for v in values)


def _with_endpoint(cmd: str, endpoint: str | None) -> str:
    if not endpoint or "--endpoint-url" in cmd:
        return cmd
    return cmd.replace("aws ", f"aws --endpoint-url {endpoint} ", 1)


def _failing(findings: Sequence[Finding], *rule_ids: str) -> list[Finding]:
    return [f for f in findings if f.rule_id in rule_ids and f.status == Status.FAIL]


# ----------------------------------------------------------------------------- the plan


def make_plan(snapshot: Snapshot, integration: Integration, findings: Sequence[Finding],
               endpoint_url: str | None = None, rules: Sequence[Any] = ()) -> Plan:
    """The changes that turn this bucket's failing findings for ``integration`` into passes.

    Everything vendor-specific comes from the integration's profile (``[plan]``); ``rules`` are the
    vendor's rules (their checks say which change fixes which rule).
    """
    account = next(a for a in snapshot.accounts if a.name == integration.account)
    bucket = account.bucket(integration.bucket)
    plan = Plan(integration.vendor, integration.bucket, integration.mode)
    if bucket is None:
        plan.manual.append(f"Bucket {integration.bucket} was not found in the account: create it first "
                           f"(aws s3 mb s3://{integration.bucket}), then run plan again.")
        return plan
    profile = integration.profile
    failing = {f.rule_id for f in findings if f.status == Status.FAIL}
    if not rules:
        from auditor.rulepack import load_packs

        rules = [r for p in load_packs() if p.vendor.id == integration.vendor for r in p.rules]
    by_check: dict[str, set[str]] = {}
    for r in rules:
        by_check.setdefault(r.check, set()).add(r.id)
    if profile is not None:
        ctx = _Ctx(plan, account, bucket, integration, profile, failing, by_check, findings)
        if profile.access == "fixed-principal":
            _plan_fixed(ctx)
        elif profile.access == "assumed-role":
            _plan_assumed(ctx)
        elif profile.access == "iam-user":
            _plan_user(ctx)
        _plan_cors(ctx)
        _plan_kms(ctx)
    _plan_baseline(plan, account, bucket, integration, failing, findings, by_check)
    for change in plan.changes:
        change.cli = [_with_endpoint(c, endpoint_url) for c in change.cli]
    if failing & by_check.get("bucket_name", set()):
        plan.manual.append(f"Bucket names cannot change: create a bucket whose name passes "
                           f"{', '.join(sorted(failing & by_check['bucket_name']))}, copy the data "
                           f"(aws s3 sync s3://{bucket.name} s3://NEW-NAME) and run plan for the new bucket.")
    leftover = sorted(failing - {r for c in plan.changes for r in c.fixes})
    for rule in leftover:
        f = next(x for x in findings if x.rule_id == rule and x.status == Status.FAIL)
        if not any(rule.split(".")[1] in m for m in plan.manual):
            plan.manual.append(f"{rule}: {f.message}")
    return plan


@dataclass
class _Ctx:
    plan: Plan
    account: AccountState
    bucket: BucketState
    integ: Integration
    profile: VendorProfile
    failing: set[str]
    by_check: dict[str, set[str]]
    findings: Sequence[Finding]

    def rules(self, *checks: str) -> set[str]:
        out: set[str] = set()
        for c in checks:
            out |= self.by_check.get(c, set())
        return out

    def values(self) -> dict[str, Any]:
        return self.profile.plan_values(self.integ.options, self.bucket.name, self.integ.mode)

    def no_statements(self, rules: set[str]) -> None:
        """The profile proposes no statement for this mode: never an empty grant in place of the vendor's."""
        failing = sorted(self.failing & rules)
        if failing:
            self.plan.manual.append(f"grants: the {self.profile.id} pack has no [[plan.statements]] for "
                                    f"{self.integ.mode}; grant what {', '.join(failing)} ask for by hand "
                                    f"({self.profile.guide.cite() or self.profile.doc}).")

    def statements(self) -> list[dict[str, Any]]:
        """The profile's plan statements for this mode, rendered."""
        values = self.values()
        keys = [o.key for o in self.bucket.objects]
        out = []
        for t in self.profile.plan.statements:
            if self.integ.mode not in t.modes:
                continue
            if t.when_key_suffix and not any(k.lower().endswith(t.when_key_suffix) for k in keys):
                continue
            if t.unless_same and len({str(render(x, values)) for x in t.unless_same}) == 1:
                continue
            st = render(dict(t.statement), values)
            if t.condition_unless_empty and not values.get(t.condition_unless_empty):
                st.pop("Condition", None)
            out.append(st)
        return out


def _cors_change(plan: Plan, bucket: BucketState, vendor: str, rule_id: str | set[str],
                 cors_rule: Mapping[str, Any]) -> None:
    existing = [dict(r) for r in bucket.cors or ()]
    after = {"CORSRules": existing + [dict(cors_rule)]}
    before = {"CORSRules": existing} if bucket.cors is not None else None
    rules_tf = "\n".join(
        "  cors_rule {\n" + "\n".join(
            f"    {tf} = {json.dumps(r[key])}" for key, tf in (
                ("AllowedHeaders", "allowed_headers"), ("AllowedMethods", "allowed_methods"),
                ("AllowedOrigins", "allowed_origins"), ("ExposeHeaders", "expose_headers"),
                ("MaxAgeSeconds", "max_age_seconds")) if key in r) + "\n  }"
        for r in after["CORSRules"])
    plan.changes.append(Change(
        "cors", bucket.arn, f"Add the {vendor} CORS rule to {bucket.name} (existing rules kept)", before, after,
        [f"aws s3api put-bucket-cors --bucket {bucket.name} --cors-configuration {shlex.quote(json.dumps(after))}"],
        f'resource "aws_s3_bucket_cors_configuration" "{_tf_name(bucket.name)}" {{\n  bucket = "{bucket.name}"\n{rules_tf}\n}}',
        [rule_id] if isinstance(rule_id, str) else sorted(rule_id)))


def _bucket_policy_change(plan: Plan, bucket: BucketState, principals: set[str], wanted: list[dict[str, Any]],
                          fixes: list[str], title: str) -> None:
    before = copy.deepcopy(dict(bucket.policy)) if bucket.policy else None
    kept = [s for s in rem.statements_of(before) if not (isinstance(s, Mapping) and _names_only(s, principals))]
    doc = {k: v for k, v in (before or {"Version": rem.VERSION}).items() if k != "Statement"}
    doc["Statement"] = kept
    for stmt in wanted:
        doc = rem.merge_statement(doc, stmt)
    plan.changes.append(Change(
        "bucket-policy", bucket.arn, title, before, doc, [rem.put_bucket_policy_cmd(bucket.name, doc)],
        f'resource "aws_s3_bucket_policy" "{_tf_name(bucket.name)}" {{\n  bucket = "{bucket.name}"\n'
        f"  policy = {_heredoc(doc)}\n}}", fixes))


def _plan_fixed(ctx: _Ctx) -> None:
    """A fixed vendor principal: its statements in the bucket policy (the guide's, narrowed to the zones)."""
    principal = ctx.profile.principal or ""
    grant_rules = ctx.rules("object_grant", "mrxs_list") | {"baseline.vendor-excess-privilege"}
    if ctx.failing & grant_rules:
        wanted = ctx.statements()
        if not wanted:
            ctx.no_statements(grant_rules)
            return
        _bucket_policy_change(ctx.plan, ctx.bucket, {principal}, wanted, sorted(ctx.failing & grant_rules),
                              f"Grant {ctx.profile.short_name} ({principal}) {ctx.integ.mode} access in the bucket "
                              f"policy of {ctx.bucket.name}")


def _plan_kms(ctx: _Ctx) -> None:
    name = ctx.profile.short_name
    for f in ctx.findings:
        # A bucket encrypted with the AWS-managed key cannot be fixed in place: the check's own remediation
        # (a new bucket with a customer-managed key) is the manual step.
        if f.rule_id in ctx.failing & ctx.rules("kms_key_type") and f.status == Status.FAIL:
            ctx.plan.manual.append(f"kms-key-type: {f.message} {f.remediation or ''}".strip())
            break
    fixes = ctx.failing & ctx.rules("kms_key_policy")
    template = ctx.profile.plan.key_policy
    if fixes and template is not None:
        key = _default_key(ctx.account, ctx.bucket)
        if key is not None and key.policy is not None:
            stmt = render(dict(template), ctx.values())
            stmt["Action"] = list(ctx.profile.plan.key_actions.get(ctx.integ.mode, ("kms:Decrypt",)))
            order = ["Sid", "Effect", "Principal", "Action", "Resource"]
            stmt = {k: stmt[k] for k in order if k in stmt} | {k: v for k, v in stmt.items() if k not in order}
            after = rem.merge_statement(key.policy, stmt)
            ctx.plan.changes.append(Change(
                "key-policy", key.arn, f"Let {name} use KMS key {key.key_id} (key policy)", dict(key.policy), after,
                [rem.put_key_policy_cmd(key.key_id, after)],
                f'resource "aws_kms_key_policy" "{_tf_name(key.key_id)}" {{\n  key_id = "{key.key_id}"\n'
                f"  policy = {_heredoc(after)}\n}}", sorted(fixes)))


def _plan_cors(ctx: _Ctx) -> None:
    """The profile's CORS rule on the bucket a failing cors_allows rule checks."""
    fixes = ctx.failing & ctx.rules("cors_allows")
    if not fixes:
        return
    rule = ctx.profile.plan.cors
    if rule is None:
        ctx.plan.manual.append(f"cors: add the CORS rule that {ctx.profile.short_name}'s guide gives "
                               f"({ctx.profile.guide.cite() or ctx.profile.doc}) to {ctx.bucket.name}.")
        return
    failing = [f for f in ctx.findings if f.rule_id in fixes and f.status == Status.FAIL]
    where = next((f.bucket for f in failing if f.bucket), None) or ctx.bucket.name
    target = ctx.account.bucket(where) or ctx.bucket
    _cors_change(ctx.plan, target, ctx.integ.vendor, fixes, render(dict(rule), ctx.values()))


def _default_key(account: AccountState, bucket: BucketState):
    for rule in bucket.encryption or ():
        key_id = (rule.get("ApplyServerSideEncryptionByDefault") or {}).get("KMSMasterKeyID")
        if key_id:
            return account.key(key_id)
    return None


def _plan_assumed(ctx: _Ctx) -> None:
    """A role in the customer's account that the vendor assumes: its trust (with the external id) and its policy."""
    integ, plan = ctx.integ, ctx.plan
    role_arn = integ.role_arn or ""
    role_name = role_arn.split("/")[-1]
    role = ctx.account.role(role_arn) or ctx.account.role(role_name)
    vendor_account = integ.vendor_account or ""
    principal = integ.vendor_principal or f"arn:aws:iam::{vendor_account or 'VENDOR-ACCOUNT-ID'}:root"
    external_id = integ.external_id
    name = ctx.profile.short_name
    trust_rules = ctx.rules("assume_role_trust", "assume_role_external_id") | {"baseline.trust-external-id"}
    id_key = ctx.profile.key_of_type("external-id")
    if (ctx.failing & trust_rules or role is None) and ctx.profile.plan.trust is not None:
        if not external_id:
            flag = id_key.flag if id_key else "--external-id"
            plan.manual.append(f"external-id: pass {flag} with the value shown in {name}'s set-up screen; "
                               f"the trust policy must require it ({ctx.profile.guide.cite() or ctx.profile.doc}).")
        else:
            values = ctx.values() | {"principal": principal}
            stmt = render(dict(ctx.profile.plan.trust), values)
            before = copy.deepcopy(dict(role.trust_policy)) if role and role.trust_policy else None
            kept = [s for s in rem.statements_of(before)
                    if not (isinstance(s, Mapping) and vendor_account and _trusts_account(s, vendor_account))]
            doc = {"Version": rem.VERSION, "Statement": kept}
            doc = rem.merge_statement(doc, stmt)
            if role is None:
                cli = [f"aws iam create-role --role-name {role_name} --assume-role-policy-document {shlex.quote(rem.compact(doc))}"]
            else:
                cli = [rem.update_assume_role_policy_cmd(role_name, doc)]
            plan.changes.append(Change(
                "trust-policy", role_arn, f"Trust {name} ({principal}) to assume {role_name}, only with the external id",
                before, doc, cli,
                f'resource "aws_iam_role" "{_tf_name(role_name)}" {{\n  name = "{role_name}"\n'
                f"  assume_role_policy = {_heredoc(doc)}\n}}", sorted(ctx.failing & trust_rules)))
    grant_rules = ctx.rules("object_grant")
    if ctx.failing & grant_rules or role is None:
        if not ctx.statements():
            ctx.no_statements(grant_rules)
            return
        doc = {"Version": rem.VERSION, "Statement": ctx.statements()}
        policy = ctx.profile.plan.policy_name
        plan.changes.append(Change(
            "role-policy", role_arn, f"Let {role_name} {integ.mode.replace('-', ' ')} {ctx.bucket.name} as {name} needs",
            None, doc, [rem.put_role_policy_cmd(role_name, policy, doc)],
            f'resource "aws_iam_role_policy" "{_tf_name(policy)}" {{\n  name = "{policy}"\n  role = "{role_name}"\n'
            f"  policy = {_heredoc(doc)}\n}}", sorted(ctx.failing & grant_rules)))


def _trusts_account(stmt: Mapping[str, Any], account_id: str) -> bool:
    p = stmt.get("Principal")
    values = (p.get("AWS") if isinstance(p, Mapping) else p) or []
    values = values if isinstance(values, list) else [values]
    return any(str(v) == account_id or f":{account_id}:" in str(v) for v in values)


def _plan_user(ctx: _Ctx) -> None:
    """An IAM user whose keys the vendor holds: the user, its least-privilege policy, an access key."""
    plan, vendor = ctx.plan, ctx.integ.vendor
    user_name = ctx.integ.user_name or ""
    user = ctx.account.user(user_name)
    grant_rules = ctx.rules("object_grant") | {"baseline.vendor-excess-privilege"}
    policy_name = ctx.profile.plan.policy_name
    doc = {"Version": rem.VERSION, "Statement": ctx.statements()}
    if not doc["Statement"]:
        ctx.no_statements(grant_rules)
        grant_rules = set()
    if user is None:
        plan.changes.append(Change("user", f"user/{user_name}", f"Create the IAM user {user_name}",
                                   None, None, [f"aws iam create-user --user-name {user_name}"],
                                   f'resource "aws_iam_user" "{_tf_name(user_name)}" {{\n  name = "{user_name}"\n}}', []))
    if doc["Statement"] and (ctx.failing & grant_rules or user is None):
        plan.changes.append(Change(
            "user-policy", f"user/{user_name}", f"Give {user_name} the {vendor} permissions (least privilege)", None, doc,
            [rem.put_user_policy_cmd(user_name, policy_name, doc)],
            f'resource "aws_iam_user_policy" "{_tf_name(policy_name)}" {{\n  name = "{policy_name}"\n'
            f'  user = "{user_name}"\n  policy = {_heredoc(doc)}\n}}', sorted(ctx.failing & grant_rules)))
    key_rules = ctx.rules("access_key_active")
    if ctx.failing & key_rules or user is None:
        plan.changes.append(Change(
            "access-key", f"user/{user_name}", f"Create an access key for {user_name} and hand it to {vendor}",
            None, None, [rem.create_access_key_cmd(user_name)],
            f'resource "aws_iam_access_key" "{_tf_name(user_name)}" {{\n  user = "{user_name}"\n}}',
            sorted(key_rules)))


def _plan_baseline(plan: Plan, account: AccountState, bucket: BucketState, integ: Integration, failing: set[str],
                   findings: Sequence[Finding], by_check: Mapping[str, set[str]]) -> None:
    bpa = ({"baseline.block-public-access"} | set(by_check.get("block_public_access", ()))) & failing
    if bpa:
        conf = json.dumps(BLOCK_ALL)
        plan.changes.append(Change(
            "public-access-block", bucket.arn, f"Turn on all four Block Public Access settings for {bucket.name}",
            dict(bucket.public_access_block) if bucket.public_access_block else None, dict(BLOCK_ALL),
            [f"aws s3api put-public-access-block --bucket {bucket.name} --public-access-block-configuration {shlex.quote(conf)}"],
            f'resource "aws_s3_bucket_public_access_block" "{_tf_name(bucket.name)}" {{\n  bucket = "{bucket.name}"\n'
            "  block_public_acls       = true\n  ignore_public_acls      = true\n"
            "  block_public_policy     = true\n  restrict_public_buckets = true\n}", sorted(bpa)))
    for f in _failing(findings, "baseline.versioning-with-delete"):
        name = f.bucket or bucket.name
        plan.changes.append(Change(
            "versioning", f"arn:aws:s3:::{name}", f"Turn on versioning for {name} (the vendor may delete objects)",
            None, {"Status": "Enabled"}, [rem.put_bucket_versioning_cmd(name)],
            f'resource "aws_s3_bucket_versioning" "{_tf_name(name)}" {{\n  bucket = "{name}"\n'
            '  versioning_configuration {\n    status = "Enabled"\n  }\n}', ["baseline.versioning-with-delete"]))
        break


def render_text(plan: Plan) -> str:
    """What `auditor plan` prints: each change with its diff and command, then the manual steps."""
    out = [f"Plan for {plan.vendor} on s3://{plan.bucket} ({plan.mode}): "
           f"{len(plan.changes)} change(s), {len(plan.manual)} manual step(s). Nothing has been applied."]
    for n, c in enumerate(plan.changes, 1):
        out.append(f"\n[{n}] {c.title}\n    fixes: {', '.join(c.fixes) or '-'}")
        d = c.diff()
        if d:
            out.append(d)
        out.extend(f"$ {cmd}" for cmd in c.cli)
    for m in plan.manual:
        out.append(f"\nMANUAL: {m}")
    return "\n".join(out)
