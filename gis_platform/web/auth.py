"""Who is calling, and whether they may: one dependency for the whole app.

Every route is looked up in ``policy.POLICY`` by method and path template; a route with no
entry is refused for everyone (deny by default, and the authorisation matrix test fails). API
clients send ``Authorization: Bearer <token>``; browsers sign in on ``/login`` and carry a
session cookie (HttpOnly, SameSite=Lax, signed with the deployment secret), and every form or
cookie-authenticated write must carry the session's CSRF token (``csrf_token`` form field or
``X-CSRF-Token`` header). Writes are also rate-limited per user.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading
import time
from collections import defaultdict, deque

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from gis_platform.core.accounts import Principal, session_user, token_holder
from gis_platform.core.db import session_scope
from gis_platform.core.errors import AuthError, ForbiddenError, NotFoundError, RateLimitError
from gis_platform.core.settings import Settings

from .policy import POLICY, Rule

SESSION_COOKIE = "gisplat_session"
CSRF_COOKIE = "gisplat_csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def sign(settings: Settings, sid: str) -> str:
    """The cookie value for a session id: id and its HMAC under the deployment secret."""
    mac = hmac.new(settings.secret_key.encode(), sid.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{sid}.{mac}"


def unsign(settings: Settings, value: str) -> str | None:
    """The session id of a cookie value, or None when the signature does not match."""
    sid, _, mac = value.rpartition(".")
    if not sid or not hmac.compare_digest(sign(settings, sid), value):
        return None
    return sid


class PrincipalCache:
    """Callers recently authenticated, for ``ttl`` seconds, so a burst of requests (map tiles)
    does not look the token up in the store each time. Signing out or revoking a token through
    this process clears it at once; elsewhere it takes effect within ``ttl``."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Principal | None:
        if self.ttl <= 0:
            return None
        with self._lock:
            item = self._items.get(key)
            if item is None or item[1] <= time.monotonic():
                self._items.pop(key, None)
                return None
            return item[0]

    def put(self, key: str, principal: Principal, until: float | None = None) -> None:
        """Remember a caller for ``ttl`` seconds, never past ``until`` (seconds left on its token)."""
        ttl = self.ttl if until is None else min(self.ttl, until)
        if ttl <= 0:
            return
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[key] = (principal, time.monotonic() + ttl)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _credential(request: Request) -> tuple[str, str] | None:
    """("token", secret) or ("session", id) from the request, else None."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return "token", header[7:].strip()
    if SESSION_COOKIE in request.cookies:
        sid = unsign(request.app.state.settings, request.cookies[SESSION_COOKIE])
        if sid is not None:
            return "session", sid
    return None


def _cache_key(cred: tuple[str, str]) -> str:
    return cred[0] + ":" + hashlib.sha256(cred[1].encode()).hexdigest()


def principal_of(request: Request) -> Principal | None:
    """The caller, from a bearer token or a session cookie (cached on the request, and for a few
    seconds in the app's principal cache)."""
    if hasattr(request.state, "principal"):
        return request.state.principal  # type: ignore[no-any-return]
    cred = _credential(request)
    principal = None
    if cred is not None:
        cache: PrincipalCache = request.app.state.principals
        principal = cache.get(_cache_key(cred))
        if principal is None:
            engine = request.app.state.engine
            until: float | None = None
            if cred[0] == "token":
                with session_scope(engine) as s:
                    user, expires_at = token_holder(s, cred[1])
                principal = Principal(user, "token")
                until = (expires_at - dt.datetime.now(dt.UTC)).total_seconds()
            else:
                try:
                    with session_scope(engine) as s:
                        user, csrf = session_user(s, cred[1])
                    principal = Principal(user, "session", csrf)
                except AuthError:
                    principal = None
            if principal is not None:
                cache.put(_cache_key(cred), principal, until)
    request.state.principal = principal
    return principal


class RateLimiter:
    """Sliding-window limit of write requests per user (in memory, per server process)."""

    def __init__(self) -> None:
        self._hits: dict[int, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, user_id: int, limit: int, window_s: float = 60.0) -> None:
        now = time.monotonic()
        with self._lock:
            q = self._hits[user_id]
            while q and q[0] <= now - window_s:
                q.popleft()
            if len(q) >= limit:
                raise RateLimitError(f"操作过于频繁：每分钟最多 {limit} 次写操作，请稍后再试",
                                     f"too many requests: at most {limit} writes a minute; try again shortly")
            q.append(now)


async def _csrf_ok(request: Request, principal: Principal) -> bool:
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # Starlette keeps it for the endpoint
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    return sent is not None and principal.csrf_token is not None and hmac.compare_digest(sent, principal.csrf_token)


def rule_for(request: Request) -> Rule | None:
    """The policy entry of the matched route."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return POLICY.get((request.method if request.method != "HEAD" else "GET", path)) if path else None


async def enforce(request: Request) -> None:
    """The app-wide dependency: authenticate, authorise, check CSRF, rate-limit writes."""
    rule = rule_for(request)
    if rule is None:
        raise ForbiddenError("此操作未开放", "this operation is not open to anyone")
    if hasattr(request.state, "principal"):
        principal = request.state.principal
    else:
        cred = _credential(request)
        cached = request.app.state.principals.get(_cache_key(cred)) if cred else None
        if cached is not None or cred is None:
            request.state.principal = principal = cached
        else:  # a store lookup: off the event loop
            try:
                principal = await run_in_threadpool(principal_of, request)
            except AuthError:
                if not rule.public:
                    raise
                principal = request.state.principal = None  # a stale token does not bar sign-in
    if rule.public:
        return
    if principal is None:
        raise AuthError("请先登录", "please sign in")
    if principal.user.role not in rule.roles:
        if rule.hide:
            raise NotFoundError("未找到", "not found")
        raise ForbiddenError("您的角色无权进行此操作", "your role may not do this")
    if request.method not in SAFE_METHODS:
        if principal.via == "session" and not await _csrf_ok(request, principal):
            raise ForbiddenError("表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试",
                                 "the form is stale or its origin unknown (CSRF check failed); reload and retry")
        settings: Settings = request.app.state.settings
        request.app.state.limiter.hit(principal.user.id, settings.write_rate_per_minute)
