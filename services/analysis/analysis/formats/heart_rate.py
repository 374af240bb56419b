"""Heart-rate tracks recorded beside a test (chest strap, sports watch): FIT, TCX or a CSV of time and HR.

    track = read_heart_rate(data, filename="belt.fit")   # HeartRateTrack or FormatError

FIT through fitdecode (a maintained reader of Garmin's FIT protocol, CRC checked), TCX through the
safe XML reader (tcx.py), CSV through the text readers every export uses. `time_s` runs from the
track's first sample; `start` is that sample's POSIX time when the file has real time stamps (FIT,
TCX, a CSV of date-times), so the track can be put onto the test by the clock (engine/heart_rate.py).
"""
from __future__ import annotations

import datetime as dt
import io
import math
import re
from dataclasses import dataclass, field

import numpy as np

from . import tcx, text as textmod, units as U
from .notices import note
from .model import DEFAULT_LIMITS, FormatError, Limits, only_format_errors, upload_bytes

FIT_MAGIC = b".FIT"
HR_RANGE = (25.0, 250.0)
_TIME_NAMES = re.compile(r"^(time|t|zeit|timestamp|date ?time|elapsed|seconds|secs|sec|s|время|tid)\b", re.I)
_HR_NAMES = re.compile(r"^(hr|heart[ _]?rate|bpm|pulse|hf|чсс|puls)\b", re.I)


@dataclass
class HeartRateTrack:
    format: str                    # fit | tcx | csv
    time_s: np.ndarray             # from the first sample
    hr_bpm: np.ndarray
    start: float | None            # POSIX seconds of the first sample, when the file has clock time
    warnings: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return float(self.time_s[-1]) if self.time_s.size else 0.0


def read_heart_rate(data: bytes, filename: str | None = None, limits: Limits = DEFAULT_LIMITS) -> HeartRateTrack:
    """Read one heart-rate file. Raises FormatError (slug/detail/status) for anything unreadable."""
    data = upload_bytes(data, limits)
    with only_format_errors("the heart-rate file"):
        if len(data) >= 12 and data[8:12] == FIT_MAGIC:
            return _finish(*_read_fit(data, limits), fmt="fit")
        if data[:4] in (b"PK\x03\x04", b"\xd0\xcf\x11\xe0") or data[:5] == b"%PDF-":
            raise FormatError("unknown-format", "not a heart-rate track: upload a FIT, TCX or CSV (time, HR) file")
        text, _enc = textmod.decode(data)
        if text.lstrip()[:1] == "<":
            if tcx.sniff(text.lstrip()[:3000]) <= 0:
                raise FormatError("unknown-format", "XML that is not a Garmin TCX heart-rate track")
            t, hr, start = tcx.read_tcx_track(data, limits)
            return _finish(t + start, hr, start, [], fmt="tcx")
        textmod.check_row_count(data, limits)
        return _finish(*_read_csv(text, limits), fmt="csv")


def _read_fit(data: bytes, limits: Limits):
    import fitdecode

    times, rates = [], []
    try:
        with fitdecode.FitReader(io.BytesIO(data), check_crc=fitdecode.CrcCheck.RAISE,
                                 error_handling=fitdecode.ErrorHandling.RAISE,
                                 keep_raw_chunks=False) as fit:
            for frame in fit:
                if frame.frame_type != fitdecode.FIT_FRAME_DATA or frame.name != "record":
                    continue
                stamp = frame.get_value("timestamp", fallback=None)
                hr = frame.get_value("heart_rate", fallback=None)
                if not isinstance(stamp, dt.datetime) or hr is None:
                    continue
                if stamp.tzinfo is None:  # FIT time stamps are UTC
                    stamp = stamp.replace(tzinfo=dt.timezone.utc)
                times.append(stamp.timestamp())
                rates.append(float(hr))
                if len(times) > limits.max_rows:
                    raise FormatError("too-many-rows", f"more than {limits.max_rows:,} records", status=413)
    except fitdecode.FitCRCError as exc:
        raise FormatError("corrupt-file", f"the FIT file fails its checksum ({exc})") from exc
    except fitdecode.FitEOFError as exc:
        raise FormatError("truncated-file", f"the FIT file ends early ({exc})") from exc
    except fitdecode.FitError as exc:
        raise FormatError("malformed-file", f"the FIT file is not valid ({exc})") from exc
    if not times:
        raise FormatError("no-data", "the FIT file has no records with heart rate")
    t = np.asarray(times)
    return t, np.asarray(rates), float(t.min()), []


def _read_csv(text: str, limits: Limits):
    lines = [ln for ln in textmod.split_lines(text) if ln.strip()]
    if len(lines) < 2:
        raise FormatError("no-data", "the CSV has no data rows")
    delim = textmod.sniff_delimiter(lines)
    table = textmod.to_table(lines, delim)
    header = [U.split_label(c)[0].strip().lower() for c in table[0]]
    units = [U.split_label(c)[1] for c in table[0]]
    ti = next((i for i, h in enumerate(header) if _TIME_NAMES.match(h)), None)
    hi = next((i for i, h in enumerate(header) if _HR_NAMES.match(h)), None)
    if ti is None or hi is None:
        raise FormatError("no-header", "the CSV needs a header row with a time column (time, t, timestamp) and a "
                                       "heart-rate column (hr, heart_rate, bpm)")
    rows = table[1:]
    if len(rows) > limits.max_rows:
        raise FormatError("too-many-rows", f"{len(rows):,} rows; the limit is {limits.max_rows:,}", status=413)
    cells = [r[ti] if ti < len(r) else None for r in rows]
    hr = np.array([U.to_float(r[hi]) if hi < len(r) else math.nan for r in rows], dtype=float)
    bad = np.flatnonzero(np.isinf(hr))
    if bad.size:
        raise FormatError("non-finite-value", f"column {table[0][hi]}, row {int(bad[0]) + 2}: the value is infinite")
    warnings: list[str] = []
    stamps = [_iso(c) for c in cells]
    if any(s is not None for s in stamps[:5]):
        t = np.array([s if s is not None else math.nan for s in stamps], dtype=float)
        start = float(np.nanmin(t)) if np.isfinite(t).any() else None
        if start is None:
            raise FormatError("no-data", "no readable time stamp in the time column")
        warnings += [] if all(_aware(c) for c in cells[:5]) else [note("hr_timestamps_without_zone")]
    else:
        t, notes = U.parse_time_column(cells, units[ti], from_workbook=False, label="time")
        warnings += notes
        start = None
    if np.isinf(t).any():
        raise FormatError("non-finite-value", f"row {int(np.flatnonzero(np.isinf(t))[0]) + 2}: the time is infinite")
    return t, hr, start, warnings


def _iso(cell) -> float | None:
    s = str(cell or "").strip()
    if len(s) < 16 or not re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}", s):
        return None
    try:
        stamp = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp.timestamp()


def _aware(cell) -> bool:
    s = str(cell or "").strip()
    return s.endswith("Z") or bool(re.search(r"[+-]\d{2}:?\d{2}$", s))


def _finish(t: np.ndarray, hr: np.ndarray, start: float | None, warnings: list[str], fmt: str) -> HeartRateTrack:
    ok = np.isfinite(t) & np.isfinite(hr)
    lo, hi = HR_RANGE
    implausible = ok & ((hr < lo) | (hr > hi))
    if implausible.any():
        warnings = warnings + [note("hr_values_out_of_range", count=int(implausible.sum()), low=lo, high=hi)]
    ok &= ~implausible
    if not ok.any():
        raise FormatError("no-data", f"the file has no heart rate within {lo:g}-{hi:g} bpm")
    t, hr = t[ok], hr[ok]
    order = np.argsort(t, kind="stable")
    t, hr = t[order], hr[order]
    keep = np.concatenate([[True], np.diff(t) > 0])
    t, hr = t[keep], hr[keep]
    if t.size < 10:
        raise FormatError("no-data", f"only {t.size} heart-rate samples: too few to put onto a test")
    if t[-1] - t[0] > 24 * 3600:
        raise FormatError("implausible-track", "the track spans more than a day: not the recording of one test")
    t0 = float(t[0])
    return HeartRateTrack(format=fmt, time_s=t - t0, hr_bpm=hr, start=start if start is None else t0,
                          warnings=list(dict.fromkeys(warnings)))
