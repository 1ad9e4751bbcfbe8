"""findings.sarif: valid SARIF 2.1.0 (the OASIS schema, kept offline in auditor/schema), one rule per id."""

from __future__ import annotations

import importlib.resources
import json
import re

import jsonschema
import pytest

from auditor.model import Status
from auditor.report.sarif import FINGERPRINT_KEY, render_sarif, to_document
from tests.report.sample import HOSTILE_BUCKET, sample_result

# RFC 3986 URI-reference characters (unreserved, reserved, and %-escapes): nothing else may appear.
URI_CHARS = re.compile(r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$")


@pytest.fixture(scope="module")
def schema():
    text = importlib.resources.files("auditor.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    return json.loads(text)


@pytest.fixture
def doc(tmp_path):
    return json.loads(render_sarif(sample_result(), tmp_path).read_text(encoding="utf-8"))


def test_is_valid_sarif_2_1_0(schema, doc):
    assert schema["id"].endswith("/sarif-schema-2.1.0.json")
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    validator.validate(doc)
    assert doc["version"] == "2.1.0"


def test_the_schema_rejects_what_it_should(schema, doc):
    """The vendored schema is the real one, not a permissive stand-in."""
    validator = jsonschema.Draft4Validator(schema)
    bad = json.loads(json.dumps(doc))
    bad["runs"][0]["results"][0]["level"] = "critical"
    assert not validator.is_valid(bad)
    bad = json.loads(json.dumps(doc))
    bad["runs"][0]["results"][0]["unexpected"] = True
    assert not validator.is_valid(bad)


def test_one_descriptor_per_rule_id_that_appears(doc):
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    reported = {f.rule_id for f in sample_result().findings if f.status != Status.PASS}
    assert sorted(ids) == ids and set(ids) == reported  # passes only: no descriptor
    levels = {r["id"]: (r["defaultConfiguration"]["level"], r["properties"]["security-severity"]) for r in rules}
    assert levels["redbrick.read-grant"] == ("error", "9.5")  # critical
    assert levels["v7-aws.cors"] == ("error", "8.0")  # high
    assert levels["baseline.tls-only"][0] == "note"  # low
    for r in rules:
        assert 0.0 <= float(r["properties"]["security-severity"]) <= 10.0
    for result in run["results"]:
        assert ids[result["ruleIndex"]] == result["ruleId"]


def test_rule_help_has_reference_and_remediation(doc):
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    cors = rules["v7-aws.cors"]["help"]
    assert "000_6c2aa614f0946349.txt: a CORS header needs to be configured" in cors["text"]
    assert "aws s3api put-bucket-cors --bucket radiology-scans" in cors["text"]
    assert "```\naws s3api put-bucket-cors" in cors["markdown"]


def test_results_are_fails_and_unknowns_with_resource_locations(doc):
    results = doc["runs"][0]["results"]
    expected = [f for f in sample_result().findings if f.status != Status.PASS]
    assert [r["ruleId"] for r in results] == [f.rule_id for f in expected]
    for result, f in zip(results, expected, strict=True):
        location = result["locations"][0]
        assert location["logicalLocations"][0]["fullyQualifiedName"] == f.resource
        assert URI_CHARS.match(location["physicalLocation"]["artifactLocation"]["uri"])
        assert result["partialFingerprints"] == {FINGERPRINT_KEY: f.fingerprint}
    cors = results[0]
    assert cors["kind"] == "fail" and cors["level"] == "error"
    assert cors["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "arn:aws:s3:::radiology-scans"
    hostile = next(r for r in results if r["ruleId"] == "redbrick.read-grant")
    assert hostile["locations"][0]["logicalLocations"][0]["name"] == HOSTILE_BUCKET


def test_unknown_is_a_review_result_with_its_reason(doc):
    unknown = next(r for r in doc["runs"][0]["results"] if r["ruleId"] == "tenyks.access-key")
    # SARIF 2.1.0 §3.27.10: a kind other than "fail" requires level "none".
    assert unknown["kind"] == "review" and unknown["level"] == "none"
    assert "ListAccessKeys failed with AccessDenied" in unknown["message"]["text"]
    assert unknown["properties"]["status"] == "unknown"


def test_suppressions_and_skipped_accounts(doc):
    run = doc["runs"][0]
    suppressed = next(r for r in run["results"] if r["ruleId"] == "baseline.cors-wildcard-origin")
    assert suppressed["suppressions"][0]["justification"] == "public assets (RISK-1)"
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert "partner" in notes[0]["message"]["text"] and "AccessDenied" in notes[0]["message"]["text"]


def test_fingerprints_are_stable_across_scans():
    first, second = to_document(sample_result()), to_document(sample_result())
    fingerprints = [r["partialFingerprints"] for r in first["runs"][0]["results"]]
    assert fingerprints == [r["partialFingerprints"] for r in second["runs"][0]["results"]]
    assert len({fp[FINGERPRINT_KEY] for fp in fingerprints}) == len(fingerprints)
