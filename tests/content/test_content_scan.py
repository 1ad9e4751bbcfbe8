"""Each content rule gives pass, fail and unknown through a full scan of a moto server."""

from __future__ import annotations

import json

from auditor.collect import collect
from auditor.config import parse_config
from auditor.engine import evaluate
from auditor.rulepack import load_packs
from tests.content.media import jpeg, mp4
from tests.faultproxy import Fault, FaultProxy

ROLE = "arn:aws:iam::123456789012:role/datature-nexus"


def scan(endpoint, integrations):
    config = parse_config(f'[[accounts]]\nname = "main"\nendpoint_url = "{endpoint}"\n' + integrations)
    return {(f.rule_id, f.bucket, f.principal): f for f in evaluate(collect(config), load_packs())}


def status(findings, rule, bucket):
    hits = [f for (r, b, _), f in findings.items() if r == rule and b == bucket]
    assert hits, f"no {rule} finding for {bucket}"
    return hits[0].status.value, hits[0]


def put(aws, bucket, objects, **kw):
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body, **kw)


def datature(bucket, prefix="media/"):
    return f'\n[[integrations]]\nvendor = "datature"\naccount = "main"\nbucket = "{bucket}"\nprefix = "{prefix}"\nrole_arn = "{ROLE}"\n'


def tenyks(bucket):
    return (f'\n[[integrations]]\nvendor = "tenyks"\naccount = "main"\nbucket = "{bucket}"\nuser = "tenyks-reader"\n'
            'dataset = "cats"\nimages_dir = "images"\n')


def v7(bucket):
    return f'\n[[integrations]]\nvendor = "v7-aws"\naccount = "main"\nbucket = "{bucket}"\n'


def test_exif_and_mp4_pass_and_fail(moto, aws):
    put(aws, "upright-media", {"media/a.jpg": jpeg(None), "media/b.png": jpeg(1, "PNG"),
                               "media/clip.mp4": mp4(b"mp42", chroma=1, mdat_first=200_000)})
    put(aws, "rotated-media", {"media/a.jpg": jpeg(6), "media/clip.mp4": mp4(b"isom", chroma=1),
                               "media/full.mp4": mp4(b"mp42", chroma=3, profile=244)})
    found = scan(moto.endpoint, datature("upright-media") + datature("rotated-media"))
    assert status(found, "datature.exif-orientation", "upright-media")[0] == "pass"
    assert status(found, "datature.mp4-format", "upright-media")[0] == "pass"  # moov found past a 200 kB mdat
    s, f = status(found, "datature.exif-orientation", "rotated-media")
    assert s == "fail" and f.evidence["rotated"] == [{"key": "media/a.jpg", "orientation": 6}]
    assert f.evidence["sampled"] == 1
    s, f = status(found, "datature.mp4-format", "rotated-media")
    assert s == "fail"
    problems = {w["key"]: w["problems"] for w in f.evidence["wrong"]}
    assert problems == {"media/clip.mp4": ["major brand 'isom'"], "media/full.mp4": ["pixel format yuv444p"]}


def test_exif_and_mp4_unknown(moto, aws):
    put(aws, "odd-media", {"media/clip.mp4": mp4(b"mp42", entry=b"mp4v"), "media/a.jpg": jpeg(None)})
    found = scan(moto.endpoint, datature("odd-media"))
    s, f = status(found, "datature.mp4-format", "odd-media")
    assert s == "unknown" and "mp4v" in f.message
    # Ranged reads refused: EXIF cannot be read, so unknown (never pass).
    proxy = FaultProxy(moto.endpoint, [Fault(lambda r: r.method == "GET" and "Range" in r.headers)])
    url = proxy.start()
    try:
        found = scan(url, datature("odd-media"))
    finally:
        proxy.stop()
    s, f = status(found, "datature.exif-orientation", "odd-media")
    assert s == "unknown" and "AccessDenied" in f.message


COCO = {"images": [{"id": 1, "file_name": "c1.jpg"}, {"id": 2, "file_name": "c2.jpg"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1}, {"id": 2, "image_id": 2, "category_id": 1}],
        "categories": [{"id": 1, "name": "cat"}]}
PREDICTIONS = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.9}]


def test_tenyks_layout_and_coco(moto, aws):
    images = {"cats/images/c1.jpg": jpeg(), "cats/images/c2.jpg": jpeg()}
    put(aws, "good-cats", {**images, "cats/annotations.json": json.dumps(COCO).encode(),
                           "cats/predictions.json": json.dumps(PREDICTIONS).encode()})
    broken = {**COCO, "images": COCO["images"] + [{"id": 3, "file_name": "c3.jpg"}],
              "annotations": COCO["annotations"] + [{"id": 3, "image_id": 42, "category_id": 1}]}
    put(aws, "broken-cats", {**images, "cats/annotations.json": json.dumps(broken).encode(),
                             "cats/predictions.json": json.dumps([{"image_id": 99, "category_id": 1, "score": 1}]).encode()})
    put(aws, "bare-cats", {"cats/images/readme.txt": b"no images"})
    found = scan(moto.endpoint, tenyks("good-cats") + tenyks("broken-cats") + tenyks("bare-cats"))
    assert status(found, "tenyks.layout", "good-cats")[0] == "pass"
    s, f = status(found, "tenyks.coco-format", "good-cats")
    assert s == "pass" and f.evidence["cats/annotations.json"]["images"] == 2
    assert status(found, "tenyks.layout", "broken-cats")[0] == "pass"
    s, f = status(found, "tenyks.coco-format", "broken-cats")
    assert s == "fail"
    assert "point to an image id that does not exist" in f.message and "c3.jpg" in f.message
    assert "absent from annotations.json" in f.message
    s, f = status(found, "tenyks.layout", "bare-cats")
    assert s == "fail" and "holds no images" in f.message and "annotations.json does not exist" in f.message


def test_tenyks_unknown_when_the_files_cannot_be_read(moto, aws):
    put(aws, "locked-cats", {"cats/images/c1.jpg": jpeg(), "cats/annotations.json": json.dumps(COCO).encode(),
                             "cats/predictions.json": json.dumps(PREDICTIONS).encode()})
    proxy = FaultProxy(moto.endpoint, [Fault(lambda r: r.path.endswith(".json") and r.method in ("GET", "HEAD"))])
    url = proxy.start()
    try:
        found = scan(url, tenyks("locked-cats"))
    finally:
        proxy.stop()
    assert status(found, "tenyks.coco-format", "locked-cats")[0] == "unknown"
    assert status(found, "tenyks.layout", "locked-cats")[0] == "unknown"


def test_mirax_companion(moto, aws):
    put(aws, "slides-ok", {"s/a.mrxs": b"x", "s/a/Slidedat.ini": b"[GENERAL]"})
    put(aws, "slides-bad", {"s/a.mrxs": b"x", "s/b.mrxs": b"x", "s/b/Data0000.dat": b"x"})
    found = scan(moto.endpoint, v7("slides-ok") + v7("slides-bad"))
    assert status(found, "v7-aws.mrxs-companion", "slides-ok")[0] == "pass"
    s, f = status(found, "v7-aws.mrxs-companion", "slides-bad")
    # s/b/ holds files (which ones, the guides do not say): only s/a.mrxs lacks its folder.
    assert s == "fail" and {m["slide"] for m in f.evidence["missing_companion"]} == {"s/a.mrxs"}
    proxy = FaultProxy(moto.endpoint, [Fault(lambda r: r.query.get("prefix") == "s/a/")])
    url = proxy.start()
    try:
        found = scan(url, v7("slides-ok"))
    finally:
        proxy.stop()
    assert status(found, "v7-aws.mrxs-companion", "slides-ok")[0] == "unknown"


def test_object_kms(moto, aws):
    kms = aws("kms")
    key_policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::258327614892:role/external_s3"},
         "Action": "kms:Decrypt", "Resource": "*"}]}
    key = kms.create_key(Policy=json.dumps(key_policy))["KeyMetadata"]["Arn"]
    put(aws, "customer-key-objects", {"a.dcm": b"x"}, ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    put(aws, "aws-managed-objects", {"a.dcm": b"x"}, ServerSideEncryption="aws:kms")
    found = scan(moto.endpoint, v7("customer-key-objects") + v7("aws-managed-objects"))
    assert status(found, "baseline.object-kms", "customer-key-objects")[0] == "pass"
    s, f = status(found, "baseline.object-kms", "aws-managed-objects")
    assert s == "fail" and "alias/aws/s3" in f.message
    proxy = FaultProxy(moto.endpoint, [Fault(lambda r: r.method == "HEAD")])
    url = proxy.start()
    try:
        found = scan(url, v7("customer-key-objects"))
    finally:
        proxy.stop()
    s, f = status(found, "baseline.object-kms", "customer-key-objects")
    assert s == "unknown" and "HeadObject" in f.message
