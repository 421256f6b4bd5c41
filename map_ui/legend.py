"""Map colours as data: ``legend_colours.csv`` keyed by class scheme and code prefix.

First-level colours of the 2023 用地用海 classification, of GB/T 21010 and 三调, of GB 50137
(R/A/B/M/W/S/U/G/H/E), of the legacy 土地用途区 and 建设用地管制区, and outline colours of control
lines and other zone layers (scheme ``theme``, keyed by layer theme: the red line red, permanent
basic farmland green, the urban development boundary purple). A class takes the colour of its
longest matching prefix. The values follow the national colour tables as transcribed; verify them
against the standards' own tables before publishing printed maps.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path
from typing import Any

CSV = Path(__file__).resolve().parent / "legend_colours.csv"
DEFAULT_FILL = "#B0B0B0"
DEFAULT_STROKE = "#3366CC"
SCHEME_NAMES = {
    "gb2023": ("2023 用地用海分类", "2023 land and sea use classes"),
    "gbt21010": ("GB/T 21010-2017 土地利用现状", "GB/T 21010-2017 current land use"),
    "sandiao": ("三调工作分类", "3rd land survey classes"),
    "gb50137": ("GB 50137-2011 城市用地", "GB 50137-2011 urban land use"),
    "tdyt": ("土地用途区", "Land-use zones"),
    "gzq": ("建设用地管制区", "Construction control zones"),
    "theme": ("控制线与管控区", "Control lines and zones"),
}


@lru_cache(maxsize=1)
def colour_rows() -> tuple[dict[str, str], ...]:
    """Every row of the colour table."""
    with CSV.open(encoding="utf-8", newline="") as fh:
        return tuple({k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh))


def colour_table() -> dict[str, Any]:
    """The table as the map script uses it: per scheme, prefixes longest first; themes apart."""
    schemes: dict[str, list[dict[str, str]]] = {}
    themes: dict[str, dict[str, str]] = {}
    for row in colour_rows():
        entry = {"prefix": row["prefix"], "fill": row["fill"], "stroke": row["stroke"],
                 "zh": row["name_zh"], "en": row["name_en"]}
        if row["scheme"] == "theme":
            themes[row["prefix"]] = entry
        else:
            schemes.setdefault(row["scheme"], []).append(entry)
    for rows in schemes.values():
        rows.sort(key=lambda e: -len(e["prefix"]))
    return {"schemes": schemes, "themes": themes, "default_fill": DEFAULT_FILL,
            "default_stroke": DEFAULT_STROKE}


def colour_for(scheme: str | None, code: str | None) -> str:
    """The fill colour of a class code in a scheme (longest prefix), else the default."""
    for entry in colour_table()["schemes"].get(scheme or "", []):
        if code and code.startswith(entry["prefix"]):
            return entry["fill"]
    return DEFAULT_FILL


def is_outline(theme: str | None) -> bool:
    """Whether a layer of this theme is drawn as an outline (control lines and zones)."""
    return bool(theme) and theme in colour_table()["themes"]


def legend(layers: list[dict[str, Any]], lang: str = "zh") -> list[dict[str, Any]]:
    """Legend groups for the given layers: one per class scheme in use, then the outlines."""
    table = colour_table()
    idx = 0 if lang == "zh" else 1
    groups: list[dict[str, Any]] = []
    seen: set[str] = set()
    for lyr in layers:
        scheme = lyr.get("class_scheme")
        if is_outline(lyr.get("theme")) or not scheme or scheme in seen or scheme not in table["schemes"]:
            continue
        seen.add(scheme)
        entries = sorted(table["schemes"][scheme], key=lambda e: e["prefix"])
        groups.append({"title": SCHEME_NAMES.get(scheme, (scheme, scheme))[idx], "scheme": scheme,
                       "entries": [{"key": e["prefix"], "label": f"{e['prefix']} {e['zh' if idx == 0 else 'en']}",
                                    "fill": e["fill"], "stroke": e["stroke"] or None} for e in entries]})
    outlines = []
    for theme in dict.fromkeys(lyr.get("theme") for lyr in layers if is_outline(lyr.get("theme"))):
        e = table["themes"][theme]
        outlines.append({"key": theme, "label": e["zh" if idx == 0 else "en"], "fill": None, "stroke": e["stroke"]})
    if outlines:
        groups.append({"title": SCHEME_NAMES["theme"][idx], "scheme": "theme", "entries": outlines})
    return groups
