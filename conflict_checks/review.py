"""Parallel departmental review (联审联批) of pre-checked submissions, and finding disputes.

When a pre-check has findings, the submission is routed at once to every department whose
rules fired (the rule table's department column), each with a deadline in working days (data:
``review_deadlines.yaml``). Departments give their opinions in parallel; each opinion is a new
row, so nothing is overwritten, and a department can only write to its own task. The bureau
sees progress and overdue tasks and records the decision. A reviewer who finds a finding
wrong (e.g. a boundary error in the plan data) marks it: the finding stays as it was, the mark
is kept and audited, and a correction item opens for the department that owns the layer.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from gis_platform.core import audit, clock
from gis_platform.core.account_models import User
from gis_platform.core.errors import ForbiddenError, InputError, NotFoundError
from gis_platform.core.files import file_sha256, keep_by_sha256

from . import queries
from .access import can_see_submission

DEADLINES_FILE = Path(__file__).resolve().parent / "review_deadlines.yaml"
OPINIONS = {"agree": ("同意", "agree"), "agree_with_conditions": ("有条件同意", "agree with conditions"),
            "disagree": ("不同意", "disagree")}
DECISIONS = {"approved": ("批准", "approved"), "approved_with_conditions": ("有条件批准", "approved with conditions"),
             "rejected": ("不予批准", "rejected")}
CORRECTION_STATUSES = {"open": ("待处理", "open"), "in_progress": ("处理中", "in progress"),
                       "corrected": ("已更正", "corrected"), "rejected": ("不予更正", "not corrected")}


@lru_cache(maxsize=1)
def deadline_rules() -> dict[str, Any]:
    """Working days per department and the holiday calendar."""
    data = yaml.safe_load(DEADLINES_FILE.read_text(encoding="utf-8"))
    data["holidays"] = {dt.date.fromisoformat(str(d)) for d in data.get("holidays") or []}
    data["working_weekends"] = {dt.date.fromisoformat(str(d)) for d in data.get("working_weekends") or []}
    data["calendar_years"] = {int(y) for y in data.get("calendar_years") or []}
    return data


def deadline_estimated(start: dt.date, due: dt.date) -> bool:
    """Whether counting from ``start`` to ``due`` crossed a year whose holidays are not entered
    (so it counted Monday to Friday: the real deadline may be later)."""
    years = deadline_rules()["calendar_years"]
    return any(y not in years for y in range(start.year, due.year + 1))


def _with_estimates(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each task with ``due_estimated``, counted from the Beijing date it was routed on."""
    for t in tasks:
        due = t.get("due_on")
        created = t.get("created_at")
        start = clock.beijing(created).date() if isinstance(created, dt.datetime) else due
        t["due_estimated"] = bool(due) and deadline_estimated(start, due)
    return tasks


def is_working_day(day: dt.date) -> bool:
    """Monday–Friday unless a holiday; a weekend day only when it is a make-up working day."""
    rules = deadline_rules()
    if day in rules["working_weekends"]:
        return True
    return day.weekday() < 5 and day not in rules["holidays"]


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The date ``days`` working days after ``start``."""
    d, left = start, days
    while left > 0:
        d += dt.timedelta(days=1)
        if is_working_day(d):
            left -= 1
    return d


def route_submission(session: Session, run_id: int, submission_id: int, *, today: dt.date | None = None,
                     actor: str | None = None) -> list[int]:
    """Open one review task per department whose rules fired in the run; returns task ids."""
    rules = deadline_rules()
    today = today or clock.today()
    ids = []
    for row in session.execute(queries.RUN_DEPARTMENTS, {"run": run_id}):
        days = int(rules["departments"].get(row.department, rules["default_working_days"]))
        due = add_working_days(today, days)
        tid = session.execute(queries.INSERT_TASK, {
            "submission_id": submission_id, "run": run_id, "department": row.department,
            "rule_keys": list(row.rule_keys), "due_on": due}).scalar_one_or_none()
        if tid is not None:
            ids.append(tid)
            audit.record(session, "review.route", f"review_task:{tid}", actor, submission_id=submission_id,
                         department=row.department, due_on=str(due), due_estimated=deadline_estimated(today, due))
    return ids


def record_opinion(session: Session, task_id: int, user: User, opinion: str, text: str, *,
                   attachment_name: str | None = None, attachment_sha256: str | None = None) -> int:
    """A department's opinion on its own task (a new row each time; earlier ones are kept)."""
    task = _check_opinion(session, task_id, user, opinion, text)
    return _insert_opinion(session, task, user, opinion, text, attachment_name, attachment_sha256)


def _insert_opinion(session: Session, task: Any, user: User, opinion: str, text: str,
                    attachment_name: str | None, attachment_sha256: str | None) -> int:
    oid = session.execute(queries.INSERT_OPINION, {
        "task_id": task["id"], "opinion": opinion, "text": text.strip(), "attachment_name": attachment_name,
        "attachment_sha256": attachment_sha256, "actor_id": user.id}).scalar_one()
    audit.record(session, "review.opinion", f"review_task:{task['id']}", user.username, opinion_id=oid,
                 opinion=opinion, submission_id=task["submission_id"])
    return int(oid)


def review_progress(session: Session, submission_id: int, *, today: dt.date | None = None) -> dict[str, Any]:
    """Every task of a submission with its latest opinion and whether it is overdue; decisions."""
    today = today or clock.today()
    tasks = _with_estimates([dict(r) for r in session.execute(
        queries.TASKS_OF_SUBMISSION, {"submission_id": submission_id, "today": today}).mappings()])
    decisions = [dict(r) for r in session.execute(queries.DECISIONS, {"submission_id": submission_id}).mappings()]
    return {"submission_id": submission_id, "tasks": tasks,
            "answered": sum(1 for t in tasks if t["opinion"]), "overdue": sum(1 for t in tasks if t["overdue"]),
            "decision": decisions[-1] if decisions else None, "decisions": decisions}


def department_queue(session: Session, department: str, *, today: dt.date | None = None) -> list[dict[str, Any]]:
    """A department's review tasks, soonest deadline first."""
    return _with_estimates([dict(r) for r in session.execute(
        queries.TASKS_OF_DEPARTMENT, {"department": department, "today": today or clock.today()}).mappings()])


def decide(session: Session, submission_id: int, user: User, decision: str, text: str) -> int:
    """The bureau's decision on a submission (its latest check run); earlier decisions are kept."""
    if user.role not in ("bureau", "admin"):
        raise ForbiddenError("只有规划局可以作出审批决定", "only the planning bureau decides")
    if decision not in DECISIONS:
        raise InputError(f"决定“{decision}”无效（{', '.join(DECISIONS)}）",
                         f"invalid decision '{decision}' ({', '.join(DECISIONS)})")
    if not (text or "").strip():
        raise InputError("请填写决定说明", "the decision needs a text")
    run = session.execute(queries.LATEST_RUN_OF_SUBMISSION, {"submission_id": submission_id}).scalar_one_or_none()
    if run is None:
        raise NotFoundError(f"没有报件 {submission_id}", f"no submission {submission_id}")
    did = session.execute(queries.INSERT_DECISION, {"submission_id": submission_id, "run": run,
                                                    "decision": decision, "text": text.strip(),
                                                    "actor_id": user.id}).scalar_one()
    audit.record(session, "review.decision", f"submission:{submission_id}", user.username, decision=decision,
                 decision_id=did, check_run_id=run)
    return int(did)


def dispute_finding(session: Session, run_id: int, finding_no: int, user: User, reason: str) -> int:
    """Mark a finding as wrong; the finding stays; a correction item opens for the layer's owner."""
    if user.role not in ("bureau", "department", "admin"):
        raise ForbiddenError("只有审查人员可以标记检查结果有误", "only reviewers can mark a finding as wrong")
    if not (reason or "").strip():
        raise InputError("请说明理由", "give the reason")
    row = session.execute(queries.FINDING_LAYER_OWNER, {"run": run_id, "no": finding_no}).one_or_none()
    if row is None:
        raise NotFoundError(f"检查 {run_id} 没有第 {finding_no} 条结果", f"check {run_id} has no finding {finding_no}")
    did = session.execute(queries.INSERT_DISPUTE, {
        "run": run_id, "no": finding_no, "layer_id": row.layer_id, "version_id": row.version_id,
        "reason": reason.strip(), "department": row.authority, "actor_id": user.id}).scalar_one()
    session.execute(queries.INSERT_CORRECTION_UPDATE, {"dispute_id": did, "status": "open",
                                                       "comment": None, "actor_id": user.id})
    audit.record(session, "finding.dispute", f"check_run:{run_id}#{finding_no}", user.username, dispute_id=did,
                 layer_id=row.layer_id, version_id=row.version_id, correction_department=row.authority)
    return int(did)


def update_correction(session: Session, dispute_id: int, user: User, status: str, comment: str | None) -> int:
    """The layer's department (or the bureau) records progress on a correction item."""
    d = session.execute(queries.DISPUTE, {"id": dispute_id}).mappings().one_or_none()
    if d is None:
        raise NotFoundError(f"没有更正事项 {dispute_id}", f"no correction item {dispute_id}")
    own = user.role == "department" and user.department == d["correction_department"]
    if not (own or user.role in ("bureau", "admin")):
        raise ForbiddenError("只有图层所属部门或规划局可以处理此更正", "only the layer's department or the bureau")
    if status not in CORRECTION_STATUSES:
        raise InputError(f"状态“{status}”无效", f"invalid status '{status}'")
    uid = session.execute(queries.INSERT_CORRECTION_UPDATE, {"dispute_id": dispute_id, "status": status,
                                                             "comment": comment, "actor_id": user.id}).scalar_one()
    audit.record(session, "correction.update", f"finding_dispute:{dispute_id}", user.username, status=status)
    return int(uid)


def disputes_of_run(session: Session, run_id: int) -> list[dict[str, Any]]:
    """The marks on a run's findings with each correction item's current status."""
    return [dict(r) for r in session.execute(queries.DISPUTES_OF_RUN, {"run": run_id}).mappings()]


def corrections_for(session: Session, department: str) -> list[dict[str, Any]]:
    """Correction items a department must look at."""
    return [dict(r) for r in session.execute(queries.CORRECTIONS_OF_DEPARTMENT, {"department": department})
            .mappings()]


def check_and_route(session: Session, settings: Any, site: Any, meta: Any, user: User | None, *,
                    as_of: dt.datetime | None = None) -> Any:
    """Pre-check a site for ``user`` (its owner when a project owner submits) and route the
    submission to the departments whose rules fired."""
    from .precheck import run_check

    owner_id = user.id if user is not None and user.role == "owner" else None
    organisation = user.organisation if user is not None and user.role == "owner" else None
    result = run_check(session, settings, site, meta, as_of=as_of, owner_id=owner_id, organisation=organisation,
                       actor=user.username if user is not None else None)
    route_submission(session, result.run_id, result.submission_id,
                     actor=user.username if user is not None else None)
    return result


# --- opinion attachments ----------------------------------------------------------------------

# What an opinion may carry: documents and images, recognised by their first bytes as well as
# their name (a file whose content does not match its extension is refused).
ATTACHMENT_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "gif": ("image/gif", (b"GIF87a", b"GIF89a")),
    "tif": ("image/tiff", (b"II*\x00", b"MM\x00*")),
    "tiff": ("image/tiff", (b"II*\x00", b"MM\x00*")),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (b"PK\x03\x04",)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (b"PK\x03\x04",)),
}


def attachments_dir(settings: Any) -> Path:
    """Where opinion attachments are kept, content-addressed by sha256."""
    return Path(settings.home_abs) / "attachments"


def attachment_name(name: str | None) -> str:
    """The name an attachment is kept under: its base name only (no directory part, no control
    or quoting characters); a name that is nothing but a path is refused."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r'[\x00-\x1f\x7f"<>|:*?;]', "", base).strip().lstrip(".").strip()
    if not base or "." not in base:
        raise InputError("附件文件名无效", "the attachment has no usable file name", file=name or "")
    return base[-200:]


def keep_attachment(settings: Any, path: Path, name: str | None) -> tuple[str, str]:
    """Check an uploaded file and keep it under GISPLAT_HOME/attachments/<sha256> (never
    overwritten: the same content is kept once). Returns (name, sha256)."""
    clean = attachment_name(name)
    ext = clean.rsplit(".", 1)[-1].lower()
    if ext not in ATTACHMENT_TYPES:
        raise InputError(f"附件格式不支持（可用：{', '.join(sorted(ATTACHMENT_TYPES))}）",
                         f"unsupported attachment type (allowed: {', '.join(sorted(ATTACHMENT_TYPES))})", file=clean)
    with path.open("rb") as fh:
        head = fh.read(16)
    if not head:
        raise InputError("附件为空文件", "the attachment is empty", file=clean)
    if not head.startswith(ATTACHMENT_TYPES[ext][1]):
        raise InputError(f"附件内容与扩展名 .{ext} 不符", f"the attachment's content is not .{ext}", file=clean)
    sha = file_sha256(path)
    keep_by_sha256(path, attachments_dir(settings), sha)
    return clean, sha


def _check_opinion(session: Session, task_id: int, user: User, opinion: str, text: str) -> Any:
    """The task, once the writer, the opinion and its text are checked."""
    task = session.execute(queries.TASK, {"id": task_id}).mappings().one_or_none()
    if task is None:
        raise NotFoundError(f"没有审查任务 {task_id}", f"no review task {task_id}")
    if user.role != "department" or user.department != task["department"]:
        raise ForbiddenError(f"只有{task['department']}可以填写此审查意见",
                             f"only {task['department']} can give this opinion")
    if opinion not in OPINIONS:
        raise InputError(f"意见“{opinion}”无效（{', '.join(OPINIONS)}）",
                         f"invalid opinion '{opinion}' ({', '.join(OPINIONS)})")
    if not (text or "").strip():
        raise InputError("请填写意见说明", "the opinion needs a text")
    return task


def give_opinion(session: Session, settings: Any, task_id: int, user: User, opinion: str, text: str, *,
                 attachment: tuple[Path, str | None] | None = None) -> int:
    """A department's opinion with an optional attachment (path of the uploaded file, its name):
    the task and the writer are checked before anything is kept."""
    task = _check_opinion(session, task_id, user, opinion, text)
    name = sha = None
    if attachment is not None:
        name, sha = keep_attachment(settings, attachment[0], attachment[1])
    return _insert_opinion(session, task, user, opinion, text, name, sha)


def opinion_attachment(session: Session, settings: Any, user: User | None, opinion_id: int) -> dict[str, Any]:
    """The attachment of an opinion for someone who may see the submission (else 404):
    ``path``, ``name`` and ``media_type``."""
    row = session.execute(queries.OPINION_ATTACHMENT, {"id": opinion_id}).mappings().one_or_none()
    missing = NotFoundError(f"意见 {opinion_id} 没有附件", f"opinion {opinion_id} has no attachment")
    if row is None or not can_see_submission(session, user, row["submission_id"]):
        raise missing
    sha = (row["attachment_sha256"] or "").strip()
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise missing
    path = attachments_dir(settings) / sha
    if not path.is_file():
        raise missing
    name = attachment_name(row["attachment_name"] or f"attachment-{opinion_id}.bin")
    ext = name.rsplit(".", 1)[-1].lower()
    media = ATTACHMENT_TYPES.get(ext, ("application/octet-stream", ()))[0]
    return {"path": path, "name": name, "media_type": media}


# --- what the review pages show ----------------------------------------------------------------


def submission_of_run(session: Session, run_id: int) -> int:
    """The submission a check run belongs to."""
    sid = session.execute(queries.RUN_SUBMISSION, {"id": run_id}).scalar_one_or_none()
    if sid is None:
        raise NotFoundError(f"没有检查记录 {run_id}", f"no check run {run_id}")
    return int(sid)


def run_review(session: Session, user: User, run_id: int, *, today: dt.date | None = None) -> dict[str, Any]:
    """The review section of a check's result page, for ``user``: every department's task with
    its latest opinion, every opinion given, decisions, the marks on findings, the stored finding
    rows (for marking one as wrong) and what the user may do."""
    sid = submission_of_run(session, run_id)
    progress = review_progress(session, sid, today=today)
    opinions = [dict(r) for r in session.execute(queries.OPINIONS_OF_SUBMISSION, {"submission_id": sid}).mappings()]
    staff = user.role in ("admin", "bureau", "department")
    own = [t["id"] for t in progress["tasks"] if user.role == "department" and t["department"] == user.department]
    return {
        **progress, "opinions": opinions,
        "disputes": disputes_of_run(session, run_id) if staff else [],
        "findings": [dict(r) for r in session.execute(queries.FINDINGS_FOR_DISPUTE, {"run": run_id}).mappings()]
        if staff else [],
        "own_tasks": own, "can_decide": user.role in ("admin", "bureau"), "can_dispute": staff,
    }


def review_overview(session: Session, user: User, *, department: str | None = None,
                    today: dt.date | None = None, limit: int = 500) -> dict[str, Any]:
    """The review task page: a department reviewer's own queue and correction items; for the
    bureau every department's open tasks (oldest deadline first) with the overdue count, or one
    department's queue and correction items when ``department`` is given."""
    today = today or clock.today()
    if user.role == "department" or department:
        dept = (user.department if user.role == "department" else department) or ""
        tasks = department_queue(session, dept, today=today)
        return {"department": dept, "tasks": tasks, "overdue": sum(1 for t in tasks if t["overdue"]),
                "corrections": corrections_for(session, dept), "all_departments": False, "per_department": {}}
    tasks = _with_estimates([dict(r) for r in session.execute(queries.OPEN_TASKS,
                                                              {"today": today, "limit": limit}).mappings()])
    per_dept: dict[str, dict[str, int]] = {}
    for t in tasks:
        d = per_dept.setdefault(t["department"], {"open": 0, "overdue": 0})
        d["open"] += 1
        d["overdue"] += int(bool(t["overdue"]))
    return {"department": None, "tasks": tasks, "overdue": sum(1 for t in tasks if t["overdue"]),
            "per_department": per_dept, "corrections": [], "all_departments": True}
