"""Classification code tables: seeding from the CSV files in ``code_tables/`` and classifying
source values into a scheme's codes, with an explicit "unmapped" bucket."""

from __future__ import annotations

import csv
import hashlib
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gis_platform.core.errors import InputError

from . import queries

TABLE_DIR = Path(__file__).resolve().parent / "code_tables"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def seed_digest() -> str:
    """sha256 over every seed CSV, so seeding runs only when the files change."""
    h = hashlib.sha256()
    for p in sorted(TABLE_DIR.glob("*.csv")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def seed_code_tables(session: Session) -> bool:
    """Upsert schemes and codes, insert new mappings; return False when already current."""
    digest = seed_digest()
    current = session.execute(queries.STORE_META_GET, {"key": "code_tables_sha256"}).scalar()
    if current == digest:
        return False
    schemes = _rows(TABLE_DIR / "schemes.csv")
    for s in schemes:
        session.execute(queries.UPSERT_SCHEME, {**s, "description": s.get("description") or None})
    for s in schemes:
        path = TABLE_DIR / f"{s['code']}.csv"
        rows = [
            {
                "scheme": s["code"],
                "code": r["code"].strip(),
                "name_zh": r["name_zh"],
                "name_en": r.get("name_en") or None,
                "level": int(r["level"]),
                "parent": r.get("parent") or None,
                "is_construction": {"true": True, "false": False}.get(
                    (r.get("is_construction") or "").strip().lower()
                ),
            }
            for r in _rows(path)
        ]
        if rows:
            session.execute(queries.UPSERT_CODE, rows)
    maps = TABLE_DIR / "local_mappings.csv"
    if maps.exists():
        rows = [
            {
                "scheme": r["scheme"],
                "local_code": r["local_code"],
                "standard_code": r.get("standard_code") or None,
                "note": r.get("note") or None,
            }
            for r in _rows(maps)
        ]
        if rows:
            session.execute(queries.INSERT_MAPPING, rows)
    session.execute(queries.STORE_META_SET, {"key": "code_tables_sha256", "value": digest})
    return True


def normalize_code(value: object) -> str | None:
    """Canonical text of a class value: NFKC (full-width → half-width), trimmed, upper-case."""
    if value is None:
        return None
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        if value.is_integer():
            value = int(value)
    text = unicodedata.normalize("NFKC", str(value)).strip().upper()
    return text or None


@dataclass
class Classified:
    """Per-feature class results plus a summary for the load report."""

    code: list[str | None]
    raw: list[str | None]
    status: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    unmapped: dict[str, int] = field(default_factory=dict)
    mapped: dict[str, dict[str, str]] = field(default_factory=dict)

    def merge(self, other: Classified) -> None:
        """Add another chunk's summary to this one (per-feature lists are not kept)."""
        for k, v in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v
        for k, v in other.unmapped.items():
            self.unmapped[k] = self.unmapped.get(k, 0) + v
        self.mapped.update(other.mapped)

    def report(self) -> dict[str, object]:
        """JSON summary: counts per status, unmapped values with counts, how values were mapped."""
        return {"counts": self.counts, "unmapped": self.unmapped, "mapped": self.mapped}


class Classifier:
    """Maps source values to a scheme's codes: standard, mapped (local table or normalisation),
    or unmapped. Never drops a feature."""

    def __init__(self, session: Session, scheme: str) -> None:
        self.scheme = scheme
        self.codes = set(session.execute(queries.scheme_codes(scheme)).scalars())
        if not self.codes:
            raise InputError(
                f"未知的分类体系“{scheme}”", f"unknown classification scheme '{scheme}'"
            )
        self.mappings: dict[str, str | None] = {}
        for local, standard in session.execute(queries.scheme_mappings(scheme)):
            self.mappings[local] = standard
            norm = normalize_code(local)
            if norm is not None:
                self.mappings.setdefault(norm, standard)
        self._padded = {c.zfill(w): c for c in self.codes for w in (2, 4, 6) if c.isdigit()}

    def one(self, value: object) -> tuple[str | None, str | None, str, str | None]:
        """(code, raw, status, how) for one source value."""
        if value is None or (isinstance(value, float) and value != value):
            return None, None, "unmapped", None
        raw = str(value)
        if isinstance(value, float) and value.is_integer():
            raw = str(int(value))
        if raw in self.codes:
            return raw, raw, "standard", None
        norm = normalize_code(value)
        if norm is None:
            return None, raw, "unmapped", None
        if norm in self.codes:
            return norm, raw, "mapped", "normalised"
        for key in (raw, norm):
            if key in self.mappings:
                target = self.mappings[key]
                return (target, raw, "mapped", "table") if target else (None, raw, "unmapped", None)
        if norm.isdigit():
            for width in (2, 4, 6):
                padded = norm.zfill(width)
                if padded in self.codes and padded != norm:
                    return padded, raw, "mapped", "zero-padded"
        return None, raw, "unmapped", None

    def classify(self, values: list[object]) -> Classified:
        """Classify every value; the summary lists each unmapped value and how many features.

        Each distinct value is classified once (keyed by type and value, so 103 and "103" stay
        apart); the per-feature lists are then filled from that table.
        """
        if all(type(v) is str for v in values):
            # The common case, text codes: one hash per value, no (type, value) keys.
            keys: list[Any] = values
            lookup = self.one
        else:
            keys = [(type(v), v) if v is not None and v == v else None for v in values]

            def lookup(key: Any) -> tuple[str | None, str | None, str, str | None]:
                return self.one(None if key is None else key[1])
        table: dict[Any, tuple[str | None, str | None, str, str | None, int]] = {}
        for key, n in Counter(keys).items():
            table[key] = lookup(key) + (n,)
        codes_of = {k: r[0] for k, r in table.items()}
        raws_of = {k: r[1] for k, r in table.items()}
        status_of = {k: r[2] for k, r in table.items()}
        codes = list(map(codes_of.__getitem__, keys))
        raws = list(map(raws_of.__getitem__, keys))
        statuses = list(map(status_of.__getitem__, keys))
        counts: Counter[str] = Counter()
        unmapped: Counter[str] = Counter()
        mapped: dict[str, dict[str, str]] = {}
        for code, raw, status, how, n in table.values():  # type: ignore[misc]
            counts[status] += n
            if status == "unmapped":
                unmapped[raw if raw is not None else "(空值/empty)"] += n
            elif how and raw is not None and code is not None:
                mapped[raw] = {"code": code, "how": how}
        return Classified(codes, raws, statuses, dict(counts), dict(unmapped), mapped)


def unclassified(n: int) -> Classified:
    """Results for a layer without a class field."""
    return Classified([None] * n, [None] * n, ["none"] * n, {"none": n})
