"""The rule table: loading it from YAML, and matching findings to rules.

Rules are data. ``rules.yaml`` seeds the table; after that the table is the truth (a UI or
``gisplat rules load FILE`` edits it). A finding is matched by theme, *when*, class and project
type; the most specific active rule wins.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from gis_platform.core import audit
from gis_platform.core.db import url_key
from gis_platform.core.errors import InputError

from . import queries
from .models import Rule, UseCompatibility
from .schemas import PROJECT_TYPES, RuleRef

RULES_FILE = Path(__file__).resolve().parent / "rules.yaml"
SEVERITY_RANK = {"none": 0, "reference": 0, "notice": 1, "needs_approval": 2, "forbidden": 3}
WHENS = ("inside", "outside", "incompatible", "above", "differs")


def _check_rule(r: dict[str, Any], i: int, name: str) -> None:
    where = f"rule #{i + 1} ({r.get('key', '?')})"
    for k in ("key", "theme", "severity", "message_zh", "message_en"):
        if not r.get(k):
            raise InputError(f"{where} 缺少 {k}", f"{where} lacks '{k}'", file=name)
    if r["severity"] not in ("forbidden", "needs_approval", "notice"):
        raise InputError(f"{where} 的 severity 无效", f"{where}: severity '{r['severity']}' is not "
                         "forbidden / needs_approval / notice", file=name)
    if r.get("when", "inside") not in WHENS:
        raise InputError(f"{where} 的 when 无效", f"{where}: when must be one of {WHENS}", file=name)
    for t in r.get("project_types") or []:
        if t not in PROJECT_TYPES:
            raise InputError(f"{where} 的项目类型“{t}”无效", f"{where}: unknown project type '{t}'", file=name)


def load_rules(session: Session, path: Path = RULES_FILE, actor: str | None = None) -> int:
    """Upsert the rules (by key) and the use-compatibility table from a YAML file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"无法读取规则文件：{exc}", f"cannot read the rules file: {exc}", file=path.name) from None
    rules = (data or {}).get("rules") or []
    for i, r in enumerate(rules):
        _check_rule(r, i, path.name)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    existing = {r.key: r for r in session.execute(queries.all_rules()).scalars()}
    for r in rules:
        values = {
            "theme": r["theme"], "classes": [str(c) for c in r["classes"]] if r.get("classes") else None,
            "project_types": r.get("project_types"), "when": r.get("when", "inside"),
            "severity": r["severity"], "message_zh": r["message_zh"], "message_en": r["message_en"],
            "citation": r.get("citation"), "department": r.get("department"),
            "params": r.get("params") or {}, "active": r.get("active", True),
            "source": f"{path.name}@{digest}",
        }
        rule = existing.get(r["key"])
        if rule is None:
            session.add(Rule(key=r["key"], **values))
        else:
            for k, v in values.items():
                setattr(rule, k, v)
    compat = (data or {}).get("use_compatibility") or []
    session.execute(queries.DELETE_COMPATIBILITY)
    for c in compat:
        session.add(UseCompatibility(proposed=str(c["proposed"]), planned=str(c.get("planned") or ""),
                                     compatible=bool(c["compatible"]), note=c.get("note")))
    session.flush()
    audit.record(session, "rules.load", path.name, actor=actor, rules=len(rules), sha256=digest)
    return len(rules)


def list_rules(session: Session) -> list[dict[str, Any]]:
    """Every rule as a dict."""
    keys = ("key", "theme", "classes", "project_types", "when", "severity", "message_zh",
            "message_en", "citation", "department", "params", "active", "source")
    return [{k: getattr(r, k) for k in keys} for r in session.execute(queries.all_rules()).scalars()]


def seed_rules_if_empty(session: Session) -> None:
    """Load the shipped rules into an empty table (never over edits)."""
    if session.execute(queries.rule_count()).scalar_one() == 0:
        load_rules(session)


_BOOKS: dict[tuple[str, str | None], RuleBook] = {}


@dataclass
class RuleBook:
    """Active rules, indexed for matching."""

    rules: list[Rule]
    compat: list[tuple[str, str, bool]] = field(default_factory=list)
    sha256: str | None = None  # of the stored rule set, once stored

    @classmethod
    def load(cls, session: Session, version: str | None = None) -> RuleBook:
        """Active rules and compatibility rows from the store. With the store's rules change
        counter, a book read earlier at the same counter is reused (rules are edited rarely)."""
        key = (url_key(session.get_bind()), version)
        if version is not None and key in _BOOKS:
            return _BOOKS[key]
        rules = list(session.execute(queries.active_rules()).scalars())
        compat = [(c.proposed, c.planned, c.compatible) for c in session.execute(queries.compatibility()).scalars()]
        for r in rules:
            session.expunge(r)  # detached: safe to share between sessions
        book = cls(rules, compat)
        if version is not None:
            _BOOKS.clear()
            _BOOKS[key] = book
        return book

    def __post_init__(self) -> None:
        self._by: dict[tuple[str, str], list[Rule]] = {}
        for r in self.rules:
            self._by.setdefault((r.theme, r.when), []).append(r)

    def themes(self, severities: tuple[str, ...] = ("forbidden", "needs_approval")) -> set[str]:
        """Themes for which a rule can block or condition a project (data must exist for them)."""
        return {r.theme for r in self.rules if r.severity in severities and r.when in ("inside", "outside")}

    def match(self, theme: str | None, when: str, project_type: str,
              class_code: str | None = None, class_raw: str | None = None) -> Rule | None:
        """The most specific active rule for a finding, or None."""
        best: tuple[float, Rule] | None = None
        for r in self._by.get((theme or "", when), ()):
            if r.project_types and project_type not in r.project_types:
                continue
            score = 0.0
            if r.classes:
                hit = [len(c) for c in r.classes
                       if (class_code is not None and class_code.startswith(c)) or class_raw == c]
                if not hit:
                    continue
                score += 1 + max(hit) / 100
            if r.project_types:
                score += 2
            if best is None or score > best[0]:
                best = (score, r)
        return best[1] if best else None

    def compatible(self, proposed: str, planned: str) -> bool:
        """Whether the proposed use may sit on the planned use."""
        best: tuple[int, bool] | None = None
        for p, q, ok in self.compat:
            if proposed.startswith(p) and planned.startswith(q):
                score = len(p) * 100 + len(q)
                if best is None or score > best[0]:
                    best = (score, ok)
        if best is not None:
            return best[1]
        return planned.startswith(proposed) or proposed.startswith(planned)


SNAPSHOT_KEYS = ("key", "theme", "classes", "project_types", "when", "severity", "message_zh",
                 "message_en", "citation", "department", "params")
_STORED_SETS: set[tuple[str, str]] = set()


def store_rule_set(session: Session, book: RuleBook) -> str:
    """Keep the book's rules once by content hash and return the hash (runs refer to it)."""
    key0 = url_key(session.get_bind())
    if book.sha256 is not None and (key0, book.sha256) in _STORED_SETS:
        return book.sha256
    rules = [{k: getattr(r, k) for k in SNAPSHOT_KEYS} for r in book.rules]
    compat = [list(c) for c in book.compat]
    rules_json = json.dumps(rules, ensure_ascii=False, sort_keys=True)
    compat_json = json.dumps(compat, ensure_ascii=False)
    sha = hashlib.sha256((rules_json + "\n" + compat_json).encode()).hexdigest()
    key = (url_key(session.get_bind()), sha)
    if key not in _STORED_SETS:
        session.execute(queries.INSERT_RULE_SET, {"sha256": sha, "rules": rules_json, "compat": compat_json})
        session.flush()
        _STORED_SETS.add(key)
    book.sha256 = sha
    return sha


def rule_book_of_set(session: Session, sha: str) -> RuleBook:
    """The rule book a stored run used."""
    row = session.execute(queries.RULE_SET, {"sha256": sha}).one()
    rules = [Rule(active=True, **r) for r in row.rules]
    return RuleBook(rules, [tuple(c) for c in row.compat])  # type: ignore[misc]


def rule_ref(rule: Rule | None) -> RuleRef | None:
    """The public form of a rule (made once per rule object)."""
    if rule is None:
        return None
    cached = rule.__dict__.get("_public")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    ref = RuleRef(key=rule.key, severity=rule.severity, message_zh=rule.message_zh,  # type: ignore[arg-type]
                   message_en=rule.message_en, citation=rule.citation, department=rule.department)
    rule.__dict__["_public"] = ref
    return ref
