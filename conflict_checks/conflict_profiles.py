"""Comparison profiles of conflict runs and the crosswalk of each side's class codes.

A profile (``conflict_profiles.yaml``) says how the two sides are read: ``construction`` mode
maps both sides to construction / non-construction (categories 01–04, DOMAIN.md §4);
``control`` mode compares a plan with a control line (planned construction land inside it is
category C1). The construction flag of a code is the code table's ``is_construction`` (data),
changed only by a profile switch (e.g. whether 020 有条件建设区 counts). Use groups for the
"use inconsistent" subtype come from ``crosswalks/use_groups.csv``; a broad group is consistent
with the narrow groups listed in ``crosswalks/use_group_compat.csv``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from gis_platform.core.errors import InputError

HERE = Path(__file__).resolve().parent
PROFILES_FILE = HERE / "conflict_profiles.yaml"
CROSSWALKS = HERE / "crosswalks"

# Construction flag values carried per code: 1 construction, 0 non-construction, -1 unknown.
CONSTRUCTION, NON_CONSTRUCTION, UNKNOWN = 1, 0, -1


@dataclass(frozen=True)
class Side:
    """One side of a profile: its labels and the code schemes it accepts (None = any/none)."""

    zh: str
    en: str
    schemes: tuple[str, ...] | None


@dataclass(frozen=True)
class Profile:
    """A named comparison profile."""

    name: str
    zh: str
    en: str
    mode: str
    a: Side
    b: Side
    switches: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class ProfileBook:
    """Everything in ``conflict_profiles.yaml`` plus the use-group crosswalks."""

    profiles: dict[str, Profile]
    categories: dict[str, dict[str, str]]
    subtypes: dict[str, dict[str, str]]
    priorities: list[dict[str, Any]]
    enrichment: dict[str, Any]
    use_groups: dict[str, dict[str, str]]
    compat: frozenset[tuple[str, str]]

    def profile(self, name: str) -> Profile:
        """The profile called ``name``; a clear error naming the known ones otherwise."""
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise InputError(f"没有比对方案“{name}”（可用：{known}）",
                             f"no comparison profile '{name}' (known: {known})") from None


@lru_cache(maxsize=1)
def profile_book() -> ProfileBook:
    """The profiles and crosswalks shipped with the platform (read once)."""
    data = yaml.safe_load(PROFILES_FILE.read_text(encoding="utf-8"))
    profiles = {}
    for name, p in data["profiles"].items():
        sides = {k: Side(p[k]["zh"], p[k]["en"], tuple(p[k]["schemes"]) if p[k].get("schemes") else None)
                 for k in ("a", "b")}
        profiles[name] = Profile(name, p["zh"], p["en"], p["mode"], sides["a"], sides["b"], p.get("switches") or {})
    groups: dict[str, dict[str, str]] = {}
    with (CROSSWALKS / "use_groups.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            groups.setdefault(row["scheme"], {})[row["code"]] = row["group"]
    with (CROSSWALKS / "use_group_compat.csv").open(encoding="utf-8") as fh:
        compat = frozenset((r["broad"], r["narrow"]) for r in csv.DictReader(fh))
    return ProfileBook(profiles, data["categories"], data["subtypes"], data["priorities"],
                       data["enrichment"], groups, compat)


def use_group(book: ProfileBook, scheme: str | None, code: str | None) -> str | None:
    """The use group of a code: the most specific prefix listed for its scheme."""
    if not scheme or not code:
        return None
    table = book.use_groups.get(scheme, {})
    for n in range(len(code), 0, -1):
        g = table.get(code[:n])
        if g:
            return g
    return None


def groups_consistent(book: ProfileBook, ga: str, gb: str) -> bool:
    """Whether two use groups agree (same group, or one is the broad group of the other)."""
    return ga == gb or (ga, gb) in book.compat or (gb, ga) in book.compat


@dataclass
class Crosswalk:
    """Per-code facts of one side: construction flag, use group and name."""

    scheme: str | None
    flags: dict[str | None, int] = field(default_factory=dict)
    groups: dict[str | None, str | None] = field(default_factory=dict)
    names: dict[str | None, str | None] = field(default_factory=dict)
    reasons: dict[str | None, str] = field(default_factory=dict)


def build_crosswalk(book: ProfileBook, profile: Profile, scheme: str | None, codes: list[str | None],
                    table: dict[str, tuple[str, bool | None]], switches: dict[str, bool]) -> Crosswalk:
    """Crosswalk of the codes present on one side.

    ``table`` maps each code of ``scheme`` to (name, is_construction) from the code tables. A
    code without a flag inherits its nearest flagged parent prefix; a code the table does not
    know, or a feature with no code, is UNKNOWN with its reason (it goes to category
    "unmapped", never dropped).
    """
    cw = Crosswalk(scheme)
    overrides: dict[str, bool] = {}
    for key, sw in profile.switches.items():
        value = switches.get(key, bool(sw.get("default", True)))
        if sw.get("scheme") == scheme:
            for c in sw.get("codes") or []:
                overrides[str(c)] = value
    for code in codes:
        if code is None:
            cw.flags[code], cw.groups[code], cw.names[code], cw.reasons[code] = UNKNOWN, None, None, "no_code"
            continue
        name, flag = table.get(code, (None, None))
        if code in overrides:
            flag = overrides[code]
        n = len(code) - 1
        while flag is None and n > 0:
            parent = code[:n]
            if parent in table:
                flag = overrides.get(parent, table[parent][1])
            n -= 1
        cw.names[code] = name
        cw.groups[code] = use_group(book, scheme, code)
        if flag is None:
            cw.flags[code] = UNKNOWN
            cw.reasons[code] = "no_flag" if code in table else "no_code"
        else:
            cw.flags[code] = CONSTRUCTION if flag else NON_CONSTRUCTION
    return cw


def check_side_scheme(profile: Profile, side: str, scheme: str | None, ref: str) -> None:
    """Refuse a layer whose code scheme the profile side does not read."""
    s = profile.a if side == "A" else profile.b
    if profile.mode == "control" and side == "B":
        return
    if scheme is None:
        raise InputError(f"图层 {ref} 没有分类体系，无法按“{profile.zh}”比对",
                         f"layer {ref} has no class scheme; it cannot be compared under '{profile.en}'")
    if s.schemes is not None and scheme not in s.schemes:
        raise InputError(
            f"比对方案“{profile.zh}”的{s.zh}一侧只接受分类体系 {', '.join(s.schemes)}；图层 {ref} 为 {scheme}",
            f"profile '{profile.en}': side {side} takes schemes {', '.join(s.schemes)}; layer {ref} uses {scheme}")
