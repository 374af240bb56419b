"""Opening XLSX uploads safely.

An .xlsx is a zip of XML parts. Before handing it to calamine (fast, Rust) we:
 * check the declared sizes and compression ratios of every member (zip bombs),
 * decompress every member once through :mod:`zipfile`, which stops at the declared size and
   verifies the CRC, so a member that lies about its size is caught, not expanded,
 * refuse DTDs/entities in any XML part,
 * measure the cell grid each worksheet spans: calamine allocates rows x columns up front, so a
   sheet with one cell in A1 and one in XFD1048576 would exhaust memory.
"""
from __future__ import annotations

import io
import zipfile

import numpy as np
from dataclasses import dataclass
from typing import Any

from .model import FormatError, Limits

_CHUNK = 1 << 20


def max_cell_refs(buf: bytes) -> tuple[int, int]:
    """Largest row number and column number referenced by ` r="..."` attributes in sheet XML.

    Vectorised with numpy (a regex over every cell of a few-MB sheet costs tens of ms):
    find each ' r="', then read the letters (column) and digits (row) that follow.
    """
    a = np.frombuffer(buf, dtype=np.uint8)
    if a.size < 8:
        return 0, 0
    hits = (a[:-4] == 0x20) & (a[1:-3] == 0x72) & (a[2:-2] == 0x3D) & (a[3:-1] == 0x22)
    pos = np.flatnonzero(hits) + 4
    if pos.size == 0:
        return 0, 0
    padded = np.concatenate([a, np.zeros(16, dtype=np.uint8)])
    g = np.lib.stride_tricks.sliding_window_view(padded, 14)[pos].astype(np.int32)
    letters = (g >= 65) & (g <= 90)
    digits = (g >= 48) & (g <= 57)
    col = np.zeros(pos.size, dtype=np.int64)
    in_letters = np.ones(pos.size, dtype=bool)
    for k in range(4):
        in_letters &= letters[:, k]
        col = np.where(in_letters, col * 26 + (g[:, k] - 64), col)
    n_letters = np.minimum(letters[:, :4].cumprod(axis=1).sum(axis=1), 4)
    row = np.zeros(pos.size, dtype=np.int64)
    in_digits = np.ones(pos.size, dtype=bool)
    offsets = np.arange(pos.size)
    for k in range(10):
        idx = np.minimum(n_letters + k, 13)
        d = g[offsets, idx]
        in_digits &= digits[offsets, idx]
        row = np.where(in_digits, row * 10 + (d - 48), row)
    return int(row.max()), int(col.max())


@dataclass
class SheetExtent:
    name: str
    max_row: int
    max_col: int


def inspect_zip(data: bytes, limits: Limits) -> list[SheetExtent]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise FormatError(
            "truncated-file", f"the spreadsheet (zip) is incomplete or damaged: {exc}"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - zipfile raises assorted errors on junk
        raise FormatError("truncated-file", f"the spreadsheet (zip) cannot be opened: {exc}") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_zip_members:
            raise FormatError(
                "zip-bomb", f"the spreadsheet holds {len(infos)} parts (limit {limits.max_zip_members})",
                status=413,
            )
        names = {i.filename for i in infos}
        if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
            raise FormatError(
                "unknown-format",
                "zip archive is not an Excel .xlsx workbook (no xl/workbook.xml)",
            )
        if "xl/workbook.bin" in names and "xl/workbook.xml" not in names:
            raise FormatError("unsupported-spreadsheet", "binary .xlsb workbooks are not supported; save as .xlsx")
        declared = sum(i.file_size for i in infos)
        if declared > limits.max_unzipped_bytes:
            raise FormatError(
                "zip-bomb",
                f"the spreadsheet would expand to {declared / 1e6:.0f} MB "
                f"(limit {limits.max_unzipped_bytes / 1e6:.0f} MB)",
                status=413,
            )
        for info in infos:
            ratio = info.file_size / max(1, info.compress_size)
            if info.file_size > (1 << 20) and ratio > limits.max_zip_ratio:
                raise FormatError(
                    "zip-bomb",
                    f"part {info.filename} is compressed {ratio:.0f}:1 (limit {limits.max_zip_ratio:.0f}:1)",
                    status=413,
                )
        sheets: list[SheetExtent] = []
        total = 0
        for info in infos:
            is_xml = info.filename.endswith((".xml", ".rels", ".vml"))
            is_sheet = info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
            max_row = max_col = 0
            try:
                with zf.open(info) as member:
                    tail = b""
                    first = True
                    while True:
                        chunk = member.read(_CHUNK)
                        if not chunk:
                            break
                        total += len(chunk)
                        if total > limits.max_unzipped_bytes:
                            raise FormatError(
                                "zip-bomb",
                                f"the spreadsheet expands beyond {limits.max_unzipped_bytes / 1e6:.0f} MB",
                                status=413,
                            )
                        if is_xml:
                            window = tail + chunk
                            if first and (b"<!DOCTYPE" in window[:4096] or b"<!ENTITY" in window[:4096]):
                                raise FormatError(
                                    "xml-entities-forbidden",
                                    f"part {info.filename} declares a DTD/entities, which are not allowed",
                                )
                            if b"<!ENTITY" in window or b"<!DOCTYPE" in window:
                                raise FormatError(
                                    "xml-entities-forbidden",
                                    f"part {info.filename} declares a DTD/entities, which are not allowed",
                                )
                            if is_sheet:
                                r, c = max_cell_refs(tail[-24:] + chunk)
                                max_row, max_col = max(max_row, r), max(max_col, c)
                            tail = chunk[-256:]
                            first = False
            except FormatError:
                raise
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
                raise FormatError(
                    "truncated-file", f"part {info.filename} of the spreadsheet is damaged: {exc}"
                ) from exc
            except Exception as exc:  # noqa: BLE001 - zlib errors etc.
                raise FormatError(
                    "truncated-file", f"part {info.filename} of the spreadsheet is damaged: {exc}"
                ) from exc
            if is_sheet:
                sheets.append(SheetExtent(info.filename, max_row, max_col))
                if max_row > limits.max_rows + 1000:
                    raise FormatError(
                        "too-many-rows",
                        f"worksheet {info.filename} has {max_row:,} rows; the limit is {limits.max_rows:,}",
                        status=413,
                    )
                if max_row * max(max_col, 1) > limits.max_sheet_cells:
                    raise FormatError(
                        "sheet-too-large",
                        f"worksheet {info.filename} spans {max_row:,} rows x {max_col:,} columns",
                        status=413,
                    )
    return sheets


class Workbook:
    """Sheets of a checked workbook as lists of rows (calamine, loaded on demand)."""

    def __init__(self, data: bytes, limits: Limits):
        inspect_zip(data, limits)
        self._limits = limits
        try:
            import python_calamine as pc

            self._wb = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
        except FormatError:
            raise
        except Exception as exc:  # noqa: BLE001 - calamine raises its own error types
            raise FormatError("truncated-file", f"the spreadsheet cannot be read: {exc}") from exc
        self.sheet_names: list[str] = list(self._wb.sheet_names)
        self._cache: dict[int, list[list[Any]]] = {}

    def rows(self, index: int) -> list[list[Any]]:
        if index in self._cache:
            return self._cache[index]
        try:
            sheet = self._wb.get_sheet_by_index(index)
            if sheet.height > self._limits.max_rows + 1000:
                raise FormatError(
                    "too-many-rows",
                    f"sheet '{sheet.name}' has {sheet.height:,} rows; the limit is {self._limits.max_rows:,}",
                    status=413,
                )
            rows = sheet.to_python(skip_empty_area=False)
        except FormatError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise FormatError("truncated-file", f"sheet {index + 1} cannot be read: {exc}") from exc
        self._cache[index] = rows
        return rows
