"""Map PlatformError (and anything unexpected) to responses once, for the whole app.
API paths get JSON; pages get a friendly HTML message. Never a traceback."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from markupsafe import escape
from pydantic import ValidationError

from gis_platform.core.errors import AuthError, PlatformError

log = logging.getLogger("gisplat.web")


def _lang(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "zh"


def _is_page(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith(("/api", "/ogc", "/tiles", "/assets"))
                or "application/json" in request.headers.get("accept", ""))


def _respond(request: Request, status: int, body: dict[str, object]) -> JSONResponse | HTMLResponse:
    if not _is_page(request):
        return JSONResponse(body, status_code=status)
    msg = body["message_zh"] if _lang(request) == "zh" else body["message_en"]
    html = (
        "<!doctype html><meta charset='utf-8'><title>错误 / Error</title>"
        f"<h1>{'出错了' if _lang(request) == 'zh' else 'Something went wrong'}</h1>"
        f"<pre>{escape(str(msg))}</pre><p><a href='/'>返回 / back</a></p>"
    )
    return HTMLResponse(html, status_code=status)


def add_exception_handlers(app: FastAPI) -> None:
    """Install the handlers."""

    @app.exception_handler(PlatformError)
    async def platform_error(request: Request, exc: PlatformError):  # noqa: ANN202
        if isinstance(exc, AuthError) and _is_page(request) and request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
        return _respond(request, int(exc.http_status), exc.as_dict())

    @app.exception_handler(ValidationError)
    async def invalid(request: Request, exc: ValidationError):  # noqa: ANN202
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:10])
        return _respond(request, 422, {
            "error": "input", "message_zh": f"输入无效：{problems}", "message_en": f"invalid input: {problems}",
        })

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):  # noqa: ANN202
        log.exception("unexpected error on %s", request.url.path)
        return _respond(request, 500, {
            "error": "internal", "message_zh": "服务器内部错误，已记录日志",
            "message_en": "internal error; it has been logged",
        })
