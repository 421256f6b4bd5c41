"""Reader for the boundary coordinate TXT (界址点坐标 报盘格式) of land-approval submissions.

The file has an ``[属性描述]`` key=value section (optionally preceded by ``[扩展信息]``) and a
``[地块坐标]`` section of parcels. Each parcel starts with a header line ending in ``,@`` and is
followed by ``点号,圈号,X,Y`` lines where **X is the northing** and **Y the easting** (usually
with the zone prefix). Geometry is built in x=easting, y=northing order. See DOMAIN.md §7.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import shapely
from pyproj import CRS
from shapely.geometry import Polygon

from gis_platform.core.errors import CRSError, GeometryError, InputError, Problem
from layers.sources import ReadResult

SOURCE_FORMAT = "coordinate_txt"
HEADER_COLUMNS = ("JZDS", "DKMJ", "DKBH", "DKMC", "JLTXSX", "TFH", "DKYT", "DLBM")
AREA_TOLERANCE = 0.01  # relative difference between declared and computed area that is noted

_FULL_WIDTH = str.maketrans({"，": ",", "\u3000": " ", "＝": "=", "＠": "@", "［": "[", "］": "]",
                             "【": "[", "】": "]", "：": ":", "．": "."})
_SECTIONS = ("扩展信息", "属性描述", "地块坐标")
_LEGACY = ("西安", "北京", "XIAN", "BEIJING", "1980", "1954", "80", "54")


def cgcs2000_gk_epsg(zone: int, prefixed: bool) -> int:
    """EPSG code of a CGCS2000 Gauss-Krüger CRS from its zone number.

    Zones 25..45 are 3° zones (prefix 4513+, no prefix 4534+); zones 13..23 are 6° zones
    (prefix 4491+, no prefix 4502+). ``prefixed`` says whether eastings carry the zone number.
    Raises ``CRSError`` for any other zone.
    """
    if 25 <= zone <= 45:
        return (4513 if prefixed else 4534) + zone - 25
    if 13 <= zone <= 23:
        return (4491 if prefixed else 4502) + zone - 13
    raise CRSError(f"带号 {zone} 不是有效的 CGCS2000 高斯-克吕格带号（3°带 25–45，6°带 13–23）",
                   f"zone {zone} is not a valid CGCS2000 Gauss-Krüger zone "
                   "(3-degree zones 25-45, 6-degree zones 13-23)")


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode file bytes: BOM → ``utf-8-sig``; else strict UTF-8; else GBK (``gb18030``).

    Returns ``(text, encoding)``.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data.decode("utf-8-sig"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("gb18030"), "gb18030"


@dataclass
class _Parcel:
    line: int
    attrs: dict[str, object]
    label: str
    rings: dict[int, list[tuple[int, float, float]]] = field(default_factory=dict)


def _split_sections(text: str, fname: str) -> dict[str, list[tuple[int, str]]]:
    sections: dict[str, list[tuple[int, str]]] = {}
    current: str | None = None
    for no, raw in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        line = raw.translate(_FULL_WIDTH).strip()
        if not line:
            continue
        m = re.fullmatch(r"\[\s*(.+?)\s*\]", line)
        if m:
            current = m.group(1)
            if current in sections:
                raise InputError(f"第 {no} 行：节 [{current}] 重复出现",
                                 f"line {no}: section [{current}] appears twice", file=fname)
            sections[current] = []
            continue
        if current is None:
            raise InputError(f"第 {no} 行：内容出现在任何节（如 [属性描述]）之前",
                             f"line {no}: content before any section (e.g. [属性描述])",
                             file=fname)
        sections[current].append((no, line))
    missing = [s for s in ("属性描述", "地块坐标") if s not in sections]
    if missing:
        names = "、".join(f"[{s}]" for s in missing)
        raise InputError(f"缺少 {names} 节，不是界址点坐标 TXT 报盘格式",
                         f"missing section {', '.join(f'[{s}]' for s in missing)}; "
                         "not a boundary coordinate TXT", file=fname)
    return sections


def _parse_kv(lines: list[tuple[int, str]], section: str, fname: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for no, line in lines:
        if "=" not in line:
            raise InputError(f"第 {no} 行：[{section}] 中的行应为“键=值”：{line[:60]}",
                             f"line {no}: lines in [{section}] must be key=value: {line[:60]}",
                             file=fname)
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


def _number(text: str, what_zh: str, what_en: str, no: int, fname: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InputError(f"第 {no} 行：{what_zh}不是数字：“{text}”",
                         f"line {no}: {what_en} is not a number: '{text}'", file=fname)
    return value


def _parse_header(no: int, fields: list[str], index: int, fname: str) -> _Parcel:
    values = fields[:-1]
    if len(values) < len(HEADER_COLUMNS):
        raise InputError(f"第 {no} 行：地块头行应有 {len(HEADER_COLUMNS)} 个字段和结尾的 @，"
                         f"只有 {len(values)} 个",
                         f"line {no}: a parcel header needs {len(HEADER_COLUMNS)} fields and "
                         f"a final @, found {len(values)}", file=fname)
    attrs: dict[str, object] = {k: (v or None) for k, v in zip(HEADER_COLUMNS, values)}
    for i, extra in enumerate(values[len(HEADER_COLUMNS):], start=1):
        attrs[f"extra_{i}"] = extra or None
    if attrs["JZDS"] is not None:
        attrs["JZDS"] = int(_number(str(attrs["JZDS"]), "界址点数", "JZDS (point count)", no,
                                    fname))
    if attrs["DKMJ"] is not None:
        attrs["DKMJ"] = _number(str(attrs["DKMJ"]), "地块面积", "DKMJ (area)", no, fname)
    name = attrs["DKMC"] or f"第{index}块"
    label = f"{name} (DKBH {attrs['DKBH']})" if attrs["DKBH"] else str(name)
    return _Parcel(line=no, attrs=attrs, label=label)


def _parse_parcels(lines: list[tuple[int, str]], fname: str) -> list[_Parcel]:
    parcels: list[_Parcel] = []
    for no, line in lines:
        fields = [f.strip() for f in line.split(",")]
        if len(fields) >= 2 and fields[-1] == "@":
            parcels.append(_parse_header(no, fields, len(parcels) + 1, fname))
            continue
        if not parcels:
            raise InputError(f"第 {no} 行：坐标行出现在第一个地块头行（以 ,@ 结尾）之前",
                             f"line {no}: coordinate line before the first parcel header "
                             "(a line ending in ,@)", file=fname)
        while len(fields) > 4 and fields[-1] == "":
            fields.pop()  # tolerate trailing commas
        if len(fields) != 4:
            raise InputError(f"第 {no} 行：坐标行应为“点号,圈号,X,Y”四个字段，实为 {len(fields)} 个",
                             f"line {no}: a coordinate line must be 'point,ring,X,Y' "
                             f"(4 fields), found {len(fields)}", file=fname)
        parcel = parcels[-1]
        ring_f = _number(fields[1], "圈号", "ring number", no, fname)
        ring = int(ring_f)
        if ring != ring_f:
            raise InputError(f"第 {no} 行：圈号“{fields[1]}”不是整数",
                             f"line {no}: ring number '{fields[1]}' is not an integer", file=fname)
        x = _number(fields[2], "X 坐标", "X coordinate", no, fname)
        y = _number(fields[3], "Y 坐标", "Y coordinate", no, fname)
        if ring < 1:
            raise InputError(f"第 {no} 行：圈号 {ring} 无效（应从 1 开始）",
                             f"line {no}: invalid ring number {ring} (must start at 1)",
                             file=fname)
        if ring not in parcel.rings:
            if ring != 1 and 1 not in parcel.rings:
                raise InputError(f"第 {no} 行：地块 {parcel.label} 的内圈 {ring} 出现在外圈 1 之前",
                                 f"line {no}: hole ring {ring} of parcel {parcel.label} appears "
                                 "before outer ring 1", file=fname)
            parcel.rings[ring] = []
        elif ring != next(reversed(parcel.rings)):
            raise InputError(f"第 {no} 行：地块 {parcel.label} 的第 {ring} 圈的点不连续",
                             f"line {no}: points of ring {ring} of parcel {parcel.label} are "
                             "not contiguous", file=fname)
        parcel.rings[ring].append((no, x, y))
    if not parcels:
        raise InputError("[地块坐标] 节中没有地块（地块头行以 ,@ 结尾）",
                         "no parcel in section [地块坐标] (parcel headers end in ,@)", file=fname)
    for p in parcels:
        if not p.rings:
            raise InputError(f"第 {p.line} 行：地块 {p.label} 没有坐标",
                             f"line {p.line}: parcel {p.label} has no coordinates", file=fname)
    return parcels


def _digits(v: float) -> int:
    return len(str(int(abs(v))))


def _check_axes(parcels: list[_Parcel], fname: str) -> None:
    for p in parcels:
        for pts in p.rings.values():
            for no, x, y in pts:
                if _digits(x) == 8 or (1e5 <= x < 1e6 and 1e6 <= y < 1e7):
                    raise CRSError(
                        f"第 {no} 行：第 3、4 列似乎互换了（X={x} 像东坐标，Y={y} 像北坐标）；"
                        "X 必须是北坐标，Y 是东坐标",
                        f"line {no}: columns 3/4 look swapped (X={x} looks like an easting, "
                        f"Y={y} like a northing); X must be the northing, Y the easting",
                        file=fname, problems=[Problem("X/Y 列互换", "X/Y columns swapped",
                                                      feature=p.label)])


def _resolve_crs(header: dict[str, str], parcels: list[_Parcel], fname: str,
                 notes: list[Problem]) -> tuple[CRS | None, dict[str, object]]:
    system = header.get("坐标系", "").replace(" ", "").upper()
    if not system:
        notes.append(Problem("文件未声明坐标系，须由用户指定 CRS",
                             "the file declares no 坐标系; the user must give the CRS"))
        return None, {}
    if any(k in system for k in _LEGACY) or not ("2000" in system or "CGCS" in system):
        raise CRSError(
            f"坐标系“{header['坐标系']}”不是 CGCS2000；自 2018 年起只接受 2000 国家大地坐标系，"
            "请用当地公布的转换参数转换后再提交",
            f"坐标系 '{header['坐标系']}' is not CGCS2000; since 2018 only CGCS2000 is accepted, "
            "convert with locally published parameters", file=fname)
    eastings = [(no, y) for p in parcels for pts in p.rings.values() for no, _, y in pts]
    kinds = {_digits(y) for _, y in eastings}
    if not kinds <= {6, 8} or len(kinds) != 1:
        odd = [(n, y) for n, y in eastings if _digits(y) != _digits(eastings[0][1])]
        no, y = odd[0] if kinds <= {6, 8} else next(
            (n, y) for n, y in eastings if _digits(y) not in (6, 8))
        raise CRSError(f"Y（东坐标）位数不一致或不合理（如第 {no} 行 Y={y}）；应全为 8 位（带带号）"
                       "或全为 6 位（不带带号）",
                       f"Y (easting) digit counts are mixed or implausible (e.g. line {no}: "
                       f"Y={y}); expected all 8-digit (zone prefix) or all 6-digit", file=fname)
    prefixed = kinds == {8}
    prefixes = {int(y // 1_000_000) for _, y in eastings} if prefixed else set()
    if len(prefixes) > 1:
        raise CRSError(f"Y 坐标的带号前缀不一致：{sorted(prefixes)}",
                       f"Y coordinates carry different zone prefixes: {sorted(prefixes)}",
                       file=fname)
    zone_text = re.sub(r"\D", "", header.get("带号", ""))
    if zone_text:
        zone = int(zone_text)
        if prefixed and zone not in prefixes:
            prefix = prefixes.pop()
            raise CRSError(f"带号={zone} 与 Y 坐标前缀 {prefix} 不一致",
                           f"带号 (zone) {zone} does not match the Y (easting) prefix {prefix}",
                           file=fname)
    elif prefixed:
        zone = prefixes.pop()
        notes.append(Problem(f"文件未填带号，按 Y 坐标前缀取带号 {zone}",
                             f"带号 (zone) is missing; zone {zone} taken from the easting prefix"))
    else:
        raise CRSError("文件未填带号且 Y 坐标不带带号前缀，无法确定投影带；请用 --crs 指定坐标系",
                       "带号 (zone) is missing and eastings carry no zone prefix, so the zone "
                       "cannot be known; give the CRS with --crs", file=fname)
    band_text = re.sub(r"\D", "", header.get("几度分带", ""))
    band = 3 if 25 <= zone <= 45 else 6 if 13 <= zone <= 23 else None
    if band_text and band is not None and int(band_text) != band:
        raise CRSError(f"几度分带={band_text} 与带号 {zone}（{band}° 带）不一致",
                       f"几度分带 (band width) {band_text} does not match zone {zone} "
                       f"(a {band}-degree zone)", file=fname)
    code = cgcs2000_gk_epsg(zone, prefixed)
    return CRS.from_epsg(code), {"zone": zone, "band": band, "prefixed": prefixed, "epsg": code}


def _build_polygon(p: _Parcel, repairable: list[Problem],
                   problems: list[Problem]) -> Polygon | None:
    rings: list[list[tuple[float, float]]] = []
    for n, pts in p.rings.items():
        coords = [(y, x) for _, x, y in pts]  # file is northing-first; geometry is x=easting
        if len(set(coords)) < 3:
            problems.append(Problem(f"第{n}圈只有 {len(set(coords))} 个不同的点，至少需要 3 个",
                                    f"ring {n} has {len(set(coords))} distinct points; "
                                    "at least 3 are needed", feature=p.label))
            continue
        if coords[0] != coords[-1]:
            coords.append(coords[0])
            repairable.append(Problem(f"第{n}圈未闭合（已补上首点闭合）",
                                      f"ring {n} is not closed (closed by repeating its first "
                                      "point)", feature=p.label))
        rings.append(coords)
    if len(rings) != len(p.rings):
        return None
    return shapely.orient_polygons(Polygon(rings[0], rings[1:]), exterior_cw=False)


def read_coordinate_txt(path: Path) -> ReadResult:
    """Read a boundary coordinate TXT (界址点坐标 报盘格式) into one polygon per parcel.

    Parameters
    ----------
    path : pathlib.Path
        The TXT file (GBK/GB18030, UTF-8, or UTF-8 with BOM).

    Returns
    -------
    ReadResult
        ``frame`` has columns JZDS, DKMJ (hectares), DKBH, DKMC, JLTXSX, TFH, DKYT, DLBM, any
        ``extra_N`` fields and ``geometry`` (x=easting, y=northing, outer rings CCW, holes CW);
        ``crs`` is the CGCS2000 Gauss-Krüger CRS the header and eastings imply (None when the
        file declares no 坐标系). Unclosed rings are closed and listed in ``repairable``.

    Raises
    ------
    InputError
        Malformed structure or values (the message names the line).
    CRSError
        Non-CGCS2000 system, zone/prefix mismatch, swapped X/Y columns, unknown zone.
    GeometryError
        A parcel that is not a polygon (点/线) or a ring with fewer than 3 distinct points.
    """
    fname = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"无法读取文件：{exc.strerror}", f"cannot read the file: {exc.strerror}",
                         file=fname) from None
    text, encoding = decode_text(data)
    sections = _split_sections(text, fname)
    header = _parse_kv(sections["属性描述"], "属性描述", fname)
    meta: dict[str, object] = {"header": header}
    if "扩展信息" in sections:
        meta["extension"] = _parse_kv(sections["扩展信息"], "扩展信息", fname)
    notes: list[Problem] = []
    for name in sections:
        if name not in _SECTIONS:
            notes.append(Problem(f"忽略未知的节 [{name}]", f"unknown section [{name}] ignored"))
    parcels = _parse_parcels(sections["地块坐标"], fname)
    _check_axes(parcels, fname)
    crs, crs_meta = _resolve_crs(header, parcels, fname, notes)
    meta.update(crs_meta)

    bad: list[Problem] = []
    for p in parcels:
        kind = p.attrs["JLTXSX"]
        if kind is not None and kind != "面":
            bad.append(Problem(f"记录图形属性为“{kind}”，报批地块必须是面",
                               f"记录图形属性 (JLTXSX) is '{kind}'; a polygon (面) is needed",
                               feature=p.label))
    if bad:
        raise GeometryError("地块不是面要素", "parcels are not polygons", file=fname,
                            problems=bad)
    repairable: list[Problem] = []
    geoms = [_build_polygon(p, repairable, bad) for p in parcels]
    if bad:
        raise GeometryError("地块的圈点数不足", "parcel rings have too few points", file=fname,
                            problems=bad)

    for p, g in zip(parcels, geoms):
        declared = p.attrs["DKMJ"]
        if declared is None or g is None:
            continue
        computed_ha = g.area / 10_000
        if abs(computed_ha - float(declared)) > AREA_TOLERANCE * abs(float(declared)):
            notes.append(Problem(
                f"申报面积 {declared} 公顷与计算面积 {computed_ha:.4f} 公顷相差超过 1%",
                f"declared area {declared} ha differs from the computed {computed_ha:.4f} ha "
                "by more than 1 %", feature=p.label))

    columns = list(HEADER_COLUMNS) + sorted(
        {k for p in parcels for k in p.attrs if k.startswith("extra_")},
        key=lambda k: int(k.split("_")[1]))
    records: dict[str, list[object]] = {c: [p.attrs.get(c) for p in parcels] for c in columns}
    records["geometry"] = list(geoms)
    frame = gpd.GeoDataFrame(records, geometry="geometry", crs=None)
    meta["parcel_lines"] = [p.line for p in parcels]
    return ReadResult(frame=frame, crs=crs, source_format=SOURCE_FORMAT, encoding=encoding,
                      feature_ids=[p.label for p in parcels], repairable=repairable,
                      notes=notes, meta=meta)
