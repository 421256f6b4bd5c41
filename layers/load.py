"""Bulk load of features into the shared feature table through PostgreSQL COPY."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from sqlalchemy.orm import Session

from . import queries

CHUNK = 8 * 1024 * 1024


def _copy_text(values: list[str | None]) -> list[str]:
    """Escape values for COPY text format (NULL as \\N)."""
    out = []
    for v in values:
        if v is None:
            out.append("\\N")
        else:
            out.append(
                v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
            )
    return out


def properties_json(attrs: pd.DataFrame) -> list[str]:
    """One JSON object per row (attribute names and values are data, never SQL)."""
    if attrs.shape[1] == 0:
        return ["{}"] * len(attrs)
    attrs = attrs.copy()
    attrs.columns = [str(c) for c in attrs.columns]
    text = attrs.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def copy_features(
    session: Session,
    *,
    version_id: int,
    srid: int,
    geoms: np.ndarray,
    properties: list[str],
    class_code: list[str | None],
    class_raw: list[str | None],
    class_status: list[str],
) -> int:
    """COPY the features of one layer version inside the session's transaction; return rows."""
    n = len(geoms)
    hex_wkb = shapely.to_wkb(shapely.set_srid(geoms, srid), hex=True, include_srid=True)
    vid = str(version_id)
    cols = [
        _copy_text(properties),
        _copy_text(list(class_code)),
        _copy_text(list(class_raw)),
        list(class_status),
    ]
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy(queries.COPY_FEATURES) as copy:
        buf: list[str] = []
        size = 0
        for i in range(n):
            line = "\t".join(
                (vid, str(i + 1), cols[1][i], cols[2][i], cols[3][i], cols[0][i], hex_wkb[i])
            )
            buf.append(line)
            size += len(line)
            if size >= CHUNK:
                copy.write("\n".join(buf) + "\n")
                buf, size = [], 0
        if buf:
            copy.write("\n".join(buf) + "\n")
    return n
