"""JSON API of the plan catalogue: plans, layers and their versions."""

from __future__ import annotations

from fastapi import APIRouter

from plans.schemas import LayerPublic, PlanPublic
from plans.service import get_plan, layer_versions, list_layers, list_plans, resolve_layer

from ..deps import SessionDep

router = APIRouter(prefix="/api", tags=["catalogue 规划目录"])


@router.get("/plans", response_model=list[PlanPublic])
def plans_index(session: SessionDep) -> list[PlanPublic]:
    """Every plan. 所有规划。"""
    return [PlanPublic.of(p) for p in list_plans(session)]


@router.get("/plans/{code}", response_model=PlanPublic)
def plan_detail(code: str, session: SessionDep) -> PlanPublic:
    """One plan. 规划详情。"""
    return PlanPublic.of(get_plan(session, code))


@router.get("/layers", response_model=list[LayerPublic])
def layers_index(session: SessionDep, plan: str | None = None) -> list[LayerPublic]:
    """Layers with all their versions. 图层及其全部版本。"""
    return [LayerPublic.of(lyr, p, layer_versions(session, lyr)) for lyr, p in list_layers(session, plan)]


@router.get("/layers/{plan}/{layer}", response_model=LayerPublic)
def layer_detail(plan: str, layer: str, session: SessionDep) -> LayerPublic:
    """One layer with its versions. 图层详情。"""
    lyr = resolve_layer(session, f"{plan}/{layer}")
    return LayerPublic.of(lyr, lyr.plan, layer_versions(session, lyr))
