"""Request dependencies: settings and one session (one transaction) per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from gis_platform.core.accounts import Principal
from gis_platform.core.db import session_scope
from gis_platform.core.errors import AuthError
from gis_platform.core.settings import Settings


def request_lang(request: Request) -> str:
    """The page language asked for: ``?lang=en`` for English, Chinese otherwise."""
    return "en" if request.query_params.get("lang") == "en" else "zh"


def lang_suffix(lang: str) -> str:
    """The query string that keeps a page in ``lang`` across a redirect or link."""
    return "?lang=en" if lang == "en" else ""


def get_settings_dep(request: Request) -> Settings:
    """The app's settings (set by create_app)."""
    return request.app.state.settings  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    """A session committed at the end of the request, rolled back on error."""
    with session_scope(request.app.state.engine) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# scope="function": the transaction is committed before the response is sent, so a browser
# that follows a redirect after a form post (sign-in, an opinion, a decision) reads what was
# just written; by default FastAPI would commit only after the response had gone out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_principal(request: Request) -> Principal:
    """The signed-in caller (the app-wide ``enforce`` dependency has authenticated them)."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise AuthError("请先登录", "please sign in")
    return principal  # type: ignore[no-any-return]


PrincipalDep = Annotated[Principal, Depends(get_principal)]
