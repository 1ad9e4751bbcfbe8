"""What a vendor's own guide asks for that an exposure (baseline) rule would flag.

The profile lists such settings (``[[guide_requires]]``): on a bucket that holds every zone the entry
names, for an integration in one of its modes, the baseline rule reports the setting as required by the
guide (``required_by``: the guide's title and section), at severity info, never blocking — and still
names the narrower alternative where there is one. A setting the guide does not ask for stays a finding.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.checks.registry import Target
from auditor.model import Integration
from auditor.profile import GuideRequirement, render


@dataclass(frozen=True, slots=True)
class Required:
    """One guide requirement that applies on this bucket, resolved for its integration."""

    integration: Integration
    requirement: GuideRequirement
    cited: str  # 'Tenyks, "AWS S3", section "3.2.2 …" (https://…)'
    narrower: str  # rendered for the integration ("" when the guide's setting is already the narrowest)


def guide_requirements(target: Target, rule: str) -> list[Required]:
    """The requirements of ``rule`` that apply on the target's bucket, one per integration that has one."""
    out: list[Required] = []
    for integ in target.integrations:
        profile = integ.profile
        if profile is None:
            continue
        for req in profile.guide_requires:
            if req.rule != rule or integ.mode not in req.modes:
                continue
            try:
                on_bucket = all(integ.zone(z).bucket == target.bucket.name for z in req.zones) if req.zones \
                    else integ.bucket == target.bucket.name
            except KeyError:
                continue
            if on_bucket:
                narrower = str(render(req.narrower, integ.values())) if req.narrower else ""
                out.append(Required(integ, req, profile.guide.cite(req.section), narrower))
    return out
