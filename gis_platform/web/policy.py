"""Who may call what: the one authorisation table of the platform.

Every route of the app has an entry, keyed by (method, path template). A role not listed gets
403, or 404 where ``hide`` is set (so a user cannot learn that something exists). Rules about
*which* objects a role sees (an owner sees only their own submissions; a firm only its own
packages; a department only what is routed or shared to it) are enforced by the services with
the signed-in user; this table says which roles may use a route at all.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL = frozenset({"admin", "bureau", "department", "owner", "firm"})
STAFF = frozenset({"admin", "bureau", "department"})
BUREAU = frozenset({"admin", "bureau"})
ADMIN = frozenset({"admin"})


@dataclass(frozen=True)
class Rule:
    """Roles allowed on a route; ``public`` needs no sign-in; ``hide`` answers 404, not 403."""

    roles: frozenset[str] = frozenset()
    public: bool = False
    hide: bool = False


PUBLIC = Rule(public=True)


def _r(*roles: frozenset[str] | str, hide: bool = False) -> Rule:
    out: set[str] = set()
    for r in roles:
        out |= {r} if isinstance(r, str) else set(r)
    return Rule(frozenset(out), hide=hide)


POLICY: dict[tuple[str, str], Rule] = {
    # --- sign-in, own account, administration
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): _r(ALL),
    ("POST", "/api/auth/token"): PUBLIC,
    ("GET", "/api/me"): _r(ALL),
    ("GET", "/api/me/tokens"): _r(ALL),
    ("POST", "/api/me/tokens"): _r(ALL),
    ("DELETE", "/api/me/tokens/{token_id}"): _r(ALL),
    ("GET", "/api/users"): _r(ADMIN),
    ("POST", "/api/users"): _r(ADMIN),
    ("GET", "/api/audit"): _r(ADMIN),
    ("GET", "/api/audit.csv"): _r(ADMIN),
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/assets/vendor/{package}/{path:path}"): PUBLIC,
    ("GET", "/assets/ui/{path:path}"): PUBLIC,
    # --- catalogue, one map, standard services (read by every signed-in user)
    ("GET", "/"): _r(ALL),
    ("GET", "/map"): _r(ALL),
    ("GET", "/api/plans"): _r(ALL),
    ("POST", "/api/plans"): _r(BUREAU),
    ("GET", "/api/plans/{code}"): _r(ALL),
    ("GET", "/api/layers"): _r(ALL),
    ("GET", "/api/layers/{plan}/{layer}"): _r(ALL),
    ("GET", "/api/layers/{plan}/{layer}/versions"): _r(ALL),
    ("POST", "/api/layers/{plan}/{layer}"): _r(BUREAU),
    ("GET", "/api/layers/{plan}/{layer}/export"): _r(STAFF),
    ("GET", "/tiles/{layer_id}/{z}/{x}/{y}.pbf"): _r(ALL),
    ("GET", "/tiles/{layer_id}.json"): _r(ALL),
    ("GET", "/ogc"): _r(ALL),
    ("GET", "/ogc/conformance"): _r(ALL),
    ("GET", "/ogc/collections"): _r(ALL),
    ("GET", "/ogc/collections/{collection_id}"): _r(ALL),
    ("GET", "/ogc/collections/{collection_id}/items"): _r(ALL),
    ("GET", "/ogc/collections/{collection_id}/items/{feature_id}"): _r(ALL),
    ("GET", "/api/applies"): _r(ALL),
    ("POST", "/api/applies"): _r(ALL),
    # --- pre-checks (an owner sees only their own; a department what is routed to it)
    ("POST", "/api/checks"): _r(BUREAU, "owner"),
    ("POST", "/api/checks/batch"): _r(BUREAU, "owner"),
    ("POST", "/api/checks/geojson"): _r(BUREAU, "owner"),
    ("GET", "/api/checks/{run_id}"): _r(STAFF, "owner", hide=True),
    ("POST", "/api/checks/{run_id}/rerun"): _r(BUREAU, "owner", hide=True),
    ("GET", "/checks/{run_id}/report"): _r(STAFF, "owner", hide=True),
    ("GET", "/checks/{run_id}/report.pdf"): _r(STAFF, "owner", hide=True),
    ("GET", "/checks/new"): _r(BUREAU, "owner"),
    ("POST", "/checks/new"): _r(BUREAU, "owner"),
    ("GET", "/checks/{run_id}"): _r(STAFF, "owner", hide=True),
    ("POST", "/checks/{run_id}/rerun"): _r(BUREAU, "owner", hide=True),
    ("GET", "/review"): _r(STAFF),
    # --- parallel review (联审联批), disputes and corrections
    ("GET", "/api/reviews/tasks"): _r(STAFF),
    ("POST", "/api/reviews/tasks/{task_id}/opinion"): _r("department"),
    ("GET", "/api/submissions/{submission_id}/review"): _r(STAFF, "owner", hide=True),
    ("POST", "/api/submissions/{submission_id}/decision"): _r(BUREAU),
    ("POST", "/api/checks/{run_id}/findings/{finding_no}/dispute"): _r(STAFF),
    ("GET", "/api/checks/{run_id}/disputes"): _r(STAFF),
    ("GET", "/api/corrections"): _r(STAFF),
    ("POST", "/api/corrections/{dispute_id}"): _r(STAFF),
    ("GET", "/api/reviews/opinions/{opinion_id}/attachment"): _r(STAFF, "owner", hide=True),
    ("GET", "/reviews"): _r(STAFF),
    ("POST", "/checks/{run_id}/opinion"): _r("department"),
    ("POST", "/checks/{run_id}/decision"): _r(BUREAU),
    ("POST", "/checks/{run_id}/dispute"): _r(STAFF),
    ("POST", "/reviews/corrections/{dispute_id}"): _r(STAFF),
    # --- conflict runs (差异图斑)
    ("POST", "/api/conflicts"): _r(BUREAU),
    ("GET", "/api/conflicts/jobs/{job_id}"): _r(BUREAU),
    ("GET", "/api/conflicts"): _r(STAFF),
    ("GET", "/api/conflicts/{run_id}"): _r(STAFF),
    ("GET", "/api/conflicts/{run_id}/patches"): _r(STAFF),
    ("GET", "/api/conflicts/{run_id}/quality"): _r(STAFF),
    ("GET", "/api/conflicts/{run_id}/patches/{patch_no}/history"): _r(STAFF),
    ("GET", "/api/conflicts/{run_id}/patches/at"): _r(STAFF),
    ("GET", "/api/conflicts/{run_id}/patches/{patch_no}"): _r(STAFF),
    ("POST", "/api/conflicts/{run_id}/resolutions"): _r(STAFF),
    ("GET", "/api/conflicts/{run_id}/progress"): _r(STAFF),
    ("GET", "/api/conflicts/{run_id}/export"): _r(STAFF),
    ("GET", "/tiles/conflicts/{run_id}/{z}/{x}/{y}.pbf"): _r(STAFF),
    ("GET", "/conflicts"): _r(STAFF),
    ("POST", "/conflicts"): _r(BUREAU),
    ("GET", "/conflicts/{run_id}"): _r(STAFF),
    # --- 多测合一 (a firm sees its own packages; a department what is shared with it)
    ("POST", "/api/surveys"): _r(ADMIN, "firm"),
    ("GET", "/api/surveys"): _r(STAFF, "firm"),
    ("GET", "/api/surveys/shared/{department}"): _r(STAFF),
    ("GET", "/api/surveys/{package_id}"): _r(STAFF, "firm", hide=True),
    ("GET", "/api/surveys/{package_id}/features"): _r(STAFF, "firm", hide=True),
    ("POST", "/api/surveys/{package_id}/accept"): _r(BUREAU),
    ("POST", "/api/surveys/{package_id}/return"): _r(BUREAU),
    ("POST", "/api/checks/survey/{package_id}"): _r(BUREAU, "owner", hide=True),
    ("GET", "/surveys/new"): _r(ADMIN, "firm"),
    ("POST", "/surveys/new"): _r(ADMIN, "firm"),
    ("GET", "/surveys"): _r(STAFF, "firm"),
    ("GET", "/surveys/shared"): _r(STAFF),
    ("GET", "/surveys/{package_id}"): _r(STAFF, "firm", hide=True),
    ("POST", "/surveys/{package_id}/accept"): _r(BUREAU),
    ("POST", "/surveys/{package_id}/return"): _r(BUREAU),
}
