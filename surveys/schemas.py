"""Public (JSON) forms of survey packages (多测合一)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel

Status = Literal["submitted", "passed", "failed", "accepted", "returned", "superseded"]


class FindingPublic(BaseModel):
    """One check result: where and why."""

    check: str
    status: Literal["pass", "warning", "fail"]
    file: str | None = None
    feature: str | None = None
    message_zh: str
    message_en: str
    figures: dict[str, Any] = {}


class ReportPublic(BaseModel):
    """The check report of a package."""

    status: Literal["passed", "failed"]
    counts: dict[str, int]
    figures: dict[str, Any] = {}
    findings: list[FindingPublic]
    site_file_no: int | None = None


class FilePublic(BaseModel):
    """A file of a package, kept as delivered with its sha256."""

    file_no: int
    name: str
    kind: str
    slot: str | None
    sha256: str
    size_bytes: int


class EventPublic(BaseModel):
    """One status transition (the history is append-only)."""

    status: Status
    actor: str
    at: dt.datetime
    reason: str | None = None
    details: dict[str, Any] = {}


class PackageSummary(BaseModel):
    """A package in a list."""

    id: int
    project_code: str
    project_name: str | None = None
    client: str | None = None
    stage: str
    stage_zh: str
    stage_en: str
    item: str
    item_zh: str
    item_en: str
    version: int
    firm: str
    surveyor: str | None = None
    submitted_by: str
    submitted_at: dt.datetime
    source_name: str
    source_sha256: str
    supersedes_id: int | None = None
    superseded_by: int | None = None
    status: Status
    status_at: dt.datetime
    check_status: Literal["passed", "failed"]
    accepted_by: str | None = None
    accepted_at: dt.datetime | None = None
    precheck_run_id: int | None = None
    shared_with: list[str] = []


class PackagePublic(PackageSummary):
    """A package with its check report, files and history."""

    metadata: dict[str, Any] = {}
    report: ReportPublic
    files: list[FilePublic] = []
    history: list[EventPublic] = []


class AcceptRequest(BaseModel):
    """The bureau accepts a package and shares it."""

    departments: list[str] | None = None
    publish: bool = True


class ReturnRequest(BaseModel):
    """The bureau returns a package with a reason."""

    reason: str
