"""Training zones anchored on VT1 and VT2.

Three-zone model (Seiler & Kjerland 2006): below VT1 / VT1-VT2 / above VT2.
Five-zone model, threshold-anchored: recovery (< 90 % of VT1), endurance (90 % VT1 - VT1),
tempo (VT1 - midpoint), threshold (midpoint - VT2), VO2max (VT2 - peak).
Each zone is given in every channel the test has (HR, power, speed); a channel the test lacks
is None. Power/speed at a threshold of a ramp test are not corrected for the VO2 delay.
"""
from __future__ import annotations

_CH = (("hr_bpm", 0), ("power_w", 0), ("speed_kmh", 1))


def _val(d, k):
    if not d:
        return None
    v = d.get(k)
    return None if v is None else float(v)


def build(vt1: dict | None, vt2: dict | None, peak: dict, floor: dict) -> dict:
    out = {"three_zone": [], "five_zone": [], "note": None}
    if not vt1 or not vt2:
        out["note"] = "zones need both VT1 and VT2"
        return out
    anchors = {}
    for ch, _ in _CH:
        a, b, top = _val(vt1, ch), _val(vt2, ch), _val(peak, ch)
        lo = _val(floor, ch)
        if a is None or b is None:
            anchors[ch] = None
            continue
        if top is None or top < b:
            top = b
        if lo is None or lo > 0.9 * a:
            lo = min(0.9 * a, a) if lo is None else min(lo, 0.9 * a)
        anchors[ch] = (lo, a, b, top)

    def rng(ch, lo_f, hi_f):
        an = anchors[ch]
        if an is None:
            return None
        d = dict(_CH)[ch]
        lo, hi = lo_f(an), hi_f(an)
        return [round(lo, d) if d else int(round(lo)), round(hi, d) if d else int(round(hi))]

    def zone(name, lo_f, hi_f):
        return {"name": name, **{ch: rng(ch, lo_f, hi_f) for ch, _ in _CH}}

    out["three_zone"] = [
        zone("Zone 1 (below VT1)", lambda a: a[0], lambda a: a[1]),
        zone("Zone 2 (VT1-VT2)", lambda a: a[1], lambda a: a[2]),
        zone("Zone 3 (above VT2)", lambda a: a[2], lambda a: a[3]),
    ]
    out["five_zone"] = [
        zone("Z1 Recovery", lambda a: a[0], lambda a: 0.9 * a[1]),
        zone("Z2 Endurance", lambda a: 0.9 * a[1], lambda a: a[1]),
        zone("Z3 Tempo", lambda a: a[1], lambda a: (a[1] + a[2]) / 2),
        zone("Z4 Threshold", lambda a: (a[1] + a[2]) / 2, lambda a: a[2]),
        zone("Z5 VO2max", lambda a: a[2], lambda a: a[3]),
    ]
    if anchors.get("hr_bpm") is None:
        out["note"] = "no heart rate at the thresholds: HR zones not available"
    return out
