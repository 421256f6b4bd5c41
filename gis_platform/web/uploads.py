"""Uploads streamed to a private temporary directory with a size limit (nothing kept)."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import UploadFile

from gis_platform.core.errors import InputError, LimitError, PlatformError
from gis_platform.core.settings import Settings

CHUNK = 1 << 20


def safe_name(name: str | None) -> str:
    """A file name without any directory part or control characters (its suffix is kept)."""
    base = (name or "upload").replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[\x00-\x1f]", "", base).strip()
    if base.strip(".") == "":  # "", "." and ".." are directories, never file names
        base = "upload"
    return base[-200:]


def without_dir(exc: PlatformError, directory: str) -> PlatformError:
    """The error with a private directory (``…/``) taken out of its messages."""
    exc.zh, exc.en = exc.zh.replace(directory, ""), exc.en.replace(directory, "")
    if exc.file:
        exc.file = exc.file.replace(directory, "")
    for p in exc.problems:
        p.zh, p.en = p.zh.replace(directory, ""), p.en.replace(directory, "")
        if p.feature:
            p.feature = p.feature.replace(directory, "")
    return exc


@contextmanager
def saved_upload(upload: UploadFile, settings: Settings) -> Iterator[Path]:
    """Stream an upload to a temporary file (refusing it past the upload limit). An error raised
    while the file is used never quotes the private temporary directory."""
    name = safe_name(upload.filename)
    if "." not in name:
        raise InputError("上传文件没有扩展名，无法判断格式", "the uploaded file has no extension", file=name)
    limit = settings.limits.max_upload_bytes
    with tempfile.TemporaryDirectory(prefix="gisplat-upload-") as tmp:
        # GDAL cannot open a path with ';' in it (it reads as an option separator): the copy on
        # disk gets '_' there; callers that record the name use safe_name(upload.filename).
        path = Path(tmp) / name.replace(";", "_")
        written = 0
        with path.open("wb") as fh:
            while chunk := upload.file.read(CHUNK):
                written += len(chunk)
                if written > limit:
                    raise LimitError(f"上传超过大小上限 {limit} 字节", f"the upload exceeds the limit of {limit} bytes",
                                     file=name)
                fh.write(chunk)
        try:
            yield path
        except PlatformError as exc:
            raise without_dir(exc, f"{tmp}{os.sep}") from None
