"""Vendor packs: a vendor is one TOML file. A made-up platform's pack, written in a temporary directory,
is scanned, checked and planned; a pack with a built-in id replaces it; a broken pack fails at load with
one line naming the file, the rule, the key and the fix, before any API call."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.config import parse_config
from auditor.errors import RuleError
from auditor.model import Status
from auditor.rulepack import load_packs, parse_pack
from auditor.scan import run_scan
from tests.planrun import apply_plan, check_says_ready

ACME_ROLE = "arn:aws:iam::210987654321:role/acme-reader"

ACME = """
[vendor]
id = "acme"
name = "Acme Annotate"
guide = { title = "Acme, Connect S3", url = "https://docs.acme.invalid/s3", section = "Bucket policy" }
access = "fixed-principal"
principal = "arn:aws:iam::210987654321:role/acme-reader"
account = "210987654321"
origins = ["https://app.acme.invalid"]
providers = ["aws"]
modes = ["read-only", "read-write"]

[integration]
folder = { type = "prefix", required = true, help = "the folder Acme reads" }
labels_dir = { type = "prefix", default = "acme-out/", help = "where Acme writes labels" }

[zones]
data = { prefix = "{folder}" }
labels = { prefix = "{labels_dir}", what = "the label folder {zone}" }

[requests]
browser = { auth = "presigned", https = true }

[needs.read-only]
objects = { data = ["s3:GetObject"] }

[needs.read-write]
objects = { data = ["s3:GetObject"], labels = ["s3:GetObject", "s3:PutObject"] }

[plan]
cors = { AllowedHeaders = [], AllowedMethods = ["GET"], AllowedOrigins = ["https://app.acme.invalid"], ExposeHeaders = [] }

[[plan.statements]]
statement = { Sid = "AcmeRead", Effect = "Allow", Principal = { AWS = "{principal}" }, Action = ["s3:GetObject"], Resource = "{bucket_arn}/{folder}*" }

[[plan.statements]]
modes = ["read-write"]
statement = { Sid = "AcmeLabels", Effect = "Allow", Principal = { AWS = "{principal}" }, Action = ["s3:GetObject", "s3:PutObject"], Resource = "{bucket_arn}/{zones[labels]}*" }

[infer]
scope_key = "folder"

[[rules]]
id = "acme.read-grant"
title = "Acme may read the folder"
severity = "critical"
check = "object_grant"
params = { actions = ["s3:GetObject"], zone = "data", sid = "AcmeRead" }
reference = "Acme, Connect S3: grant our role s3:GetObject on your folder."

[[rules]]
id = "acme.write-grant"
title = "Acme may write labels"
severity = "high"
check = "object_grant"
modes = ["read-write"]
params = { actions = ["s3:PutObject"], zone = "labels", sid = "AcmeLabels" }
reference = "Acme, Connect S3: grant s3:PutObject on the label folder."

[[rules]]
id = "acme.cors"
title = "CORS lets the Acme app read objects"
severity = "high"
check = "cors_allows"
params = { origin = "https://app.acme.invalid", methods = ["GET"] }
reference = "Acme, Connect S3: add a CORS rule for https://app.acme.invalid."
"""


def _policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def acme_dir(tmp_path) -> Path:
    d = tmp_path / "packs"
    d.mkdir()
    (d / "acme.toml").write_text(ACME)
    return d


def _acme_bucket(aws, name, granted: bool):
    s3 = aws("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="photos/a.jpg", Body=b"x")
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    if granted:
        s3.put_bucket_policy(Bucket=name, Policy=_policy(
            {"Sid": "AcmeRead", "Effect": "Allow", "Principal": {"AWS": ACME_ROLE}, "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{name}/photos/*"}))
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [
            {"AllowedMethods": ["GET"], "AllowedOrigins": ["https://app.acme.invalid"]}]})


def test_a_made_up_vendor_pack_is_scanned_from_the_config(moto, aws, acme_dir):
    _acme_bucket(aws, "acme-good", granted=True)
    _acme_bucket(aws, "acme-bare", granted=False)
    config_path = acme_dir.parent / "auditor.toml"
    text = f"""
[scan]
rule_dirs = ["packs"]

[[accounts]]
name = "main"
endpoint_url = "{moto.endpoint}"

[[integrations]]
vendor = "acme"
account = "main"
bucket = "acme-bare"
folder = "photos"
"""
    config = parse_config(text, str(config_path))
    _, result = run_scan(config)
    got = {(f.rule_id, f.bucket): f for f in result.findings if f.vendor == "acme"}
    assert got[("acme.read-grant", "acme-bare")].status == Status.FAIL
    assert got[("acme.cors", "acme-bare")].status == Status.FAIL
    assert ("acme.write-grant", "acme-bare") not in got  # read-only
    # Named in a bucket policy: inferred as Acme's, with the folder the grant names.
    good = got[("acme.read-grant", "acme-good")]
    assert good.status == Status.PASS and good.inferred
    assert "photos/" in good.message
    # Least privilege comes from the pack's [needs] too.
    excess = [f for f in result.findings if f.rule_id == "baseline.vendor-excess-privilege" and f.bucket == "acme-good"]
    assert [f.status for f in excess] == [Status.PASS]


@pytest.mark.skipif(shutil.which("aws") is None, reason="the aws CLI applies the plan")
def test_a_made_up_vendor_pack_is_checked_and_planned(moto, aws, acme_dir, tmp_path, capsys):
    _acme_bucket(aws, "acme-new", granted=False)
    common = ["acme", "s3://acme-new", "--mode", "read-write", "--folder", "photos", "--rules-dir", str(acme_dir),
              "--endpoint-url", moto.endpoint, "--quiet"]
    assert main(["check", *common]) == 1
    assert "NOT READY" in capsys.readouterr().out
    out = tmp_path / "plan"
    assert main(["plan", *common, "--output-dir", str(out)]) == 0
    capsys.readouterr()
    plan = json.loads((out / "plan.json").read_text())
    policy = next(c for c in plan["changes"] if c["kind"] == "bucket-policy")["after"]
    assert {s["Sid"]: s["Resource"] for s in policy["Statement"]} == {
        "AcmeRead": "arn:aws:s3:::acme-new/photos/*", "AcmeLabels": "arn:aws:s3:::acme-new/acme-out/*"}
    assert any(c["kind"] == "cors" for c in plan["changes"])
    apply_plan(out)
    check_says_ready(common, capsys)


def test_the_flags_and_help_of_a_pack_come_from_its_integration_keys(acme_dir, capsys):
    try:
        code = main(["check", "--rules-dir", str(acme_dir), "--help"])
    except SystemExit as e:
        code = e.code
    assert code == 0
    out = capsys.readouterr().out
    assert "--folder" in out and "acme: the folder Acme reads" in out
    assert "VENDOR datature | labelbox | redbrick | tenyks | v7-aws | v7-wasabi | acme " in " ".join(out.split())
    code = main(["check", "acme", "s3://acme-x", "--rules-dir", str(acme_dir), "--endpoint-url", "http://127.0.0.1:1"])
    assert code == 2
    assert "--folder is required for acme" in capsys.readouterr().err


def test_a_pack_with_a_built_in_id_replaces_it_and_rules_says_so(acme_dir, capsys):
    replacement = ACME.replace('id = "acme"', 'id = "v7-wasabi"').replace('"acme.', '"v7-wasabi.')
    (acme_dir / "acme.toml").unlink()
    (acme_dir / "wasabi.toml").write_text(replacement)
    packs = load_packs(dirs=[acme_dir])
    wasabi = [p for p in packs if p.vendor.id == "v7-wasabi"]
    assert len(wasabi) == 1 and wasabi[0].replaces == "rules/v7-wasabi.toml"
    # Every vendor pack gets the rule that its integration's bucket (and principal) exist.
    assert {r.id for r in wasabi[0].rules} == {"v7-wasabi.resources", "v7-wasabi.read-grant", "v7-wasabi.write-grant",
                                               "v7-wasabi.cors"}
    assert main(["rules", "--rules-dir", str(acme_dir)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"wasabi\.toml replaces the built-in v7-wasabi pack \(rules/v7-wasabi\.toml\)", out)
    assert main(["rules", "--format", "json", "--rules-dir", str(acme_dir)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert "v7-wasabi.mrxs-list" not in {r["id"] for r in rows}
    assert {r["replaces"] for r in rows if r["vendor"] == "v7-wasabi"} == {"rules/v7-wasabi.toml"}


BROKEN = [
    # (what is wrong, edit of the valid pack, rule id, key, words of the fix)
    ("unknown check", ('check = "cors_allows"', 'check = "cors_allow"'), "acme.cors", "check", "did you mean 'cors_allows'"),
    ("misspelt zone", ('zone = "data", sid', 'zone = "dta", sid'), "acme.read-grant", "params.zone", "did you mean 'data'"),
    ("wrong type", ('actions = ["s3:PutObject"]', 'actions = "s3:PutObject"'), "acme.write-grant", "params.actions",
     "write a list"),
    ("not an IAM action", ('actions = ["s3:GetObject"], zone = "data"', 'actions = ["s3:GetObjects"], zone = "data"'),
     "acme.read-grant", "params.actions", "e.g. s3:GetObject"),
    ("unknown rule key", ('severity = "high"\ncheck = "cors_allows"', 'sevrity = "high"\ncheck = "cors_allows"'),
     "acme.cors", "sevrity", "did you mean 'severity'"),
    ("bad severity", ('severity = "critical"', 'severity = "urgent"'), "acme.read-grant", "severity", "use one of"),
    ("unknown check parameter", ('sid = "AcmeLabels" }', 'sid = "AcmeLabels", prefix = "x" }'), "acme.write-grant",
     "params.prefix", "check 'object_grant' takes no parameter"),
    ("rule id of another vendor", ('id = "acme.cors"', 'id = "other.cors"'), "other.cors", "id", "rename it acme.cors"),
    ("parameter value not offered", ('zone = "data", sid', 'zone = "data", cover = "file", sid'), "acme.read-grant",
     "params.cover", "use one of: all, prefix, files"),
    ("same fact as a vendor rule", ('check = "cors_allows"', 'check = "cors_allows"\nsame_fact = "acme.read-grant"'),
     "acme.cors", "same_fact", "does not match"),
]


@pytest.mark.parametrize("what, edit, rule, key, fix", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_pack_is_one_line_naming_file_rule_key_and_fix(what, edit, rule, key, fix):
    old, new = edit
    assert old in ACME
    with pytest.raises(RuleError) as e:
        parse_pack(ACME.replace(old, new, 1), "packs/acme.toml")
    text = str(e.value)
    assert "\n" not in text
    assert text.startswith(f"packs/acme.toml: rule {rule}: {key}:"), text
    assert fix in text, text


PROFILE_BROKEN = [
    ("misspelt zone in needs", ("objects = { data = [\"s3:GetObject\"] }\n", "objects = { dat = [\"s3:GetObject\"] }\n"),
     "needs.read-only.objects.dat", "did you mean 'data'"),
    ("action in needs", ('labels = ["s3:GetObject", "s3:PutObject"]', 'labels = ["s3:GetObject", "s3:PutObjekt"]'),
     "needs.read-write.objects.labels", "not an IAM action"),
    ("unknown placeholder", ('Resource = "{bucket_arn}/{folder}*"', 'Resource = "{bucket_arn}/{foldr}*"'),
     "plan.statements[0]", "did you mean 'folder'"),
    ("unknown access", ('access = "fixed-principal"', 'access = "bucket-policy"'), "vendor.access", "use one of"),
    ("wrong key type", ('required = true, help = "the folder', 'required = "yes", help = "the folder'),
     "integration.folder.required", "true or false"),
    ("format spec in a template", ('Resource = "{bucket_arn}/{folder}*"', 'Resource = "{bucket_arn:>99}/{folder}*"'),
     "plan.statements[0]", "no format spec"),
    ("key shadowing an option", ('labels_dir = { type = "prefix"', 'region = { type = "prefix"'),
     "integration.region", "give the vendor's key another name"),
    ("misspelt zone in guide_requires", ("[plan]\n", '[[guide_requires]]\nrule = "baseline.cors-wildcard-origin"\n'
                                         'section = "CORS"\nzones = ["dat"]\nmethods = ["GET"]\n\n[plan]\n'),
     "guide_requires[0].zones", "did you mean 'data'"),
    ("guide_requires for a rule it cannot excuse", ("[plan]\n", '[[guide_requires]]\nrule = "baseline.public-policy"\n'
                                                    'section = "CORS"\n\n[plan]\n'),
     "guide_requires.0.rule", "use one of"),
    ("action in guide_requires", ("[plan]\n", '[[guide_requires]]\nrule = "baseline.vendor-excess-privilege"\n'
                                  'section = "3.2.2"\nobjects = ["s3:GetObjekt"]\n\n[plan]\n'),
     "guide_requires[0].objects", "not an IAM action"),
]


@pytest.mark.parametrize("what, edit, key, fix", PROFILE_BROKEN, ids=[b[0] for b in PROFILE_BROKEN])
def test_a_broken_profile_is_one_line_naming_file_key_and_fix(what, edit, key, fix):
    old, new = edit
    assert old in ACME
    with pytest.raises(RuleError) as e:
        parse_pack(ACME.replace(old, new, 1), "packs/acme.toml")
    text = str(e.value)
    assert "\n" not in text and text.startswith(f"packs/acme.toml: {key}:"), text
    assert fix in text, text


def test_a_broken_pack_exits_2_before_any_api_call(acme_dir, tmp_path, capsys):
    (acme_dir / "acme.toml").write_text(ACME.replace('zone = "data", sid', 'zone = "dta", sid'))
    # Port 1 refuses connections: any API call would show up as a skipped account, not as this error.
    for argv in (["check", "acme", "s3://acme-x", "--folder", "photos"], ["plan", "acme", "s3://acme-x", "--folder", "p"],
                 ["rules"]):
        endpoint = ["--endpoint-url", "http://127.0.0.1:1"] if argv[0] != "rules" else []
        assert main([*argv, "--rules-dir", str(acme_dir), *endpoint]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "acme.toml: rule acme.read-grant: params.zone: unknown zone 'dta'" in err, err
    config = tmp_path / "auditor.toml"
    config.write_text('[scan]\nrule_dirs = ["packs"]\n\n[[accounts]]\nname = "main"\n'
                      'endpoint_url = "http://127.0.0.1:1"\n')
    assert main(["scan", "--config", str(config), "--quiet", "--no-history", "--output-dir", str(tmp_path / "o")]) == 2
    assert "unknown zone 'dta'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_missing_rules_dir_is_a_usage_error(tmp_path, capsys):
    assert main(["rules", "--rules-dir", str(tmp_path / "nope")]) == 2
    assert "is not a directory of vendor packs" in capsys.readouterr().err


def test_no_vendor_id_is_spelled_in_the_code():
    """A vendor is data: the package never branches on (or lists) a vendor's id."""
    root = Path(__file__).resolve().parents[2] / "auditor"
    ids = re.compile(r'"(v7-aws|v7-wasabi|datature|tenyks|redbrick|labelbox)"')
    hits = [f"{p.relative_to(root.parent)}:{n}" for p in root.rglob("*") if p.is_file() and p.suffix in (".py", ".json", ".toml", ".j2", ".html")
            for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1) if ids.search(line)]
    assert hits == []


def test_the_documented_example_pack_loads():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "vendor-packs.md").read_text(encoding="utf-8")
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    pack = parse_pack(example, "docs/vendor-packs.md")
    assert pack.vendor.id == "acme" and pack.vendor.access == "fixed-principal"
    assert [r.id for r in pack.rules] == ["acme.resources", "acme.read-grant", "acme.write-grant", "acme.cors"]
    assert set(pack.vendor.zones) == {"data", "labels"}


def test_a_vendor_whose_pack_is_not_loaded_gets_no_borrowed_needs():
    """A snapshot naming a vendor no loaded pack describes: its least privilege is unknown, naming the
    missing pack (it used to be judged with another vendor's needs)."""
    from tests.checks.snap import account, bucket, integ, one, policy, snapshot

    grant = {"Effect": "Allow", "Principal": {"AWS": ACME_ROLE}, "Action": "s3:*", "Resource": "arn:aws:s3:::photos/*"}
    snap = snapshot(account(bucket("photos", policy=policy(grant))), integrations=(integ("acme", "photos"),))
    f = one(snap, "baseline.vendor-excess-privilege")
    assert f.status == Status.UNKNOWN and "no vendor pack for 'acme'" in f.message, f.message


def test_a_pack_without_plan_statements_never_plans_an_empty_grant():
    """Plan replaces statements naming only the vendor's principal; with nothing to put in their place it must
    not remove them: it asks for the grant instead."""
    from auditor.engine import evaluate
    from auditor.plan import make_plan
    from tests.checks.snap import account, bucket, integ, policy, snapshot

    text = re.sub(r"\[\[plan\.statements\]\]\n(?:modes = .*\n)?statement = .*\n\n", "", ACME)
    assert "[[plan.statements]]" not in text
    pack = parse_pack(text, "packs/acme.toml")
    packs = (*load_packs(), pack)
    other = {"Sid": "AcmeOld", "Effect": "Allow", "Principal": {"AWS": ACME_ROLE}, "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::photos/elsewhere/*"}
    snap = snapshot(account(bucket("photos", policy=policy(other), keys=("pics/a.jpg",))),
                    integrations=(integ("acme", "photos", folder="pics"),))
    findings = evaluate(snap, packs)
    assert any(f.rule_id == "acme.read-grant" and f.status == Status.FAIL for f in findings)
    bound = dataclasses.replace(snap.integrations[0], profile=pack.vendor)
    plan = make_plan(snap, bound, findings, rules=pack.rules)
    assert not [c for c in plan.changes if c.kind == "bucket-policy"], plan.to_json()
    assert any(m.startswith("grants: the acme pack has no [[plan.statements]]") and "acme.read-grant" in m
               for m in plan.manual), plan.manual


def test_the_top_level_help_names_every_built_in_vendor(capsys):
    try:
        code = main(["--help"])
    except SystemExit as e:
        code = e.code
    assert code == 0
    opening = capsys.readouterr().out.split("positional arguments")[0]
    names = [p.vendor.name for p in load_packs() if p.vendor.access is not None]
    assert "Labelbox" in names and len(names) >= 6
    for name in names:  # each one whole, on one line
        assert any(name in line for line in opening.splitlines()), (name, opening)
