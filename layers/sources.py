"""What a reader hands to the ingest pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable, Sequence
from typing import Any, overload

import geopandas as gpd
import numpy as np
from pyproj import CRS

from gis_platform.core.errors import Problem


class Labels(Sequence[str]):
    """Feature labels computed only when a message needs one (a file may hold millions)."""

    def __init__(self, label: Callable[[int], str], start: int, stop: int) -> None:
        self._label, self._start, self._stop = label, start, stop

    def __len__(self) -> int:
        return self._stop - self._start

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> Labels: ...

    def __getitem__(self, i: int | slice) -> str | Labels:
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step != 1:
                raise ValueError("Labels slices must be contiguous")
            return Labels(self._label, self._start + start, self._start + stop)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._label(self._start + int(i))


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
    feature_ids: Sequence[str] | None = None
    repairable: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    # The geometries exactly as the reader got them (WKB, one per row of ``frame``), when it
    # read WKB: a loader may send these bytes instead of re-encoding geometries it did not change.
    wkb: np.ndarray | None = None

    def labels(self) -> Labels:
        """Labels of every feature, made on demand."""
        return Labels(self.feature_label, 0, len(self.frame))

    def feature_label(self, i: int) -> str:
        """How a user finds feature ``i`` (0-based) in the source: its id, else its number."""
        if self.feature_ids is not None:
            return self.feature_ids[i]
        return f"#{i + 1}"
