"""Public (JSON) forms of catalogue objects, shared by the CLI and the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .models import PLAN_KINDS, PLAN_STATUSES, Layer, LayerVersion, Plan


class PlanPublic(BaseModel):
    """A plan as users see it."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    kind: str
    kind_zh: str
    authority: str | None
    status: str
    status_zh: str
    approved_on: dt.date | None
    effective_from: dt.date | None
    effective_to: dt.date | None
    description: str | None

    @classmethod
    def of(cls, plan: Plan) -> PlanPublic:
        """Build from the ORM object."""
        return cls(
            code=plan.code, name=plan.name, kind=plan.kind, kind_zh=PLAN_KINDS[plan.kind][0],
            authority=plan.authority, status=plan.status, status_zh=PLAN_STATUSES[plan.status][0],
            approved_on=plan.approved_on, effective_from=plan.effective_from,
            effective_to=plan.effective_to, description=plan.description,
        )


class VersionPublic(BaseModel):
    """One version of a layer."""

    version: int
    source_name: str
    source_sha256: str
    source_format: str
    source_layer: str | None
    source_crs: str
    encoding: str | None
    feature_count: int
    total_area_m2: float | None
    loaded_by: str | None
    loaded_at: dt.datetime
    options: dict[str, Any]
    report: dict[str, Any]
    raster_path: str | None = None
    raster_meta: dict[str, Any] | None = None

    @classmethod
    def of(cls, v: LayerVersion) -> VersionPublic:
        """Build from the ORM object."""
        return cls(
            version=v.version, source_name=v.source_name, source_sha256=v.source_sha256,
            source_format=v.source_format, source_layer=v.source_layer, source_crs=v.source_crs,
            encoding=v.encoding, feature_count=v.feature_count, total_area_m2=v.total_area_m2,
            loaded_by=v.loaded_by, loaded_at=v.loaded_at, options=v.options or {},
            report=v.report or {}, raster_path=v.raster_path, raster_meta=v.raster_meta,
        )


class LayerPublic(BaseModel):
    """A layer with its plan and versions."""

    ref: str
    plan: str
    name: str
    title: str | None
    data_kind: str
    theme: str | None
    class_scheme: str | None
    class_field: str | None
    coverage: str
    versions: list[VersionPublic]
    id: int | None = None  # the layer's integer id: vector tiles and OGC API Features key on it

    @classmethod
    def of(cls, layer: Layer, plan: Plan, versions: list[LayerVersion]) -> LayerPublic:
        """Build from ORM objects."""
        return cls(
            ref=f"{plan.code}/{layer.name}", plan=plan.code, name=layer.name, title=layer.title,
            data_kind=layer.data_kind, theme=layer.theme, class_scheme=layer.class_scheme,
            class_field=layer.class_field, coverage=layer.coverage,
            versions=[VersionPublic.of(v) for v in versions], id=layer.id,
        )


class PlanCreate(BaseModel):
    """A plan to add to the catalogue (what ``gisplat plans add`` takes)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=100, description="规划代码（唯一）/ unique plan code")
    name: str = Field(min_length=1, max_length=300, description="规划名称 / plan name")
    kind: str = Field(max_length=40, description="规划类型 / kind, e.g. territorial, land_use_master")
    authority: str | None = Field(None, max_length=300, description="编制/管理部门 / authority")
    status: str = Field("active", max_length=20, description="draft / active / superseded")
    approved_on: dt.date | None = Field(None, description="批复日期 / approval date")
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    description: str | None = Field(None, max_length=4000)
