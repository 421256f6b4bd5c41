"""Bulk load of features into the shared feature table through PostgreSQL binary COPY.

Each version gets its own partition of ``features``: a fresh table is filled by COPY with no
index to maintain, then its GiST index is built once and it is attached. Rows are sent chunk
by chunk while the caller prepares the next chunk, so the client's work overlaps the server's.
All of it runs in the caller's transaction, so a failure leaves nothing behind.

The rows go in PostgreSQL's binary COPY format: the server then takes each value by its length
(no scanning for delimiters and escapes) and reads the geometry as WKB bytes rather than hex,
which is about a third less work for it than the text format; attribute text needs no escaping
(the framing is in :mod:`gis_platform.core.pgcopy`).
"""

from __future__ import annotations

from types import TracebackType

import numpy as np
import pandas as pd
import shapely
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy.orm import Session

from gis_platform.core import pgcopy

from .queries import partition_sql

_JSONB_OPEN = b"\x01{"  # jsonb's binary form: a version byte, then the JSON text ("{" of ours)
_FIELDS = 7  # version_id, feature_no, class_code, class_raw, class_status, properties, geom
_JSON_HEAD = np.dtype([("len", ">i4"), ("open", "S2")])  # field length, version byte and "{"
_GEOM_HEAD = np.dtype([("close", "S1"), ("len", ">i4")])  # the object's "}", the WKB's length


def _flat_scalars(attrs: pd.DataFrame) -> bool:
    """True when every value is a scalar, so each record dumps as one flat JSON object."""
    for col in attrs.columns:
        series = attrs[col]
        if series.dtype == object:
            kind = pd.api.types.infer_dtype(series, skipna=True)
            if kind not in ("string", "empty", "integer", "floating", "boolean", "mixed-integer-float"):
                return False
    return True


def properties_bodies(attrs: pd.DataFrame) -> list[bytes]:
    """Each row's attributes as a JSON object without its outer braces, UTF-8 encoded
    (attribute names and values are data, never SQL)."""
    n = len(attrs)
    if attrs.shape[1] == 0:
        return [b""] * n
    attrs = attrs.copy()
    attrs.columns = [str(c) for c in attrs.columns]
    if n and _flat_scalars(attrs):
        # One C-level dump of the whole array, split between records. Each boundary is one
        # '},{'; when the text holds exactly n-1 of them, no value contains one.
        body = attrs.to_json(orient="records", force_ascii=False, date_format="iso").encode()[2:-2]
        if body.count(b"},{") == n - 1:
            return body.split(b"},{")
    text = attrs.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.encode()[1:-1] for line in lines]


class PartitionWriter:
    """COPY the features of one new version into its own partition, chunk by chunk.

    Use as a context manager; leaving it with an exception aborts the COPY (the caller's
    transaction then rolls back the partition too). After a clean exit the GiST index exists;
    call :meth:`attach` once the ``layer_versions`` row has been inserted.
    """

    def __init__(self, session: Session, version_id: int, srid: int) -> None:
        self.session = session
        self.version_id = int(version_id)
        self.srid = int(srid)  # the partition's geometry column carries it (type modifier)
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
        self._copy.write(pgcopy.SIGNATURE)
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
        if not (len(class_code) == len(class_raw) == len(class_status) == len(attrs) == n):
            raise ValueError("PartitionWriter.write: columns of different lengths")
        props = properties_bodies(attrs)
        if len(props) != n:
            raise ValueError("PartitionWriter.write: one JSON object per row expected")
        # The fixed-size parts of every tuple, built as arrays and cut into per-row pieces:
        # field count, version_id and feature_no; the jsonb length, version byte and "{"; the
        # object's "}" and the geometry's length. The geometry goes as plain WKB: the column's
        # type modifier gives it the store SRID.
        json_head = np.empty(n, dtype=_JSON_HEAD)
        json_head["len"] = np.fromiter(map(len, props), dtype=np.int64, count=n) + 3
        json_head["open"] = _JSONB_OPEN
        geom_head = np.empty(n, dtype=_GEOM_HEAD)
        geom_head["close"] = b"}"
        geom_head["len"] = np.fromiter(map(len, wkb), dtype=np.int64, count=n)
        numbers = np.arange(self.rows + 1, self.rows + n + 1)
        assert self._copy is not None
        self._copy.write(pgcopy.rows(
            pgcopy.fixed(_FIELDS, [("int4", np.full(n, self.version_id)), ("int4", numbers)]),
            pgcopy.text(list(class_code)),
            pgcopy.text(list(class_raw)),
            pgcopy.text(list(class_status)),
            pgcopy.pieces(json_head),
            props,
            pgcopy.pieces(geom_head),
            wkb,
        ))
        self.rows += n

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._copy_cm is not None and self._cursor is not None
        try:
            if exc_type is None:
                assert self._copy is not None
                self._copy.write(pgcopy.TRAILER)
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
