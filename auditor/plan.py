"""``auditor plan``: the least-privilege changes that make one integration ready, on every bucket it reaches.

The plan is computed from the snapshot and the findings of a scan of those buckets: only what
fails gets a change, and a change only ever narrows. Grants come from :mod:`auditor.narrow`: a
statement that gives the vendor more than its mode needs is cut down to the vendor's part of what
the guide asks for (keeping its conditions), what the vendor still lacks is granted exactly, and
every statement, CORS rule and trust entry that does not concern the vendor is kept verbatim. A
trust keeps the vendor principal it names unless one is given; none is ever guessed. Each change
comes as the resulting JSON document, the ``aws`` CLI command and Terraform (with ``import``
blocks for what exists), with a readable diff against the current state. Nothing is ever
written to the account.
"""

from __future__ import annotations

import copy
import difflib
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor import narrow
from auditor import remediation as rem
from auditor import terraform as tf
from auditor.model import AccountState, BucketState, Finding, Integration, Snapshot, Status
from auditor.policy.public import is_public_policy
from auditor.profile import VendorProfile, render

BLOCK_ALL = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
WASABI_S3 = "https://s3.wasabisys.com"
CORS_FIELDS = (("ID", "id"), ("AllowedHeaders", "allowed_headers"), ("AllowedMethods", "allowed_methods"),
               ("AllowedOrigins", "allowed_origins"), ("ExposeHeaders", "expose_headers"),
               ("MaxAgeSeconds", "max_age_seconds"))


@dataclass
class Change:
    kind: str  # bucket-policy | cors | key-policy | trust-policy | role-policy | user-policy | policy-attachment |
    # group-membership | user | access-key | public-access-block | versioning
    resource: str
    title: str
    before: Any = None
    after: Any = None
    cli: list[str] = field(default_factory=list)
    terraform: str = ""  # this change's resource in plan.tf (set when the plan is complete)
    fixes: list[str] = field(default_factory=list)  # rule ids this change addresses
    tf: tf.Resource | None = field(default=None, repr=False)
    tf_note: str = ""  # what Terraform cannot do here, with the command that does it

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
    region: str = "us-east-1"
    endpoint: str | None = None
    provider: str = "aws"

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
            lines.extend(f"# MANUAL: {line}" if i == 0 else f"#   {line}" for i, line in enumerate(m.splitlines()))
        return "\n".join(lines).rstrip() + "\n"

    def resources(self) -> list[tf.Resource]:
        """One Terraform resource per real resource: two changes to one bucket policy are one resource (its final
        document), imported when it existed before the first."""
        merged: dict[tuple[str, str], tf.Resource] = {}
        for c in self.changes:
            if c.tf is None:
                continue
            key = (c.tf.type, c.tf.key)
            if key in merged:
                m = merged[key]
                m.body = list(c.tf.body)
                m.comment = f"{m.comment}\n{c.tf.comment}".strip()
            else:
                merged[key] = tf.Resource(c.tf.type, c.tf.hint, c.tf.key, list(c.tf.body), c.tf.import_id,
                                          c.tf.comment)
        return list(merged.values())

    def terraform(self) -> str:
        notes = [c.tf_note for c in self.changes if c.tf_note]
        if notes:
            notes = ["Not expressed as resources above (Terraform would have to manage what it removes); "
                     "plan.sh runs them:"] + [f"  {n}" for n in notes]
        return tf.render(self.resources(), region=self.region, endpoint=self.endpoint, provider=self.provider,
                         notes=notes)

    def finish(self) -> None:
        """Fill each change's ``terraform`` with its resource as plan.tf writes it."""
        resources = self.resources()
        tf.name_resources(resources)
        tf.resolve(resources)
        text = {(r.type, r.key): tf.resource_text(r) for r in resources}
        for c in self.changes:
            c.terraform = text.get((c.tf.type, c.tf.key), "") if c.tf else (f"# {c.tf_note}" if c.tf_note else "")


# ----------------------------------------------------------------------------- helpers


def _with_endpoint(cmd: str, endpoint: str | None) -> str:
    if not endpoint or "--endpoint-url" in cmd:
        return cmd
    return cmd.replace("aws ", f"aws --endpoint-url {endpoint} ", 1)


@dataclass
class _Ctx:
    plan: Plan
    account: AccountState
    bucket: BucketState
    integ: Integration
    profile: VendorProfile
    findings: Sequence[Finding]
    by_check: dict[str, set[str]]
    finished_at: str | None
    grants: narrow.GrantPlan | None = None  # the grant edits, when the plan makes any

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.status == Status.FAIL]

    @property
    def failing(self) -> set[str]:
        return {f.rule_id for f in self.failed}

    def rules(self, *checks: str) -> set[str]:
        out: set[str] = set()
        for c in checks:
            out |= self.by_check.get(c, set())
        return out

    def buckets_failing(self, rules: set[str]) -> list[str]:
        """The buckets (of this integration) on which one of ``rules`` fails, in the integration's order."""
        names = {f.bucket or self.bucket.name for f in self.failed if f.rule_id in rules}
        return [b for b in self.integ.buckets() if b in names]

    def values(self) -> dict[str, Any]:
        return self.profile.plan_values(self.integ.options, self.bucket.name, self.integ.mode)

    def cite(self) -> str:
        return self.profile.guide.cite() or self.profile.doc

    def add(self, change: Change) -> None:
        self.plan.changes.append(change)


def make_plan(snapshot: Snapshot, integration: Integration, findings: Sequence[Finding],
              endpoint_url: str | None = None, rules: Sequence[Any] = ()) -> Plan:
    """The changes that turn the failing findings of ``integration`` (on every bucket it reaches) into passes.

    Everything vendor-specific comes from the integration's profile (``[plan]``); ``rules`` are the
    vendor's rules (their checks say which change fixes which rule).
    """
    account = next(a for a in snapshot.accounts if a.name == integration.account)
    bucket = account.bucket(integration.bucket)
    endpoint = endpoint_url or (WASABI_S3 if account.provider == "wasabi" else None)
    plan = Plan(integration.vendor, integration.bucket, integration.mode,
                region=(bucket.region if bucket else None) or "us-east-1", endpoint=endpoint_url,
                provider=account.provider)
    if bucket is None:
        plan.manual.append(f"Bucket {integration.bucket} was not found in the account: create it first "
                           f"(aws s3 mb s3://{integration.bucket}), then run plan again.")
        return plan
    profile = integration.profile
    if not rules:
        from auditor.rulepack import load_packs

        rules = [r for p in load_packs() if p.vendor.id == integration.vendor for r in p.rules]
    by_check: dict[str, set[str]] = {}
    for r in rules:
        by_check.setdefault(r.check, set()).add(r.id)
    failing = {f.rule_id for f in findings if f.status == Status.FAIL}
    ctx = None
    if profile is not None:
        ctx = _Ctx(plan, account, bucket, integration, profile, findings, by_check, snapshot.finished_at)
        if profile.access == "iam-user":
            _plan_user(ctx)
        if profile.access == "assumed-role":
            _plan_trust(ctx)
        _plan_grants(ctx)
        if profile.access == "iam-user":
            _plan_access_key(ctx)
        _plan_cors(ctx)
        _plan_kms(ctx)
    else:
        ctx = _Ctx(plan, account, bucket, integration, None, findings, by_check, snapshot.finished_at)  # type: ignore[arg-type]
    _plan_baseline(ctx)
    for change in plan.changes:
        change.cli = [_with_endpoint(c, endpoint_url or (endpoint if c.startswith("aws s3api") else None))
                      for c in change.cli]
    if failing & by_check.get("bucket_name", set()):
        plan.manual.append(f"Bucket names cannot change: create a bucket whose name passes "
                           f"{', '.join(sorted(failing & by_check['bucket_name']))}, copy the data "
                           f"(aws s3 sync s3://{bucket.name} s3://NEW-NAME) and run plan for the new bucket.")
    fixed = {r for c in plan.changes for r in c.fixes}
    for rule in sorted(failing - fixed):
        for f in [x for x in findings if x.rule_id == rule and x.status == Status.FAIL]:
            if rule == "baseline.cors-wildcard-origin" and ctx.profile is not None and _guide_cors(ctx, f):
                continue  # the vendor's guide asks for exactly this rule: nothing to change
            if not any(rule.split(".")[1] in m for m in plan.manual):
                plan.manual.append(f"{rule}: {f.message}")
    plan.finish()
    return plan


def _guide_cors(ctx: _Ctx, finding: Finding) -> bool:
    """Every rule allowing '*' on the finding's bucket is the one the vendor's guide gives (the plan's own)."""
    rule = ctx.profile.plan.cors
    target = ctx.account.bucket(finding.bucket or ctx.bucket.name)
    if rule is None or target is None or target.cors is None:
        return False
    wanted = render(dict(rule), ctx.values())
    wild = [r for r in target.cors if "*" in (r.get("AllowedOrigins") or ())]
    return bool(wild) and all(_same_cors(r, wanted) for r in wild)


def _same_cors(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    def norm(r: Mapping[str, Any]) -> dict[str, Any]:
        return {k: sorted(v) if isinstance(v, list) else v for k, v in r.items() if k != "ID" and v not in ([], None)}

    return norm(a) == norm(b)


# ----------------------------------------------------------------------------- grants


def _plan_grants(ctx: _Ctx) -> None:
    """The vendor's principal gets what its mode needs and no more, by editing the policies that grant it."""
    integ, plan = ctx.integ, ctx.plan
    grant_rules = ctx.rules("object_grant", "mrxs_list")
    excess = "baseline.vendor-excess-privilege"
    templates = narrow.plan_statements(integ, ctx.bucket)
    deleting = narrow.delete_buckets(templates)
    versioning = [b for b in ctx.buckets_failing({"baseline.versioning-with-delete"}) if b not in deleting]
    cut = excess in ctx.failing or bool(versioning)
    missing_principal = (ctx.profile.access == "iam-user" and ctx.account.user(integ.user_name or "") is None) or (
        ctx.profile.access == "assumed-role" and ctx.account.role(integ.role_arn or "") is None)
    if not (ctx.failing & grant_rules or cut or missing_principal):
        return
    if not templates:
        failing = sorted(ctx.failing & (grant_rules | {excess}))
        if failing:
            plan.manual.append(f"grants: the {ctx.profile.id} pack has no [[plan.statements]] for {integ.mode}; "
                               f"grant what {', '.join(failing)} ask for by hand ({ctx.cite()}).")
        return
    found = narrow.grant_plan(ctx.account, integ, narrow=cut, finished_at=ctx.finished_at)
    if isinstance(found, str):
        plan.manual.append(f"grants: what {ctx.profile.short_name} may do could not be worked out ({found}); "
                           f"grant what {', '.join(sorted(ctx.failing & grant_rules)) or 'its mode needs'} "
                           f"asks for by hand ({ctx.cite()}).")
        return
    ctx.grants = found
    fixes = sorted(ctx.failing & grant_rules)
    if found.narrowed:
        fixes = sorted({*fixes, *({excess} & ctx.failing), *(["baseline.versioning-with-delete"] if versioning else [])})
    edits = found.edits
    if (missing_principal and ctx.profile.access == "assumed-role"
            and not any(c.kind == "trust-policy" for c in plan.changes)):
        # The role does not exist and this plan cannot create it (its trust is not known yet): a policy
        # put on it would fail, and plan.sh would stop before the changes after it.
        edits = [e for e in edits if e.holder.kind == "bucket"]
        plan.manual.append(f"grants: role {(integ.role_arn or '').rsplit('/', 1)[-1]} does not exist; once plan can "
                           f"create it (see vendor-principal), run plan again for its permissions policy.")
    for n, edit in enumerate(edits):
        change = _grant_change(ctx, found, edit)
        change.fixes = fixes if n == 0 else []
        ctx.add(change)
    if not found.edits and fixes:  # nothing to change: the findings fail for a reason a grant cannot fix
        return
    for blocked in found.blocked:
        plan.manual.append(f"grants: an explicit Deny refuses {ctx.profile.short_name} {blocked}; narrow that "
                           f"statement so it does not apply to {found.vendor.arn} (see the finding's evidence).")


def _grant_change(ctx: _Ctx, found: narrow.GrantPlan, edit: narrow.Edit) -> Change:
    h = edit.holder
    title = narrow.edit_title(edit, found, ctx.profile.short_name, ctx.integ.mode)
    cli = [narrow.edit_command(edit, found)]
    if h.kind == "bucket":
        arn = f"arn:aws:s3:::{h.owner}"
        if edit.action == "put":
            return Change("bucket-policy", arn, title, edit.before, edit.after, cli,
                          tf=_bucket_policy_tf(h.owner, edit.after, edit.before is not None, title))
        return Change("bucket-policy", arn, title, edit.before, None, cli, tf_note=cli[0])
    kind = "user" if h.kind == "inline-user" or found.principal_kind == "user" else "role"
    owner = h.owner if h.kind.startswith("inline-") and not h.group else found.principal_name
    principal_type = f"aws_iam_{kind}"
    if edit.action == "put":
        body = [("name", h.name), (kind, tf.Link(principal_type, owner, "name")), ("policy", tf.Heredoc(edit.after))]
        exists = not h.new and edit.before is not None
        return Change(f"{kind}-policy", f"{kind}/{owner}", title, edit.before, edit.after, cli,
                      tf=tf.Resource(f"aws_iam_{kind}_policy", f"{owner}_{h.name}", f"{owner}:{h.name}", body,
                                     f"{owner}:{h.name}" if exists else None, title))
    if edit.action == "delete":
        remaining = _inline_names(ctx, found, kind, owner)
        return Change(f"{kind}-policy", f"{kind}/{owner}", title, edit.before, None, cli,
                      tf=tf.Resource(f"aws_iam_{kind}_policies_exclusive", owner, owner,
                                     [(f"{kind}_name", owner), ("policy_names", remaining)], owner, title))
    if edit.action == "detach":
        remaining = _attached_arns(ctx, found, kind, owner)
        return Change("policy-attachment", f"{kind}/{owner}", title, {"PolicyArn": h.owner}, None, cli,
                      tf=tf.Resource(f"aws_iam_{kind}_policy_attachments_exclusive", owner, owner,
                                     [(f"{kind}_name", owner), ("policy_arns", remaining)], owner, title))
    return Change("group-membership", f"user/{owner}", title, {"Group": h.group}, None, cli, tf_note=cli[0])


def _inline_names(ctx: _Ctx, found: narrow.GrantPlan, kind: str, owner: str) -> list[str]:
    """The inline policies the principal keeps (those the plan deletes left out, the one it creates added)."""
    state = ctx.account.user(owner) if kind == "user" else ctx.account.role(owner)
    names = [p.name for p in state.inline] if state else []
    deleted = {e.holder.name for e in found.edits if e.action == "delete" and e.holder.kind == f"inline-{kind}"}
    created = [e.holder.name for e in found.edits if e.action == "put" and e.holder.new]
    return [n for n in names if n not in deleted] + [n for n in created if n not in names]


def _attached_arns(ctx: _Ctx, found: narrow.GrantPlan, kind: str, owner: str) -> list[str]:
    state = ctx.account.user(owner) if kind == "user" else ctx.account.role(owner)
    detached = {e.holder.owner for e in found.edits if e.action == "detach"}
    return [a.arn for a in (state.attached if state else ()) if a.arn not in detached]


def _bucket_policy_tf(bucket: str, doc: Any, exists: bool, title: str) -> tf.Resource:
    return tf.Resource("aws_s3_bucket_policy", bucket, bucket, [("bucket", bucket), ("policy", tf.Heredoc(doc))],
                       bucket if exists else None, title)


# ----------------------------------------------------------------------------- principals


def _plan_user(ctx: _Ctx) -> None:
    """An IAM user whose keys the vendor holds: created when it does not exist."""
    name = ctx.integ.user_name or ""
    if ctx.account.user(name) is None:
        ctx.add(Change("user", f"user/{name}", f"Create the IAM user {name}", None, None,
                       [f"aws iam create-user --user-name {name}"],
                       tf=tf.Resource("aws_iam_user", name, name, [("name", name)], None,
                                      f"Create the IAM user {name}")))


def _plan_access_key(ctx: _Ctx) -> None:
    name = ctx.integ.user_name or ""
    key_rules = ctx.rules("access_key_active")
    if ctx.failing & key_rules or ctx.account.user(name) is None:
        title = f"Create an access key for {name} and hand it to {ctx.profile.short_name}"
        ctx.add(Change("access-key", f"user/{name}", title, None, None, [rem.create_access_key_cmd(name)],
                       fixes=sorted(ctx.failing & key_rules),
                       tf=tf.Resource("aws_iam_access_key", name, name,
                                      [("user", tf.Link("aws_iam_user", name, "name"))], None, title)))


# The attributes of an existing role that the plan's aws_iam_role leaves as they are.
_ROLE_KEPT = ("description", "force_detach_policies", "max_session_duration", "permissions_boundary", "tags")


def _plan_trust(ctx: _Ctx) -> None:
    """The role the vendor assumes: its trust names the vendor's principal and requires the external id."""
    integ, plan = ctx.integ, ctx.plan
    role_arn = integ.role_arn or ""
    role_name = role_arn.split("/")[-1]
    role = ctx.account.role(role_arn) or ctx.account.role(role_name)
    name = ctx.profile.short_name
    trust_rules = ctx.rules("assume_role_trust", "assume_role_external_id")
    failing = {f.rule_id for f in ctx.failed if f.rule_id in trust_rules
               or (f.rule_id == "baseline.trust-external-id" and f.resource in (role_arn, role.arn if role else ""))}
    if not (failing or role is None) or ctx.profile.plan.trust is None:
        return
    found = narrow.trust_plan(role, integ)
    if found.problem == "principal":
        key = ctx.profile.key_of_type("principal-arn")
        plan.manual.append(f"vendor-principal: the trust of {role_name} names no principal of {name}'s account; pass "
                           f"{key.flag if key else '--vendor-principal'} with the ARN shown in {name}'s set-up "
                           f"screen, then run plan again ({ctx.cite()}).")
        return
    if found.problem == "external-id":
        key = ctx.profile.key_of_type("external-id")
        plan.manual.append(f"external-id: pass {key.flag if key else '--external-id'} with the value shown in "
                           f"{name}'s set-up screen; the trust policy must require it ({ctx.cite()}).")
        return
    doc = found.after
    if doc is None:
        return
    who = ", ".join(found.principals)
    title = f"Trust {name} ({who}) to assume {role_name}, only with the external id (other statements kept)"
    body: list[tuple[str, Any]] = [("name", role_name)]
    path = "/" + role_arn.split(":role/", 1)[-1].rsplit("/", 1)[0] + "/" if role_arn.count("/") > 1 else "/"
    if path != "/":
        body.append(("path", path))
    body.append(("assume_role_policy", tf.Heredoc(doc)))
    if role is not None:
        # An imported role is managed for its trust only: what this resource does not set (a permissions
        # boundary, the session duration, the description, tags) would otherwise be reset to the default.
        body.append(("lifecycle", tf.Block("lifecycle", (("ignore_changes", [tf.Ref(a) for a in _ROLE_KEPT]),))))
    if role is None:
        cli = [f"aws iam create-role --role-name {role_name}"
               + (f" --path {path}" if path != "/" else "")
               + f" --assume-role-policy-document {shlex.quote(rem.compact(doc))}"]
    else:
        cli = [rem.update_assume_role_policy_cmd(role.name, doc)]
    before = copy.deepcopy(dict(role.trust_policy)) if role and role.trust_policy else None
    ctx.add(Change("trust-policy", role_arn, title, before, doc, cli, fixes=sorted(failing),
                   tf=tf.Resource("aws_iam_role", role_name, role_name, body, role_name if role else None, title)))


# ----------------------------------------------------------------------------- CORS and KMS


def _cors_tf(bucket: str, rules: Sequence[Mapping[str, Any]], exists: bool, title: str) -> tf.Resource:
    body: list[tuple[str, Any]] = [("bucket", bucket)]
    for r in rules:
        body.append(("cors_rule", tf.Block("cors_rule", tuple((name, r[key]) for key, name in CORS_FIELDS if key in r))))
    return tf.Resource("aws_s3_bucket_cors_configuration", bucket, bucket, body, bucket if exists else None, title)


def _cors_change(ctx: _Ctx, bucket: BucketState, fixes: set[str], cors_rule: Mapping[str, Any]) -> None:
    existing = [dict(r) for r in bucket.cors or ()]
    after = {"CORSRules": existing + [dict(cors_rule)]}
    before = {"CORSRules": existing} if bucket.cors is not None else None
    title = f"Add the {ctx.integ.vendor} CORS rule to {bucket.name} (existing rules kept)"
    ctx.add(Change(
        "cors", bucket.arn, title, before, after,
        [f"aws s3api put-bucket-cors --bucket {bucket.name} --cors-configuration {shlex.quote(json.dumps(after))}"],
        fixes=sorted(fixes), tf=_cors_tf(bucket.name, after["CORSRules"], bucket.cors is not None, title)))


def _plan_cors(ctx: _Ctx) -> None:
    """The profile's CORS rule on each bucket a failing cors_allows rule checks."""
    rules = ctx.rules("cors_allows")
    targets = ctx.buckets_failing(rules)
    if not targets:
        return
    rule = ctx.profile.plan.cors
    if rule is None:
        ctx.plan.manual.append(f"cors: add the CORS rule that {ctx.profile.short_name}'s guide gives "
                               f"({ctx.cite()}) to {', '.join(targets)}.")
        return
    for name in targets:
        fixes = {f.rule_id for f in ctx.failed if f.rule_id in rules and (f.bucket or ctx.bucket.name) == name}
        target = ctx.account.bucket(name)
        if target is not None:
            _cors_change(ctx, target, fixes, render(dict(rule), ctx.values()))


def _default_key(account: AccountState, bucket: BucketState):
    for rule in bucket.encryption or ():
        key_id = (rule.get("ApplyServerSideEncryptionByDefault") or {}).get("KMSMasterKeyID")
        if key_id:
            return account.key(key_id)
    return None


def _plan_kms(ctx: _Ctx) -> None:
    name = ctx.profile.short_name
    for f in ctx.failed:
        # A bucket encrypted with the AWS-managed key cannot be fixed in place: the check's own remediation
        # (a new bucket with a customer-managed key) is the manual step.
        if f.rule_id in ctx.rules("kms_key_type"):
            ctx.plan.manual.append(f"kms-key-type: {f.message} {f.remediation or ''}".strip())
            break
    fixes = ctx.failing & ctx.rules("kms_key_policy")
    template = ctx.profile.plan.key_policy
    if not fixes or template is None:
        return
    key = _default_key(ctx.account, ctx.bucket)
    if key is None or key.policy is None:
        return
    stmt = render(dict(template), ctx.values())
    wanted = list(ctx.profile.plan.key_actions.get(ctx.integ.mode, ("kms:Decrypt",)))
    # Only what the check found missing: an action the key already lets the vendor use (perhaps only
    # through S3, kms:ViaService) is not granted again without its conditions.
    missing = {str(a) for f in ctx.failed if f.rule_id in fixes for a in (f.evidence or {}).get("missing") or ()}
    stmt["Action"] = [a for a in wanted if a in missing] or wanted
    conditions = _vendor_key_conditions(key.policy, narrow.principal_values(stmt) or [])
    if conditions:  # the vendor's existing statements all carry these (kms:ViaService…): so does the new one
        stmt["Condition"] = conditions
    order = ["Sid", "Effect", "Principal", "Action", "Resource"]
    stmt = {k: stmt[k] for k in order if k in stmt} | {k: v for k, v in stmt.items() if k not in order}
    after = rem.merge_statement(key.policy, stmt)
    title = f"Let {name} use KMS key {key.key_id} (key policy; other statements kept)"
    ctx.add(Change("key-policy", key.arn, title, dict(key.policy), after, [rem.put_key_policy_cmd(key.key_id, after)],
                   fixes=sorted(fixes),
                   tf=tf.Resource("aws_kms_key_policy", f"key_{key.key_id}", key.key_id,
                                  [("key_id", key.key_id), ("policy", tf.Heredoc(after))], key.key_id, title)))


def _vendor_key_conditions(policy: Any, principals: Sequence[str]) -> dict[str, Any] | None:
    """The Condition every Allow statement of the key policy naming one of ``principals`` has, when they
    have one and all the same one; else None."""
    found = [s.get("Condition") for s in rem.statements_of(policy)
             if isinstance(s, Mapping) and s.get("Effect") == "Allow"
             and set(narrow.principal_values(s) or ()) & set(principals)]
    if not found or not found[0] or any(c != found[0] for c in found):
        return None
    return copy.deepcopy(dict(found[0]))


# ----------------------------------------------------------------------------- baseline


def _plan_baseline(ctx: _Ctx) -> None:
    """Block Public Access, and versioning where the vendor must delete, on each bucket of the integration
    where they fail."""
    bpa_rules = {"baseline.block-public-access"} | ctx.rules("block_public_access")
    for name in ctx.buckets_failing(bpa_rules):
        b = ctx.account.bucket(name)
        if b is None:
            continue
        fixes = {f.rule_id for f in ctx.failed if f.rule_id in bpa_rules and (f.bucket or ctx.bucket.name) == name}
        conf = json.dumps(BLOCK_ALL)
        command = f"aws s3api put-public-access-block --bucket {name} --public-access-block-configuration {shlex.quote(conf)}"
        changed = next((c for c in ctx.plan.changes if c.kind == "bucket-policy" and c.resource == b.arn), None)
        public, statements = is_public_policy(changed.after if changed else b.policy, ctx.account.account_id)
        if public:
            # With a public statement left in the policy, RestrictPublicBuckets lets no other account in (the
            # vendor's included: AWS S3 User Guide, "Blocking public access to your Amazon S3 storage") and
            # BlockPublicPolicy refuses any policy put that keeps it: the public statements go first, by hand.
            sids = ", ".join(s.name for s in statements)
            ctx.plan.manual.append(
                f"block-public-access: the bucket policy of {name} still makes it public (statement(s) {sids}); "
                f"remove them, then turn on Block Public Access ({command}). Turned on before, RestrictPublicBuckets "
                f"would shut out every other account, {ctx.integ.vendor} included, and BlockPublicPolicy would "
                "refuse the bucket-policy change.")
            continue
        title = f"Turn on all four Block Public Access settings for {name}"
        ctx.add(Change(
            "public-access-block", b.arn, title, dict(b.public_access_block) if b.public_access_block else None,
            dict(BLOCK_ALL),
            [command],
            fixes=sorted(fixes),
            tf=tf.Resource("aws_s3_bucket_public_access_block", name, name,
                           [("bucket", name), ("block_public_acls", True), ("ignore_public_acls", True),
                            ("block_public_policy", True), ("restrict_public_buckets", True)],
                           name if b.public_access_block is not None else None, title)))
    # Versioning where the vendor must delete: where deleting fails the rule now, and where the grant change is
    # about to let it delete. Where it need not delete, its delete rights go instead (the grant change).
    deleting = narrow.delete_buckets(narrow.plan_statements(ctx.integ, ctx.bucket)) if ctx.profile else frozenset()
    failing = set(ctx.buckets_failing({"baseline.versioning-with-delete"}))
    granting = bool(ctx.grants and ctx.grants.edits)
    for name in ctx.integ.buckets():
        b = ctx.account.bucket(name)
        if b is None or name not in deleting or b.versioning == "Enabled" or not (name in failing or granting):
            continue
        title = f"Turn on versioning for {name} ({ctx.integ.vendor} deletes objects there in {ctx.integ.mode})"
        ctx.add(Change(
            "versioning", b.arn, title, {"Status": b.versioning} if b.versioning else None, {"Status": "Enabled"},
            [rem.put_bucket_versioning_cmd(name)], fixes=["baseline.versioning-with-delete"] if name in failing else [],
            tf=tf.Resource("aws_s3_bucket_versioning", name, name,
                           [("bucket", name),
                            ("versioning_configuration", tf.Block("versioning_configuration", (("status", "Enabled"),)))],
                           name if b.versioning is not None else None, title)))


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
