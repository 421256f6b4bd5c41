"""``gisplat users``: accounts and API tokens from the command line (the first administrator
is created here)."""

from __future__ import annotations

import click

from conflict_checks.bootstrap import prepare_store as open_store
from gis_platform.cli import Ctx, command
from gis_platform.core.db import session_scope
from gis_platform.core.errors import InputError


@click.group("users")
def users() -> None:
    """用户与令牌 / users and API tokens."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["admin", "bureau", "department", "owner", "firm"]),
              help="角色 / role")
@click.option("--password", help="密码（省略则交互输入）/ password (prompted when omitted)")
@click.option("--name", "display_name", help="姓名 / display name")
@click.option("--department", help="部门（部门审查员必填）/ department (department reviewers)")
@click.option("--organisation", help="单位（建设单位必填）/ organisation (project owners)")
@click.option("--firm", help="测绘单位（测绘单位必填）/ surveying firm (firms)")
@command
def users_add(ctx: Ctx, username: str, role: str, password: str | None, display_name: str | None,
              department: str | None, organisation: str | None, firm: str | None) -> None:
    """开通账号 / open an account."""
    from gis_platform.core.accounts import create_user

    if password is None:
        if ctx.as_json:
            raise InputError("--json 时请用 --password 给出密码", "give --password with --json")
        password = click.prompt(ctx.t("密码", "Password"), hide_input=True, confirmation_prompt=True)
    with session_scope(open_store(ctx.settings)) as s:
        user = create_user(s, username=username, password=password, role=role, display_name=display_name,
                           department=department, organisation=organisation, firm=firm).public()
    ctx.out(user, ctx.t(f"已开通 {username}（{user['role_zh']}）", f"account {username} ({role}) opened"))


@users.command("list")
@command
def users_list(ctx: Ctx) -> None:
    """列出账号 / list accounts."""
    from gis_platform.core.accounts import list_users

    with session_scope(open_store(ctx.settings)) as s:
        rows = [u.public() for u in list_users(s)]
    ctx.out(rows, lambda: "\n".join(
        f"{u['username']:<20} {u['role']:<11} {u['department'] or u['organisation'] or u['firm'] or ''}"
        f"{'' if u['active'] else '  (停用/inactive)'}" for u in rows))


@users.command("token")
@click.argument("username")
@click.option("--name", help="令牌用途 / what the token is for")
@click.option("--days", type=int, help="有效天数 / days valid")
@command
def users_token(ctx: Ctx, username: str, name: str | None, days: int | None) -> None:
    """为用户签发 API 令牌（仅显示一次）/ issue an API token (shown once)."""
    from gis_platform.core.accounts import issue_token, user_by_name

    with session_scope(open_store(ctx.settings)) as s:
        tok, secret = issue_token(s, user_by_name(s, username), name=name, days=days or ctx.settings.token_days)
        payload = {"id": tok.id, "token": secret, "expires_at": tok.expires_at.isoformat()}
    ctx.out(payload, ctx.t(f"令牌（仅显示一次）：{secret}\n有效期至 {payload['expires_at']}",
                           f"token (shown once): {secret}\nexpires {payload['expires_at']}"))


@users.command("revoke")
@click.argument("token_id", type=int)
@command
def users_revoke(ctx: Ctx, token_id: int) -> None:
    """撤销令牌 / revoke a token."""
    from gis_platform.core.accounts import revoke_token
    from gis_platform.core.audit import current_actor

    with session_scope(open_store(ctx.settings)) as s:
        revoke_token(s, token_id, current_actor())
    ctx.out({"revoked": token_id}, ctx.t(f"已撤销令牌 {token_id}", f"token {token_id} revoked"))
