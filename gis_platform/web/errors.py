"""Map PlatformError (and anything unexpected) to responses once, for the whole app.
API paths get JSON; pages get a friendly HTML message. Never a traceback."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from markupsafe import escape
from pydantic import ValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis_platform.core.errors import AuthError, PlatformError

from .deps import request_lang

log = logging.getLogger("gisplat.web")

# Starlette's own refusals (before any route runs), in the platform's words.
HTTP_MESSAGES = {
    400: ("请求格式无效", "malformed request"),
    404: ("未找到", "not found"),
    405: ("该地址不支持此请求方法", "this method is not allowed here"),
    413: ("请求体过大", "the request body is too large"),
    415: ("不支持的内容类型", "unsupported media type"),
}
HTTP_KINDS = {404: "not_found", 405: "method_not_allowed", 413: "limit"}


def _is_page(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith(("/api", "/ogc", "/tiles", "/assets"))
                or "application/json" in request.headers.get("accept", ""))


def _respond(request: Request, status: int, body: dict[str, object]) -> JSONResponse | HTMLResponse:
    if not _is_page(request):
        return JSONResponse(body, status_code=status)
    msg = body["message_zh"] if request_lang(request) == "zh" else body["message_en"]
    html = (
        "<!doctype html><meta charset='utf-8'><title>错误 / Error</title>"
        f"<h1>{'出错了' if request_lang(request) == 'zh' else 'Something went wrong'}</h1>"
        f"<pre>{escape(str(msg))}</pre><p><a href='/'>返回 / back</a></p>"
    )
    return HTMLResponse(html, status_code=status)


def add_exception_handlers(app: FastAPI) -> None:
    """Install the handlers."""

    @app.exception_handler(PlatformError)
    async def platform_error(request: Request, exc: PlatformError):
        if isinstance(exc, AuthError) and _is_page(request) and request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
        return _respond(request, int(exc.http_status), exc.as_dict())

    @app.exception_handler(ValidationError)
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: ValidationError | RequestValidationError):
        # (a request's own fields, bodies and parameters, the same shape as every other refusal)
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:10])
        problems = problems[:2000]  # a fuzzed field name can be huge; the message stays readable
        return _respond(request, 422, {
            "error": "input", "message_zh": f"输入无效：{problems}", "message_en": f"invalid input: {problems}",
        })

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        # No route (404), a method the route does not take (405), an unparsable body (400)…
        zh, en = HTTP_MESSAGES.get(exc.status_code, ("请求无效", "invalid request"))
        response = _respond(request, exc.status_code, {"error": HTTP_KINDS.get(exc.status_code, "input"),
                                                       "message_zh": zh, "message_en": en})
        for name, value in (exc.headers or {}).items():  # e.g. Allow on a 405
            response.headers[name] = value
        return response

    @app.exception_handler(DataError)
    async def unstorable(request: Request, exc: DataError):
        # The store refused a value the request carried: a NUL character in text, a number out of
        # the column's range, an unparsable literal. The transaction is rolled back; nothing kept.
        log.warning("value refused by the store on %s: %s", request.url.path, str(exc.orig).splitlines()[0])
        return _respond(request, 422, {
            "error": "input",
            "message_zh": "输入含有无法保存的值（如 NUL 控制字符或超出范围的数字）",
            "message_en": "the input has a value that cannot be stored (such as a NUL character or a number "
                          "out of range)",
        })

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return _respond(request, 500, {
            "error": "internal", "message_zh": "服务器内部错误，已记录日志",
            "message_en": "internal error; it has been logged",
        })
