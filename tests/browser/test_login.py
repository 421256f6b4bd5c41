"""Signing in with a real browser: a page asks for sign-in, the form signs in and returns to
the page; forms then carry the CSRF token by themselves."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.postgis


def test_sign_in_returns_to_the_page(anon_page, accounts):
    pg = anon_page
    pg.goto(f"{pg.base}/review")
    assert "/login" in pg.url
    pg.fill("input[name=username]", accounts.users["bureau"].username)
    pg.fill("input[name=password]", "wrong-password")
    pg.click("#login-form button[type=submit]")
    assert pg.locator("#login-error").inner_text() == "用户名或密码错误"
    pg.fill("input[name=password]", "test-password-123")
    pg.click("#login-form button[type=submit]")
    pg.wait_for_url(f"{pg.base}/review")
    assert pg.locator("nav#topnav").is_visible()
    # every posting form on the page now carries the session's CSRF token
    pg.goto(f"{pg.base}/checks/new")
    token = pg.eval_on_selector("form[method=post] input[name=csrf_token]", "e => e.value")
    cookie = next(c["value"] for c in pg.context.cookies() if c["name"] == "gisplat_csrf")
    assert token == cookie and len(token) > 20
    session = next(c for c in pg.context.cookies() if c["name"] == "gisplat_session")
    assert session["httpOnly"] is True
    assert pg.errors == []
