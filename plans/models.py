"""ORM models of the catalogue: plans, layers, layer versions, code tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gis_platform.core.db import Base

PLAN_KINDS: dict[str, tuple[str, str]] = {
    "economic_social": ("国民经济和社会发展规划", "economic and social development plan"),
    "land_use_master": ("土地利用总体规划", "land-use master plan"),
    "urban_master": ("城市总体规划", "urban master plan"),
    "urban_regulatory": ("控制性详细规划", "urban regulatory detailed plan"),
    "sectoral": ("专项规划", "sectoral plan"),
    "territorial": ("国土空间规划", "territorial spatial plan"),
    "control_line": ("控制线", "control lines"),
    "current_use": ("现状用地（三调）", "current land use (3rd national land survey)"),
    "survey": ("测绘成果", "survey results"),
    "base": ("基础数据", "base data (boundaries, terrain)"),
}
PLAN_STATUSES: dict[str, tuple[str, str]] = {
    "draft": ("草案", "draft"),
    "active": ("现行", "active"),
    "superseded": ("已废止", "superseded"),
}


def _in(values: dict[str, Any] | list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Plan(Base):
    """A plan (规划): kind, owning authority, status and dates."""

    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_in(PLAN_KINDS)})", name="kind"),
        CheckConstraint(f"status IN ({_in(PLAN_STATUSES)})", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(40))
    authority: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="active")
    approved_on: Mapped[dt.date | None] = mapped_column(Date)
    effective_from: Mapped[dt.date | None] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    layers: Mapped[list[Layer]] = relationship(back_populates="plan", order_by="Layer.name")


class ClassScheme(Base):
    """A classification scheme (2023 用地用海, GB/T 21010, 三调, GB 50137, legacy zones…)."""

    __tablename__ = "class_schemes"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)


class ClassCode(Base):
    """One class of a scheme, with the construction-land flag as data."""

    __tablename__ = "class_codes"

    scheme: Mapped[str] = mapped_column(ForeignKey("class_schemes.code"), primary_key=True)
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    level: Mapped[int] = mapped_column(Integer)
    parent: Mapped[str | None] = mapped_column(String(20))
    is_construction: Mapped[bool | None] = mapped_column(Boolean)


class CodeMapping(Base):
    """A non-standard local code mapped to a scheme's standard code (NULL = known unmappable)."""

    __tablename__ = "code_mappings"
    __table_args__ = (UniqueConstraint("scheme", "local_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme: Mapped[str] = mapped_column(ForeignKey("class_schemes.code"))
    local_code: Mapped[str] = mapped_column(Text)
    standard_code: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)


class Layer(Base):
    """A layer of a plan. Its content lives in versions; loading again adds a version."""

    __tablename__ = "layers"
    __table_args__ = (
        UniqueConstraint("plan_id", "name"),
        CheckConstraint("data_kind IN ('vector', 'raster')", name="data_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(Text)
    data_kind: Mapped[str] = mapped_column(String(10), default="vector")
    theme: Mapped[str | None] = mapped_column(String(60))
    class_scheme: Mapped[str | None] = mapped_column(ForeignKey("class_schemes.code"))
    class_field: Mapped[str | None] = mapped_column(Text)
    coverage: Mapped[str] = mapped_column(Text, default="extent")
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    plan: Mapped[Plan] = relationship(back_populates="layers")
    versions: Mapped[list[LayerVersion]] = relationship(
        back_populates="layer", order_by="LayerVersion.version"
    )


class LayerVersion(Base):
    """One load of a layer: source file, its sha256, CRS, counts, extent, who and when."""

    __tablename__ = "layer_versions"
    __table_args__ = (UniqueConstraint("layer_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("layers.id"))
    version: Mapped[int] = mapped_column(Integer)
    source_name: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_format: Mapped[str] = mapped_column(String(40))
    source_layer: Mapped[str | None] = mapped_column(Text)
    source_crs: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str | None] = mapped_column(String(40))
    feature_count: Mapped[int] = mapped_column(Integer)
    total_area_m2: Mapped[float | None] = mapped_column(Float)
    extent = mapped_column(Geometry("POLYGON", srid=-1, spatial_index=False), nullable=True)
    loaded_by: Mapped[str | None] = mapped_column(Text)
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    raster_path: Mapped[str | None] = mapped_column(Text)
    raster_meta: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    layer: Mapped[Layer] = relationship(back_populates="versions")
