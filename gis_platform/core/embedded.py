"""The embedded PostgreSQL + PostGIS cluster that the platform runs by itself.

With no ``GISPLAT_DATABASE_URL`` the platform initialises a private cluster under
``GISPLAT_HOME/pg`` and serves it on a Unix socket in ``GISPLAT_HOME/run`` and a free loopback
port. When the process runs as root, the cluster runs as an unprivileged OS user (``postgres``
from the Debian package, or ``gisplat``), because PostgreSQL refuses to run as root.
Authentication is scram-sha-256 with a generated password kept in ``GISPLAT_HOME/cluster.json``
(mode 0600).
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .errors import StoreError

PG_MAJOR = "15"
DB_NAME = "gisplat"
DB_USER = "gisplat"
INSTALL_HINT = (
    "sudo apt-get update && sudo apt-get install -y postgresql-15 postgresql-15-postgis-3"
)

# Settings written to postgresql.auto.conf at initdb; sized for a 2-core / 8+ GB machine.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "shared_buffers": "'1GB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'512MB'",
    "max_wal_size": "'4GB'",
    "checkpoint_timeout": "'15min'",
    "wal_compression": "on",
    "max_connections": "100",
    "jit": "off",
    "logging_collector": "off",
    "timezone": "'Asia/Shanghai'",
}


@dataclass
class ClusterInfo:
    """Where the embedded cluster lives and how to reach it."""

    home: Path
    data_dir: Path
    socket_dir: Path
    log_file: Path
    port: int
    password: str
    os_user: str | None

    @property
    def url(self) -> str:
        """SQLAlchemy URL over the Unix socket."""
        return (
            f"postgresql+psycopg://{DB_USER}:{quote(self.password, safe='')}@/{DB_NAME}"
            f"?host={quote(str(self.socket_dir), safe='')}&port={self.port}"
        )

    @property
    def tcp_url(self) -> str:
        """libpq URL over loopback TCP (for ogr2ogr, psql and other clients)."""
        return f"postgresql://{DB_USER}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{DB_NAME}"

    def public(self) -> dict[str, object]:
        """Status facts without the password."""
        return {
            "home": str(self.home),
            "data_dir": str(self.data_dir),
            "socket_dir": str(self.socket_dir),
            "port": self.port,
            "log_file": str(self.log_file),
            "os_user": self.os_user,
            "url": f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}",
        }


def find_pg_bin(explicit: Path | None = None) -> Path:
    """Directory of ``initdb``/``pg_ctl``; raise a clear error with the install command if absent."""
    candidates = [explicit] if explicit else []
    candidates += [Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for c in candidates:
        if c and (c / "initdb").exists() and (c / "pg_ctl").exists():
            return c
    raise StoreError(
        f"未找到 PostgreSQL {PG_MAJOR}。请安装：{INSTALL_HINT}",
        f"PostgreSQL {PG_MAJOR} not found. Install it with: {INSTALL_HINT}",
    )


def check_postgis(bin_dir: Path) -> None:
    """Raise with the install command when the PostGIS extension is not installed."""
    sharedir = Path(f"/usr/share/postgresql/{PG_MAJOR}")
    pg_config = bin_dir / "pg_config"
    if pg_config.exists():
        out = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            sharedir = Path(out.stdout.strip())
    if not (sharedir / "extension" / "postgis.control").exists():
        raise StoreError(
            f"未安装 PostGIS。请安装：{INSTALL_HINT}",
            f"PostGIS is not installed. Install it with: {INSTALL_HINT}",
        )


def _service_user() -> str | None:
    """The unprivileged OS user that runs the cluster when we are root (None when not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "gisplat"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "gisplat"],
        check=True,
    )
    return "gisplat"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class EmbeddedCluster:
    """Initialise, start, stop and describe the private cluster under ``home``."""

    def __init__(self, home: Path, pg_bin_dir: Path | None = None) -> None:
        self.home = home.expanduser().resolve()
        self._explicit_bin = pg_bin_dir
        self.data_dir = self.home / "pg" / "data"
        self.socket_dir = self.home / "run"
        self.log_file = self.home / "pg" / "server.log"
        self.state_file = self.home / "cluster.json"

    # -- state ---------------------------------------------------------------------------
    def _load_state(self) -> dict[str, object] | None:
        if not self.state_file.exists():
            return None
        return json.loads(self.state_file.read_text())

    def _save_state(self, state: dict[str, object]) -> None:
        self.state_file.write_text(json.dumps(state, indent=2))
        os.chmod(self.state_file, 0o600)

    def info(self) -> ClusterInfo | None:
        """Cluster facts, or None when it has never been initialised."""
        state = self._load_state()
        if state is None:
            return None
        return ClusterInfo(
            home=self.home,
            data_dir=self.data_dir,
            socket_dir=self.socket_dir,
            log_file=self.log_file,
            port=int(state["port"]),  # type: ignore[arg-type]
            password=str(state["password"]),
            os_user=state.get("os_user"),  # type: ignore[arg-type]
        )

    # -- running commands as the service user --------------------------------------------
    def _run(self, args: list[str], user: str | None, **kw: object) -> subprocess.CompletedProcess:
        kwargs: dict[str, object] = {"capture_output": True, "text": True}
        kwargs.update(kw)
        if user is not None:
            kwargs["user"] = user
            kwargs["group"] = pwd.getpwnam(user).pw_gid
            kwargs["extra_groups"] = []
            kwargs["env"] = {**os.environ, "HOME": "/tmp", "LC_ALL": "C.UTF-8"}
        return subprocess.run(args, **kwargs)  # type: ignore[call-overload]

    def _chown(self, path: Path, user: str | None) -> None:
        if user is None:
            return
        pw = pwd.getpwnam(user)
        os.chown(path, pw.pw_uid, pw.pw_gid)

    def _check_reachable(self, user: str | None) -> None:
        """The service user must be able to traverse to GISPLAT_HOME."""
        if user is None:
            return
        res = self._run(["test", "-x", str(self.home)], user)
        if res.returncode != 0:
            raise StoreError(
                f"数据库服务用户 {user} 无法访问目录 {self.home}；请把 GISPLAT_HOME 设在其可访问的位置"
                "（或放宽上级目录权限）",
                f"the database service user {user} cannot reach {self.home}; put GISPLAT_HOME "
                "where it can (or relax the parent directories' permissions)",
            )

    # -- lifecycle ------------------------------------------------------------------------
    def init(self) -> ClusterInfo:
        """Run initdb once; later calls return the existing cluster."""
        existing = self.info()
        if existing is not None and (self.data_dir / "PG_VERSION").exists():
            return existing
        bin_dir = find_pg_bin(self._explicit_bin)
        check_postgis(bin_dir)
        user = _service_user()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "pg").mkdir(exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        for p in (self.home / "pg", self.socket_dir):
            self._chown(p, user)
        self._check_reachable(user)
        password = secrets.token_urlsafe(24)
        pwfile = self.home / "pg" / ".pwfile"
        pwfile.write_text(password + "\n")
        os.chmod(pwfile, 0o600)
        self._chown(pwfile, user)
        try:
            res = self._run(
                [
                    str(bin_dir / "initdb"),
                    "-D", str(self.data_dir),
                    "-U", DB_USER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                user,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if res.returncode != 0:
            raise StoreError(
                f"初始化数据库集群失败：{res.stderr.strip()[-500:]}",
                f"initdb failed: {res.stderr.strip()[-500:]}",
            )
        conf = self.data_dir / "postgresql.auto.conf"
        lines = [f"{k} = {v}" for k, v in SERVER_SETTINGS.items()]
        lines.append(f"unix_socket_directories = '{self.socket_dir}'")
        with conf.open("a") as fh:
            fh.write("\n# written by gisplat\n" + "\n".join(lines) + "\n")
        state = {"port": _free_port(), "password": password, "os_user": user, "db_created": False}
        self._save_state(state)
        info = self.info()
        assert info is not None
        return info

    def is_running(self) -> bool:
        """True when the postmaster of this cluster is up."""
        info = self.info()
        if info is None or not (self.data_dir / "PG_VERSION").exists():
            return False
        bin_dir = find_pg_bin(self._explicit_bin)
        res = self._run([str(bin_dir / "pg_ctl"), "status", "-D", str(self.data_dir)], info.os_user)
        return res.returncode == 0

    def start(self) -> ClusterInfo:
        """Initialise when needed and start; no-op when already running."""
        info = self.init()
        bin_dir = find_pg_bin(self._explicit_bin)
        if self.is_running():
            return info
        state = self._load_state() or {}
        if not _port_free(info.port):
            state["port"] = _free_port()
            self._save_state(state)
            info = self.info()
            assert info is not None
        res = self._run(
            [
                str(bin_dir / "pg_ctl"), "start", "-w", "-t", "60",
                "-D", str(self.data_dir),
                "-l", str(self.log_file),
                "-o", f"-p {info.port}",
            ],
            info.os_user,
        )
        if res.returncode != 0:
            tail = ""
            if self.log_file.exists():
                tail = self.log_file.read_text(errors="replace")[-800:]
            raise StoreError(
                f"启动数据库失败（日志 {self.log_file}）：{tail or res.stderr}",
                f"could not start the database (log {self.log_file}): {tail or res.stderr}",
            )
        if not state.get("db_created"):
            self._create_database(bin_dir, info)
            state["db_created"] = True
            self._save_state(state)
        return info

    def _create_database(self, bin_dir: Path, info: ClusterInfo) -> None:
        env_pw = {"PGPASSWORD": info.password}
        res = self._run(
            [
                str(bin_dir / "createdb"),
                "-h", str(info.socket_dir), "-p", str(info.port), "-U", DB_USER, DB_NAME,
            ],
            None,
            env={**os.environ, **env_pw},
        )
        if res.returncode != 0 and "already exists" not in res.stderr:
            raise StoreError(
                f"创建数据库失败：{res.stderr.strip()}", f"createdb failed: {res.stderr.strip()}"
            )

    def stop(self) -> bool:
        """Stop the cluster; return False when it was not running."""
        if not self.is_running():
            return False
        info = self.info()
        assert info is not None
        bin_dir = find_pg_bin(self._explicit_bin)
        res = self._run(
            [str(bin_dir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data_dir)],
            info.os_user,
        )
        if res.returncode != 0:
            raise StoreError(f"停止数据库失败：{res.stderr}", f"pg_ctl stop failed: {res.stderr}")
        for _ in range(50):
            if not self.is_running():
                break
            time.sleep(0.1)
        return True
