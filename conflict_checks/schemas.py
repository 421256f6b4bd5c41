"""Public (JSON) forms of a site pre-check and of "what applies here"."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from gis_platform.core.vocabulary import PROJECT_TYPES, SEVERITIES, STATES, VERDICTS

Severity = Literal["forbidden", "needs_approval", "notice", "reference", "none"]
State = Literal["applies", "does_not_apply", "no_data"]
Verdict = Literal["pass", "conditional", "fail"]
ProjectType = Literal["ordinary", "linear_infrastructure", "village", "major_project"]

__all__ = ["PROJECT_TYPES", "SEVERITIES", "STATES", "VERDICTS"]


class ProjectMeta(BaseModel):
    """What the project owner declares with the boundary."""

    project_code: str | None = Field(None, max_length=100, description="项目代码")
    name: str | None = Field(None, max_length=300, description="项目名称")
    applicant: str | None = Field(None, max_length=300, description="建设单位")
    proposed_use: str | None = Field(None, max_length=20, description="拟用地性质（2023 用地用海代码）")
    project_type: ProjectType = "ordinary"
    declared_area_m2: float | None = Field(None, ge=0, description="申报用地面积（m²）")


class RuleRef(BaseModel):
    """The rule behind a finding."""

    key: str
    severity: Severity
    message_zh: str
    message_en: str
    citation: str | None = None
    department: str | None = None


class ClassFinding(BaseModel):
    """One class of one layer inside the site."""

    class_code: str | None
    class_raw: str | None
    class_name: str | None = None
    area_m2: float
    area_ha: float
    share: float  # of the site's plane area, 0..1
    features: int
    severity: Severity
    rule: RuleRef | None = None
    sliver: bool = False  # dropped by the sliver tolerance (kept for audit)
    part: Literal["inside", "outside"] = "inside"  # outside: the site outside the layer (e.g. the UDB)


class LayerFinding(BaseModel):
    """Everything the check found about one layer."""

    layer_id: int | None
    ref: str | None  # PLAN/LAYER, None when no layer of the theme is loaded
    title: str
    plan_name: str | None = None
    plan_status: str | None = None
    theme: str | None
    version: int | None = None
    version_id: int | None = None
    source_sha256: str | None = None
    loaded_at: dt.datetime | None = None
    state: State
    area_m2: float = 0.0  # union of all classes in the site (no double count)
    area_ha: float = 0.0
    share: float = 0.0
    covered_share: float = 1.0  # part of the site inside the layer's coverage
    severity: Severity = "none"
    classes: list[ClassFinding] = []
    rules: list[RuleRef] = []
    note_zh: str | None = None
    note_en: str | None = None


class SlopeFinding(BaseModel):
    """Slope of the site from the DEM."""

    layer_ref: str | None
    version_id: int | None = None
    state: State
    threshold_deg: float
    share_above: float = 0.0
    area_above_m2: float = 0.0
    mean_deg: float | None = None
    max_deg: float | None = None
    severity: Severity = "none"
    rule: RuleRef | None = None


class UseFinding(BaseModel):
    """Proposed use against the planned use under the site."""

    proposed_use: str | None
    state: State
    compatible_area_m2: float = 0.0
    incompatible_area_m2: float = 0.0
    incompatible_share: float = 0.0
    incompatible_classes: list[str] = []
    severity: Severity = "none"
    rule: RuleRef | None = None


class AreaCheck(BaseModel):
    """Declared against computed area."""

    plane_area_m2: float
    plane_area_ha: float
    ellipsoidal_area_m2: float
    declared_area_m2: float | None
    difference_share: float | None
    flagged: bool
    threshold: float


class Reason(BaseModel):
    """Why the verdict is what it is."""

    severity: Severity
    zh: str
    en: str


class CheckResult(BaseModel):
    """A stored pre-check run: inputs, findings, verdict and the data versions used."""

    run_id: int | None = None
    submission_id: int | None = None
    checked_at: dt.datetime
    as_of: dt.datetime
    store_crs: str
    meta: ProjectMeta
    source_name: str | None = None
    source_sha256: str | None = None
    site_wkt: str | None = None
    boundary: list[list[list[float]]] = []  # per ring: [point_no, X northing, Y easting]
    county: str | None = None
    area: AreaCheck
    layers: list[LayerFinding]
    slope: SlopeFinding | None = None
    use: UseFinding | None = None
    verdict: Verdict
    reasons: list[Reason]
    params: dict[str, Any]
    versions: list[dict[str, Any]]
    duration_ms: float | None = None


class AppliesFeature(BaseModel):
    """One feature that applies at a place."""

    ref: str
    title: str | None
    plan_name: str
    plan_status: str
    theme: str | None
    version: int
    feature_no: int
    class_code: str | None
    class_raw: str | None
    class_name: str | None = None
    area_m2: float
    properties: dict[str, Any]
    severity: Severity = "none"
    rule: RuleRef | None = None


class AppliesResult(BaseModel):
    """What applies at a point or in an area."""

    geometry_wkt: str
    query_area_m2: float
    features: list[AppliesFeature]
    missing_themes: list[str] = []
    extra: dict[str, list[dict[str, Any]]] = {}  # registered sources, e.g. "surveys": shared survey results
