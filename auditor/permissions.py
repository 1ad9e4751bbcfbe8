"""``auditor permissions``: the minimal read-only IAM policy the scanner needs.

Generated from the ``reads`` every registered check declares plus the collectors' own
fixed list, so it stays in step with the code.
"""

from __future__ import annotations

from typing import Any

from auditor.checks.registry import registry

# Only read-style actions belong in an audit role.
READ_VERBS = ("Get", "List", "Describe")


CONTENT_READS = ("s3:GetObject",)  # object headers (HeadObject) and the first bytes of sampled objects


def required_reads(*, content: bool = True) -> tuple[str, ...]:
    reads: set[str] = set()
    for spec in registry().values():
        reads.update(spec.reads)
    try:
        from auditor.collect import REQUIRED_READS
    except ImportError:  # collectors not installed: the checks' reads alone
        REQUIRED_READS = ()
    reads.update(REQUIRED_READS)
    if not content:
        reads.difference_update(CONTENT_READS)
    return tuple(sorted(a for a in reads if a.split(":", 1)[-1].startswith(READ_VERBS)))


# Content reads (EXIF, MP4 headers, COCO files) fetch bounded byte ranges of sampled objects with
# s3:GetObject; for an object under SSE-KMS, S3 decrypts it with the caller's kms:Decrypt on the
# object's key. Without it those reads fail (AccessDenied) and the content rules are unknown.
CONTENT_DECRYPT = {
    "Sid": "AuditorContentReadsOfKmsEncryptedObjects",
    "Effect": "Allow",
    "Action": ["kms:Decrypt"],
    "Resource": "*",
    # Only when S3 asks on the scanner's behalf (reading an object body), never directly.
    "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
}


def scanner_policy(*, content: bool = True) -> dict[str, Any]:
    """The IAM policy document for the scanner's audit role: every read it makes, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AuditorReadOnly",
            "Effect": "Allow",
            "Action": list(required_reads(content=content)),
            "Resource": "*",
        }] + ([CONTENT_DECRYPT] if content else []),  # no object reads: no decryption either
    }
