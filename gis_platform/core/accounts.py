"""Users, roles, API tokens and browser sessions.

Passwords are hashed with Argon2id (argon2-cffi). API tokens and session ids are random
256-bit values shown once; only their SHA-256 is stored, so a copy of the database cannot be
replayed. Tokens expire and can be revoked; sessions carry their own CSRF token for forms.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from . import audit, queries
from .account_models import ROLES, ApiToken, User, WebSession
from .errors import AuthError, ConflictError, InputError

# Which affiliation each role must carry.
AFFILIATION = {"department": "department", "owner": "organisation", "firm": "firm"}
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,80}$")
MIN_PASSWORD = 10

_HASHER = PasswordHasher()
# Verified against when the user does not exist, so timing does not tell who exists.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user, and the session's CSRF token when signed in by cookie."""

    user: User
    via: str  # "token" | "session" | "cli"
    csrf_token: str | None = None

    @property
    def name(self) -> str:
        return self.user.username


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_user(session: Session, *, username: str, password: str, role: str, display_name: str | None = None,
                department: str | None = None, organisation: str | None = None, firm: str | None = None,
                actor: str | None = None) -> User:
    """Create a user (role and its affiliation checked; the password hashed with Argon2id)."""
    if not USERNAME.match(username or ""):
        raise InputError("用户名只能含字母、数字和 _ . @ -，长度 2–80",
                         "a username is 2–80 letters, digits or _ . @ -")
    if role not in ROLES:
        raise InputError(f"角色“{role}”无效（{', '.join(ROLES)}）", f"invalid role '{role}' ({', '.join(ROLES)})")
    if len(password or "") < MIN_PASSWORD:
        raise InputError(f"密码至少 {MIN_PASSWORD} 个字符", f"a password has at least {MIN_PASSWORD} characters")
    aff = {"department": department, "organisation": organisation, "firm": firm}
    need = AFFILIATION.get(role)
    if need and not aff[need]:
        raise InputError(f"角色 {ROLES[role][0]} 需要指定 {need}", f"role {role} needs --{need}")
    if session.execute(queries.user_named(username)).first():
        raise ConflictError(f"用户名“{username}”已存在", f"username '{username}' already exists")
    user = User(username=username, display_name=display_name, role=role, password_hash=_HASHER.hash(password),
                created_by=actor, **aff)
    session.add(user)
    session.flush()
    audit.record(session, "user.create", f"user:{user.id}", actor, username=username, role=role)
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user with these credentials; one message whatever was wrong."""
    user = session.execute(queries.user_named(username)).scalar_one_or_none()
    try:
        _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
        ok = user is not None and user.active
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok:
        raise AuthError("用户名或密码错误", "wrong username or password")
    assert user is not None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    return user


def issue_token(session: Session, user: User, *, name: str | None = None, days: int = 90,
                actor: str | None = None) -> tuple[ApiToken, str]:
    """A new API token for ``user``: the row and the secret (shown once)."""
    if days < 1 or days > 3650:
        raise InputError("令牌有效期应为 1–3650 天", "a token lasts 1–3650 days")
    secret = "gpt_" + secrets.token_urlsafe(32)
    tok = ApiToken(user_id=user.id, name=name, token_hash=_digest(secret),
                   expires_at=_now() + dt.timedelta(days=days))
    session.add(tok)
    session.flush()
    audit.record(session, "token.issue", f"token:{tok.id}", actor or user.username, user=user.username,
                 expires_at=tok.expires_at.isoformat())
    return tok, secret


def revoke_token(session: Session, token_id: int, actor: str) -> None:
    """Revoke a token now (it stops working at once)."""
    n = session.execute(queries.revoke_token(token_id, _now())).rowcount
    if not n:
        raise InputError(f"没有可撤销的令牌 {token_id}", f"no active token {token_id}")
    audit.record(session, "token.revoke", f"token:{token_id}", actor)


def user_for_token(session: Session, secret: str) -> User:
    """The user of a bearer token, if it exists, is not revoked or expired, and the user is active."""
    return token_holder(session, secret)[0]


def token_holder(session: Session, secret: str) -> tuple[User, dt.datetime]:
    """The user of a live bearer token and when the token expires."""
    row = session.execute(queries.user_and_token(_digest(secret))).first()
    if row is None or row[1].revoked_at is not None or row[1].expires_at <= _now() or not row[0].active:
        raise AuthError("令牌无效、已过期或已撤销", "the token is invalid, expired or revoked")
    return row[0], row[1].expires_at


def open_session(session: Session, user: User, *, hours: int = 12) -> tuple[str, str]:
    """A browser session: (cookie value, CSRF token)."""
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(WebSession(id_hash=_digest(sid), user_id=user.id, csrf_token=csrf,
                           expires_at=_now() + dt.timedelta(hours=hours)))
    audit.record(session, "login", f"user:{user.id}", user.username)
    return sid, csrf


def session_user(session: Session, sid: str) -> tuple[User, str]:
    """The user and CSRF token of a live browser session."""
    row = session.execute(queries.user_and_session(_digest(sid))).first()
    if row is None or row[1].revoked_at is not None or row[1].expires_at <= _now() or not row[0].active:
        raise AuthError("请先登录", "please sign in")
    return row[0], row[1].csrf_token


def close_session(session: Session, sid: str, actor: str) -> None:
    """Sign out: the session stops working."""
    session.execute(queries.revoke_session(_digest(sid), _now()))
    audit.record(session, "logout", "session", actor)


def list_users(session: Session) -> list[User]:
    """Every user, by name."""
    return list(session.execute(queries.all_users()).scalars())


def user_by_name(session: Session, username: str) -> User:
    """One user by name."""
    user = session.execute(queries.user_named(username)).scalar_one_or_none()
    if user is None:
        raise InputError(f"没有用户“{username}”", f"no user '{username}'")
    return user


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """A user's tokens (hashes never leave the store)."""
    return list(session.execute(queries.tokens_of(user.id)).scalars())


__all__ = ["ROLES", "ApiToken", "Principal", "User", "WebSession",
           "authenticate", "close_session", "create_user", "issue_token", "list_users", "open_session",
           "revoke_token", "session_user", "tokens_of", "user_by_name", "user_for_token"]


def ensure_demo_users(session: Session, path: Path) -> list[str]:
    """Create the demo accounts listed in ``path`` that do not exist yet; returns their names."""
    import yaml

    made = []
    for u in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("users") or []:
        if session.execute(queries.user_named(u["username"])).first() is None:
            create_user(session, actor="demo", **u)
            made.append(u["username"])
    return made
