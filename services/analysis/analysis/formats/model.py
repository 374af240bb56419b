"""What every cart-export reader hands back, and how it fails.

A reader produces a :class:`ParsedExport` in the lab's normalized columns, or raises
:class:`FormatError` with a stable slug the web layer can map to a message.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .notices import details

# Normalized sample columns, in wire order. Units are in the names.
COLUMNS: tuple[str, ...] = (
    "time_s",
    "vo2_ml_min",
    "vco2_ml_min",
    "ve_l_min",
    "hr_bpm",
    "rf_bpm",
    "vt_l",
    "peto2_mmhg",
    "petco2_mmhg",
    "power_w",
    "speed_kmh",
    "grade_pct",
)

METADATA_KEYS: tuple[str, ...] = (
    "body_mass_kg",
    "height_cm",
    "sex",
    "birth_date",
    "age_years",
    "test_date",
    "device",
    "sampling",
    "averaging_seconds",
    "format_detail",
    "load_kind",
)


class FormatError(Exception):
    """The upload cannot be read as a CPET export.

    ``slug`` is a stable machine id (e.g. ``"unknown-format"``), ``detail`` is human text that
    names the line/column/field where possible, ``status`` is the HTTP status the web layer
    should answer with (400 bad request, 413 too large, 422 unreadable content).
    """

    def __init__(self, slug: str, detail: str, status: int = 422):
        super().__init__(f"{slug}: {detail}")
        self.slug = slug
        self.detail = detail
        self.status = status

    def to_wire(self) -> dict[str, Any]:
        return {"error": self.slug, "detail": self.detail, "status": self.status}


@dataclass(frozen=True)
class Limits:
    """Resource limits for one upload. Defaults suit a lab upload form."""

    max_bytes: int = 50 * 1024 * 1024
    max_rows: int = 2_000_000
    # XLSX: total uncompressed size of the zip members and the worst member's compression ratio.
    max_unzipped_bytes: int = 200 * 1024 * 1024
    max_zip_ratio: float = 200.0
    max_zip_members: int = 2_000
    # Dense cell grid a spreadsheet may span (rows x columns); calamine allocates it up front.
    max_sheet_cells: int = 60_000_000
    # Backwards/duplicate breaths that are dropped with a warning rather than refused.
    max_time_disorder_fraction: float = 0.01
    # Repeated time stamps (two breaths in the same whole second at high breathing rates).
    max_time_duplicate_fraction: float = 0.05
    min_time_disorder_allowed: int = 3


DEFAULT_LIMITS = Limits()


def upload_bytes(data: Any, limits: Limits) -> bytes:
    """The upload as bytes, refused when it is not bytes, over the size limit or empty (every reader's first step)."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise FormatError("bad-input", f"expected the file's bytes, got {type(data).__name__}", status=400)
    if len(data) > limits.max_bytes:
        raise FormatError("file-too-large", f"the file has {len(data):,} bytes; the limit is {limits.max_bytes:,}",
                          status=413)
    if not data.strip():
        raise FormatError("empty-file", "the file is empty")
    return data


@contextmanager
def only_format_errors(what: str = "the file"):
    """The readers' contract: nothing but FormatError escapes, whatever a malformed file makes a parser raise."""
    try:
        yield
    except FormatError:
        raise
    except MemoryError as exc:
        raise FormatError("file-too-large", "the file needs more memory than allowed to read", status=413) from exc
    except RecursionError as exc:
        raise FormatError("malformed-file", "the file is nested too deeply to read") from exc
    except Exception as exc:  # noqa: BLE001
        raise FormatError("unreadable-file", f"{what} could not be read ({type(exc).__name__}: {exc})") from exc


def empty_metadata() -> dict[str, Any]:
    return {key: None for key in METADATA_KEYS}


@dataclass
class ParsedExport:
    format: str
    metadata: dict[str, Any]
    samples: dict[str, np.ndarray]
    warnings: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        time = self.samples.get("time_s")
        return 0 if time is None else int(time.shape[0])

    def copy(self) -> "ParsedExport":
        return replace(
            self,
            metadata=dict(self.metadata),
            samples={k: v.copy() for k, v in self.samples.items()},
            warnings=list(self.warnings),
        )

    def to_wire(self) -> dict[str, Any]:
        """JSON-safe dict: NaN becomes None, every column is present (absent column -> null)."""
        samples: dict[str, Any] = {}
        for name in COLUMNS:
            values = self.samples.get(name)
            if values is None:
                samples[name] = None
            else:
                samples[name] = [None if v != v else v for v in values.astype(float).tolist()]
        return {
            "format": self.format,
            "metadata": {k: _json_scalar(v) for k, v in self.metadata.items()},
            "samples": samples,
            "warnings": [str(w) for w in self.warnings],
            "warning_details": details(self.warnings),  # the same, each with its code and params (notices.py)
        }


def _json_scalar(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, np.integer):
        return int(value)
    return value
