"""Open any supported upload: pick the reader by file type, unpack zips safely, detect the
Shapefile encoding, and hash the source."""

from __future__ import annotations

from pathlib import Path

from gis_platform.core.errors import InputError, LimitError
from gis_platform.core.files import files_sha256
from gis_platform.core.settings import Limits

from .archive import list_shapefile_sets, safe_extract_zip
from .coord_txt import read_coordinate_txt
from .dxf import read_dxf
from .encoding import detect_dbf_encoding
from .read_vector import FORMATS, read_vector
from .sources import ReadResult

RASTER_SUFFIXES = {".tif", ".tiff"}
VECTOR_SUFFIXES = set(FORMATS) | {".zip", ".txt", ".dxf"}
SHP_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def is_raster(path: Path) -> bool:
    """True for GeoTIFF uploads."""
    return path.suffix.lower() in RASTER_SUFFIXES


def check_upload(path: Path, limits: Limits, display: str | None = None) -> None:
    """The file exists, is not empty, is a supported type and within the size limit."""
    name = display or path.name
    if not path.exists() or not path.is_file():
        raise InputError("文件不存在", "file not found", file=name)
    suffix = path.suffix.lower()
    if suffix not in VECTOR_SUFFIXES | RASTER_SUFFIXES:
        raise InputError(
            f"不支持的文件类型“{suffix}”；支持 GeoJSON、GeoPackage、zip 压缩的 Shapefile、KML、"
            "DXF、界址点坐标 TXT 和 GeoTIFF",
            f"unsupported file type '{suffix}'; supported: GeoJSON, GeoPackage, zipped Shapefile, "
            "KML, DXF, coordinate TXT and GeoTIFF",
            file=name,
        )
    size = path.stat().st_size
    if size == 0:
        raise InputError("文件为空", "the file is empty", file=name)
    if size > limits.max_upload_bytes:
        raise LimitError(
            f"文件大小 {size} 字节超过上限 {limits.max_upload_bytes}",
            f"file size {size} bytes exceeds the limit of {limits.max_upload_bytes}",
            file=name,
        )


def source_sha256(path: Path) -> str:
    """sha256 of the source as uploaded; a bare Shapefile hashes all its sidecar files."""
    files = [path]
    if path.suffix.lower() == ".shp":
        files = [path.with_suffix(s) for s in SHP_SIDECARS if path.with_suffix(s).exists()]
    return files_sha256(files)


def _read_shapefile(
    shp: Path, limits: Limits, encoding: str | None, display: str
) -> ReadResult:
    missing = [s for s in (".shx", ".dbf") if not shp.with_suffix(s).exists()]
    if missing:
        raise InputError(
            f"Shapefile 缺少 {'、'.join(missing)} 文件",
            f"the Shapefile lacks its {', '.join(missing)} file(s)",
            file=display,
        )
    reason = "given"
    if encoding is None:
        encoding, reason = detect_dbf_encoding(shp.with_suffix(".dbf"))
        if encoding is None and not shp.with_suffix(".cpg").exists():
            raise InputError(
                f"无法判断属性表编码（{reason}），请用 --encoding 指定，如 GBK 或 UTF-8",
                f"cannot tell the attribute encoding ({reason}); give --encoding, e.g. GBK or UTF-8",
                file=display,
            )
    result = read_vector(shp, limits, encoding=encoding, display_name=display)
    result.encoding = encoding or result.encoding
    result.meta["encoding_reason"] = reason
    return result


def read_source(
    path: Path,
    limits: Limits,
    workdir: Path,
    *,
    source_layer: str | None = None,
    encoding: str | None = None,
    display_name: str | None = None,
) -> ReadResult:
    """Read any supported vector upload into a :class:`ReadResult` (source CRS, x=easting)."""
    display = display_name or path.name
    suffix = path.suffix.lower()
    if suffix == ".zip":
        members = safe_extract_zip(path, workdir, limits)
        shps = list_shapefile_sets(workdir)
        if len(shps) == 1:
            return _read_shapefile(shps[0], limits, encoding, f"{display}/{shps[0].name}")
        if len(shps) > 1:
            raise InputError(
                f"压缩包中有多个 Shapefile，请每次上传一个：{', '.join(p.name for p in shps)}",
                f"the archive holds several Shapefiles; upload one at a time: "
                f"{', '.join(p.name for p in shps)}",
                file=display,
            )
        others = [m for m in members if m.suffix.lower() in FORMATS and m.suffix.lower() != ".shp"]
        if len(others) == 1:
            return read_vector(others[0], limits, source_layer=source_layer,
                               display_name=f"{display}/{others[0].name}")
        raise InputError(
            "压缩包中没有可读取的 Shapefile（需 .shp/.shx/.dbf）",
            "the archive holds no readable Shapefile (.shp/.shx/.dbf needed)",
            file=display,
        )
    if suffix == ".shp":
        return _read_shapefile(path, limits, encoding, display)
    if suffix == ".txt":
        return read_coordinate_txt(path)
    if suffix == ".dxf":
        return read_dxf(path, limits)
    return read_vector(path, limits, source_layer=source_layer, display_name=display)
