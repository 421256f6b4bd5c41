"""Bulk load of features into the shared feature table through PostgreSQL COPY.

Each version gets its own partition of ``features``: a fresh table is filled by COPY with no
index to maintain, then its GiST index is built once and it is attached. Rows are sent chunk
by chunk while the caller prepares the next chunk, so the client's work overlaps the server's.
All of it runs in the caller's transaction, so a failure leaves nothing behind.
"""

from __future__ import annotations

from types import TracebackType

import numpy as np
import pandas as pd
import shapely
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy.orm import Session

from .queries import partition_sql

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


def _flat_scalars(attrs: pd.DataFrame) -> bool:
    """True when every value is a scalar, so each record dumps as one flat JSON object."""
    for col in attrs.columns:
        series = attrs[col]
        if series.dtype == object:
            kind = pd.api.types.infer_dtype(series, skipna=True)
            if kind not in ("string", "empty", "integer", "floating", "boolean", "mixed-integer-float"):
                return False
    return True


def properties_json(attrs: pd.DataFrame, *, escape_for_copy: bool = False) -> list[str]:
    """One JSON object per row (attribute names and values are data, never SQL).

    With ``escape_for_copy`` the backslashes are doubled for COPY's text format (JSON text never
    holds raw tabs or newlines, so nothing else needs escaping).
    """
    n = len(attrs)
    if attrs.shape[1] == 0:
        return ["{}"] * n
    attrs = attrs.copy()
    attrs.columns = [str(c) for c in attrs.columns]
    if n and _flat_scalars(attrs):
        # One C-level dump of the whole array, split between records. Each boundary is one
        # '},{'; when the text holds exactly n-1 of them, no value contains one.
        text = attrs.to_json(orient="records", force_ascii=False, date_format="iso")
        if escape_for_copy and "\\" in text:
            text = text.replace("\\", "\\\\")
        body = text[2:-2]
        if body.count("},{") == n - 1:
            parts = body.split("},{")
            return ["{" + part + "}" for part in parts]
    text = attrs.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return _escape_json(lines) if escape_for_copy else lines


class PartitionWriter:
    """COPY the features of one new version into its own partition, chunk by chunk.

    Use as a context manager; leaving it with an exception aborts the COPY (the caller's
    transaction then rolls back the partition too). After a clean exit the GiST index exists;
    call :meth:`attach` once the ``layer_versions`` row has been inserted.
    """

    def __init__(self, session: Session, version_id: int, srid: int) -> None:
        self.session = session
        self.version_id = int(version_id)
        self.srid_hex = int(srid).to_bytes(4, "little").hex()
        self.rows = 0
        self._cursor = None
        self._copy_cm = None
        self._copy = None

    def __enter__(self) -> PartitionWriter:
        conn = self.session.connection()
        for stmt in partition_sql("create", self.version_id).split(";"):
            conn.exec_driver_sql(stmt)
        raw = conn.connection.driver_connection
        self._cursor = raw.cursor()
        self._copy_cm = self._cursor.copy(partition_sql("copy", self.version_id),
                                          writer=QueuedLibpqWriter(self._cursor))
        self._copy = self._copy_cm.__enter__()
        return self

    def write(
        self,
        geoms: np.ndarray | None,
        attrs: pd.DataFrame,
        class_code: list[str | None],
        class_raw: list[str | None],
        class_status: list[str],
        *,
        wkb: np.ndarray | None = None,
    ) -> None:
        """Send one chunk of 2D geometries (store CRS) with their attributes and classes.

        ``wkb`` may carry the geometries already as little-endian WKB without SRID
        (``shapely.to_wkb(..., byte_order=1, include_srid=False)``); ``geoms`` is then not needed.
        """
        if wkb is None:
            assert geoms is not None
            if shapely.has_z(geoms).any():
                raise ValueError("PartitionWriter expects 2D geometries (ingest drops Z explicitly)")
            wkb = shapely.to_wkb(geoms, byte_order=1, include_srid=False)
        n = len(wkb)
        # Plain little-endian WKB becomes EWKB by setting the SRID flag in the type word and
        # inserting the SRID (cheaper than shapely.set_srid on every geometry).
        sh = "20" + self.srid_hex
        # (bytes.hex per row is several times faster than shapely's hex=True output)
        geom_col = [f"{h[:8]}{sh}{h[10:]}" for h in (b.hex() for b in wkb)]
        vid = str(self.version_id)
        base = self.rows
        cols = (
            [vid] * n,
            [str(i) for i in range(base + 1, base + n + 1)],
            _escape_all(list(class_code)),
            _escape_all(list(class_raw)),
            class_status,
            properties_json(attrs, escape_for_copy=True),
            geom_col,
        )
        assert self._copy is not None
        self._copy.write("\n".join(map("\t".join, zip(*cols, strict=True))) + "\n")
        self.rows += n

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._copy_cm is not None and self._cursor is not None
        try:
            self._copy_cm.__exit__(exc_type, exc, tb)
        finally:
            self._cursor.close()
        if exc_type is None:
            conn = self.session.connection()
            for stmt in partition_sql("index", self.version_id).split(";"):
                conn.exec_driver_sql(stmt)

    def attach(self) -> None:
        """Attach the filled, indexed partition to ``features`` (its version row must exist)."""
        self.session.connection().exec_driver_sql(partition_sql("attach", self.version_id))
