"""Long operations started from the web (conflict runs) run in a background thread; the client
polls their status. One job at a time per process: a conflict run already uses every core."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from gis_platform.core.errors import NotFoundError, PlatformError


@dataclass
class Job:
    """A background job's state as the API shows it."""

    id: str
    kind: str
    status: str = "queued"
    result: Any = None
    error: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)


class JobRegistry:
    """Queue and remember jobs (in memory: jobs are lost when the server stops, runs are not)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gisplat-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def submit(self, kind: str, fn: Callable[[], Any], params: dict[str, Any]) -> Job:
        job = Job(uuid.uuid4().hex, kind, params=params)
        with self._lock:
            self._jobs[job.id] = job

        def work() -> None:
            job.status = "running"
            try:
                job.result = fn()
                job.status = "done"
            except PlatformError as exc:
                job.error, job.status = exc.as_dict(), "failed"
            except Exception as exc:  # noqa: BLE001 (reported to the client, never a traceback)
                job.error = {"error": "internal", "message_zh": "服务器内部错误", "message_en": str(type(exc).__name__)}
                job.status = "failed"

        self._pool.submit(work)
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"没有任务 {job_id}", f"no job {job_id}")
        return job
