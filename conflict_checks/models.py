"""ORM models of pre-checks: rules (data, not code), submissions, check runs and findings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis_platform.core.db import Base


class Rule(Base):
    """Maps a layer theme (and classes, project types) to a severity, a message and a citation."""

    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    theme: Mapped[str] = mapped_column(String(60))
    classes: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    project_types: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    when: Mapped[str] = mapped_column("when", String(20), default="inside")
    severity: Mapped[str] = mapped_column(String(20))
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    citation: Mapped[str | None] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class UseCompatibility(Base):
    """Whether a proposed use (code prefix) may sit on a planned use (code prefix)."""

    __tablename__ = "use_compatibility"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposed: Mapped[str] = mapped_column(String(20))
    planned: Mapped[str] = mapped_column(String(20))
    compatible: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)


class RuleSet(Base):
    """The rules and compatibility rows one or more runs used, stored once by content hash."""

    __tablename__ = "rule_sets"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    compat: Mapped[list[list[Any]]] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Submission(Base):
    """A project boundary with its metadata, as submitted (never changed)."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_code: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(Text)
    applicant: Mapped[str | None] = mapped_column(Text)
    proposed_use: Mapped[str | None] = mapped_column(String(20))
    project_type: Mapped[str] = mapped_column(String(30))
    declared_area_m2: Mapped[float | None] = mapped_column(Float)
    source_name: Mapped[str | None] = mapped_column(Text)
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    area_m2: Mapped[float] = mapped_column(Float)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=-1, spatial_index=False))
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    owner_id: Mapped[int | None] = mapped_column(Integer)  # users.id (FK in the schema)
    organisation: Mapped[str | None] = mapped_column(Text)


class CheckRun(Base):
    """One pre-check of a submission: the layer versions used, the findings, the verdict."""

    __tablename__ = "check_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    as_of: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    rerun_of: Mapped[int | None] = mapped_column(ForeignKey("check_runs.id"))
    verdict: Mapped[str] = mapped_column(String(20))
    rule_set: Mapped[str | None] = mapped_column(ForeignKey("rule_sets.sha256"))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    versions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    result: Mapped[dict[str, Any]] = mapped_column(JSONB)
    duration_ms: Mapped[float | None] = mapped_column(Float)


class CheckFinding(Base):
    """One row per layer/class finding of a run (what departments are routed on)."""

    __tablename__ = "check_findings"

    run_id: Mapped[int] = mapped_column(ForeignKey("check_runs.id"), primary_key=True)
    finding_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer_id: Mapped[int | None] = mapped_column(ForeignKey("layers.id"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("layer_versions.id"))
    theme: Mapped[str | None] = mapped_column(String(60))
    class_code: Mapped[str | None] = mapped_column(String(20))
    class_raw: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20))
    area_m2: Mapped[float] = mapped_column(Float)
    share: Mapped[float] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(20))
    rule_key: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(Text)
