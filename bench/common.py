"""What the benchmarks share: the benchmark home, libpq connection facts, writing the result."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine

from gis_platform.core.db import embedded_cluster
from gis_platform.core.settings import Settings


def ensure_home(home: Path) -> Path:
    """Create ``home`` (and missing parents) 0o755; check the service user can traverse to it."""
    home = home.expanduser().resolve()
    missing = []
    p = home
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir()
        os.chmod(d, 0o755)
    if home in missing or os.stat(home).st_mode & 0o005 != 0o005:
        os.chmod(home, 0o755)
    if os.geteuid() == 0:
        for anc in home.parents:
            if os.stat(anc).st_mode & 0o001 == 0:
                raise SystemExit(
                    f"{anc} is not traversable by other users; the embedded cluster runs as an "
                    "unprivileged user and cannot reach the benchmark home. Choose another --home."
                )
    return home


def conninfo(tcp_url: str) -> tuple[str, str]:
    """libpq key=value conninfo (without password) and the password, from a postgresql:// URL."""
    u = urlsplit(tcp_url)
    parts = {
        "host": u.hostname or "127.0.0.1",
        "port": str(u.port or 5432),
        "dbname": u.path.lstrip("/"),
        "user": unquote(u.username or ""),
    }
    return " ".join(f"{k}={v}" for k, v in parts.items()), unquote(u.password or "")


def socket_conninfo(info: Any) -> tuple[str, str]:
    """:func:`conninfo` over the embedded cluster's Unix socket (what the platform itself uses)."""
    tcp, password = conninfo(info.tcp_url)
    parts = dict(kv.split("=", 1) for kv in tcp.split())
    parts["host"] = str(info.socket_dir)
    return " ".join(f"{k}={v}" for k, v in parts.items()), password


def finish(result: dict[str, Any], out: Path, engine: Engine, settings: Settings, *,
           keep_running: bool) -> None:
    """Write the result JSON and stop the benchmark store's cluster unless asked not to."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"\nwritten: {out}")
    if not keep_running:
        engine.dispose()
        embedded_cluster(settings).stop()
