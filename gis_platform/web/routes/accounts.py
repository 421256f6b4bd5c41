"""Sign-in and accounts: the login page, API tokens, the caller's own account, user
administration and the audit log (administrators)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from gis_platform.core import audit
from gis_platform.core.accounts import (
    authenticate,
    close_session,
    create_user,
    issue_token,
    list_users,
    open_session,
    revoke_token,
    tokens_of,
)
from gis_platform.core.errors import AuthError, NotFoundError
from map_ui.views import LOGIN_TEXT, render_login

from ..auth import CSRF_COOKIE, SESSION_COOKIE, sign, unsign
from ..deps import PrincipalDep, SessionDep, SettingsDep, request_lang

router = APIRouter(tags=["accounts 账号"])


def _safe_next(url: str | None) -> str:
    """Only a path on this site (no scheme, no host, no protocol-relative //)."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/"
    return url


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, settings: SettingsDep, next: str = "/") -> HTMLResponse:  # noqa: A002
    """The sign-in form."""
    return HTMLResponse(render_login(city=settings.city_name, lang=request_lang(request), next_url=_safe_next(next)))


@router.post("/login", response_class=HTMLResponse, response_model=None, include_in_schema=False)
def login(request: Request, session: SessionDep, settings: SettingsDep,
          username: Annotated[str, Form(max_length=80)] = "", password: Annotated[str, Form(max_length=200)] = "",
          next: Annotated[str, Form(max_length=500)] = "/") -> HTMLResponse | RedirectResponse:  # noqa: A002
    """Check the credentials, open a session and go where the user was going."""
    lang = request_lang(request)
    try:
        user = authenticate(session, username, password)
    except AuthError:
        audit.record(session, "login.failed", f"user:{username[:80]}", username[:80] or "anonymous")
        return HTMLResponse(render_login(city=settings.city_name, lang=lang, next_url=_safe_next(next),
                                         username=username, error=LOGIN_TEXT[lang]["bad"]), status_code=401)
    sid, csrf = open_session(session, user, hours=settings.session_hours)
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(SESSION_COOKIE, sign(settings, sid), max_age=settings.session_hours * 3600, httponly=True,
                    samesite="lax", secure=settings.cookie_secure, path="/")
    # Readable by this site's scripts (csrf.js), which send it back with every write.
    resp.set_cookie(CSRF_COOKIE, csrf, max_age=settings.session_hours * 3600, httponly=False,
                    samesite="strict", secure=settings.cookie_secure, path="/")
    return resp


@router.post("/logout", include_in_schema=False)
def logout(request: Request, session: SessionDep, settings: SettingsDep, principal: PrincipalDep) -> Response:
    """End the browser session."""
    sid = unsign(settings, request.cookies.get(SESSION_COOKIE, ""))
    if sid:
        close_session(session, sid, principal.name)
        request.app.state.principals.clear()
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    resp.delete_cookie(CSRF_COOKIE, path="/")
    return resp


class TokenRequest(BaseModel):
    """Credentials for a new API token."""

    username: str = Field(max_length=80)
    password: str = Field(max_length=200)
    name: str | None = Field(None, max_length=200)
    days: int | None = Field(None, ge=1, le=3650)


def _token_json(tok: Any, secret: str | None = None) -> dict[str, Any]:
    out = {"id": tok.id, "name": tok.name, "created_at": tok.created_at, "expires_at": tok.expires_at,
           "revoked_at": tok.revoked_at}
    if secret:
        out["token"] = secret
    return out


@router.post("/api/auth/token", status_code=201)
def new_token(body: TokenRequest, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Exchange a username and password for an API token (shown once; send it as
    ``Authorization: Bearer …``)."""
    user = authenticate(session, body.username, body.password)
    tok, secret = issue_token(session, user, name=body.name, days=body.days or settings.token_days)
    return {**_token_json(tok, secret), "user": user.public()}


@router.get("/api/me")
def me(principal: PrincipalDep) -> dict[str, Any]:
    """The signed-in user."""
    return principal.user.public()


@router.get("/api/me/tokens")
def my_tokens(session: SessionDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """The caller's tokens (never their secrets)."""
    return [_token_json(t) for t in tokens_of(session, principal.user)]


class NewToken(BaseModel):
    """A token for the caller."""

    name: str | None = Field(None, max_length=200)
    days: int | None = Field(None, ge=1, le=3650)


@router.post("/api/me/tokens", status_code=201)
def add_token(body: NewToken, session: SessionDep, settings: SettingsDep, principal: PrincipalDep) -> dict[str, Any]:
    """A new token for the caller (shown once)."""
    tok, secret = issue_token(session, principal.user, name=body.name, days=body.days or settings.token_days)
    return _token_json(tok, secret)


@router.delete("/api/me/tokens/{token_id}")
def drop_token(token_id: int, request: Request, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Revoke one of the caller's tokens."""
    if token_id not in {t.id for t in tokens_of(session, principal.user)}:
        raise NotFoundError(f"没有令牌 {token_id}", f"no token {token_id}")
    revoke_token(session, token_id, principal.name)
    request.app.state.principals.clear()
    return {"revoked": token_id}


class NewUser(BaseModel):
    """An account to open."""

    username: str = Field(max_length=80)
    password: str = Field(min_length=10, max_length=200)
    role: Literal["admin", "bureau", "department", "owner", "firm"]
    display_name: str | None = Field(None, max_length=200)
    department: str | None = Field(None, max_length=200)
    organisation: str | None = Field(None, max_length=200)
    firm: str | None = Field(None, max_length=200)


@router.get("/api/users")
def users(session: SessionDep) -> list[dict[str, Any]]:
    """Every account."""
    return [u.public() for u in list_users(session)]


@router.post("/api/users", status_code=201)
def add_user(body: NewUser, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Open an account."""
    return create_user(session, actor=principal.name, **body.model_dump()).public()


@router.get("/api/audit")
def audit_log(session: SessionDep, action: Annotated[str | None, Query(max_length=60)] = None,
              actor: Annotated[str | None, Query(max_length=80)] = None,
              limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
              offset: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, Any]]:
    """The audit trail, newest first."""
    return audit.entries(session, action=action, actor=actor, limit=limit, offset=offset)


@router.get("/api/audit.csv")
def audit_csv(session: SessionDep, action: Annotated[str | None, Query(max_length=60)] = None,
              actor: Annotated[str | None, Query(max_length=80)] = None) -> Response:
    """The audit trail as CSV (UTF-8 with BOM for spreadsheet programs)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "at", "actor", "action", "target", "details"])
    for e in audit.entries(session, action=action, actor=actor, limit=1_000_000):
        w.writerow([e["id"], e["at"], e["actor"], e["action"], e["target"], e["details"]])
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
