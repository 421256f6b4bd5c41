"""SQL of the core package: users, tokens and sessions; session settings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, Update, select, update

from .account_models import ApiToken, User, WebSession


def user_named(username: str) -> Select:
    """A user by name."""
    return select(User).where(User.username == username)


def all_users() -> Select:
    """Every user, by name."""
    return select(User).order_by(User.username)


def user_and_token(token_hash: str) -> Select:
    """A token's row and its user."""
    return select(User, ApiToken).join(ApiToken, ApiToken.user_id == User.id).where(ApiToken.token_hash == token_hash)


def user_and_session(id_hash: str) -> Select:
    """A browser session's row and its user."""
    return select(User, WebSession).join(WebSession, WebSession.user_id == User.id).where(
        WebSession.id_hash == id_hash)


def tokens_of(user_id: int) -> Select:
    """A user's tokens."""
    return select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)


def revoke_token(token_id: int, at: dt.datetime) -> Update:
    """Revoke a live token."""
    return update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None)).values(revoked_at=at)


def revoke_session(id_hash: str, at: dt.datetime) -> Update:
    """End a browser session."""
    return update(WebSession).where(WebSession.id_hash == id_hash).values(revoked_at=at)


def audit_entries(*, action: str | None, actor: str | None, limit: int, offset: int) -> Select:
    """Audit log entries, newest first."""
    from .audit import AuditEntry

    q = select(AuditEntry).order_by(AuditEntry.id.desc())
    if action:
        q = q.where(AuditEntry.action == action)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    return q.limit(limit).offset(offset)


# A server setting for the rest of a session (spare connections, gis_platform.core.db; psycopg form).
SET_CONFIG_SESSION = "SELECT set_config(%s, %s, false)"
