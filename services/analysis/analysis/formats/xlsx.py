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
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from .model import FormatError, Limits

_CHUNK = 1 << 20
_ROW_REF = re.compile(rb'<row\b[^>]{0,200}?\br="(\d{1,9})"')
_CELL_COL = re.compile(rb'<c\b[^>]{0,200}?\br="([A-Z]{1,4})\d')


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n


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
                                for m in _ROW_REF.finditer(window):
                                    r = int(m.group(1))
                                    if r > max_row:
                                        max_row = r
                                for col in set(_CELL_COL.findall(window)):
                                    c = _col_number(col)
                                    if c > max_col:
                                        max_col = c
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
