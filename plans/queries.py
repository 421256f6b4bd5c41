"""SQL of the catalogue (reads). Writes go through the ORM in ``service.py``/``ingest.py``."""

from __future__ import annotations

from sqlalchemy import Select, func, select, text

from .models import ClassCode, ClassScheme, CodeMapping, Layer, LayerVersion, Plan


def plans_select() -> Select:
    """All plans, newest first within kind."""
    return select(Plan).order_by(Plan.kind, Plan.code)


def plan_by_code(code: str) -> Select:
    """One plan by its code."""
    return select(Plan).where(Plan.code == code)


def layers_select(plan_code: str | None = None) -> Select:
    """Layers with their plan, optionally of one plan."""
    q = select(Layer, Plan).join(Plan, Layer.plan_id == Plan.id).order_by(Plan.code, Layer.name)
    if plan_code is not None:
        q = q.where(Plan.code == plan_code)
    return q


def layer_by_names(plan_code: str, layer_name: str) -> Select:
    """One layer by plan code and layer name."""
    return (
        select(Layer)
        .join(Plan, Layer.plan_id == Plan.id)
        .where(Plan.code == plan_code, Layer.name == layer_name)
    )


def layers_named(layer_name: str) -> Select:
    """Layers of any plan with this name (to resolve an unqualified name)."""
    return select(Layer, Plan).join(Plan, Layer.plan_id == Plan.id).where(Layer.name == layer_name)


def lock_layer(layer_id: int) -> Select:
    """Lock a layer row so concurrent loads number their versions one after another."""
    return select(Layer.id).where(Layer.id == layer_id).with_for_update()


def next_version(layer_id: int) -> Select:
    """The next version number of a layer."""
    return select(func.coalesce(func.max(LayerVersion.version), 0) + 1).where(
        LayerVersion.layer_id == layer_id
    )


def new_version_id() -> Select:
    """Reserve the id of a layer version before its features are written."""
    return select(func.nextval(func.pg_get_serial_sequence("layer_versions", "id")))


def versions_of(layer_id: int) -> Select:
    """All versions of a layer, oldest first."""
    return select(LayerVersion).where(LayerVersion.layer_id == layer_id).order_by(LayerVersion.version)


def version_of(layer_id: int, version: int | None) -> Select:
    """One version (the newest when ``version`` is None)."""
    q = select(LayerVersion).where(LayerVersion.layer_id == layer_id)
    if version is None:
        return q.order_by(LayerVersion.version.desc()).limit(1)
    return q.where(LayerVersion.version == version)


def scheme_list() -> Select:
    """Codes of every classification scheme."""
    return select(ClassScheme.code).order_by(ClassScheme.code)


def scheme_codes(scheme: str) -> Select:
    """Codes of one classification scheme."""
    return select(ClassCode.code).where(ClassCode.scheme == scheme)


def scheme_mappings(scheme: str) -> Select:
    """Local-code mappings of one scheme."""
    return select(CodeMapping.local_code, CodeMapping.standard_code).where(CodeMapping.scheme == scheme)


STORE_META_GET = text("SELECT value FROM store_meta WHERE key = :key")
STORE_META_SET = text(
    "INSERT INTO store_meta (key, value) VALUES (:key, :value) "
    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
)
UPSERT_SCHEME = text(
    "INSERT INTO class_schemes (code, name_zh, name_en, description) "
    "VALUES (:code, :name_zh, :name_en, :description) "
    "ON CONFLICT (code) DO UPDATE SET name_zh = EXCLUDED.name_zh, name_en = EXCLUDED.name_en, "
    "description = EXCLUDED.description"
)
UPSERT_CODE = text(
    "INSERT INTO class_codes (scheme, code, name_zh, name_en, level, parent, is_construction) "
    "VALUES (:scheme, :code, :name_zh, :name_en, :level, :parent, :is_construction) "
    "ON CONFLICT (scheme, code) DO UPDATE SET name_zh = EXCLUDED.name_zh, "
    "name_en = EXCLUDED.name_en, level = EXCLUDED.level, parent = EXCLUDED.parent, "
    "is_construction = EXCLUDED.is_construction"
)
INSERT_MAPPING = text(
    "INSERT INTO code_mappings (scheme, local_code, standard_code, note) "
    "VALUES (:scheme, :local_code, :standard_code, :note) ON CONFLICT (scheme, local_code) DO NOTHING"
)
