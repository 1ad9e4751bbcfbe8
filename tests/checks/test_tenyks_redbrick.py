"""tenyks and redbrick rules: same-account IAM users, their groups, their keys."""

from __future__ import annotations

from auditor.model import AccessKey, ApiError, GroupState, InlinePolicy, Severity, Status

from .snap import account, bucket, findings, integ, one, policy, snapshot, user

B = "tenyks-data"
KEYS = ("cats/images/cat-1.jpg", "cats/annotations.json", "cats/predictions.json")


def tenyks(*statements, mode="read-only", u=None, buckets=None, cors=None, **options):
    u = u or user("tenyks-reader", policy(*statements))
    opts = {"user": "tenyks-reader", "dataset": "cats", "images_dir": "images", **options}
    if mode == "read-write":
        opts.setdefault("metadata_dir", "tenyks-meta")
    bs = buckets or (bucket(B, keys=KEYS, cors=cors),)
    return snapshot(account(*bs, users=(u,)), integrations=(integ("tenyks", B, mode, **opts),))


def sample(resource_images):
    # 003_6b5f075097d26312.txt §3.1, with the placeholders filled in.
    return {"Sid": "tenyksReadOnlyAccess", "Action": ["s3:GetObject", "s3:ListBucket"], "Effect": "Allow",
            "Resource": [resource_images, f"arn:aws:s3:::{B}"]}


def test_guide_sample_covers_only_the_images_folder():
    # 3.1's policy, filled in, grants the images folder: the requirement is met. The COCO files it leaves out
    # are an advisory (low) finding of their own, with the grant that would add them.
    s = tenyks(sample(f"arn:aws:s3:::{B}/cats/images/*"))
    assert one(s, "tenyks.read-grant").status == Status.PASS
    f = one(s, "tenyks.coco-read")
    assert (f.status, f.severity) == (Status.FAIL, Severity.LOW)
    assert any("cats/annotations.json" in m for m in f.evidence["missing"])
    assert any("cats/predictions.json" in m for m in f.evidence["missing"])
    assert not any("images/" in m for m in f.evidence["missing"])
    assert "put-user-policy --user-name tenyks-reader" in f.remediation
    # Images outside the grant fail the requirement itself.
    f = one(tenyks(sample(f"arn:aws:s3:::{B}/other/*")), "tenyks.read-grant")
    assert f.status == Status.FAIL and any("cats/images/" in m for m in f.evidence["missing"])
    assert not any("annotations.json" in m for m in f.evidence["missing"])


def test_full_bucket_read_passes():
    f = one(tenyks(sample(f"arn:aws:s3:::{B}/*")), "tenyks.read-grant")
    assert f.status == Status.PASS, f.message


def test_grant_reaching_the_user_only_through_a_group():
    group = GroupState("tenyks", "arn:aws:iam::111122223333:group/tenyks",
                       inline=(InlinePolicy("read", policy(sample(f"arn:aws:s3:::{B}/cats/*"))),))
    u = user("tenyks-reader", groups=("tenyks",))
    s = snapshot(account(bucket(B, keys=KEYS), users=(u,), groups=(group,)),
                 integrations=(integ("tenyks", B, user="tenyks-reader", dataset="cats", images_dir="images"),))
    assert one(s, "tenyks.read-grant").status == Status.PASS


def test_metadata_grant_and_cors_in_a_separate_bucket():
    meta = bucket("cats-meta", keys=(), cors=({"AllowedHeaders": [], "AllowedMethods": ["GET"],
                                              "AllowedOrigins": ["*"], "ExposeHeaders": []},))
    # 003_6b5f075097d26312.txt §3.2.1
    write = {"Sid": "tenyksWriteAccess", "Action": ["s3:GetObject", "s3:DeleteObject", "s3:PutObject", "s3:ListBucket"],
             "Effect": "Allow", "Resource": ["arn:aws:s3:::cats-meta/tenyks-meta/*", "arn:aws:s3:::cats-meta"]}
    s = tenyks(sample(f"arn:aws:s3:::{B}/*"), write, mode="read-write", metadata_bucket="cats-meta",
               buckets=(bucket(B, keys=KEYS), meta))
    f = one(s, "tenyks.metadata-grant")
    assert f.status == Status.PASS, f.message
    assert f.resource == "arn:aws:s3:::cats-meta"
    # CORS "*" is what Tenyks asks for; the baseline flags it on the metadata bucket.
    assert one(s, "tenyks.metadata-cors").status == Status.PASS
    wild = [x for x in findings(s, "baseline.cors-wildcard-origin") if x.bucket == "cats-meta"]
    assert wild and wild[0].status == Status.FAIL


def test_metadata_grant_without_delete_fails_and_no_cors_fails():
    write = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
             "Resource": [f"arn:aws:s3:::{B}/tenyks-meta/*", f"arn:aws:s3:::{B}"]}
    s = tenyks(sample(f"arn:aws:s3:::{B}/*"), write, mode="read-write")
    f = one(s, "tenyks.metadata-grant")
    assert f.status == Status.FAIL
    assert all("s3:DeleteObject" in m for m in f.evidence["missing"])
    assert one(s, "tenyks.metadata-cors").status == Status.FAIL


def test_access_key_active_inactive_and_refused():
    ok = tenyks(sample(f"arn:aws:s3:::{B}/*"))
    assert one(ok, "tenyks.access-key").status == Status.PASS
    inactive = user("tenyks-reader", keys=(AccessKey("AKIAOLD", "Inactive", "2025-12-01T00:00:00Z"),))
    f = one(tenyks(u=inactive), "tenyks.access-key")
    assert f.status == Status.FAIL
    assert "aws iam create-access-key --user-name tenyks-reader" in f.remediation
    refused = user("tenyks-reader", keys=None, errors=(ApiError("ListAccessKeys", "AccessDenied"),))
    assert one(tenyks(u=refused), "tenyks.access-key").status == Status.UNKNOWN


def test_unknown_user_fails_once():
    s = snapshot(account(bucket(B, keys=KEYS)),
                 integrations=(integ("tenyks", B, user="nobody", dataset="cats", images_dir="images"),))
    assert one(s, "tenyks.resources").status == Status.FAIL
    assert findings(s, "tenyks.access-key") == [] and findings(s, "tenyks.read-grant") == []


# ----------------------------------------------------------------------------- RedBrick

R = "redbrick-dicom"
# 004_6c1e438ca6750c28.txt
DOC = {"Version": "2012-10-17", "Statement": [
    {"Sid": "RedBrickLabelingReadOnly", "Effect": "Allow", "Action": "s3:GetObject",
     "Resource": f"arn:aws:s3:::{R}/*"}]}


def redbrick(doc, mode="read-only", **options):
    u = user("redbrick-annotator", doc)
    return snapshot(account(bucket(R, keys=("studies/p1/ct.dcm",)), users=(u,)),
                    integrations=(integ("redbrick", R, mode, user="redbrick-annotator", **options),))


def test_redbrick_guide_policy_passes_read():
    assert one(redbrick(DOC), "redbrick.read-grant").status == Status.PASS
    assert one(redbrick(DOC), "redbrick.access-key").status == Status.PASS
    assert findings(redbrick(DOC), "redbrick.write-grant") == []


def test_redbrick_annotation_storage_needs_put():
    f = one(redbrick(DOC, "read-write"), "redbrick.write-grant")
    assert f.status == Status.FAIL
    rw = policy({**DOC["Statement"][0], "Action": ["s3:GetObject", "s3:PutObject"]})
    assert one(redbrick(rw, "read-write"), "redbrick.write-grant").status == Status.PASS


def test_redbrick_root_folder_scope():
    narrow = policy({**DOC["Statement"][0], "Resource": f"arn:aws:s3:::{R}/studies/*"})
    assert one(redbrick(narrow, prefix="studies/"), "redbrick.read-grant").status == Status.PASS
    assert one(redbrick(narrow, prefix="other/"), "redbrick.read-grant").status == Status.FAIL


def test_guide_whole_bucket_read_write_is_flagged_as_wider_than_the_metadata_folder():
    # 003_6b5f075097d26312.txt §3.2.2: one bucket, read/write on all of it.
    full = {"Sid": "tenyksFullBucketAccess", "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:DeleteObject", "s3:PutObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{B}/*", f"arn:aws:s3:::{B}"]}
    s = tenyks(full, mode="read-write")
    assert one(s, "tenyks.metadata-grant").status == Status.PASS
    assert one(s, "tenyks.read-grant").status == Status.PASS
    f = one(s, "baseline.vendor-excess-privilege")
    assert f.status == Status.FAIL and f.severity == Severity.INFO and "3.2.2" in f.required_by
    assert "3.2.2" in f.message and "tenyks-meta/" in f.evidence["vendor_guide"]
    assert f"s3:DeleteObject on {B}/cats/images/cat-1.jpg" in f.evidence["required_by_guide"]
    assert not any(r.split(" on ")[1].startswith(f"{B}/tenyks-meta/") for r in f.evidence["required_by_guide"])
    # The least-privilege user policy in the fix keeps writes to the metadata folder only.
    assert f"arn:aws:s3:::{B}/tenyks-meta/*" in f.remediation


def test_separate_metadata_bucket_carries_no_guide_note():
    meta = bucket("cats-meta", keys=())
    write = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
             "Resource": [f"arn:aws:s3:::{B}/*"]}
    s = tenyks(write, mode="read-write", metadata_bucket="cats-meta", buckets=(bucket(B, keys=KEYS), meta))
    f = next(x for x in findings(s, "baseline.vendor-excess-privilege") if x.bucket == B)
    assert f.status == Status.FAIL and "vendor_guide" not in f.evidence


def test_separate_metadata_bucket_gets_baseline_checks_for_what_tenyks_may_do_there():
    meta = bucket("cats-meta", keys=("tenyks-meta/t.bin", "other/x.bin"))
    read = sample(f"arn:aws:s3:::{B}/cats/*")
    wide = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::cats-meta/*", "arn:aws:s3:::cats-meta"]}
    s = tenyks(read, wide, mode="read-write", metadata_bucket="cats-meta", buckets=(bucket(B, keys=KEYS), meta))
    excess = {f.bucket: f for f in findings(s, "baseline.vendor-excess-privilege")}
    assert excess[B].status == Status.PASS, excess[B].message
    f = excess["cats-meta"]
    assert f.status == Status.FAIL and "vendor_guide" not in f.evidence  # 3.2.2 is about one single bucket
    assert {"s3:DeleteObject", "s3:PutObject"} <= {e["action"] for e in f.evidence["extra"]
                                                   if e["resource"] == "arn:aws:s3:::cats-meta/other/x.bin"}
    assert one(s, "baseline.versioning-with-delete").bucket == "cats-meta"
    grant = one(s, "tenyks.metadata-grant")
    assert (grant.bucket, grant.status) == ("cats-meta", Status.PASS)


# ----------------------------------------------------------------------------- CORS as the guides write it

# 003_6b5f075097d26312.txt §3.3, verbatim.
TENYKS_CORS = {"AllowedHeaders": [], "AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "ExposeHeaders": []}
FULL = {"Sid": "tenyksFullBucketAccess", "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:DeleteObject", "s3:PutObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{B}/*", f"arn:aws:s3:::{B}"]}


def test_tenyks_metadata_cors_passes_only_for_get_from_any_origin():
    ok = one(tenyks(FULL, mode="read-write", cors=(TENYKS_CORS,)), "tenyks.metadata-cors")
    assert ok.status == Status.PASS, ok.message
    assert "any origin" in ok.message
    # A rule for one origin is not what §3.3 asks for, and the message must not say "any origin" of it.
    one_origin = {**TENYKS_CORS, "AllowedOrigins": ["https://app.tenyks.ai"]}
    f = one(tenyks(FULL, mode="read-write", cors=(one_origin,)), "tenyks.metadata-cors")
    assert f.status == Status.FAIL, f.message
    assert "https://app.tenyks.ai" in f.message and "'*'" in f.message
    assert '"AllowedOrigins": [\n        "*"' in f.remediation
    # "*" for PUT only does not let a browser GET.
    put_only = {**TENYKS_CORS, "AllowedMethods": ["PUT"]}
    assert one(tenyks(FULL, mode="read-write", cors=(put_only,)), "tenyks.metadata-cors").status == Status.FAIL


# 004_6c1e438ca6750c28.txt "S3 Bucket Settings", verbatim.
REDBRICK_CORS = {"AllowedHeaders": ["*"], "AllowedMethods": ["PUT", "POST", "DELETE", "GET"], "AllowedOrigins": ["*"],
                 "ExposeHeaders": ["x-amz-server-side-encryption", "x-amz-request-id", "x-amz-id-2"],
                 "MaxAgeSeconds": 3000}


def redbrick_cors(*rules):
    u = user("redbrick-annotator", DOC)
    return snapshot(account(bucket(R, keys=("studies/p1/ct.dcm",), cors=tuple(rules)), users=(u,)),
                    integrations=(integ("redbrick", R, user="redbrick-annotator"),))


def test_redbrick_cors_is_the_guide_s_rule():
    f = one(redbrick_cors(REDBRICK_CORS), "redbrick.cors")
    assert f.status == Status.PASS, f.message
    assert "app.redbrickai.com" not in f.message + (f.remediation or "")
    # An origin the guide never names is not the guide's rule.
    app_only = {**REDBRICK_CORS, "AllowedOrigins": ["https://app.redbrickai.com"]}
    f = one(redbrick_cors(app_only), "redbrick.cors")
    assert f.status == Status.FAIL, f.message
    assert '"AllowedOrigins": [\n        "*"' in f.remediation
    # AllowedHeaders "*" is part of the rule: without it a browser's PUT preflight with its headers is refused.
    no_headers = {k: v for k, v in REDBRICK_CORS.items() if k != "AllowedHeaders"}
    f = one(redbrick_cors(no_headers), "redbrick.cors")
    assert f.status == Status.FAIL and "AllowedHeaders" in f.message, f.message


def test_redbrick_cors_max_age_is_advisory():
    f = one(redbrick_cors({k: v for k, v in REDBRICK_CORS.items() if k != "MaxAgeSeconds"}), "redbrick.cors")
    assert f.status == Status.PASS, f.message
    assert "MaxAgeSeconds" in f.message and "3000" in f.message
    assert f.evidence["max_age"] == {"guide": 3000, "configured": None}
    assert "MaxAgeSeconds" not in one(redbrick_cors(REDBRICK_CORS), "redbrick.cors").message


def test_cors_message_keeps_the_case_of_methods_headers_and_origins():
    f = one(redbrick_cors({**REDBRICK_CORS, "AllowedMethods": ["GET"], "ExposeHeaders": []}), "redbrick.cors")
    assert f.status == Status.FAIL
    assert f.message.startswith("No CORS rule allows PUT, POST, DELETE from any origin"), f.message
    assert "x-amz-request-id" in f.message
