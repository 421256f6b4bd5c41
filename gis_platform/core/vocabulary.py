"""Shared words of the check vocabulary, (Chinese, English), for code and for pages.

They live in core so that the analyses (conflict_checks) and the page builders (map_ui, which
must not import the analyses) use the same labels.
"""

from __future__ import annotations

from typing import Any


def label(table: dict[str, tuple[str, str]], key: Any, lang: str) -> str:
    """The word for ``key`` in ``lang`` (zh, else English); the key itself when the table lacks it."""
    pair = table.get(str(key))
    return (pair[0] if lang == "zh" else pair[1]) if pair else str(key or "—")

PROJECT_TYPES: dict[str, tuple[str, str]] = {
    "ordinary": ("一般建设项目", "ordinary project"),
    "linear_infrastructure": ("线性基础设施", "linear infrastructure"),
    "village": ("村庄建设项目", "village project"),
    "major_project": ("国家/省重大项目", "national or provincial major project"),
}
SEVERITIES: dict[str, tuple[str, str]] = {
    "forbidden": ("禁止", "forbidden"),
    "needs_approval": ("需审批", "needs approval"),
    "notice": ("提示", "notice"),
    "reference": ("仅供参考", "reference only"),
    "none": ("无", "none"),
}
STATES: dict[str, tuple[str, str]] = {
    "applies": ("涉及", "applies"),
    "does_not_apply": ("不涉及", "does not apply"),
    "no_data": ("无数据", "no data"),
}
VERDICTS: dict[str, tuple[str, str]] = {
    "pass": ("通过", "pass"),
    "conditional": ("有条件通过", "conditional"),
    "fail": ("不通过", "fail"),
}
CHECK_PARAMS: dict[str, tuple[str, str]] = {
    "sliver_min_area_m2": ("碎片最小面积（m²）", "sliver minimum area (m²)"),
    "sliver_buffer_m": ("碎片内缩缓冲（米）", "sliver inward buffer (m)"),
}
SLIVER_REASONS: dict[str, tuple[str, str]] = {
    "min_area": ("面积小于阈值", "below the minimum area"),
    "buffer": ("内缩后消失", "vanishes under the inward buffer"),
}
PARTS: dict[str, tuple[str, str]] = {
    "outside": ("边界外", "outside the boundary"),
}
