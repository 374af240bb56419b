"""ZAN 600 (nSpire) .dat export: INI-like Latin-1 text.

    [person]     name=, vorname=, geschlecht=M/W, geburtstag=dd.mm.yyyy, groesse=cm, gewicht=kg
    [parameter]  count=, AppTotRaum=, then P=<id>,<scale>,<name> lines giving the column order
    [Data]       B<n>=<flag>,<Zeit>,<Last>,...  one breath per line; raw value / scale is in
                 s, L/min, L, km/h, % (Zeit in ms, VO2 in mL/min, Vin in mL, Geschw. in m/h);
                 there is one trailing column more than P= lines (fan).
    [Start]      BeginRest=hh:mm:ss (clock time of the start), Rest=, Warmup=, Load=, Recovery= (s):
                 the cart's own marks of where each phase of the test begins
    [Ergometer] follows.

Derived like the spiro package: RR = 60/(tin+tex), VT = Vin, VE = 60*Vin/(tin+tex).
"""
from __future__ import annotations

import re

import numpy as np

from . import units as U
from .notices import note
from .assemble import finish
from .model import FormatError, Limits, ParsedExport

FORMAT_ID = "zan"

_BREATH = re.compile(r"^B\d+=")


def sniff(text_head: str) -> float:
    head = text_head[:20000]
    if "[person]" in head and "[parameter]" in head and "\nP=" in head.replace("\r", ""):
        return 1.0
    if re.search(r"^\[Data\]\s*$", head, re.M) and re.search(r"^B1=", head, re.M):
        return 0.9
    return 0.0


def _section(lines: list[str], name: str) -> int:
    target = f"[{name.lower()}]"
    for i, ln in enumerate(lines):
        if ln.strip().lower() == target:
            return i
    return -1


def _key_values(lines: list[str], name: str) -> dict[str, str]:
    i = _section(lines, name)
    out: dict[str, str] = {}
    if i < 0:
        return out
    for ln in lines[i + 1 :]:
        if ln.startswith("["):
            break
        if "=" in ln:
            key, _, value = ln.partition("=")
            out[key.strip().lower()] = value.strip()
    return out


def read(text: str, limits: Limits) -> ParsedExport:
    lines = text.splitlines()
    i_person = _section(lines, "person")
    i_param = _section(lines, "parameter")
    i_data = _section(lines, "Data")
    if i_param < 0:
        raise FormatError("truncated-file", "ZAN export has no [parameter] section (column list)")
    if i_data < 0:
        raise FormatError("truncated-file", "ZAN export ends before the [Data] section")

    person: dict[str, str] = {}
    if i_person >= 0:
        for ln in lines[i_person + 1 : i_param]:
            if "=" in ln:
                key, _, value = ln.partition("=")
                person[key.strip().lower()] = value.strip()

    names: list[str] = []
    scales: list[float] = []
    for n, ln in enumerate(lines[i_param + 1 : i_data], start=i_param + 2):
        if ln.startswith("P="):
            parts = ln[2:].split(",", 2)
            if len(parts) < 3:
                raise FormatError("malformed-zan", f"line {n}: parameter line '{ln[:40]}' is incomplete")
            scale = U.to_float(parts[1])
            names.append(parts[2].strip())
            scales.append(scale if scale and scale == scale else 1.0)
    if not names:
        raise FormatError("malformed-zan", "ZAN [parameter] section lists no columns (P= lines)")

    # Breath lines; anything after [Data] that is not B<n>= (other sections) ends the data.
    breath_lines: list[str] = []
    line_numbers: list[int] = []
    end_section = None
    for n in range(i_data + 1, len(lines)):
        ln = lines[n]
        if _BREATH.match(ln):
            breath_lines.append(ln)
            line_numbers.append(n + 1)
        elif ln.startswith("["):
            end_section = ln.strip()
            break
    if not breath_lines:
        raise FormatError("truncated-file", "ZAN [Data] section contains no breaths (B<n>= lines)")
    if len(breath_lines) > limits.max_rows:
        raise FormatError(
            "too-many-rows", f"{len(breath_lines):,} breaths; the limit is {limits.max_rows:,}", status=413
        )

    warnings: list[str] = []
    width = len(names)
    fields = [ln.split("=", 1)[1].split(",") for ln in breath_lines]
    # Field 0 is the row flag; then one value per P= column (+ fan).
    short = [k for k, f in enumerate(fields) if len(f) < width]
    if short:
        last = len(fields) - 1
        if short == [last] and end_section is None:
            raise FormatError(
                "truncated-file",
                f"ZAN export is cut off: line {line_numbers[last]} has {len(fields[last]) - 1} of "
                f"{width} values and no section follows the data",
            )
        k = short[0]
        raise FormatError(
            "malformed-zan",
            f"line {line_numbers[k]} has {len(fields[k]) - 1} values, the [parameter] list has {width}",
        )
    if end_section is None and not text.endswith(("\n", "\r")):
        raise FormatError(
            "truncated-file",
            f"ZAN export is cut off in the middle of line {line_numbers[-1]} (no line end, no section after the data)",
        )
    if end_section is None:
        warnings.append(note("zan_incomplete"))
    index: dict[str, int] = {}
    for k, name in enumerate(names):
        index.setdefault(name.lower(), k)

    def col(name: str) -> np.ndarray | None:
        # Only the ~10 columns used are converted (of ~96): parsing all would dominate the time.
        k = index.get(name.lower())
        if k is None:
            return None
        pos = k + 1  # field 0 is the row flag
        cells = [f[pos] if pos < len(f) else "nan" for f in fields]
        try:
            values = np.array(cells, dtype=np.float64)
        except ValueError:
            values = np.array([U.to_float(c) for c in cells], dtype=np.float64)
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                warnings.append(note("values_unreadable", count=int(bad.size), column=names[k],
                                     line=line_numbers[bad[0]]))
        return values / scales[k]

    zeit = col("Zeit")
    if zeit is None:
        raise FormatError("malformed-zan", "ZAN export has no 'Zeit' column")
    samples: dict[str, np.ndarray] = {"time_s": zeit}
    vo2, vco2 = col("VO2"), col("VCO2")
    if vo2 is not None:
        samples["vo2_ml_min"] = vo2 * 1000.0  # scaled value is L/min
    if vco2 is not None:
        samples["vco2_ml_min"] = vco2 * 1000.0
    tin, tex, vin = col("tin"), col("tex"), col("Vin")
    if tin is not None and tex is not None:
        breath_s = tin + tex
        with np.errstate(divide="ignore", invalid="ignore"):
            samples["rf_bpm"] = np.where(breath_s > 0, 60.0 / breath_s, np.nan)
            if vin is not None:
                samples["ve_l_min"] = np.where(breath_s > 0, 60.0 * vin / breath_s, np.nan)
    if vin is not None:
        samples["vt_l"] = vin
    hr = col("HR")
    if hr is not None:
        samples["hr_bpm"] = hr
    speed, last, grade = col("Geschw."), col("Last"), col("Steig.")
    load_kind = None
    if speed is not None and np.nanmax(speed, initial=0) > 0:
        samples["speed_kmh"] = speed  # Geschw. raw is m/h; /1000 scale gives km/h
        load_kind = "speed"
        if grade is not None:
            samples["grade_pct"] = grade
    elif last is not None and np.nanmax(last, initial=0) > 0:
        samples["power_w"] = last
        load_kind = "power"
    # On the treadmill 'Last' is ZAN's own load estimate, not ergometer power: not exported.

    start = _key_values(lines, "Start")
    marks = {}
    for key, name in (("rest", "rest_s"), ("warmup", "warmup_s"), ("load", "load_s"), ("recovery", "recovery_s")):
        value = U.finite_or_none(U.first_number(start.get(key)), 0, 24 * 3600)
        if value is not None:
            marks[name] = value
    body_mass = U.first_number(person.get("gewicht"))
    height = U.first_number(person.get("groesse"))
    meta = {
        "body_mass_kg": U.finite_or_none(body_mass, 1, 500),
        "height_cm": U.finite_or_none(height, 1, 300),
        "sex": U.parse_sex(person.get("geschlecht")),
        "birth_date": U.parse_date(person.get("geburtstag")),
        "device": "ZAN 600 (nSpire)",
        "sampling": "breath-by-breath",
        "format_detail": f"ZAN .dat export, {len(names)} parameters, Latin-1 text",
        "load_kind": load_kind,
        # where the operator started the warm-up, the load (ramp/steps) and the recovery, in test time
        "cart_phases": marks or None,
        "start_clock": start.get("beginrest") or None,
    }
    return finish(FORMAT_ID, meta, samples, warnings, limits, np.asarray(line_numbers), row_word="line")
