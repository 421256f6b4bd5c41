"""The per-stage package manifest and the check tolerances, read from ``manifest.yaml`` and
``tolerances.yaml`` beside this module (data, not code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from gis_platform.core.errors import InputError

HERE = Path(__file__).resolve().parent
MANIFEST_FILE = HERE / "manifest.yaml"
TOLERANCES_FILE = HERE / "tolerances.yaml"
SIDECARS = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


@dataclass(frozen=True)
class Slot:
    """A place for one kind of file in a package of one item."""

    slot: str
    kind: str
    suffixes: tuple[str, ...]
    match: tuple[str, ...] = ()
    role: str | None = None
    required: bool = False
    many: bool = False

    def takes(self, name: str) -> bool:
        """True when a file of this name fits the slot (suffix and, if any, a name word)."""
        low = name.lower()
        if not low.endswith(self.suffixes):
            return False
        return not self.match or any(w.lower() in low for w in self.match)


@dataclass(frozen=True)
class Item:
    """A survey item (勘测定界, 规划核实测量 …) and the files its package holds."""

    key: str
    stage: str
    name_zh: str
    name_en: str
    slots: tuple[Slot, ...]
    share: tuple[str, ...] = ()
    boundary: bool = False
    verification: bool = False
    publish: str | None = None

    def slot_for(self, name: str) -> Slot | None:
        """The slot a file goes to: the first whose words match, else the first without words."""
        fits = [s for s in self.slots if s.takes(name)]
        worded = [s for s in fits if s.match]
        return (worded or fits or [None])[0]


@dataclass(frozen=True)
class Manifest:
    """Stages, items and departments."""

    stages: dict[str, tuple[str, str]]
    items: dict[str, Item]
    departments: dict[str, tuple[str, str]] = field(default_factory=dict)

    def stage(self, value: str) -> str:
        """A stage key from its key or its Chinese/English name."""
        for key, names in self.stages.items():
            if value.strip() in (key, *names):
                return key
        raise InputError(f"阶段“{value}”无效；可选：{', '.join(f'{k}（{v[0]}）' for k, v in self.stages.items())}",
                         f"stage was '{value}' but is expected to be one of: {', '.join(self.stages)}")

    def item(self, value: str, stage: str | None = None) -> Item:
        """An item from its key or name; it must belong to ``stage`` when given."""
        found = next((i for i in self.items.values() if value.strip() in (i.key, i.name_zh, i.name_en)), None)
        if found is None:
            raise InputError(
                f"测绘事项“{value}”无效；可选：{', '.join(f'{i.key}（{i.name_zh}）' for i in self.items.values())}",
                f"survey item was '{value}' but is expected to be one of: {', '.join(self.items)}")
        if stage is not None and found.stage != stage:
            s = self.stages[stage]
            raise InputError(f"测绘事项“{found.name_zh}”不属于“{s[0]}”阶段（属于“{self.stages[found.stage][0]}”）",
                             f"survey item '{found.key}' does not belong to stage '{stage}' (it is a "
                             f"'{found.stage}' item)")
        return found

    def department(self, value: str) -> str:
        """A department key from its key or name."""
        for key, names in self.departments.items():
            if value.strip() in (key, *names):
                return key
        raise InputError(
            f"部门“{value}”无效；可选：{', '.join(f'{k}（{v[0]}）' for k, v in self.departments.items())}",
            f"department was '{value}' but is expected to be one of: {', '.join(self.departments)}")


def _flatten(slots: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in slots:
        out.extend(_flatten(s) if isinstance(s, list) else [s])
    return out


def _slot(d: dict[str, Any]) -> Slot:
    return Slot(slot=d["slot"], kind=d["kind"], suffixes=tuple(x.lower() for x in d["suffixes"]),
                match=tuple(d.get("match") or ()), role=d.get("role"), required=bool(d.get("required")),
                many=bool(d.get("many")))


@lru_cache(maxsize=4)
def load_manifest(path: Path = MANIFEST_FILE) -> Manifest:
    """The manifest (read once per process)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = {}
    for key, d in data["items"].items():
        items[key] = Item(key=key, stage=d["stage"], name_zh=d["name"][0], name_en=d["name"][1],
                          slots=tuple(_slot(s) for s in _flatten(d["slots"])),
                          share=tuple(d.get("share") or ()), boundary=bool(d.get("boundary")),
                          verification=bool(d.get("verification")), publish=d.get("publish"))
    return Manifest(stages={k: tuple(v["name"]) for k, v in data["stages"].items()},  # type: ignore[misc]
                    items=items, departments={k: tuple(v) for k, v in data["departments"].items()})  # type: ignore[misc]


@lru_cache(maxsize=4)
def load_tolerances(path: Path = TOLERANCES_FILE) -> dict[str, Any]:
    """The check tolerances (read once per process)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
