"""All XML goes through defusedxml with DTDs forbidden (no billion laughs, no external entities)."""
from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as DET

from .model import FormatError


def parse(data: bytes | str, what: str = "XML") -> Element:
    try:
        return DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden) as exc:
        raise FormatError(
            "xml-entities-forbidden", f"{what} declares a DTD or entities, which are not allowed ({exc})"
        ) from exc
    except ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        msg = str(exc)
        slug = "truncated-file" if ("no element found" in msg or "unclosed token" in msg) else "malformed-xml"
        raise FormatError(slug, f"{what} is not well-formed at line {line}, column {column}: {msg}") from exc
    except RecursionError as exc:
        raise FormatError("malformed-xml", f"{what} is nested too deeply") from exc


def local(tag: Any) -> str:
    """Tag without namespace."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


_SS = "urn:schemas-microsoft-com:office:spreadsheet"


def spreadsheetml_tables(root: Element, max_rows: int) -> list[tuple[str, list[list[Any]]]]:
    """Excel 2003 XML (<Workbook>) -> [(sheet name, rows)] honouring ss:Index gaps."""
    sheets = []
    for ws in root.iter(f"{{{_SS}}}Worksheet"):
        name = ws.get(f"{{{_SS}}}Name") or f"Sheet{len(sheets) + 1}"
        rows: list[list[Any]] = []
        for table in ws.iter(f"{{{_SS}}}Table"):
            for row_el in table.iter(f"{{{_SS}}}Row"):
                r_index = row_el.get(f"{{{_SS}}}Index")
                if r_index and r_index.isdigit():
                    target = int(r_index) - 1
                    if target - len(rows) > max_rows:
                        raise FormatError("too-many-rows", f"row index {target + 1} beyond the limit", status=413)
                    while len(rows) < target:
                        rows.append([])
                cells: list[Any] = []
                for cell in row_el.iter(f"{{{_SS}}}Cell"):
                    c_index = cell.get(f"{{{_SS}}}Index")
                    if c_index and c_index.isdigit():
                        target_c = min(int(c_index) - 1, 16384)
                        while len(cells) < target_c:
                            cells.append(None)
                    data = cell.find(f"{{{_SS}}}Data")
                    value: Any = None
                    if data is not None:
                        text = "".join(data.itertext())
                        kind = data.get(f"{{{_SS}}}Type")
                        if kind == "Number":
                            try:
                                value = float(text)
                            except ValueError:
                                value = text
                        else:
                            value = text
                    cells.append(value)
                    merge = cell.get(f"{{{_SS}}}MergeAcross")
                    if merge and merge.isdigit():
                        cells.extend([None] * min(int(merge), 256))
                rows.append(cells)
                if len(rows) > max_rows + 1000:
                    raise FormatError(
                        "too-many-rows", f"more than {max_rows:,} rows in sheet '{name}'", status=413
                    )
        sheets.append((name, rows))
    return sheets
