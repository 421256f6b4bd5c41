"""Safe extraction of uploaded zip archives (zipped Shapefiles and the like).

Every check that can be made from the central directory is made *before* anything is written:
unsafe names (absolute, drive letters, backslash forms, ``..``), links and other non-regular
members, encryption, member count, declared total size and compression ratio. Extraction then
streams each member in chunks and counts the bytes really written, because a zip bomb can lie
in its headers; on any failure everything written so far is deleted.

Member names without the UTF-8 flag arrive decoded as cp437. Chinese Windows tools write them
in GBK, so such names are re-decoded (UTF-8 first, then GBK/GB18030) when that gives clean text:
``地块.shp`` stays ``地块.shp``.
"""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

from gis_platform.core.errors import InputError, LimitError, Problem, UnsafeArchiveError
from gis_platform.core.settings import Limits

CHUNK = 1024 * 1024
RATIO_MIN_BYTES = 1024 * 1024  # the compression ratio is only judged on members larger than this
_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_DRIVE = re.compile(r"^[A-Za-z]:")
_MACOS_JUNK = "__MACOSX"


def decode_member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its author meant it.

    Without the UTF-8 flag ``zipfile`` decodes the raw bytes as cp437; if those bytes are valid
    UTF-8 or GBK (GB18030) without control characters, that reading is returned instead.
    """
    name = info.filename
    if info.flag_bits & _UTF8_FLAG or name.isascii():
        return name
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:
        return name
    for codec in ("utf-8", "gbk", "gb18030"):
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        if text.isprintable():
            return text
    return name


def _name_problem(name: str) -> Problem | None:
    """Why a member name is unsafe, or None."""
    if not name or "\x00" in name:
        return Problem("成员名为空或含空字符", "empty member name or NUL in name", feature=repr(name))
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return Problem("绝对路径", "absolute path", feature=name)
    parts = re.split(r"[\\/]+", name)
    if all(p in ("", ".") for p in parts):
        return Problem("成员名为空", "empty member name", feature=repr(name))
    if any(p == ".." for p in parts):
        return Problem("路径含 “..”，会写到解压目录之外", "path climbs out with '..'", feature=name)
    return None


def _type_problem(info: zipfile.ZipInfo, name: str) -> Problem | None:
    """Why a member is not a plain file or directory (link, FIFO, device …), or None."""
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == 0:  # no Unix mode recorded (MS-DOS attributes only): a file or a directory
        return None
    if stat.S_ISLNK(mode):
        return Problem("符号链接成员", "symbolic link member", feature=name)
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return Problem("不是普通文件或目录", "not a regular file or directory", feature=name)
    return None


def _refuse(cls: type, zh: str, en: str, file: str, problems: list[Problem]) -> None:
    """Raise ``cls`` listing ``problems`` when there are any."""
    if problems:
        raise cls(zh=zh, en=en, file=file, problems=problems)


def _inspect(zf: zipfile.ZipFile, zip_path: Path,
             limits: Limits) -> list[tuple[zipfile.ZipInfo, str]]:
    """Check the central directory; return (info, decoded name) pairs or raise."""
    file = zip_path.name
    infos = zf.infolist()
    if len(infos) > limits.max_archive_members:
        raise LimitError(
            zh=f"压缩包成员过多：{len(infos)} 个，上限 {limits.max_archive_members}",
            en=f"too many archive members: {len(infos)}, limit {limits.max_archive_members}",
            file=file,
        )
    named = [(info, decode_member_name(info)) for info in infos]
    unsafe: list[Problem] = []
    seen: set[str] = set()
    for info, name in named:
        problem = _name_problem(name) or _type_problem(info, name)
        key = name.replace("\\", "/").rstrip("/")
        if problem is None and key in seen:
            problem = Problem("成员名重复", "duplicate member name", feature=name)
        seen.add(key)
        if problem:
            unsafe.append(problem)
    _refuse(UnsafeArchiveError, "压缩包含不安全的成员，拒绝解压",
            "the archive has unsafe members; refusing to extract", file, unsafe)
    encrypted = [Problem("成员已加密", "member is encrypted", feature=n)
                 for i, n in named if i.flag_bits & _ENCRYPTED_FLAG]
    _refuse(InputError, "压缩包含加密成员，请提供未加密的压缩包",
            "the archive has encrypted members; upload an unencrypted archive", file, encrypted)
    total = sum(i.file_size for i, _ in named)
    if total > limits.max_uncompressed_bytes:
        raise LimitError(
            zh=f"解压后总大小 {total} 字节，超过上限 {limits.max_uncompressed_bytes}",
            en=f"uncompressed size {total} bytes exceeds the limit {limits.max_uncompressed_bytes}",
            file=file,
        )
    ratios: list[Problem] = []
    for info, name in named:
        if info.file_size <= RATIO_MIN_BYTES:
            continue
        ratio = info.file_size / info.compress_size if info.compress_size else float("inf")
        if ratio > limits.max_compression_ratio:
            ratios.append(Problem(f"压缩比 {ratio:.0f}:1，上限 {limits.max_compression_ratio:g}",
                                  f"compression ratio {ratio:.0f}:1, limit "
                                  f"{limits.max_compression_ratio:g}", feature=name))
    _refuse(LimitError, "压缩比异常（疑似压缩炸弹），拒绝解压",
            "compression ratio too high (zip bomb?); refusing to extract", file, ratios)
    return named


def copy_member(src: BinaryIO, target: Path, declared: int, budget: int) -> int:
    """Stream ``src`` into the new file ``target``; return the bytes written.

    Raises LimitError as soon as the real output exceeds the ``declared`` size or the remaining
    ``budget`` of the whole archive (the caller deletes what was written).
    """
    written = 0
    with open(target, "xb") as out:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > declared or written > budget:
                raise LimitError(
                    zh=f"成员实际大小超过声明的 {declared} 字节或总上限（压缩包头信息不实）",
                    en=f"member expands beyond its declared {declared} bytes or the size "
                       "limit (the archive headers lie)",
                    file=target.name,
                )
            out.write(chunk)
    return written


def safe_extract_zip(zip_path: Path, dest: Path, limits: Limits) -> list[Path]:
    """Extract ``zip_path`` into ``dest`` after checking it is safe; return the files written.

    Raises InputError (corrupt or encrypted archive), UnsafeArchiveError (absolute or ``..``
    names, links, special files) or LimitError (members, size, ratio, lying headers). Nothing is
    left in ``dest`` when an error is raised.
    """
    zip_path, dest = Path(zip_path), Path(dest)
    file = zip_path.name
    if zip_path.stat().st_size > limits.max_upload_bytes:
        raise LimitError(zh=f"压缩包超过上传上限 {limits.max_upload_bytes} 字节",
                         en=f"archive exceeds the upload limit of {limits.max_upload_bytes} bytes",
                         file=file)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    created_files: list[Path] = []
    created_dirs: list[Path] = []

    def make_dir(d: Path) -> None:
        missing = []
        while not d.exists():
            missing.append(d)
            d = d.parent
        for m in reversed(missing):
            m.mkdir()
            created_dirs.append(m)

    try:
        with zipfile.ZipFile(zip_path) as zf:
            named = _inspect(zf, zip_path, limits)
            budget = limits.max_uncompressed_bytes
            for info, name in named:
                rel = name.replace("\\", "/").strip("/")
                target = (root / rel).resolve()
                if target != root and not target.is_relative_to(root):
                    raise UnsafeArchiveError(zh="成员会写到解压目录之外", en="member escapes the "
                                             "extraction directory", file=file,
                                             problems=[Problem("路径越界", "path escapes",
                                                               feature=name)])
                if info.is_dir() or stat.S_ISDIR(info.external_attr >> 16):
                    make_dir(target)
                    continue
                make_dir(target.parent)
                if target.exists():
                    raise UnsafeArchiveError(zh="成员与已有文件同名", en="member collides with "
                                             "an existing file", file=file,
                                             problems=[Problem("重名", "collision", feature=name)])
                with zf.open(info) as src:
                    created_files.append(target)
                    budget -= copy_member(src, target, info.file_size, budget)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
        _cleanup(created_files, created_dirs)
        raise InputError(zh=f"压缩包损坏或格式不支持：{exc}",
                         en=f"corrupt or unsupported zip archive: {exc}", file=file) from None
    except BaseException:
        _cleanup(created_files, created_dirs)
        raise
    return created_files


def _cleanup(files: list[Path], dirs: list[Path]) -> None:
    """Delete what an aborted extraction wrote (files, then the directories it created)."""
    for f in files:
        f.unlink(missing_ok=True)
    for d in reversed(dirs):
        try:
            d.rmdir()
        except OSError:
            pass


def list_shapefile_sets(directory: Path) -> list[Path]:
    """Every ``.shp`` under ``directory`` (recursive, any case), sorted.

    macOS resource-fork copies (``__MACOSX/``, ``._name.shp``) are skipped: they are not
    Shapefiles. The caller refuses the archive when this returns zero or several paths.
    """
    found = []
    for p in Path(directory).rglob("*"):
        if p.suffix.lower() != ".shp" or not p.is_file():
            continue
        rel = p.relative_to(directory)
        if _MACOS_JUNK in rel.parts or p.name.startswith("._"):
            continue
        found.append(p)
    return sorted(found)
