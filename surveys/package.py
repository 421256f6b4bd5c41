"""Open a result package — a zip (through the safe extractor of ``layers.archive``: no absolute or
``..`` names, no links, no bombs) or a directory — and sort its files into the slots of the
item's manifest. A package that cannot be opened safely is refused with nothing stored; a file
that fits no slot is reported by the checks, per file."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gis_platform.core.errors import InputError, LimitError, Problem, UnsafeArchiveError
from gis_platform.core.files import file_sha256
from gis_platform.core.settings import Limits
from layers.archive import safe_extract_zip

from .manifest import SIDECARS, Item, Slot

_JUNK = ("__MACOSX", ".DS_Store", "Thumbs.db")


@dataclass
class PackageFile:
    """One file of a package (a Shapefile with its sidecars counts as one)."""

    no: int
    name: str  # path inside the package, with '/'
    path: Path
    size: int
    sha256: str
    slot: Slot | None
    sidecars: list[PackageFile] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """vector, raster, document, table, metadata, or unknown (outside the manifest)."""
        return self.slot.kind if self.slot else "unknown"

    @property
    def suffix(self) -> str:
        """The lower-case suffix."""
        return self.path.suffix.lower()


@dataclass
class Package:
    """The files of a package sorted into slots, and its metadata.json (if any)."""

    name: str
    sha256: str
    files: list[PackageFile]
    metadata: dict[str, Any]
    metadata_problem: Problem | None = None

    def all_files(self) -> list[PackageFile]:
        """Every file including Shapefile sidecars, in package order."""
        out: list[PackageFile] = []
        for f in self.files:
            out.append(f)
            out.extend(f.sidecars)
        return out


def _listing(root: Path, limits: Limits, display: str) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for d in list(dirnames):
            if (Path(dirpath) / d).is_symlink():
                raise UnsafeArchiveError("成果包中有符号链接，拒绝读取", "the package holds a symbolic link; refused",
                                         file=display, problems=[Problem("符号链接", "symbolic link",
                                                                         feature=str(Path(dirpath, d).relative_to(root)))])
        dirnames[:] = [d for d in dirnames if d not in _JUNK]
        for f in filenames:
            p = Path(dirpath) / f
            if p.is_symlink() or not p.is_file():
                raise UnsafeArchiveError("成果包中有符号链接或特殊文件，拒绝读取",
                                         "the package holds a link or special file; refused", file=display,
                                         problems=[Problem("不是普通文件", "not a regular file",
                                                           feature=str(p.relative_to(root)))])
            if f in _JUNK or f.startswith("._"):
                continue
            out.append(p)
            if len(out) > limits.max_archive_members:
                raise LimitError(f"成果包文件过多，上限 {limits.max_archive_members}",
                                 f"too many files in the package, limit {limits.max_archive_members}", file=display)
    return sorted(out, key=lambda p: str(p.relative_to(root)))


def open_package(path: Path, item: Item, limits: Limits, workdir: Path, display: str | None = None) -> Package:
    """Unpack (zip) or list (directory) a package and sort its files into the item's slots.

    Raises InputError, UnsafeArchiveError or LimitError when the package as a whole cannot be
    read safely (the caller stores nothing then).
    """
    display = display or path.name
    if path.is_dir():
        root = path
        sha = hashlib.sha256()
        listing = _listing(root, limits, display)
        for p in listing:
            sha.update(str(p.relative_to(root)).encode())
            sha.update(file_sha256(p).encode())
        package_sha = sha.hexdigest()
    elif path.is_file() and path.suffix.lower() == ".zip":
        if path.stat().st_size == 0:
            raise InputError("成果包为空", "the package is empty", file=display)
        package_sha = file_sha256(path)
        root = workdir / "package"
        safe_extract_zip(path, root, limits)
        listing = _listing(root, limits, display)
    else:
        raise InputError("成果包须为 zip 压缩包或目录", "a result package must be a zip archive or a directory",
                         file=display)
    if not listing:
        raise InputError("成果包中没有文件", "the package holds no files", file=display)
    total = sum(p.stat().st_size for p in listing)
    if total > limits.max_uncompressed_bytes:
        raise LimitError(f"成果包总大小 {total} 字节超过上限", f"the package's {total} bytes exceed the limit",
                         file=display)

    names = {p: str(p.relative_to(root)).replace(os.sep, "/") for p in listing}
    shp_stems = {p.with_suffix("").as_posix().lower() for p in listing if p.suffix.lower() == ".shp"}
    files: list[PackageFile] = []
    sidecars: list[Path] = []
    for p in listing:
        if p.suffix.lower() in SIDECARS and p.with_suffix("").as_posix().lower() in shp_stems:
            sidecars.append(p)
            continue
        files.append(PackageFile(no=0, name=names[p], path=p, size=p.stat().st_size, sha256=file_sha256(p),
                                 slot=item.slot_for(names[p])))
    for s in sidecars:
        owner = next(f for f in files if f.suffix == ".shp"
                     and f.path.with_suffix("").as_posix().lower() == s.with_suffix("").as_posix().lower())
        owner.sidecars.append(PackageFile(no=0, name=names[s], path=s, size=s.stat().st_size,
                                          sha256=file_sha256(s), slot=owner.slot))
    n = 0
    for f in files:
        n += 1
        f.no = n
        for s in f.sidecars:
            n += 1
            s.no = n
    metadata: dict[str, Any] = {}
    problem = None
    meta_file = next((f for f in files if f.kind == "metadata"), None)
    if meta_file is not None:
        why = "not a JSON object"
        try:
            loaded: Any = json.loads(meta_file.path.read_text(encoding="utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            loaded, why = None, str(exc)
        if isinstance(loaded, dict):
            metadata = loaded
        else:
            problem = Problem(f"metadata.json 无法解析：{why}", f"metadata.json cannot be parsed: {why}",
                              feature=meta_file.name)
    return Package(name=display, sha256=package_sha, files=files, metadata=metadata, metadata_problem=problem)
