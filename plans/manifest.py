"""Load a whole plan set described by a YAML manifest (plans, their layers, the files to load).

Used for the demo data and for a city's first bulk import. Each layer is one transaction: a bad
file is reported and nothing of it is stored; layers already loaded from the same file (same
sha256) are skipped, so running it twice does not add versions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, select

from gis_platform.core.db import session_scope
from gis_platform.core.errors import InputError, PlatformError
from gis_platform.core.settings import Settings
from layers.overlaps import check_after_load
from layers.readers import source_sha256

from .ingest import IngestRequest, ingest
from .models import Layer, LayerVersion, Plan
from .service import create_plan


@dataclass
class ManifestOutcome:
    """What happened to one manifest entry."""

    ref: str
    status: str  # loaded / skipped / failed
    version: int | None = None
    features: int | None = None
    message: str | None = None


def read_manifest(path: Path) -> dict[str, Any]:
    """Parse and minimally check a manifest."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"无法读取清单：{exc}", f"cannot read the manifest: {exc}", file=path.name) from None
    if not isinstance(data, dict) or not isinstance(data.get("plans"), list):
        raise InputError("清单缺少 plans 列表", "the manifest has no 'plans' list", file=path.name)
    return data


def _date(v: object) -> dt.date | None:
    if v is None or isinstance(v, dt.date):
        return v  # type: ignore[return-value]
    return dt.date.fromisoformat(str(v))


def load_manifest(
    engine: Engine,
    settings: Settings,
    manifest: Path,
    data_dir: Path,
    progress: Callable[[ManifestOutcome], None] | None = None,
) -> list[ManifestOutcome]:
    """Create the manifest's plans and load each layer file from ``data_dir``."""
    data = read_manifest(manifest)
    outcomes: list[ManifestOutcome] = []
    for p in data["plans"]:
        with session_scope(engine) as session:
            if session.execute(select(Plan).where(Plan.code == p["code"])).scalar_one_or_none() is None:
                create_plan(
                    session, code=p["code"], name=p["name"], kind=p["kind"],
                    authority=p.get("authority"), status=p.get("status", "active"),
                    approved_on=_date(p.get("approved_on")), description=p.get("description"),
                )
        for lyr in p.get("layers", []):
            ref = f"{p['code']}/{lyr['name']}"
            path = data_dir / lyr["file"]
            outcome = ManifestOutcome(ref, "failed")
            try:
                sha = source_sha256(path) if path.exists() else None
                with session_scope(engine) as session:
                    done = session.execute(
                        select(LayerVersion.version)
                        .join(Layer, LayerVersion.layer_id == Layer.id)
                        .join(Plan, Layer.plan_id == Plan.id)
                        .where(Plan.code == p["code"], Layer.name == lyr["name"],
                               LayerVersion.source_sha256 == sha)
                    ).scalar_one_or_none()
                    if done is not None:
                        outcome = ManifestOutcome(ref, "skipped", done, message="same file already loaded")
                    else:
                        v = ingest(session, settings, IngestRequest(
                            path=path, plan=p["code"], layer=lyr["name"],
                            class_field=lyr.get("class_field"), scheme=lyr.get("scheme"),
                            theme=lyr.get("theme"), title=lyr.get("title"), crs=lyr.get("crs"),
                            encoding=lyr.get("encoding"), source_layer=lyr.get("source_layer"),
                            geometry=lyr.get("geometry", "polygon"), coverage=lyr.get("coverage"),
                        ))
                        outcome = ManifestOutcome(ref, "loaded", v.version, v.feature_count)
                        loaded_id = v.id
                if outcome.status == "loaded":  # its internal overlaps, once it is stored
                    check_after_load(engine, loaded_id, settings.store_srid)
            except PlatformError as exc:
                outcome = ManifestOutcome(ref, "failed", message=exc.message(settings.lang))
            outcomes.append(outcome)
            if progress:
                progress(outcome)
    return outcomes
