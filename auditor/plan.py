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

from auditor.prefixes import norm_prefix
from auditor import remediation as rem
from auditor.model import AccountState, BucketState, Finding, Integration, Snapshot, Status

V7_PRINCIPALS = {"v7-aws": "arn:aws:iam::258327614892:role/external_s3",
                 "v7-wasabi": "arn:aws:iam::100000274636:user/darwin"}
DATATURE_ACCOUNT = "277710232653"
ORIGINS = {"v7-aws": "https://darwin.v7labs.com", "datature": "https://nexus.datature.io",
           "redbrick": "https://app.redbrickai.com"}
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


def _cors_rule(vendor: str) -> dict[str, Any]:
    if vendor == "redbrick":
        # 004_6c1e438ca6750c28.txt's rule, with the app's origin instead of "*".
        return {"AllowedHeaders": ["*"], "AllowedMethods": ["PUT", "POST", "DELETE", "GET"],
                "AllowedOrigins": [ORIGINS["redbrick"]],
                "ExposeHeaders": ["x-amz-server-side-encryption", "x-amz-request-id", "x-amz-id-2"], "MaxAgeSeconds": 3000}
    if vendor == "tenyks":
        # 003_6b5f075097d26312.txt, 3.3 Metadata Bucket CORS Settings.
        return {"AllowedHeaders": [], "AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "ExposeHeaders": []}
    return {"AllowedHeaders": ["*"] if vendor == "v7-aws" else [], "AllowedMethods": ["GET"],
            "AllowedOrigins": [ORIGINS[vendor]], "ExposeHeaders": []}


# ----------------------------------------------------------------------------- the plan


def make_plan(snapshot: Snapshot, integration: Integration, findings: Sequence[Finding],
              endpoint_url: str | None = None) -> Plan:
    """The changes that turn this bucket's failing findings for ``integration`` into passes."""
    account = next(a for a in snapshot.accounts if a.name == integration.account)
    bucket = account.bucket(integration.bucket)
    plan = Plan(integration.vendor, integration.bucket, integration.mode)
    if bucket is None:
        plan.manual.append(f"Bucket {integration.bucket} was not found in the account: create it first "
                           f"(aws s3 mb s3://{integration.bucket}), then run plan again.")
        return plan
    vendor = integration.vendor
    failing = {f.rule_id for f in findings if f.status == Status.FAIL}
    if vendor.startswith("v7-"):
        _plan_v7(plan, account, bucket, integration, failing, findings)
    elif vendor == "datature":
        _plan_datature(plan, account, bucket, integration, failing)
    elif vendor == "tenyks":
        _plan_tenyks(plan, account, bucket, integration, failing)
    elif vendor == "redbrick":
        _plan_redbrick(plan, account, bucket, integration, failing)
    _plan_baseline(plan, account, bucket, integration, failing, findings)
    for change in plan.changes:
        change.cli = [_with_endpoint(c, endpoint_url) for c in change.cli]
    if vendor in ("v7-aws", "v7-wasabi") and f"{vendor}.bucket-name" in failing:
        plan.manual.append(f"Bucket names cannot change: create a bucket without dots, copy the data "
                           f"(aws s3 sync s3://{bucket.name} s3://NEW-NAME) and run plan for the new bucket.")
    leftover = sorted(failing - {r for c in plan.changes for r in c.fixes})
    for rule in leftover:
        f = next(x for x in findings if x.rule_id == rule and x.status == Status.FAIL)
        if not any(rule.split(".")[1] in m for m in plan.manual):
            plan.manual.append(f"{rule}: {f.message}")
    return plan


def _cors_change(plan: Plan, bucket: BucketState, vendor: str, rule_id: str) -> None:
    existing = [dict(r) for r in bucket.cors or ()]
    after = {"CORSRules": existing + [_cors_rule(vendor)]}
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
        [rule_id]))


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


def _plan_v7(plan: Plan, account: AccountState, bucket: BucketState, integ: Integration, failing: set[str],
             findings: Sequence[Finding]) -> None:
    vendor, principal = integ.vendor, V7_PRINCIPALS[integ.vendor]
    arn = bucket.arn
    scope = norm_prefix(integ.option("scope"))
    grant_rules = [f"{vendor}.read-grant", f"{vendor}.write-grant", f"{vendor}.mrxs-list", "baseline.vendor-excess-privilege"]
    if failing & set(grant_rules):
        # 000_6c2aa614f0946349.txt, "Read-only policy" / "Read-write policy", narrowed to the scope.
        wanted = [{"Sid": "DarwinAccess", "Effect": "Allow", "Principal": {"AWS": principal},
                   "Action": ["s3:GetObject"], "Resource": f"{arn}/{scope}*"}]
        if integ.mode == "read-write":
            thumbs = norm_prefix(integ.option("prefix")) or "data/"
            wanted.append({"Sid": "DarwinThumbnails", "Effect": "Allow", "Principal": {"AWS": principal},
                           "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"{arn}/{thumbs}*"})
        if any(o.key.lower().endswith(".mrxs") for o in bucket.objects):
            stmt: dict[str, Any] = {"Sid": "DarwinListMirax", "Effect": "Allow", "Principal": {"AWS": principal},
                                    "Action": "s3:ListBucket", "Resource": arn}
            if scope:
                stmt["Condition"] = {"StringLike": {"s3:prefix": [f"{scope}*"]}}
            wanted.append(stmt)
        _bucket_policy_change(plan, bucket, {principal}, wanted, [r for r in grant_rules if r in failing],
                              f"Grant V7 ({principal}) {integ.mode} access in the bucket policy of {bucket.name}")
    if vendor == "v7-aws" and "v7-aws.cors" in failing:
        _cors_change(plan, bucket, vendor, "v7-aws.cors")
    if "v7-aws.kms-key-type" in failing:
        plan.manual.append(
            "kms-key-type: the bucket encrypts with the AWS-managed key aws/s3, which V7 cannot use "
            "(000_6c2aa614f0946349.txt: \"please move your data to a new bucket and use a customer-managed key\"): "
            "aws kms create-key --description 'V7 data'; then aws s3api put-bucket-encryption --bucket NEW-BUCKET "
            "--server-side-encryption-configuration '{\"Rules\":[{\"ApplyServerSideEncryptionByDefault\":"
            "{\"SSEAlgorithm\":\"aws:kms\",\"KMSMasterKeyID\":\"NEW-KEY-ID\"}}]}'; copy the objects (aws s3 sync); "
            "run plan again for the new bucket to get the key-policy statement.")
    if "v7-aws.kms-key-policy" in failing:
        key = _default_key(account, bucket)
        if key is not None and key.policy is not None:
            actions = ["kms:Decrypt"] + (["kms:GenerateDataKey"] if integ.mode == "read-write" else [])
            stmt = {"Sid": "AllowV7UseOfTheKey", "Effect": "Allow", "Principal": {"AWS": principal},
                    "Action": actions, "Resource": "*"}
            after = rem.merge_statement(key.policy, stmt)
            plan.changes.append(Change(
                "key-policy", key.arn, f"Let V7 use KMS key {key.key_id} (key policy)", dict(key.policy), after,
                [rem.put_key_policy_cmd(key.key_id, after)],
                f'resource "aws_kms_key_policy" "{_tf_name(key.key_id)}" {{\n  key_id = "{key.key_id}"\n'
                f"  policy = {_heredoc(after)}\n}}", ["v7-aws.kms-key-policy"]))


def _default_key(account: AccountState, bucket: BucketState):
    for rule in bucket.encryption or ():
        key_id = (rule.get("ApplyServerSideEncryptionByDefault") or {}).get("KMSMasterKeyID")
        if key_id:
            return account.key(key_id)
    return None


def _plan_datature(plan: Plan, account: AccountState, bucket: BucketState, integ: Integration, failing: set[str]) -> None:
    role_arn = integ.option("role_arn") or ""
    role_name = role_arn.split("/")[-1]
    role = account.role(role_arn) or account.role(role_name)
    principal = integ.option("vendor_principal") or f"arn:aws:iam::{DATATURE_ACCOUNT}:root"
    external_id = integ.option("external_id")
    trust_rules = {"datature.trust-policy", "datature.external-id", "baseline.trust-external-id"}
    if failing & trust_rules or role is None:
        if not external_id:
            plan.manual.append("external-id: pass --external-id with the value shown in Datature's set-up screen; "
                               "the trust policy must require it (002_9351336936b25d3d.txt, the second JSON).")
        else:
            # 002_9351336936b25d3d.txt, the trust policy Datature generates.
            stmt = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": principal},
                    "Condition": {"StringEquals": {"sts:ExternalId": external_id}}}
            before = copy.deepcopy(dict(role.trust_policy)) if role and role.trust_policy else None
            kept = [s for s in rem.statements_of(before)
                    if not (isinstance(s, Mapping) and _trusts_account(s, DATATURE_ACCOUNT))]
            doc = {"Version": rem.VERSION, "Statement": kept}
            doc = rem.merge_statement(doc, stmt)
            if role is None:
                cli = [f"aws iam create-role --role-name {role_name} --assume-role-policy-document {shlex.quote(rem.compact(doc))}"]
            else:
                cli = [rem.update_assume_role_policy_cmd(role_name, doc)]
            plan.changes.append(Change(
                "trust-policy", role_arn, f"Trust Datature ({principal}) to assume {role_name}, only with the external id",
                before, doc, cli,
                f'resource "aws_iam_role" "{_tf_name(role_name)}" {{\n  name = "{role_name}"\n'
                f"  assume_role_policy = {_heredoc(doc)}\n}}", sorted(failing & trust_rules)))
    if failing & {"datature.list-grant", "datature.read-grant"} or role is None:
        prefix = norm_prefix(integ.option("prefix"))
        # 002_9351336936b25d3d.txt, the IAM policy Datature generates.
        doc = {"Version": rem.VERSION, "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket.arn,
             "Condition": {"StringLike": {"s3:prefix": f"{prefix}*"}}},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectAttributes"], "Resource": f"{bucket.arn}/{prefix}*"}]}
        name = "auditor-datature-read"
        plan.changes.append(Change(
            "role-policy", role_arn, f"Let {role_name} list and read {bucket.name}/{prefix}", None, doc,
            [rem.put_role_policy_cmd(role_name, name, doc)],
            f'resource "aws_iam_role_policy" "{_tf_name(name)}" {{\n  name = "{name}"\n  role = "{role_name}"\n'
            f"  policy = {_heredoc(doc)}\n}}", sorted(failing & {"datature.list-grant", "datature.read-grant"})))
    if "datature.cors" in failing:
        _cors_change(plan, bucket, "datature", "datature.cors")


def _trusts_account(stmt: Mapping[str, Any], account_id: str) -> bool:
    p = stmt.get("Principal")
    values = (p.get("AWS") if isinstance(p, Mapping) else p) or []
    values = values if isinstance(values, list) else [values]
    return any(str(v) == account_id or f":{account_id}:" in str(v) for v in values)


def _user_steps(plan: Plan, account: AccountState, user_name: str, vendor: str, failing: set[str],
                policy_name: str, doc: dict[str, Any], grant_rules: set[str]) -> None:
    user = account.user(user_name)
    if user is None:
        plan.changes.append(Change("user", f"user/{user_name}", f"Create the IAM user {user_name}",
                                   None, None, [f"aws iam create-user --user-name {user_name}"],
                                   f'resource "aws_iam_user" "{_tf_name(user_name)}" {{\n  name = "{user_name}"\n}}', []))
    if failing & grant_rules or user is None:
        plan.changes.append(Change(
            "user-policy", f"user/{user_name}", f"Give {user_name} the {vendor} permissions (least privilege)", None, doc,
            [rem.put_user_policy_cmd(user_name, policy_name, doc)],
            f'resource "aws_iam_user_policy" "{_tf_name(policy_name)}" {{\n  name = "{policy_name}"\n'
            f'  user = "{user_name}"\n  policy = {_heredoc(doc)}\n}}', sorted(failing & grant_rules)))
    if f"{vendor}.access-key" in failing or user is None:
        plan.changes.append(Change(
            "access-key", f"user/{user_name}", f"Create an access key for {user_name} and hand it to {vendor}",
            None, None, [rem.create_access_key_cmd(user_name)],
            f'resource "aws_iam_access_key" "{_tf_name(user_name)}" {{\n  user = "{user_name}"\n}}',
            [f"{vendor}.access-key"]))


def _plan_tenyks(plan: Plan, account: AccountState, bucket: BucketState, integ: Integration, failing: set[str]) -> None:
    user = integ.option("user") or ""
    dataset = norm_prefix(integ.option("dataset"))
    images = dataset + norm_prefix(integ.option("images_dir"))
    arn = bucket.arn
    # 003_6b5f075097d26312.txt 3.1, fixed: the images under the dataset and both COCO files.
    statements: list[dict[str, Any]] = [
        {"Sid": "tenyksReadOnlyAccess", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"{arn}/{images}*", f"{arn}/{dataset}annotations.json", f"{arn}/{dataset}predictions.json"]},
        {"Sid": "tenyksList", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [arn]},
    ]
    meta_bucket = integ.option("metadata_bucket") or bucket.name
    if integ.mode == "read-write":
        meta = norm_prefix(integ.option("metadata_dir"))
        # 003_6b5f075097d26312.txt 3.2.1, the metadata policy.
        statements.append({"Sid": "tenyksWriteAccess", "Effect": "Allow",
                           "Action": ["s3:GetObject", "s3:DeleteObject", "s3:PutObject"],
                           "Resource": [f"arn:aws:s3:::{meta_bucket}/{meta}*"]})
        if meta_bucket != bucket.name:
            statements.append({"Sid": "tenyksMetadataList", "Effect": "Allow", "Action": ["s3:ListBucket"],
                               "Resource": [f"arn:aws:s3:::{meta_bucket}"]})
    doc = {"Version": rem.VERSION, "Statement": statements}
    _user_steps(plan, account, user, "tenyks", failing, "auditor-tenyks", doc,
                {"tenyks.read-grant", "tenyks.metadata-grant", "baseline.vendor-excess-privilege"})
    if "tenyks.metadata-cors" in failing:
        target = account.bucket(meta_bucket) or bucket
        _cors_change(plan, target, "tenyks", "tenyks.metadata-cors")


def _plan_redbrick(plan: Plan, account: AccountState, bucket: BucketState, integ: Integration, failing: set[str]) -> None:
    user = integ.option("user") or ""
    root = norm_prefix(integ.option("prefix"))
    actions = ["s3:GetObject"] + (["s3:PutObject"] if integ.mode == "read-write" else [])
    # 004_6c1e438ca6750c28.txt, the RedBrickLabelingReadOnly policy (plus PutObject for annotation storage).
    doc = {"Version": rem.VERSION, "Statement": [
        {"Sid": "RedBrickLabeling", "Effect": "Allow", "Action": actions, "Resource": f"{bucket.arn}/{root}*"}]}
    _user_steps(plan, account, user, "redbrick", failing, "auditor-redbrick", doc,
                {"redbrick.read-grant", "redbrick.write-grant", "baseline.vendor-excess-privilege"})
    if "redbrick.cors" in failing:
        _cors_change(plan, bucket, "redbrick", "redbrick.cors")


def _plan_baseline(plan: Plan, account: AccountState, bucket: BucketState, integ: Integration, failing: set[str],
                   findings: Sequence[Finding]) -> None:
    bpa = {"baseline.block-public-access", "redbrick.block-public-access"} & failing
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
