"""Which text encoding a Shapefile's .dbf uses.

A ``.cpg`` sidecar, when present, is trusted. Without one, GDAL assumes ISO-8859-1 and Chinese
attributes written by Chinese Windows software (GBK) come out as mojibake, so the raw bytes of
the field names and text fields are sniffed instead: pure ASCII or strict UTF-8 → UTF-8, else
GBK (or GB18030 when only that decodes), else unknown and the user must give ``--encoding``.
The DBF language-driver byte (offset 29) is reported as supporting evidence only: many writers
leave it at 0 or set it wrongly.
"""

from __future__ import annotations

import struct
from pathlib import Path

MAX_SNIFF_BYTES = 8 * 1024 * 1024

#: .cpg values (upper-cased, stripped) → the encoding name handed to pyogrio/GDAL.
CPG_ALIASES = {
    "UTF-8": "UTF-8", "UTF8": "UTF-8", "65001": "UTF-8",
    "GBK": "GBK", "936": "GBK", "CP936": "GBK", "GB2312": "GBK", "ANSI 936": "GBK",
    "GB18030": "GB18030", "54936": "GB18030",
}

#: DBF language-driver ids (byte 29) that mean code page 936 (simplified Chinese, GBK).
LDID_GBK = {0x4D, 0x7A}


def _read_cpg(dbf_path: Path) -> str | None:
    """Text of the ``.cpg`` next to ``dbf_path`` (any suffix case), or None."""
    for suffix in (".cpg", ".CPG", ".Cpg"):
        cpg = dbf_path.with_suffix(suffix)
        if cpg.is_file():
            return cpg.read_bytes()[:200].decode("ascii", "replace").strip()
    return None


def _text_samples(dbf_path: Path) -> tuple[list[bytes], int | None]:
    """Raw bytes of field names and character-field values (bounded), and the LDID byte.

    Values are taken per field, right-stripped of padding, so that a multi-byte sequence never
    straddles a sample boundary. A header that cannot be parsed yields the raw record bytes.
    """
    with open(dbf_path, "rb") as f:
        head = f.read(32)
        if len(head) < 32:
            return [], None
        n_records, header_len, record_len = struct.unpack("<IHH", head[4:12])
        ldid = head[29]
        descriptors = f.read(max(0, header_len - 32))
        fields: list[tuple[int, int, str]] = []  # (offset in record, length, type)
        names: list[bytes] = []
        offset = 1  # byte 0 of each record is the deletion flag
        for i in range(0, len(descriptors) - 31, 32):
            d = descriptors[i:i + 32]
            if d[0] == 0x0D:
                break
            names.append(d[:11].split(b"\x00", 1)[0])
            fields.append((offset, d[16], chr(d[11])))
            offset += d[16]
        f.seek(header_len)
        n = min(n_records, MAX_SNIFF_BYTES // record_len) if record_len else 0
        data = f.read(n * record_len)
    samples = [nm for nm in names if nm]
    if offset != record_len:  # descriptors disagree with the header: sniff whole records
        samples += [data[i:i + record_len] for i in range(0, len(data), record_len)]
        return samples, ldid
    text_fields = [(o, ln) for o, ln, t in fields if t in "CM"]
    for r in range(0, len(data) - record_len + 1, record_len):
        for o, ln in text_fields:
            value = data[r + o:r + o + ln].rstrip(b" \x00")
            if value and not value.isascii():
                samples.append(value)
    return samples, ldid


def _decodes(samples: list[bytes], codec: str) -> bool:
    """True if every sample decodes strictly, allowing one truncated trailing character.

    Writers cut text at the field width, sometimes in the middle of a multi-byte character.
    """
    for s in samples:
        for cut in range(0, 4):
            if cut >= len(s):
                return False
            try:
                s[: len(s) - cut].decode(codec)
                break
            except UnicodeDecodeError:
                continue
        else:
            return False
    return True


def detect_dbf_encoding(dbf_path: Path) -> tuple[str | None, str]:
    """The encoding to pass to pyogrio/GDAL for ``dbf_path``, and why (Chinese / English).

    Returns ``(None, reason)`` either when a ``.cpg`` with a value not in :data:`CPG_ALIASES`
    exists (GDAL reads it itself) or when the bytes fit no known encoding (the reason then asks
    for ``--encoding``).
    """
    dbf_path = Path(dbf_path)
    if dbf_path.suffix.lower() == ".shp":  # accept the .shp of the set as well
        dbf_path = next((p for p in (dbf_path.with_suffix(".dbf"), dbf_path.with_suffix(".DBF"))
                         if p.is_file()), dbf_path.with_suffix(".dbf"))
    cpg = _read_cpg(dbf_path)
    if cpg:
        mapped = CPG_ALIASES.get(cpg.upper())
        if mapped:
            return mapped, f".cpg 声明 {cpg} / .cpg declares {cpg}"
        return None, f".cpg 声明 {cpg}，交由 GDAL 解读 / .cpg declares {cpg}; left to GDAL"
    if not dbf_path.is_file():
        name = dbf_path.name
        return None, f"找不到 {name}，请指定 --encoding / {name} missing, give --encoding"
    samples, ldid = _text_samples(dbf_path)
    zh_hint = en_hint = ""
    if ldid in LDID_GBK:
        zh_hint = f"；语言驱动字节 0x{ldid:02X} 表示 GBK"
        en_hint = f"; language driver byte 0x{ldid:02X} says GBK"

    def reason(zh: str, en: str) -> str:
        return f"无 .cpg，{zh}{zh_hint} / no .cpg, {en}{en_hint}"

    if all(s.isascii() for s in samples):
        return "UTF-8", reason("属性全为 ASCII", "attributes are ASCII")
    if _decodes(samples, "utf-8"):
        return "UTF-8", reason("字节是合法 UTF-8", "bytes are valid UTF-8")
    for codec, label in (("gbk", "GBK"), ("gb18030", "GB18030")):
        if _decodes(samples, codec):
            return label, reason(f"字节是合法 {label}", f"bytes are valid {label}")
    return None, reason("编码未知，请指定 --encoding", "encoding unknown, give --encoding")
