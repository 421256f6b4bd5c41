"""Error types. Each carries a user-safe message in Chinese and English and an HTTP status.

Domain code raises these; ``web/`` maps them to responses and the CLI prints them. A traceback
never reaches a user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus


@dataclass
class Problem:
    """One problem found in an input: where it is and what is wrong."""

    zh: str
    en: str
    feature: str | None = None

    def text(self, lang: str = "zh") -> str:
        """The problem in one language, prefixed by the feature it concerns."""
        body = self.zh if lang == "zh" else self.en
        if self.feature is None:
            return body
        label = "要素" if lang == "zh" else "feature"
        return f"{label} {self.feature}: {body}"

    def as_dict(self) -> dict[str, str | None]:
        """JSON-friendly form."""
        return {"feature": self.feature, "zh": self.zh, "en": self.en}


@dataclass
class PlatformError(Exception):
    """Base of every error a user may see."""

    zh: str
    en: str
    file: str | None = None
    problems: list[Problem] = field(default_factory=list)
    http_status: int = HTTPStatus.BAD_REQUEST
    kind: str = "error"

    def __post_init__(self) -> None:
        super().__init__(self.en)

    def message(self, lang: str = "zh", max_problems: int = 20) -> str:
        """Full user message: the file, the summary, then each problem (bounded)."""
        head = self.zh if lang == "zh" else self.en
        if self.file:
            head = f"{self.file}: {head}"
        lines = [head]
        for p in self.problems[:max_problems]:
            lines.append("  - " + p.text(lang))
        rest = len(self.problems) - max_problems
        if rest > 0:
            lines.append(f"  … 另有 {rest} 处问题" if lang == "zh" else f"  … and {rest} more")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.message("zh") + "\n" + self.message("en")

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form for ``--json`` output and the API."""
        return {
            "error": self.kind,
            "file": self.file,
            "message_zh": self.message("zh"),
            "message_en": self.message("en"),
            "problems": [p.as_dict() for p in self.problems],
        }


def _kind(name: str, status: int):  # small factory keeps each subclass one line
    def init(self: PlatformError) -> None:
        self.kind = name
        self.http_status = status
        PlatformError.__post_init__(self)

    return init


@dataclass
class InputError(PlatformError):
    """The input file or request is wrong (bad format, bad values)."""

    __post_init__ = _kind("input", HTTPStatus.UNPROCESSABLE_ENTITY)


@dataclass
class CRSError(PlatformError):
    """The coordinate reference system is missing, unknown or inconsistent."""

    __post_init__ = _kind("crs", HTTPStatus.UNPROCESSABLE_ENTITY)


@dataclass
class ExtentError(PlatformError):
    """Data lands outside the deployment's extent after reprojection."""

    __post_init__ = _kind("extent", HTTPStatus.UNPROCESSABLE_ENTITY)


@dataclass
class GeometryError(PlatformError):
    """Invalid geometry, reported per feature."""

    __post_init__ = _kind("geometry", HTTPStatus.UNPROCESSABLE_ENTITY)


@dataclass
class LimitError(PlatformError):
    """The input exceeds a configured limit (size, features, vertices, archive)."""

    __post_init__ = _kind("limit", HTTPStatus.REQUEST_ENTITY_TOO_LARGE)


@dataclass
class UnsafeArchiveError(PlatformError):
    """A zip member is an absolute path, climbs out with ``..`` or is a link."""

    __post_init__ = _kind("unsafe_archive", HTTPStatus.UNPROCESSABLE_ENTITY)


@dataclass
class NotFoundError(PlatformError):
    """A named plan, layer or version does not exist."""

    __post_init__ = _kind("not_found", HTTPStatus.NOT_FOUND)


@dataclass
class ConflictError(PlatformError):
    """The request conflicts with what is stored (e.g. a duplicate plan code)."""

    __post_init__ = _kind("conflict", HTTPStatus.CONFLICT)


@dataclass
class StoreError(PlatformError):
    """The store cannot be reached or started (PostGIS missing, cluster failure)."""

    __post_init__ = _kind("store", HTTPStatus.SERVICE_UNAVAILABLE)


@dataclass
class ComputeError(PlatformError):
    """A worker process of a computation ended unexpectedly (out of memory, killed, crashed)."""

    __post_init__ = _kind("compute", HTTPStatus.SERVICE_UNAVAILABLE)


@dataclass
class AuthError(PlatformError):
    """Not signed in, wrong credentials, or an expired or revoked token."""

    __post_init__ = _kind("unauthenticated", HTTPStatus.UNAUTHORIZED)


@dataclass
class ForbiddenError(PlatformError):
    """Signed in, but the role may not do this."""

    __post_init__ = _kind("forbidden", HTTPStatus.FORBIDDEN)


@dataclass
class RateLimitError(PlatformError):
    """Too many requests or uploads in a short time."""

    __post_init__ = _kind("rate_limited", HTTPStatus.TOO_MANY_REQUESTS)
