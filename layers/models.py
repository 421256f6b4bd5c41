"""ORM model of the one feature table shared by every vector layer version."""

from __future__ import annotations

from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis_platform.core.db import Base

# class_status values: how class_code was obtained from the source value.
CLASS_STATUSES = ("standard", "mapped", "unmapped", "none")


class Feature(Base):
    """One feature of one layer version, identified by (version_id, feature_no).

    The table is list-partitioned by version; rows are never updated (a trigger forbids it).
    """

    __tablename__ = "features"

    version_id: Mapped[int] = mapped_column(ForeignKey("layer_versions.id"), primary_key=True)
    feature_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_code: Mapped[str | None] = mapped_column(String(20))
    class_raw: Mapped[str | None] = mapped_column(Text)
    class_status: Mapped[str] = mapped_column(String(10))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB)
    geom = mapped_column(Geometry("GEOMETRY", srid=-1, spatial_index=False))
