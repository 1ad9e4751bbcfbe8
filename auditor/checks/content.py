"""Checks on what the objects hold: Tenyks layout and COCO files, Datature's EXIF and MP4 rules,
MIRAX companions, and objects encrypted with keys their vendor cannot use.

The collectors probed the objects (``auditor.collect.objects``); these checks only judge the facts.
"""

from __future__ import annotations

from typing import Any

from auditor.checks._access import actor_for, summarise
from auditor.checks.kms import ask_key, bucket_key_enabled
from auditor.checks.registry import REQUIRED, Outcome, Param, Target, check
from auditor.model import ObjectState, Status
from auditor.profile import Zone

EXAMPLES = 10


def _name(target: Target) -> str:
    """The vendor's name for messages, from its profile."""
    integ = target.integration
    return integ.profile.short_name if integ and integ.profile else (integ.vendor if integ else "the vendor")


def _listed(target: Target, prefix: str) -> int | None:
    for listing in target.bucket.listings:
        if listing.prefix == prefix:
            return listing.keys_seen
    return None


def _sampled(probed: list[ObjectState], target: Target, prefix: str) -> dict[str, Any]:
    listed = _listed(target, prefix)
    return {"sampled": len(probed), "listed": listed if listed is not None else "not listed", "prefix": prefix}


# ----------------------------------------------------------------------------- Tenyks


def _coco_blob(target: Target, key: str) -> dict[str, Any] | None:
    return target.bucket.blobs.get(f"coco:{key}")


ZONE = Param(str, REQUIRED, "the zone of the vendor's profile this check looks at", kind="zone")


def _files(zone: Zone) -> tuple[str, str]:
    """(dataset folder, key of annotations.json) from a zone's ``files`` (annotations, predictions)."""
    ann = zone.files.get("annotations", zone.prefix + "annotations.json")
    return ann.rsplit("/", 1)[0] + "/" if "/" in ann else "", ann


@check("tenyks_layout", reads=("s3:ListBucket", "s3:GetObject"), params={"zone": ZONE})
def tenyks_layout(target: Target, *, zone: str) -> Outcome | None:
    """The zone's folder holds images, and its ``annotations`` and ``predictions`` files exist (Tenyks's layout)."""
    integ = target.integration
    if integ is None:
        return None
    z = integ.zone(zone)
    images = z.prefix
    dataset, _ = _files(z)
    listing = target.bucket.blobs.get(f"listing:{images}")
    evidence: dict[str, Any] = {"images_folder": images, "listing": listing}
    problems, unknown = [], []
    if listing is None:
        err = target.bucket.error("ListObjectsV2")
        unknown.append(f"the images folder could not be listed ({err.describe() if err else 'not collected'})")
    elif listing.get("images", 0) == 0:
        problems.append(f"{images} holds no images ({listing.get('keys', 0)} objects)")
    for name in ("annotations.json", "predictions.json"):
        blob = _coco_blob(target, dataset + name)
        evidence[name] = {k: blob.get(k) for k in ("exists", "size", "error")} if blob else None
        if blob is None:
            unknown.append(f"{dataset}{name} was not checked")
        elif blob.get("exists") is False:
            problems.append(f"{dataset}{name} does not exist")
        elif "error" in blob and blob.get("exists") is None:
            unknown.append(f"{dataset}{name}: {blob['error']['api']} failed with {blob['error']['code']}")
    if problems:
        return Outcome(Status.FAIL, f"{_name(target)}'s expected layout is not there: " + "; ".join(problems) + ".",
                       evidence,
                       remediation=(f"Arrange the data as {target.bucket.name}/{images}image_n.png with "
                                    f"{dataset}annotations.json and {dataset}predictions.json beside the images "
                                    "folder (COCO format), e.g.:\n"
                                    f"aws s3 cp annotations.json s3://{target.bucket.name}/{dataset}annotations.json\n"
                                    f"aws s3 cp predictions.json s3://{target.bucket.name}/{dataset}predictions.json"))
    if unknown:
        return Outcome(Status.UNKNOWN, "Could not verify the layout: " + "; ".join(unknown) + ".", evidence)
    assert listing is not None  # an unlisted folder is unknown, above
    return Outcome(Status.PASS, f"{images} holds {listing['images']} image(s); annotations.json and "
                   "predictions.json are in place.", evidence)


@check("coco_format", reads=("s3:GetObject", "s3:ListBucket"), params={"zone": ZONE})
def coco_format(target: Target, *, zone: str) -> Outcome | None:
    """Both files are valid COCO: ids consistent, every image file_name exists under the images folder."""
    integ = target.integration
    if integ is None:
        return None
    z = integ.zone(zone)
    images = z.prefix
    dataset, _ = _files(z)
    evidence: dict[str, Any] = {}
    problems, unknown = [], []
    blobs = {}
    for role in ("annotations", "predictions"):
        key = f"{dataset}{role}.json"
        blob = _coco_blob(target, key)
        blobs[role] = blob
        if blob is None:
            unknown.append(f"{key} was not read")
            continue
        shown = {k: v for k, v in blob.items() if k not in ("image_ids", "category_ids")}
        evidence[key] = shown
        if blob.get("exists") is False:
            problems.append(f"{key} does not exist")
        elif "error" in blob:
            unknown.append(f"{key}: {blob['error']['api']} failed with {blob['error']['code']} ({blob['error'].get('message', '')})")
        else:
            problems += [f"{key}: {p}" for p in blob.get("problems", [])]
            if blob.get("missing_file_count"):
                problems.append(f"{key}: {blob['missing_file_count']} image file_name(s) have no object under "
                                f"{images} (e.g. {', '.join(blob['missing_files'][:3])})")
    ann, pred = blobs.get("annotations"), blobs.get("predictions")
    if ann and pred and ann.get("kind") == "dataset" and pred.get("image_ids") is not None:
        known = set(map(str, ann.get("image_ids", [])))
        dangling = [i for i in pred["image_ids"] if str(i) not in known]
        if dangling:
            problems.append(f"predictions.json refers to {len(dangling)} image id(s) absent from annotations.json "
                            f"(e.g. {', '.join(map(str, dangling[:3]))})")
        cats = set(map(str, ann.get("category_ids", [])))
        bad_cats = [c for c in pred.get("category_ids", []) if str(c) not in cats]
        if bad_cats:
            problems.append(f"predictions.json uses {len(bad_cats)} category id(s) absent from annotations.json")
    if problems:
        return Outcome(Status.FAIL, "COCO files are not consistent: " + "; ".join(problems) + ".", evidence,
                       remediation="Fix the COCO files so every annotation and prediction refers to an existing image "
                                   "and category id, and every image's file_name exists under the images folder; "
                                   "then upload them again (aws s3 cp FILE s3://BUCKET/KEY).")
    if unknown:
        return Outcome(Status.UNKNOWN, "Could not verify the COCO files: " + "; ".join(unknown) + ".", evidence)
    assert ann is not None  # an unread file is unknown, above
    return Outcome(Status.PASS, f"annotations.json ({ann.get('images')} images, {ann.get('annotations')} annotations, "
                   f"{ann.get('categories')} categories) and predictions.json are valid COCO.", evidence)


# ----------------------------------------------------------------------------- Datature


@check("zone_images", reads=("s3:ListBucket",), params={
    "zone": ZONE,
    "videos": Param(bool, False, "MP4 videos count as the vendor's assets too"),
})
def zone_images(target: Target, *, zone: str, videos: bool) -> Outcome | None:
    """The zone's folder holds images (Datature: "a folder filled with the images that you want to be read")."""
    integ = target.integration
    if integ is None:
        return None
    z = integ.zone(zone)
    if z.bucket != target.bucket.name:
        return None
    folder = z.prefix or "the bucket's root"
    listing = target.bucket.blobs.get(f"listing:{z.prefix}")
    evidence: dict[str, Any] = {"folder": z.prefix, "listing": listing}
    if listing is None:
        err = target.bucket.error("ListObjectsV2")
        return Outcome(Status.UNKNOWN, f"Could not list {folder}: {err.describe() if err else 'not collected'}.",
                       evidence)
    images, clips = int(listing.get("images", 0)), int(listing.get("videos", 0)) if videos else 0
    what = "images or MP4 videos" if videos else "images"
    if images or clips:
        found = f"{images} image(s)" + (f" and {clips} MP4 video(s)" if clips else "")
        more = " (listing stopped at the budget)" if listing.get("truncated") else ""
        return Outcome(Status.PASS, f"{folder} holds {found}{more}.", evidence)
    keys = int(listing.get("keys", 0))
    examples = ", ".join(listing.get("examples", [])[:3])
    if listing.get("truncated"):
        return Outcome(Status.UNKNOWN, f"None of the first {keys} keys under {folder} is one of the {what}; the listing "
                       "stopped at the budget ([scan] listing_budget), so the rest was not seen.", evidence)
    held = f"{keys} other object(s), e.g. {examples}" if keys else "nothing"
    return Outcome(Status.FAIL, f"{folder} holds no {what} ({held}): {_name(target)} reads the {what} of its folder "
                   "prefix, so it would sync nothing.", evidence,
                   remediation=(f"Point the integration's folder prefix at the folder that holds the {what}, or upload "
                                f"them under it:\n  aws s3 cp --recursive IMAGES_DIR/ s3://{target.bucket.name}/"
                                f"{z.prefix}"))


@check("exif_orientation", reads=("s3:GetObject",), params={"zone": ZONE})
def exif_orientation(target: Target, *, zone: str) -> Outcome | None:
    """Sampled images have no EXIF orientation tag, or orientation 1 (Datature cannot strip EXIF)."""
    if target.integration is None:
        return None
    prefix = target.integration.zone(zone).prefix
    probed = [(o, o.exif) for o in target.bucket.objects if o.key.startswith(prefix) and o.exif is not None]
    failed_reads = [o for o in target.bucket.objects if o.key.startswith(prefix) and o.exif is None
                    and any(e.api == "GetObject" for e in o.errors)]
    if not probed and not failed_reads:
        return None  # no images sampled: nothing to judge
    rotated = [(o, e) for o, e in probed if e and e.get("orientation") not in (None, 1)]
    unreadable = [(o, e) for o, e in probed if e and "error" in e]
    evidence: dict[str, Any] = _sampled([o for o, _ in probed], target, prefix)
    evidence["rotated"] = [{"key": o.key, "orientation": e.get("orientation")} for o, e in rotated[:EXAMPLES]]
    if rotated:
        return Outcome(Status.FAIL, f"{len(rotated)} of {len(probed)} sampled image(s) carry an EXIF orientation other "
                       f"than 1 (e.g. {rotated[0][0].key}: {rotated[0][1].get('orientation')}); {_name(target)} would show "
                       "them rotated.", evidence,
                       remediation="Rotate the pixels and drop the tag before syncing, e.g. with exiftool:\n"
                                   "  exiftool -Orientation=1 -n -overwrite_original IMAGE  (after rotating), or\n"
                                   "  mogrify -auto-orient IMAGE\nthen upload the fixed files again.")
    if failed_reads or unreadable:
        bad = failed_reads + [o for o, _ in unreadable]
        reason = (next(e for e in failed_reads[0].errors if e.api == "GetObject").describe() if failed_reads
                  else unreadable[0][1].get("error", "unreadable"))
        evidence["unreadable"] = [o.key for o in bad[:EXAMPLES]]
        return Outcome(Status.UNKNOWN, f"Could not read {len(bad)} sampled image(s): {reason}.", evidence)
    return Outcome(Status.PASS, f"None of {len(probed)} sampled image(s) has an EXIF orientation other than 1.", evidence)


@check("mp4_format", reads=("s3:GetObject",), params={
    "brand": Param(str, "mp42"), "pix_fmt": Param(str, "yuv420p"), "zone": ZONE})
def mp4_format(target: Target, *, brand: str, pix_fmt: str, zone: str) -> Outcome | None:
    """Sampled .mp4 files have major brand mp42 and pixel format yuv420p."""
    if target.integration is None:
        return None
    prefix = target.integration.zone(zone).prefix
    videos = [o for o in target.bucket.objects if o.key.startswith(prefix) and o.key.lower().endswith(".mp4")]
    if not videos:
        return None
    probed = [o for o in videos if o.mp4 is not None]
    bad: list[dict[str, Any]] = []
    undecided: list[dict[str, Any]] = []
    for o in videos:
        facts = o.mp4
        if facts is None:
            err = next((e for e in o.errors if e.api == "GetObject"), None)
            undecided.append({"key": o.key, "reason": err.describe() if err else "not read"})
            continue
        wrong = []
        if facts.get("major_brand") != brand:
            wrong.append(f"major brand {facts.get('major_brand')!r}")
        if "pix_fmt" in facts and facts["pix_fmt"] != pix_fmt:
            wrong.append(f"pixel format {facts['pix_fmt']}")
        if wrong:
            bad.append({"key": o.key, "problems": wrong, **facts})
        elif "pix_fmt" not in facts:
            undecided.append({"key": o.key, "reason": facts.get("error", "pixel format not found"), **facts})
    evidence = {**_sampled(probed, target, prefix), "wrong": bad[:EXAMPLES], "undecided": undecided[:EXAMPLES]}
    if bad:
        first = bad[0]
        return Outcome(Status.FAIL, f"{len(bad)} of {len(videos)} sampled MP4 file(s) do not meet {_name(target)}'s rules "
                       f"(major brand {brand}, pixel format {pix_fmt}): e.g. {first['key']} has "
                       f"{', '.join(first['problems'])}.", evidence,
                       remediation=("Re-encode before syncing, e.g.:\n"
                                    f"  ffmpeg -i IN.mp4 -c:v libx264 -pix_fmt {pix_fmt} -brand {brand} -c:a copy OUT.mp4"))
    if undecided:
        return Outcome(Status.UNKNOWN, f"Could not decide the format of {len(undecided)} MP4 file(s): "
                       f"{undecided[0]['key']}: {undecided[0]['reason']}.", evidence)
    return Outcome(Status.PASS, f"All {len(videos)} sampled MP4 file(s) are {brand} / {pix_fmt}.", evidence)


# ----------------------------------------------------------------------------- MIRAX


@check("mrxs_companion", reads=("s3:ListBucket",))
def mrxs_companion(target: Target) -> Outcome | None:
    """Each sampled ``x.mrxs`` has its folder with a matching name, ``x/``, holding files (V7's guides: ".mrxs
    files come with a folder with a matching name which contains additional image data across multiple files";
    they name no file in it)."""
    slides = [o for o in target.bucket.objects if o.key.lower().endswith(".mrxs")]
    if not slides:
        return None
    missing, undecided, found = [], [], []
    for o in slides:
        facts = o.mirax
        if facts is None:
            err = next((e for e in o.errors if e.api == "ListObjectsV2"), None)
            undecided.append(f"{o.key} ({err.describe() if err else 'folder not listed'})")
        elif not facts.get("files"):
            missing.append({"slide": o.key, "folder": facts["folder"]})
        else:
            found.append({"slide": o.key, "folder": facts["folder"], "files": facts["files"],
                          "truncated": bool(facts.get("truncated"))})
    evidence = {"slides": len(slides), "missing_companion": missing[:EXAMPLES], "companions": found[:EXAMPLES]}
    if missing:
        m = missing[0]
        return Outcome(Status.FAIL, f"{len(missing)} MIRAX slide(s) lack their companion folder: {m['folder']} is empty "
                       f"or absent for {m['slide']}.", evidence,
                       remediation=f"Upload each slide's folder beside it: aws s3 cp --recursive SLIDE_DIR/ "
                                   f"s3://{target.bucket.name}/{m['folder']}")
    if undecided:
        return Outcome(Status.UNKNOWN, f"Could not check the folders of {len(undecided)} slide(s): {undecided[0]}.", evidence)
    return Outcome(Status.PASS, f"All {len(slides)} sampled MIRAX slide(s) have their folder with a matching name, "
                   "holding files.", evidence)


# ----------------------------------------------------------------------------- object encryption


@check("object_kms", reads=("s3:GetObject", "kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants"))
def object_kms(target: Target) -> list[Outcome] | None:
    """No sampled object is encrypted with a key its vendor cannot use (objects keep the key they were written with)."""
    if not target.integrations:
        return None
    headed = [o for o in target.bucket.objects if o.probes.get("head") or any(e.api == "HeadObject" for e in o.errors)]
    if not headed:
        return None  # nothing was sampled
    kms_objects = [o for o in headed if o.sse and o.sse.startswith("aws:kms")]
    refused = [o for o in headed if any(e.api == "HeadObject" for e in o.errors)]
    outcomes = []
    for integ in target.integrations:
        actor = actor_for(target, integ)
        if isinstance(actor, Outcome):
            outcomes.append(actor)
            continue
        checked: dict[tuple[str, str], tuple[str, str]] = {}
        bad, undecided = [], []
        for o in kms_objects:
            key_ref = o.kms_key_id or "alias/aws/s3"
            # The encryption context S3 sends: the object's ARN (the bucket's with an S3 Bucket Key).
            context_arn = target.bucket.arn if bucket_key_enabled(target.bucket) else f"{target.bucket.arn}/{o.key}"
            if (key_ref, context_arn) in checked:
                verdict = checked[(key_ref, context_arn)]
            else:
                key = target.account.key(key_ref)
                if key is None:
                    verdict = ("unknown", f"key {key_ref} was not collected")
                elif key.aws_managed:
                    verdict = ("fail", f"AWS-managed key {key.arn} ({', '.join(key.aliases) or 'KeyManager AWS'})")
                elif key.policy is None:
                    verdict = ("unknown", f"the policy of key {key.arn} was not collected")
                else:
                    asked = ask_key(target, actor, key, "kms:Decrypt", context_arn)
                    status, _, _ = summarise([asked])
                    verdict = (status.value, f"key {key.arn}: {asked.result.reason}")
                checked[(key_ref, context_arn)] = verdict
            if verdict[0] == "fail":
                bad.append({"key": o.key, "kms_key": key_ref, "why": verdict[1]})
            elif verdict[0] == "unknown":
                undecided.append({"key": o.key, "kms_key": key_ref, "why": verdict[1]})
        evidence = {"vendor": integ.vendor, "principal": actor.arn, "objects_checked": len(headed),
                    "kms_encrypted": len(kms_objects), "unusable": bad[:EXAMPLES], "undecided": undecided[:EXAMPLES],
                    "head_refused": [o.key for o in refused[:EXAMPLES]]}
        if bad:
            outcomes.append(Outcome(
                Status.FAIL, f"{len(bad)} sampled object(s) are encrypted with a key {integ.vendor} cannot use "
                f"(e.g. {bad[0]['key']}: {bad[0]['why']}).", evidence,
                remediation=("Objects keep the key they were written with. Re-encrypt them "
                             "with a customer-managed key whose policy lets the vendor decrypt, e.g.:\n"
                             f"aws s3 cp s3://{target.bucket.name}/{bad[0]['key']} s3://{target.bucket.name}/{bad[0]['key']} "
                             "--sse aws:kms --sse-kms-key-id CUSTOMER_KEY_ARN"),
                principal=actor.arn))
        elif undecided or (refused and not kms_objects and len(refused) == len(headed)):
            why = undecided[0]["why"] if undecided else next(e for e in refused[0].errors if e.api == "HeadObject").describe()
            outcomes.append(Outcome(Status.UNKNOWN, f"Could not verify the encryption of sampled objects: {why}.",
                                    evidence, principal=actor.arn))
        else:
            outcomes.append(Outcome(Status.PASS, f"{integ.vendor} can use the keys of all {len(headed)} sampled "
                                    f"object(s) ({len(kms_objects)} under SSE-KMS).", evidence, principal=actor.arn))
    return outcomes
