"""Platform settings, read once from ``GISPLAT_*`` environment variables (or ``.env``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Limits(BaseSettings):
    """Limits that keep a hostile or accidental upload from exhausting the server."""

    model_config = SettingsConfigDict(env_prefix="GISPLAT_LIMIT_", extra="ignore")

    max_upload_bytes: int = 512 * 1024 * 1024
    max_uncompressed_bytes: int = 2 * 1024 * 1024 * 1024
    max_compression_ratio: float = 200.0
    max_archive_members: int = 2000
    max_features: int = 2_000_000
    max_vertices_per_feature: int = 250_000
    max_total_vertices: int = 80_000_000


DEV_SECRET = "development-only-secret-do-not-use-in-production"


class Settings(BaseSettings):
    """Deployment settings. Every field can be set as ``GISPLAT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="GISPLAT_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path(".gisplat"), description="embedded cluster, rasters, uploads")
    database_url: str | None = Field(
        default=None, description="use this PostgreSQL/PostGIS server instead of the embedded one"
    )
    store_srid: int = 4523
    # Deployment extent in CGCS2000 geographic degrees (lon_min, lat_min, lon_max, lat_max).
    # Dingxi 定西市 spans about 103.9–105.2°E, 34.3–36.0°N; a few km of margin.
    extent_lonlat: tuple[float, float, float, float] = (103.3, 34.0, 105.6, 36.3)
    city_name: str = "定西市"
    lang: str = "zh"
    pg_bin_dir: Path | None = None
    limits: Limits = Field(default_factory=Limits)
    # Site pre-check: largest site accepted, and the sliver tolerance applied (and reported) to
    # overlaps: a part smaller than the minimum area, or one that vanishes under an inward
    # buffer of the given width, is kept for audit but not counted as a finding.
    check_max_site_area_m2: float = 100_000_000.0
    check_sliver_min_area_m2: float = 1.0
    check_sliver_buffer_m: float = 0.05
    # Security. ``environment = "production"`` refuses to start with the development secret or
    # without secure cookies. The secret signs session cookies (rotate it to sign everyone out).
    environment: Literal["development", "production"] = "development"
    secret_key: str = DEV_SECRET
    cookie_secure: bool = False
    session_hours: int = Field(12, ge=1, le=24 * 30)
    token_days: int = Field(90, ge=1, le=3650)
    write_rate_per_minute: int = Field(120, ge=1)
    # Seconds a signed-in caller is remembered by a server process (0: look up every request).
    # Revoking a token or signing out through the same process takes effect at once.
    auth_cache_s: float = Field(5.0, ge=0)
    # OGC API - Features: the largest page a client may ask for (larger limits are served at this).
    ogc_max_limit: int = Field(10_000, ge=1)
    # Vector tiles: bytes of encoded tiles each server process keeps in memory (an LRU keyed by
    # layer version, z/x/y and recipe; 0 disables it), and for how many seconds a layer's newest
    # version is trusted without asking the store (0: asked on every request). A load made in the
    # same process is seen at once; one made by another process (CLI, other workers) within the TTL.
    tile_cache_bytes: int = Field(256 * 1024 * 1024, ge=0)
    tile_version_ttl_s: float = Field(5.0, ge=0)
    # Map pages: the basemap under the plan layers. "none" (default) makes no request outside the
    # platform; "osm" and "tianditu" (天地图, needs a key) load tiles from those services.
    basemap: Literal["none", "osm", "tianditu"] = "none"
    tianditu_key: str | None = None
    # Where the front-end packages were installed by `npm ci` (default: node_modules beside
    # the map_ui package, i.e. in the repository).
    node_modules_dir: Path | None = None

    @property
    def home_abs(self) -> Path:
        """Absolute path of ``GISPLAT_HOME``."""
        return self.home.expanduser().resolve()

    @property
    def raster_dir(self) -> Path:
        """Where Cloud-Optimized GeoTIFFs are kept."""
        return self.home_abs / "rasters"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own ``Settings``)."""
    return Settings()


def production_problems(settings: Settings) -> list[tuple[str, str]]:
    """Why these settings must not run in production (empty when they may)."""
    if settings.environment != "production":
        return []
    out = []
    if settings.secret_key == DEV_SECRET or len(settings.secret_key) < 32:
        out.append(("GISPLAT_SECRET_KEY 仍为开发默认值或少于 32 个字符",
                    "GISPLAT_SECRET_KEY is the development default or shorter than 32 characters"))
    if not settings.cookie_secure:
        out.append(("生产环境须设置 GISPLAT_COOKIE_SECURE=true（仅经 HTTPS 发送会话 Cookie）",
                    "production needs GISPLAT_COOKIE_SECURE=true (session cookies over HTTPS only)"))
    return out
