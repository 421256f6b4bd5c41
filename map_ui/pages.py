"""Render pages from plain data (never queries the store)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from map_ui.views import nav_context

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

TEXT = {
    "zh": {"title": "多规合一 一张图", "plans": "规划", "layers": "图层", "kind": "类型",
           "status": "状态", "versions": "版本", "features": "要素数", "crs": "源坐标系",
           "loaded": "载入时间", "source": "来源文件", "api": "API 文档", "none": "尚无数据",
           "switch": "English"},
    "en": {"title": "Multi-plan integration — one map", "plans": "Plans", "layers": "Layers",
           "kind": "Kind", "status": "Status", "versions": "Versions", "features": "Features",
           "crs": "Source CRS", "loaded": "Loaded", "source": "Source file", "api": "API docs",
           "none": "no data yet", "switch": "中文"},
}


def render_home(plans: list[dict[str, Any]], layers: list[dict[str, Any]], *, city: str, lang: str = "zh",
                role: str | None = None) -> str:
    """The catalogue page."""
    return _ENV.get_template("home.html").render(
        plans=plans, layers=layers, lang=lang, t=TEXT[lang], **nav_context(lang, "/", city, role=role),
    )
