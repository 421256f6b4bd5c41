"""Append-only audit log of every write (a database trigger forbids UPDATE and DELETE)."""

from __future__ import annotations

import datetime as dt
import getpass
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, DateTime, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import Base


class AuditEntry(Base):
    """Who did what to which object, and when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


@lru_cache(maxsize=1)
def current_actor() -> str:
    """The OS user running a CLI command (the web layer passes its authenticated user); looked
    up once per process."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "unknown"


def record(session: Session, action: str, target: str, actor: str | None = None, **details: Any) -> None:
    """Append one audit entry inside the caller's transaction."""
    session.add(AuditEntry(actor=actor or current_actor(), action=action, target=target, details=details))


def entries(session: Session, *, action: str | None = None, actor: str | None = None, limit: int = 1000,
            offset: int = 0) -> list[dict[str, Any]]:
    """Audit entries, newest first (for administrators)."""
    from .queries import audit_entries

    rows = session.execute(audit_entries(action=action, actor=actor, limit=limit, offset=offset)).scalars()
    return [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "target": e.target,
             "details": e.details} for e in rows]
