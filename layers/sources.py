"""What a reader hands to the ingest pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
from pyproj import CRS

from gis_platform.core.errors import Problem


@dataclass
class ReadResult:
    """Features read from one source, before CRS checks and validation.

    ``frame`` holds the attribute columns plus a ``geometry`` column in the *source* CRS, in
    x=easting, y=northing order (readers of northing-first formats swap at the file boundary).
    ``crs`` is the CRS the file declares (None when it declares none: the user must give one).
    ``repairable`` lists problems the reader already met and fixed in ``frame`` (e.g. an
    unclosed ring it closed): the pipeline refuses the file unless the user asked for
    ``--repair``, so nothing is repaired silently.
    """

    frame: gpd.GeoDataFrame
    crs: CRS | None
    source_format: str
    source_layer: str | None = None
    encoding: str | None = None
    feature_ids: list[str] | None = None
    repairable: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def feature_label(self, i: int) -> str:
        """How a user finds feature ``i`` (0-based) in the source: its id, else its number."""
        if self.feature_ids is not None:
            return self.feature_ids[i]
        return f"#{i + 1}"
