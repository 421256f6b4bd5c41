"""A self-contained inline SVG location map of a site and the layers around it.

Plain data in (GeoJSON geometry dicts in a projected metric CRS, x = easting, y = northing),
SVG text out. No external requests, no scripts: the map prints as well as it displays.
"""

from __future__ import annotations

import hashlib
import json
from html import escape
from typing import Any, Iterator

Ring = list[tuple[float, float]]
Polygon = list[Ring]

SEVERITY_COLOURS: dict[str, str] = {
    "forbidden": "#d7301f",
    "needs_approval": "#fc8d59",
    "notice": "#fee08b",
    "reference": "#bdbdbd",
    "none": "#9ecae1",
}
# Drawing order: the most severe on top.
_ORDER = ["none", "reference", "notice", "needs_approval", "forbidden"]
_LABELS: dict[str, dict[str, str]] = {
    "zh": {"forbidden": "禁止", "needs_approval": "需审批", "notice": "提示", "reference": "仅供参考",
           "none": "无限制", "site": "用地红线", "empty": "无可绘制的用地范围", "map": "用地位置示意图"},
    "en": {"forbidden": "forbidden", "needs_approval": "needs approval", "notice": "notice",
           "reference": "reference only", "none": "no restriction", "site": "Site boundary",
           "empty": "no site geometry to draw", "map": "Site location map"},
}
_FONT = "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei',sans-serif"
_MARGIN = 0.15


def iter_polygons(geometry: dict[str, Any] | None) -> Iterator[Polygon]:
    """Yield each polygon part (outer ring first, then holes) of a GeoJSON geometry.

    Polygons, MultiPolygons and GeometryCollections (recursively) are read; Features are unwrapped;
    points, lines and rings with fewer than three positions are ignored.
    """
    if not isinstance(geometry, dict):
        return
    kind = geometry.get("type")
    if kind == "Feature":
        yield from iter_polygons(geometry.get("geometry"))
    elif kind == "GeometryCollection":
        for part in geometry.get("geometries") or []:
            yield from iter_polygons(part)
    elif kind == "Polygon":
        poly = _polygon(geometry.get("coordinates") or [])
        if poly:
            yield poly
    elif kind == "MultiPolygon":
        for coords in geometry.get("coordinates") or []:
            poly = _polygon(coords or [])
            if poly:
                yield poly


def _polygon(coords: list[Any]) -> Polygon:
    rings = [[(float(p[0]), float(p[1])) for p in ring] for ring in coords if ring and len(ring) >= 3]
    return rings if rings and len(coords[0] or []) >= 3 else []


def _bounds(polys: list[Polygon]) -> tuple[float, float, float, float] | None:
    xs = [x for poly in polys for x, _ in poly[0]]
    ys = [y for poly in polys for _, y in poly[0]]
    if not xs:
        return None
    return min(xs), min(ys), max(xs), max(ys)


def _nice_length(target_m: float) -> float:
    """The largest 1/2/5 × 10^k metres not above ``target_m``."""
    best = 1.0
    for k in range(-1, 8):
        for m in (1, 2, 5):
            value = m * 10.0**k
            if value <= target_m:
                best = value
    return best


def _length_label(metres: float) -> str:
    if metres >= 1000:
        return f"{metres / 1000:g} km"
    return f"{metres:g} m"


class _View:
    """World (metres) to SVG pixel transform fitted to a bounding box, y axis flipped."""

    def __init__(self, bounds: tuple[float, float, float, float], width: int, height: int) -> None:
        minx, miny, maxx, maxy = bounds
        span = max(maxx - minx, maxy - miny, 1.0)
        dx = max(maxx - minx, 1.0) + 2 * _MARGIN * span
        dy = max(maxy - miny, 1.0) + 2 * _MARGIN * span
        self.scale = min(width / dx, height / dy)
        self.cx, self.cy = (minx + maxx) / 2, (miny + maxy) / 2
        self.w, self.h = width, height
        half_w, half_h = width / 2 / self.scale, height / 2 / self.scale
        self.box = (self.cx - half_w, self.cy - half_h, self.cx + half_w, self.cy + half_h)

    def path(self, poly: Polygon) -> str:
        parts = []
        for ring in poly:
            pts = [f"{self.w / 2 + (x - self.cx) * self.scale:.1f} "
                   f"{self.h / 2 - (y - self.cy) * self.scale:.1f}" for x, y in ring]
            parts.append("M" + " L".join(pts) + " Z")
        return " ".join(parts)

    def visible(self, poly: Polygon) -> bool:
        b = _bounds([poly])
        if b is None:
            return False
        minx, miny, maxx, maxy = self.box
        return not (b[2] < minx or b[0] > maxx or b[3] < miny or b[1] > maxy)


def _scale_bar(view: _View) -> str:
    metres = _nice_length(view.w * 0.22 / view.scale)
    px = metres * view.scale
    x0, y0 = 14.0, view.h - 22.0
    half = px / 2
    return (
        f'<g class="scale-bar" font-family="{_FONT}" font-size="11" fill="#222">'
        f'<rect x="{x0 - 6:.1f}" y="{y0 - 16:.1f}" width="{px + 52:.1f}" height="32" fill="#fff" '
        f'fill-opacity="0.85"/>'
        f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{half:.1f}" height="5" fill="#222" stroke="#222"/>'
        f'<rect x="{x0 + half:.1f}" y="{y0:.1f}" width="{half:.1f}" height="5" fill="#fff" stroke="#222"/>'
        f'<text x="{x0:.1f}" y="{y0 - 4:.1f}" text-anchor="middle">0</text>'
        f'<text class="scale-label" x="{x0 + px:.1f}" y="{y0 - 4:.1f}" text-anchor="middle">'
        f"{_length_label(metres)}</text></g>"
    )


def _north_arrow(width: int) -> str:
    x, y = width - 30, 18
    return (
        f'<g class="north-arrow" font-family="{_FONT}" font-size="13" font-weight="bold">'
        f'<circle cx="{x}" cy="{y + 24}" r="17" fill="#fff" fill-opacity="0.85" stroke="#555"/>'
        f'<polygon points="{x},{y + 8} {x - 7},{y + 34} {x},{y + 28}" fill="#222"/>'
        f'<polygon points="{x},{y + 8} {x + 7},{y + 34} {x},{y + 28}" fill="#fff" stroke="#222"/>'
        f'<text x="{x}" y="{y + 4}" text-anchor="middle" fill="#222">N</text></g>'
    )


def _legend(present: list[str], labels: dict[str, str]) -> str:
    rows = [("site", labels["site"])] + [(s, labels[s]) for s in reversed(_ORDER) if s in present]
    width = 24 + max(len(text) * (12 if any(ord(c) > 0x2E80 for c in text) else 6.5) for _, text in rows) + 12
    out = [f'<g class="legend" font-family="{_FONT}" font-size="11" fill="#222">',
           f'<rect x="8" y="8" width="{width:.0f}" height="{10 + 17 * len(rows)}" fill="#fff" '
           f'fill-opacity="0.9" stroke="#888" stroke-width="0.6"/>']
    for i, (key, text) in enumerate(rows):
        y = 14 + 17 * i
        if key == "site":
            out.append(f'<rect x="14" y="{y + 1}" width="16" height="11" fill="none" stroke="#1a1a1a" '
                       f'stroke-width="2"/>')
        else:
            out.append(f'<rect x="14" y="{y + 1}" width="16" height="11" fill="{SEVERITY_COLOURS[key]}" '
                       f'fill-opacity="0.6" stroke="#555" stroke-width="0.5"/>')
        out.append(f'<text x="36" y="{y + 10}">{escape(text)}</text>')
    out.append("</g>")
    return "".join(out)


def site_map_svg(site: dict[str, Any], overlays: list[dict[str, Any]], *, width: int = 640,
                 height: int = 480, lang: str = "zh") -> str:
    """An inline SVG location map: overlays coloured by severity, the site outline, scale, north, legend.

    ``site`` is a GeoJSON geometry in a projected metric CRS; each overlay is
    ``{"title", "severity", "geometry"}``. The view fits the site bounds with a ~15 % margin.
    Only polygonal parts are drawn (holes with fill-rule evenodd); all text is escaped.
    """
    labels = _LABELS.get(lang, _LABELS["zh"])
    site_polys = list(iter_polygons(site))
    layers = [(o, list(iter_polygons(o.get("geometry")))) for o in overlays or []]
    bounds = _bounds(site_polys) or _bounds([p for _, polys in layers for p in polys])
    key = hashlib.sha1(json.dumps(site, sort_keys=True, default=str).encode()).hexdigest()[:10]
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="site-map" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(labels["map"])}">'
            f'<title>{escape(labels["map"])}</title>'
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>')
    frame = (f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" fill="none" '
             f'stroke="#444" stroke-width="1"/></svg>')
    if bounds is None:
        return (head + f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-family="{_FONT}" '
                f'font-size="14" fill="#666">{escape(labels["empty"])}</text>' + frame)
    view = _View(bounds, width, height)
    body = [f'<defs><clipPath id="clip-{key}"><rect x="0" y="0" width="{width}" height="{height}"/>'
            f"</clipPath></defs>", f'<g clip-path="url(#clip-{key})">']
    present: list[str] = []
    ranked = sorted(layers, key=lambda item: _rank(item[0].get("severity")))
    for overlay, polys in ranked:
        sev = overlay.get("severity") if overlay.get("severity") in SEVERITY_COLOURS else "none"
        colour = SEVERITY_COLOURS[sev]
        title = escape(str(overlay.get("title") or ""))
        for poly in polys:
            if not view.visible(poly):
                continue
            if sev not in present:
                present.append(sev)
            body.append(f'<path class="overlay sev-{sev}" d="{view.path(poly)}" fill="{colour}" '
                        f'fill-opacity="0.55" fill-rule="evenodd" stroke="{colour}" stroke-width="0.8">'
                        f"<title>{title}</title></path>")
    for poly in site_polys:
        body.append(f'<path class="site" d="{view.path(poly)}" fill="none" fill-rule="evenodd" '
                    f'stroke="#1a1a1a" stroke-width="2.6" stroke-linejoin="round"/>')
    body.append("</g>")
    return head + "".join(body) + _legend(present, labels) + _north_arrow(width) + _scale_bar(view) + frame


def _rank(severity: Any) -> int:
    return _ORDER.index(severity) if severity in _ORDER else 0


__all__ = ["SEVERITY_COLOURS", "iter_polygons", "site_map_svg"]
