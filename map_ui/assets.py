"""Front-end assets served by the platform itself (pages never load anything from outside).

Third-party packages (Leaflet, Leaflet.VectorGrid) come from the npm registry through the
committed ``package.json`` + ``package-lock.json`` and are installed by ``npm ci`` into
``node_modules/``; only their ``dist/`` folders are served, under ``/assets/vendor/<package>/``.
Our own scripts and styles live in ``map_ui/static/`` and are served under ``/assets/ui/``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
REPO_DIR = HERE.parent
VENDOR_PREFIX = "/assets/vendor"
UI_PREFIX = "/assets/ui"

# Files each page needs, as (package, path inside the package).
LEAFLET_CSS = ("leaflet", "dist/leaflet.css")
LEAFLET_JS = ("leaflet", "dist/leaflet.js")
VECTORGRID_JS = ("leaflet.vectorgrid", "dist/Leaflet.VectorGrid.bundled.min.js")
REQUIRED = (LEAFLET_CSS, LEAFLET_JS, VECTORGRID_JS)


@lru_cache(maxsize=1)
def vendor_packages() -> frozenset[str]:
    """The packages ``package.json`` declares: the only ones ever served."""
    try:
        data = json.loads((REPO_DIR / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return frozenset(p for p, _ in REQUIRED)
    return frozenset(data.get("dependencies") or {})


def node_modules(configured: Path | None = None) -> Path:
    """The ``node_modules`` directory (the setting, else the repository's)."""
    return (configured or REPO_DIR / "node_modules").expanduser().resolve()


def _inside(base: Path, rel: str) -> Path | None:
    """``base/rel`` when it is an existing file inside ``base`` (no ``..``, no absolute paths)."""
    if not rel or rel.startswith("/") or "\\" in rel or "\x00" in rel:
        return None
    try:
        path = (base / rel).resolve()
        path.relative_to(base)
        return path if path.is_file() else None
    except (ValueError, OSError):  # outside base; or a name the file system refuses (too long…)
        return None


def vendor_file(package: str, rel: str, configured: Path | None = None) -> Path | None:
    """A file of an installed package's ``dist/`` folder, or None."""
    if package not in vendor_packages() or not rel.startswith("dist/"):
        return None
    dist = node_modules(configured) / package / "dist"
    if not dist.is_dir():
        return None
    return _inside(dist.resolve(), rel[len("dist/"):])


def ui_file(rel: str) -> Path | None:
    """A file of ``map_ui/static``, or None."""
    return _inside(STATIC_DIR.resolve(), rel)


def missing(configured: Path | None = None) -> list[str]:
    """Required vendor files that are not installed (empty when ``npm ci`` has run)."""
    return [f"{p}/{r}" for p, r in REQUIRED if vendor_file(p, r, configured) is None]


def vendor_url(item: tuple[str, str]) -> str:
    """The URL of a vendor file."""
    return f"{VENDOR_PREFIX}/{item[0]}/{item[1]}"


def page_assets() -> dict[str, str]:
    """URLs every map page includes."""
    return {"leaflet_css": vendor_url(LEAFLET_CSS), "leaflet_js": vendor_url(LEAFLET_JS),
            "vectorgrid_js": vendor_url(VECTORGRID_JS), "ui_css": f"{UI_PREFIX}/ui.css",
            "map_js": f"{UI_PREFIX}/onemap.js", "site_js": f"{UI_PREFIX}/sitemap.js"}
