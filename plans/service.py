"""Use cases of the catalogue: plans, layers, versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis_platform.core import audit
from gis_platform.core.errors import ConflictError, InputError, NotFoundError

from . import queries
from .models import PLAN_KINDS, PLAN_STATUSES, Layer, LayerVersion, Plan


def _check_choice(value: str, allowed: dict[str, Any], what_zh: str, what_en: str) -> None:
    if value not in allowed:
        raise InputError(
            f"{what_zh}“{value}”无效；可选：{', '.join(allowed)}",
            f"{what_en} was '{value}' but is expected to be one of: {', '.join(allowed)}",
        )


def create_plan(
    session: Session,
    *,
    code: str,
    name: str,
    kind: str,
    authority: str | None = None,
    status: str = "active",
    approved_on: dt.date | None = None,
    effective_from: dt.date | None = None,
    effective_to: dt.date | None = None,
    description: str | None = None,
    actor: str | None = None,
) -> Plan:
    """Add a plan to the catalogue; its code must be new."""
    code = code.strip()
    if not code or len(code) > 100:
        raise InputError("规划代码不能为空且不超过 100 个字符", "plan code must be 1–100 characters")
    _check_choice(kind, PLAN_KINDS, "规划类型", "kind")
    _check_choice(status, PLAN_STATUSES, "状态", "status")
    if session.execute(queries.plan_by_code(code)).scalar_one_or_none() is not None:
        raise ConflictError(f"规划代码“{code}”已存在", f"plan code '{code}' already exists")
    plan = Plan(
        code=code, name=name, kind=kind, authority=authority, status=status,
        approved_on=approved_on, effective_from=effective_from, effective_to=effective_to,
        description=description, created_by=actor or audit.current_actor(),
    )
    session.add(plan)
    try:
        session.flush()
    except IntegrityError:
        raise ConflictError(f"规划代码“{code}”已存在", f"plan code '{code}' already exists") from None
    audit.record(session, "plan.create", code, actor=actor, kind=kind, status=status)
    return plan


def list_plans(session: Session) -> list[Plan]:
    """Every plan."""
    return list(session.execute(queries.plans_select()).scalars())


def get_plan(session: Session, code: str) -> Plan:
    """One plan by code, or a NotFoundError."""
    plan = session.execute(queries.plan_by_code(code)).scalar_one_or_none()
    if plan is None:
        raise NotFoundError(f"没有规划“{code}”", f"no plan '{code}'")
    return plan


def list_layers(session: Session, plan_code: str | None = None) -> list[tuple[Layer, Plan]]:
    """Layers with their plans."""
    return [(row[0], row[1]) for row in session.execute(queries.layers_select(plan_code))]


def resolve_layer(session: Session, ref: str) -> Layer:
    """A layer from ``PLAN/LAYER`` or, when unambiguous, ``LAYER``."""
    if "/" in ref:
        plan_code, _, name = ref.rpartition("/")
        layer = session.execute(queries.layer_by_names(plan_code, name)).scalar_one_or_none()
        if layer is None:
            raise NotFoundError(f"没有图层“{ref}”", f"no layer '{ref}'")
        return layer
    rows = list(session.execute(queries.layers_named(ref)))
    if not rows:
        raise NotFoundError(f"没有图层“{ref}”", f"no layer '{ref}'")
    if len(rows) > 1:
        options = ", ".join(f"{p.code}/{lyr.name}" for lyr, p in rows)
        raise InputError(
            f"图层名“{ref}”不唯一，请写成 规划代码/图层名：{options}",
            f"layer name '{ref}' is ambiguous; write PLAN/LAYER: {options}",
        )
    return rows[0][0]


def get_or_create_layer(
    session: Session,
    *,
    plan_code: str,
    layer_name: str,
    data_kind: str,
    class_field: str | None,
    scheme: str | None,
    theme: str | None,
    title: str | None,
    plan_kind: str | None = None,
    actor: str | None = None,
    coverage: str | None = None,
) -> Layer:
    """The layer to load into, created on first load (its plan too, when ``plan_kind`` is given).

    ``coverage`` says where the layer has data: ``features`` (wall-to-wall layers), ``extent``
    (the bounding box of each version) or ``layer:PLAN/LAYER``. Given on a later load, it
    replaces the layer's setting.
    """
    if coverage is not None:
        coverage = normalise_coverage(coverage)
    name = layer_name.strip()
    if not name or len(name) > 200:
        raise InputError("图层名不能为空且不超过 200 个字符", "layer name must be 1–200 characters")
    if scheme is not None:
        known = list(session.execute(queries.scheme_list()).scalars())
        if scheme not in known:
            raise InputError(
                f"未知的分类体系“{scheme}”；可选：{', '.join(known)}",
                f"unknown classification scheme '{scheme}'; known: {', '.join(known)}",
            )
    plan = session.execute(queries.plan_by_code(plan_code)).scalar_one_or_none()
    if plan is None:
        if plan_kind is None:
            raise NotFoundError(
                f"没有规划“{plan_code}”；请先用 gisplat plans add 登记，或加 --kind 自动创建",
                f"no plan '{plan_code}'; add it with `gisplat plans add` or pass --kind to create it",
            )
        plan = create_plan(session, code=plan_code, name=plan_code, kind=plan_kind, actor=actor)
    layer = session.execute(queries.layer_by_names(plan_code, name)).scalar_one_or_none()
    if layer is None:
        layer = Layer(
            plan_id=plan.id, name=name, title=title or name, data_kind=data_kind,
            class_field=class_field, class_scheme=scheme, theme=theme,
            coverage=coverage or default_coverage(theme),
        )
        session.add(layer)
        session.flush()
        audit.record(session, "layer.create", f"{plan_code}/{name}", actor=actor, data_kind=data_kind)
        return layer
    if layer.data_kind != data_kind:
        raise InputError(
            f"图层“{plan_code}/{name}”是{ '栅格' if layer.data_kind == 'raster' else '矢量'}图层，不能载入此类文件",
            f"layer '{plan_code}/{name}' is a {layer.data_kind} layer; this file cannot be loaded into it",
        )
    if coverage is not None and coverage != layer.coverage:
        audit.record(session, "layer.coverage", f"{plan_code}/{name}", actor=actor,
                     before=layer.coverage, after=coverage)
        layer.coverage = coverage
    return layer


# Themes whose layers cover their area wall to wall: where they have no feature, they have no data.
WALL_TO_WALL = {"current_land_use", "planned_land_use", "land_use_zone", "construction_control_zone",
                "urban_land_use", "admin_county", "coverage_area"}


def default_coverage(theme: str | None) -> str:
    """Coverage of a new layer when none is given: features for wall-to-wall themes, else extent."""
    return "features" if theme in WALL_TO_WALL else "extent"


def normalise_coverage(value: str) -> str:
    """``features``, ``extent`` or ``layer:PLAN/LAYER`` (a bare PLAN/LAYER is accepted)."""
    v = value.strip()
    if v in ("features", "extent"):
        return v
    ref = v[len("layer:"):] if v.startswith("layer:") else v
    if "/" not in ref or not ref.split("/", 1)[1]:
        raise InputError(
            f"覆盖范围“{value}”无效；应为 features、extent 或 规划代码/图层名",
            f"coverage '{value}' is not features, extent or PLAN/LAYER",
        )
    return "layer:" + ref


def layer_versions(session: Session, layer: Layer) -> list[LayerVersion]:
    """All versions of a layer, oldest first; none is ever overwritten."""
    return list(session.execute(queries.versions_of(layer.id)).scalars())


def get_version(session: Session, layer: Layer, version: int | None = None) -> LayerVersion:
    """One version of a layer (the newest when ``version`` is None)."""
    v = session.execute(queries.version_of(layer.id, version)).scalar_one_or_none()
    if v is None:
        what = f"第 {version} 版" if version else "任何版本"
        raise NotFoundError(
            f"图层“{layer.name}”没有{what}", f"layer '{layer.name}' has no version {version or ''}".strip()
        )
    return v
