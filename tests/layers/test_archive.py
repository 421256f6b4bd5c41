"""Safe zip extraction: every hostile archive is refused and leaves nothing behind."""

from __future__ import annotations

import io
import stat
import time
import zipfile
from pathlib import Path

import pytest

from gis_platform.core.errors import InputError, LimitError, UnsafeArchiveError
from gis_platform.core.settings import Limits
from layers.archive import copy_member, list_shapefile_sets, safe_extract_zip

LIMITS = Limits()


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _empty(d: Path) -> bool:
    return not d.exists() or not any(d.iterdir())


class _RawNameInfo(zipfile.ZipInfo):
    """A ZipInfo whose name is written as given bytes, without the UTF-8 flag."""

    __slots__ = ("raw",)

    def _encodeFilenameFlags(self):  # noqa: N802 (zipfile's name)
        return self.raw, self.flag_bits & ~0x800


def test_plain_archive_extracts(tmp_path):
    z = _zip(tmp_path / "a.zip", {"a.txt": b"hello", "sub/b.txt": b"world", "sub/": b""})
    files = safe_extract_zip(z, tmp_path / "out", LIMITS)
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in files) == ["a.txt",
                                                                                "sub/b.txt"]
    assert (tmp_path / "out" / "sub" / "b.txt").read_bytes() == b"world"


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/etc/x", "..\\evil.txt",
                                  "C:\\Windows\\x.txt", "c:/x.txt", "\\\\server\\share\\x"])
def test_unsafe_names_refused(tmp_path, name):
    z = _zip(tmp_path / "a.zip", {"ok.txt": b"fine", name: b"evil"})
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError) as err:
        safe_extract_zip(z, dest, LIMITS)
    assert err.value.problems[0].feature == name
    assert _empty(dest)  # refused before anything was written, even ok.txt
    assert not (tmp_path / "evil.txt").exists()


def _with_mode(tmp_path: Path, mode: int) -> Path:
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("ok.txt", b"fine")
        info = zipfile.ZipInfo("special")
        info.create_system = 3
        info.external_attr = mode << 16
        zf.writestr(info, b"/etc/passwd")
    return z


def test_symlink_member_refused(tmp_path):
    z = _with_mode(tmp_path, stat.S_IFLNK | 0o777)
    with pytest.raises(UnsafeArchiveError) as err:
        safe_extract_zip(z, tmp_path / "out", LIMITS)
    assert "symbolic link" in err.value.problems[0].en
    assert _empty(tmp_path / "out")


def test_fifo_member_refused(tmp_path):
    z = _with_mode(tmp_path, stat.S_IFIFO | 0o644)
    with pytest.raises(UnsafeArchiveError):
        safe_extract_zip(z, tmp_path / "out", LIMITS)


def test_duplicate_member_refused(tmp_path):
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf, pytest.warns(UserWarning):
        zf.writestr("x.txt", b"1")
        zf.writestr("x.txt", b"2")
    with pytest.raises(UnsafeArchiveError):
        safe_extract_zip(z, tmp_path / "out", LIMITS)


def test_too_many_members(tmp_path):
    z = _zip(tmp_path / "a.zip", {f"f{i}.txt": b"x" for i in range(6)})
    with pytest.raises(LimitError):
        safe_extract_zip(z, tmp_path / "out", Limits(max_archive_members=5))
    assert _empty(tmp_path / "out")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """50 MB of zeros, deflated to ~50 kB."""
    z = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("zeros.bin", "w") as out:
            chunk = bytes(1024 * 1024)
            for _ in range(50):
                out.write(chunk)
    return z


def test_zip_bomb_refused_by_ratio(tmp_path, bomb):
    dest = tmp_path / "out"
    t0 = time.perf_counter()
    with pytest.raises(LimitError) as err:
        safe_extract_zip(bomb, dest, Limits())  # default ratio limit 200:1
    assert time.perf_counter() - t0 < 1.0
    assert "compression ratio" in err.value.problems[0].en
    assert _empty(dest)


def test_zip_bomb_refused_by_total_size(tmp_path, bomb):
    dest = tmp_path / "out"
    t0 = time.perf_counter()
    with pytest.raises(LimitError):
        safe_extract_zip(bomb, dest, Limits(max_uncompressed_bytes=10 * 1024 * 1024,
                                            max_compression_ratio=1e9))
    assert time.perf_counter() - t0 < 1.0
    assert _empty(dest)


def _patch_first(data: bytes, sig: bytes, offset: int, value: bytes) -> bytes:
    i = data.index(sig)
    return data[:i + offset] + value + data[i + offset + len(value):]


def test_lying_size_header_refused(tmp_path):
    """Headers claim 1000 bytes (so the pre-checks pass); the data inflates to 2 MiB."""
    z = _zip(tmp_path / "a.zip", {"big.bin": bytes(2 * 1024 * 1024)})
    data = z.read_bytes()
    small = (1000).to_bytes(4, "little")
    data = _patch_first(data, b"PK\x03\x04", 22, small)  # local header uncompressed size
    data = _patch_first(data, b"PK\x01\x02", 24, small)  # central directory uncompressed size
    z.write_bytes(data)
    with zipfile.ZipFile(z) as zf:
        assert zf.infolist()[0].file_size == 1000
    dest = tmp_path / "out"
    with pytest.raises((InputError, LimitError)):
        safe_extract_zip(z, dest, LIMITS)
    assert _empty(dest)


def test_copy_member_stops_at_real_size(tmp_path):
    """The byte counter itself: output beyond the declared size aborts the copy."""
    target = tmp_path / "x.bin"
    with pytest.raises(LimitError):
        copy_member(io.BytesIO(bytes(3 * 1024 * 1024)), target, declared=1000, budget=10**9)
    with pytest.raises(LimitError):
        copy_member(io.BytesIO(bytes(3 * 1024 * 1024)), tmp_path / "y.bin",
                    declared=10**9, budget=2 * 1024 * 1024)


def test_encrypted_member_refused(tmp_path):
    z = _zip(tmp_path / "a.zip", {"secret.txt": b"x" * 100})
    z.write_bytes(_patch_first(z.read_bytes(), b"PK\x01\x02", 8, b"\x01\x00"))
    with pytest.raises(InputError) as err:
        safe_extract_zip(z, tmp_path / "out", LIMITS)
    assert "encrypted" in err.value.en


def test_corrupt_zip(tmp_path):
    z = tmp_path / "bad.zip"
    z.write_bytes(b"this is not a zip file" * 10)
    with pytest.raises(InputError) as err:
        safe_extract_zip(z, tmp_path / "out", LIMITS)
    assert err.value.file == "bad.zip"


def test_gbk_member_names(tmp_path):
    """A Chinese Windows zip: GBK bytes, no UTF-8 flag."""
    z = tmp_path / "cn.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name, data in (("地块.shp", b"shp"), ("地块/说明.txt", b"txt")):
            raw = name.encode("gbk")
            info = _RawNameInfo(raw.decode("cp437"))
            info.raw = raw
            zf.writestr(info, data)
    with zipfile.ZipFile(z) as zf:  # check the fixture really is a cp437-flagged archive
        assert not zf.infolist()[0].flag_bits & 0x800
        assert zf.namelist()[0] != "地块.shp"
    files = safe_extract_zip(z, tmp_path / "out", LIMITS)
    assert {p.name for p in files} == {"地块.shp", "说明.txt"}
    assert (tmp_path / "out" / "地块.shp").read_bytes() == b"shp"


def test_utf8_member_names(tmp_path):
    z = _zip(tmp_path / "a.zip", {"定西/地块.shp": b"x"})
    files = safe_extract_zip(z, tmp_path / "out", LIMITS)
    assert files == [tmp_path / "out" / "定西" / "地块.shp"]


def test_list_shapefile_sets(tmp_path):
    for rel in ("a/地块.shp", "a/地块.dbf", "b/roads.SHP", "__MACOSX/a/._地块.shp", "a/._x.shp"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    found = list_shapefile_sets(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a/地块.shp", "b/roads.SHP"]
