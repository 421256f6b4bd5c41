"""Bulk load of features into the shared feature table through PostgreSQL binary COPY.

Each version gets its own partition of ``features``: a fresh table is filled by COPY with no
index to maintain, then its GiST index is built once and it is attached. Rows are sent chunk
by chunk while the caller prepares the next chunk, so the client's work overlaps the server's.
All of it runs in the caller's transaction, so a failure leaves nothing behind.

The rows go in PostgreSQL's binary COPY format: the server then takes each value by its length
(no scanning for delimiters and escapes) and reads the geometry as WKB bytes rather than hex,
which is about a third less work for it than the text format; attribute text needs no escaping.
"""

from __future__ import annotations

from itertools import chain
from types import TracebackType

import numpy as np
import pandas as pd
import shapely
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy.orm import Session

from .queries import partition_sql

# Binary COPY framing (PostgreSQL documentation, "COPY", binary format): the signature, a flags
# word and a header-extension length; a tuple is a 16-bit field count, then each field as a
# 32-bit length (-1: NULL) and its bytes in the type's binary form; the trailer is -1 as 16 bits.
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
COPY_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
_JSONB_OPEN = b"\x01{"  # jsonb's binary form: a version byte, then the JSON text ("{" of ours)
# The fixed start of every tuple: field count, version_id and feature_no (int4, big-endian).
_TUPLE_HEAD = np.dtype([("fields", ">i2"), ("vid_len", ">i4"), ("vid", ">i4"),
                        ("no_len", ">i4"), ("no", ">i4")])
_FIELDS = 7  # version_id, feature_no, class_code, class_raw, class_status, properties, geom
_JSON_HEAD = np.dtype([("len", ">i4"), ("open", "S2")])  # field length, version byte and "{"
_GEOM_HEAD = np.dtype([("close", "S1"), ("len", ">i4")])  # the object's "}", the WKB's length


def _pieces(records: np.ndarray) -> list[bytes]:
    """The bytes of each record of a structured array (one piece per row)."""
    data = records.tobytes()
    size = records.dtype.itemsize
    return [data[i:i + size] for i in range(0, len(data), size)]


def _text_fields(values: list[str | None]) -> list[bytes]:
    """Binary COPY fields of text values (UTF-8 with its length; NULL for None), each distinct
    value encoded once."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    fields = [len(b).to_bytes(4, "big") + b for b in (str(u).encode() for u in uniques)]
    fields.append(_NULL)  # code -1 (None) takes the last entry
    return np.asarray(fields, dtype=object)[codes].tolist()  # type: ignore[no-any-return]


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
        self._copy.write(COPY_SIGNATURE)
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
        head = np.empty(n, dtype=_TUPLE_HEAD)
        head["fields"], head["vid_len"], head["vid"], head["no_len"] = _FIELDS, 4, self.version_id, 4
        head["no"] = np.arange(self.rows + 1, self.rows + n + 1)
        json_head = np.empty(n, dtype=_JSON_HEAD)
        json_head["len"] = np.fromiter(map(len, props), dtype=np.int64, count=n) + 3
        json_head["open"] = _JSONB_OPEN
        geom_head = np.empty(n, dtype=_GEOM_HEAD)
        geom_head["close"] = b"}"
        geom_head["len"] = np.fromiter(map(len, wkb), dtype=np.int64, count=n)
        cols = (
            _pieces(head),
            _text_fields(list(class_code)),
            _text_fields(list(class_raw)),
            _text_fields(list(class_status)),
            _pieces(json_head),
            props,
            _pieces(geom_head),
            wkb,
        )
        assert self._copy is not None
        self._copy.write(b"".join(chain.from_iterable(zip(*cols))))
        self.rows += n

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._copy_cm is not None and self._cursor is not None
        try:
            if exc_type is None:
                assert self._copy is not None
                self._copy.write(COPY_TRAILER)
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
