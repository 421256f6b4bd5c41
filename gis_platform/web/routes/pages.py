"""HTML pages. Data comes from the domain packages and is handed to map_ui templates."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from map_ui.pages import render_home
from plans.schemas import LayerPublic, PlanPublic
from plans.service import layer_versions, list_layers, list_plans

from ..deps import PrincipalDep, SessionDep, SettingsDep

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, settings: SettingsDep, principal: PrincipalDep) -> HTMLResponse:
    """The catalogue page: every plan and its layers with their versions."""
    lang = "en" if request.query_params.get("lang") == "en" else "zh"
    plans = [PlanPublic.of(p).model_dump(mode="json") for p in list_plans(session)]
    layers = [LayerPublic.of(lyr, p, layer_versions(session, lyr)).model_dump(mode="json")
              for lyr, p in list_layers(session)]
    return HTMLResponse(render_home(plans, layers, city=settings.city_name, lang=lang,
                                    role=principal.user.role))


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness probe."""
    return {"status": "ok"}
