"""Files kept by content: their sha256, and a copy stored under it once."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path


def files_sha256(paths: Iterable[Path]) -> str:
    """sha256 of the files' bytes, read one after another (1 MiB blocks)."""
    h = hashlib.sha256()
    for path in paths:
        with path.open("rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    return files_sha256([path])


def keep_by_sha256(src: Path, root: Path, sha: str) -> Path:
    """Copy ``src`` to ``root/<sha>`` unless it is there already (content-addressed, so an
    existing file is the same); the copy appears whole or not at all. Returns the stored path."""
    root.mkdir(parents=True, exist_ok=True)
    target = root / sha
    if not target.exists():
        tmp = root / f".{sha}.{os.getpid()}.part"
        shutil.copyfile(src, tmp)
        os.replace(tmp, target)
    return target
