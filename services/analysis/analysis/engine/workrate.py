"""The load a declared protocol implies, for files that did not log it (no power or speed channel).

As whippr's `work_rate_step` / `work_rate_ramp` (Mattioni Maturana): `baseline_s` seconds at
`baseline_load` from the start of the recording, then
  * steps: `start`, raised by `increment` every `stage_length_s`;
  * ramp:  `start`, rising by `increment` per minute.
The load is rebuilt only up to the end of exercise read off VO2 (its peak, as `phases.from_gas`
finds it): after that the athlete is recovering and the protocol says nothing about the load.
"""
from __future__ import annotations

import math

import numpy as np

from . import phases as phases_mod

CHANNELS = {"power_w": "W", "speed_kmh": "km/h"}
UNIT_TO_CHANNEL = {"w": "power_w", "watt": "power_w", "km/h": "speed_kmh", "kmh": "speed_kmh"}


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def channel(declared: dict) -> str:
    """Which load the protocol is in: `load_channel` (power_w | speed_kmh) or `unit` (W | km/h); power by default."""
    ch = declared.get("load_channel")
    if ch in CHANNELS:
        return ch
    return UNIT_TO_CHANNEL.get(str(declared.get("unit") or "").strip().lower(), "power_w")


def rebuild(t: np.ndarray, vo2: np.ndarray, declared: dict | None) -> tuple[str, np.ndarray, str] | None:
    """(channel, load at every sample time, note) from the declared protocol, or None when it cannot
    say (no kind, start or increment; steps without a stage length)."""
    if not isinstance(declared, dict) or t.size < 3 or vo2.size != t.size:
        return None
    kind = declared.get("kind")
    start, inc = _num(declared.get("start")), _num(declared.get("increment"))
    stage = _num(declared.get("stage_length_s"))
    base_s = _num(declared.get("baseline_s")) or 0.0
    base_load = _num(declared.get("baseline_load")) or 0.0
    if kind not in ("ramp", "steps") or start is None or inc is None or base_s < 0:
        return None
    if kind == "steps" and not (stage and stage > 0):
        return None
    ch = channel(declared)
    ok = np.isfinite(t)
    if ok.sum() < 3:
        return None
    order = np.argsort(np.where(ok, t, np.inf), kind="stable")[: int(ok.sum())]
    ts, vs = t[order], vo2[order]
    t0 = float(ts[0])
    rel = t - t0 - base_s  # every sample, in the file's order (NaN times give NaN loads)
    if kind == "steps":
        load = start + inc * np.floor(np.maximum(rel, 0.0) / stage)
        what = f"{start:g} {CHANNELS[ch]} + {inc:g} every {stage:g} s"
    else:
        load = start + inc * np.maximum(rel, 0.0) / 60.0
        what = f"{start:g} {CHANNELS[ch]} + {inc:g} per min"
    load = np.where(rel < 0, base_load, load)
    end = phases_mod.from_gas(ts, vs)["end_s"]
    load = np.where(ok & (t <= end), load, np.nan)
    note = (f"no load channel in the file: load rebuilt from the declared protocol ({base_s:g} s at "
            f"{base_load:g} {CHANNELS[ch]}, then {what}) up to the end of exercise at {end:.0f} s")
    return ch, load.astype(float), note
