"""Bulk load of features into the shared feature table through PostgreSQL COPY.

Each version gets its own partition of ``features``: a fresh table is filled by COPY with no
index to maintain, then its primary key and GiST index are built once and it is attached.
All of it runs in the caller's transaction, so a failure leaves nothing behind.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy.orm import Session

from .queries import partition_sql

ROWS_PER_WRITE = 10000
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _escape_all(values: list[str | None]) -> list[str]:
    """COPY text-format escaping, computed once per distinct value (NULL as \\N)."""
    cache: dict[str | None, str] = {}
    out = []
    for v in values:
        e = cache.get(v)
        if e is None:
            e = "\\N" if v is None else v.translate(_ESCAPES)
            cache[v] = e
        out.append(e)
    return out


def _escape_json(lines: list[str]) -> list[str]:
    """JSON lines never hold raw tabs or newlines; only backslashes need doubling."""
    return [s.replace("\\", "\\\\") if "\\" in s else s for s in lines]


def _splittable(attrs: pd.DataFrame) -> bool:
    """True when '},{' can only occur between records of the JSON array."""
    if any("},{" in c for c in attrs.columns):
        return False
    for col in attrs.columns:
        series = attrs[col]
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            values = series.dropna()
            if not all(isinstance(v, (str, int, float, bool)) for v in values.head(50)):
                return False
            if values.astype(str).str.contains("},{", regex=False).any():
                return False
    return True


def properties_json(attrs: pd.DataFrame) -> list[str]:
    """One JSON object per row (attribute names and values are data, never SQL)."""
    n = len(attrs)
    if attrs.shape[1] == 0:
        return ["{}"] * n
    attrs = attrs.copy()
    attrs.columns = [str(c) for c in attrs.columns]
    if n and _splittable(attrs):
        # One C-level dump of the whole array, split between records: much faster than
        # pandas' lines=True post-processing.
        text = attrs.to_json(orient="records", force_ascii=False, date_format="iso")
        body = text[2:-2]
        lines = ["{" + part + "}" for part in body.split("},{")] if body else ["{}"] * n
        if len(lines) == n:
            return lines
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
    attrs: pd.DataFrame,
    class_code: list[str | None],
    class_raw: list[str | None],
    class_status: list[str],
) -> int:
    """Load the features of one version into a new partition; return the row count."""
    n = len(geoms)
    # Plain little-endian WKB, turned into EWKB hex per row by setting the SRID flag in the
    # type word and inserting the SRID (cheaper than shapely.set_srid on every geometry).
    if shapely.has_z(geoms).any():
        raise ValueError("copy_features expects 2D geometries (ingest drops Z explicitly)")
    wkb = shapely.to_wkb(geoms, byte_order=1, include_srid=False)
    srid_hex = int(srid).to_bytes(4, "little").hex()
    code = _escape_all(list(class_code))
    raw_ = _escape_all(list(class_raw))
    vid = int(version_id)
    conn = session.connection()
    for stmt in partition_sql("create", vid).split(";"):
        conn.exec_driver_sql(stmt)
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy(partition_sql("copy", vid), writer=QueuedLibpqWriter(cur)) as copy:
            # Attributes are turned into JSON chunk by chunk, so the client's work overlaps the
            # server parsing the previous chunk (the queued writer sends from another thread).
            for start in range(0, n, ROWS_PER_WRITE):
                stop = min(start + ROWS_PER_WRITE, n)
                props = _escape_json(properties_json(attrs.iloc[start:stop]))
                rows = []
                for i in range(start, stop):
                    h = wkb[i].hex()
                    rows.append(f"{vid}\t{i + 1}\t{code[i]}\t{raw_[i]}\t{class_status[i]}\t"
                                f"{props[i - start]}\t{h[:8]}20{srid_hex}{h[10:]}\n")
                chunk = "".join(rows)
                copy.write(chunk)
    for stmt in partition_sql("index", vid).split(";"):
        conn.exec_driver_sql(stmt)
    conn.exec_driver_sql(partition_sql("attach", vid))
    return n
