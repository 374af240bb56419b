"""Garmin TCX heart-rate tracks (chest strap recorded during the test) and merging them onto
a parsed test by time."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np

from . import xmlsafe
from .notices import note
from .model import COLUMNS, DEFAULT_LIMITS, FormatError, Limits, ParsedExport


def sniff(head: str) -> float:
    return 1.0 if "TrainingCenterDatabase" in head[:3000] else 0.0


def _iso_seconds(text: str) -> float:
    s = text.strip().replace("Z", "+00:00")
    try:
        stamp = dt.datetime.fromisoformat(s)
    except ValueError:
        return float("nan")
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp.timestamp()


def read_tcx_heart_rate(data: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[np.ndarray, np.ndarray]:
    """TCX bytes -> (t_s from the first trackpoint, hr_bpm). Trackpoints without HR are skipped."""
    t, hr, _start = read_tcx_track(data, limits)
    return t, hr


def read_tcx_track(data: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[np.ndarray, np.ndarray, float]:
    """TCX bytes -> (t_s from the first trackpoint, hr_bpm, the first trackpoint's POSIX time in s)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FormatError("bad-input", "TCX data must be bytes", status=400)
    data = bytes(data)
    if len(data) > limits.max_bytes:
        raise FormatError("file-too-large", f"{len(data):,} bytes; the limit is {limits.max_bytes:,}", status=413)
    root = xmlsafe.parse(data, "TCX file")
    if xmlsafe.local(root.tag) != "TrainingCenterDatabase":
        raise FormatError("unknown-format", "not a Garmin TCX file (root element is not TrainingCenterDatabase)")
    times: list[float] = []
    rates: list[float] = []
    n_point = 0
    for tp in root.iter():
        if xmlsafe.local(tp.tag) != "Trackpoint":
            continue
        n_point += 1
        t = hr = None
        for child in tp:
            name = xmlsafe.local(child.tag)
            if name == "Time" and child.text:
                t = _iso_seconds(child.text)
            elif name == "HeartRateBpm":
                for v in child:
                    if xmlsafe.local(v.tag) == "Value" and v.text:
                        try:
                            hr = float(v.text)
                        except ValueError:
                            hr = None
                        if hr is not None and math.isinf(hr):
                            raise FormatError("non-finite-value", f"heart rate of trackpoint {n_point} is infinite "
                                                                  f"('{v.text.strip()[:20]}')")
        if t is not None and hr is not None and t == t and hr > 0:
            times.append(t)
            rates.append(hr)
        if len(times) > limits.max_rows:
            raise FormatError("too-many-rows", f"more than {limits.max_rows:,} trackpoints", status=413)
    if not times:
        raise FormatError("no-data", "the TCX file has no trackpoints with heart rate")
    t_arr = np.asarray(times)
    order = np.argsort(t_arr, kind="stable")
    t_arr, hr_arr = t_arr[order], np.asarray(rates)[order]
    keep = np.concatenate([[True], np.diff(t_arr) > 0])
    t_arr, hr_arr = t_arr[keep], hr_arr[keep]
    return t_arr - t_arr[0], hr_arr, float(t_arr[0])


def merge_heart_rate(parsed: ParsedExport, tcx_bytes: bytes, offset_s: float = 0.0) -> ParsedExport:
    """Put the TCX heart rate onto the test's breath times (linear interpolation).

    ``offset_s`` is the test time at which the TCX track starts (0 = started together).
    Breaths outside the track get NaN. Returns a new ParsedExport; the input is unchanged.
    """
    t_hr, hr = read_tcx_heart_rate(tcx_bytes)
    out = parsed.copy()
    time = out.samples["time_s"]
    track = t_hr + float(offset_s)
    merged = np.interp(time, track, hr, left=np.nan, right=np.nan)
    # Do not bridge recording gaps longer than 5 s: interpolation there would invent HR.
    if track.size > 1:
        idx = np.clip(np.searchsorted(track, time), 1, track.size - 1)
        gap = track[idx] - track[idx - 1]
        merged[(gap > 5.0) & np.isfinite(merged)] = np.nan
    if "hr_bpm" in out.samples and np.isfinite(out.samples["hr_bpm"]).any():
        out.warnings.append(note("hr_replaced_by_track"))
    covered = np.isfinite(merged).mean() if merged.size else 0.0
    if covered < 0.9:
        out.warnings.append(note("hr_track_coverage_tcx", coverage_pct=round(100 * float(covered))))
    out.samples["hr_bpm"] = merged
    out.samples = {k: out.samples[k] for k in COLUMNS if k in out.samples}
    out.metadata["format_detail"] = (out.metadata.get("format_detail") or "") + "; HR merged from TCX"
    return out
