"""HTTP layer of the analysis service: validate, hand the work to the engine in a worker thread, answer."""
from __future__ import annotations

import json
from enum import Enum
from typing import Literal

import numpy as np

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from servicekit.config import env_int
from servicekit.fastapi import require_principal
from servicekit.principal import Principal
from servicekit.problems import ProblemError

from .formats.notices import details as warning_details
from .result_models import CpetFileResult, CpetResult, LactateResult, ReaderWarning
from .rounding import round_result

router = APIRouter(prefix="/api/v1/analysis", tags=["analysis"])

MAX_UPLOAD_BYTES = env_int("ANALYSIS_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
COLUMNS = ("time_s", "vo2_ml_min", "vco2_ml_min", "ve_l_min", "hr_bpm", "rf_bpm", "vt_l", "peto2_mmhg",
           "petco2_mmhg", "power_w", "speed_kmh", "grade_pct")


class RequestModel(BaseModel):
    # a field the request does not know is a 400 naming it (code extra_forbidden), as the Django services refuse
    # one: a misspelt "protocl" would otherwise analyse the test without its declared protocol, silently
    model_config = ConfigDict(extra="forbid")


class AthleteOnTestDay(RequestModel):
    """The athlete as they were on the test day (one name across the merged document: measurements owns `Athlete`)."""
    body_mass_kg: float | None = Field(None, gt=10, lt=400)
    age: float | None = Field(None, ge=5, le=110)
    sex: Literal["male", "female"] | None = None


class AthleteRecord(RequestModel):
    """The athlete as the lab has them on record: compared with the file's header (athlete_mismatch flags)."""
    sex: Literal["male", "female"] | None = None
    body_mass_kg: float | None = Field(None, gt=10, lt=400)
    birth_date: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")


class FileAthlete(BaseModel):
    """What the export's header says (the /parse answer's metadata)."""
    # not a RequestModel: a client passes the /parse answer's whole metadata on; the other keys are not read
    sex: Literal["male", "female"] | None = None
    body_mass_kg: float | None = None
    age_years: float | None = None
    birth_date: str | None = None
    test_date: str | None = None


class DeclaredProtocol(RequestModel):
    """The protocol the lab ran: drives the phases, and rebuilds the load where the file logged none."""
    kind: Literal["ramp", "steps"]
    start: float | None = Field(None, ge=0, le=3000, description="load of the first stage / at the ramp's start")
    increment: float | None = Field(None, gt=0, le=1000, description="per stage (steps) or per minute (ramp)")
    stage_length_s: float | None = Field(None, gt=0, le=3600)
    baseline_s: float | None = Field(None, ge=0, le=3600, description="seconds of baseline before the protocol")
    baseline_load: float | None = Field(None, ge=0, le=3000)
    load_channel: Literal["power_w", "speed_kmh"] = "power_w"


Precision = Literal["display", "full"]
# formats.FORMAT_IDS: the readers a `format` hint may name (test_http_api checks the two agree)
FormatHint = Literal["zan", "cortex", "cosmed", "vyntus", "medgraphics", "oxynet", "generic"]
Series = list[float | None] | None


class Samples(BaseModel):
    """The normalized table, column-wise: `time_s` and any of the other columns, each as long as `time_s` (a
    column of another length is 400 `validation-error`), null where a breath has no value. No other column
    (422 `unknown-columns`, naming them: kept as sent so the answer can)."""
    model_config = {"extra": "allow", "json_schema_extra": {"additionalProperties": False}}
    time_s: list[float | None] = Field(..., min_length=1, max_length=200_000)
    vo2_ml_min: Series = None
    vco2_ml_min: Series = None
    ve_l_min: Series = None
    hr_bpm: Series = None
    rf_bpm: Series = None
    vt_l: Series = None
    peto2_mmhg: Series = None
    petco2_mmhg: Series = None
    power_w: Series = None
    speed_kmh: Series = None
    grade_pct: Series = None


class CpetRequest(RequestModel):
    samples: Samples = Field(..., description="column-wise normalized table")
    athlete: AthleteOnTestDay | None = Field(None, description="values for this test (body mass weighed that day)")
    athlete_record: AthleteRecord | None = None
    file_metadata: FileAthlete | None = None
    test_date: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    protocol: DeclaredProtocol | None = None
    averaging: dict | None = Field(None, examples=[{"method": "time", "seconds": 30}])
    overrides: dict | None = Field(None, examples=[{"vt1": {"time_s": 420}, "vt2": {"hr_bpm": 172},
                                                    "vo2max": {"vo2_ml_min": 4100, "reason": "verification bout"},
                                                    "exclude": [[300, 320]]}])
    lactate: list[dict] | None = None
    sport: Literal["cycling", "running", "swimming"] | None = Field(
        None, description="the test's modality, for the lactate thresholds; default: from the load channel")
    precision: Precision = Field("display", description="display: rounded to what the numbers mean; full: as computed")


class ParsedSamples(BaseModel):
    """Every normalized column, null where the file has none; NaN as null."""
    time_s: list[float | None]
    vo2_ml_min: Series
    vco2_ml_min: Series
    ve_l_min: Series
    hr_bpm: Series
    rf_bpm: Series
    vt_l: Series
    peto2_mmhg: Series
    petco2_mmhg: Series
    power_w: Series
    speed_kmh: Series
    grade_pct: Series


class ParsedExport(BaseModel):
    """What /parse answers: the reader that took the file, the header's metadata, the table, the reader's
    warnings (dropped breaths, units converted, ...)."""
    format: str
    metadata: dict = Field(..., description="the header: sex, body mass, age, test date, sampling (breath or "
                                            "averaged), the cart's phases, ...")
    samples: ParsedSamples
    warnings: list[str] = Field(..., description="the reader's warnings in English (also in `warning_details`)")
    warning_details: list[ReaderWarning] = Field(..., description="the same warnings, each with its code")


class LactateStep(RequestModel):
    # the ranges measurements' lactate steps take (a test's power, speed or pace; blood lactate in mmol/L)
    intensity: float = Field(..., ge=0, le=2000)
    lactate: float = Field(..., ge=0, le=40)
    heart_rate: float | None = Field(None, ge=20, le=250)
    length: float | None = Field(None, ge=0, le=7200)


class LactateRequest(RequestModel):
    steps: list[LactateStep] = Field(..., min_length=3, max_length=200)
    fit: Literal["poly3", "poly4", "exp", "spline"] = "poly3"
    include_baseline: bool = True
    sport: Literal["cycling", "running", "swimming"] = "cycling"
    methods: list[str] | None = None


async def read_upload(upload: UploadFile) -> bytes:
    """Read at most MAX_UPLOAD_BYTES; a larger file is refused without being read whole."""
    chunks, size = [], 0
    while chunk := await upload.read(1024 * 1024):
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            raise ProblemError(413, "file-too-large", f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(data: bytes, filename: str | None, format_hint: str | None):
    from .formats import FormatError, read_export

    try:
        return read_export(data, filename=filename, format_hint=format_hint)
    except FormatError as exc:
        raise ProblemError(exc.status, exc.slug, exc.detail) from exc


def _validate_samples(samples: dict) -> dict:
    unknown = sorted(set(samples) - set(COLUMNS))
    if unknown:
        raise ProblemError(422, "unknown-columns", f"Unknown sample columns: {', '.join(unknown)}.",
                           errors=[{"field": f"samples.{c}", "detail": "not a normalized column"} for c in unknown])
    if not samples.get("time_s"):
        raise ProblemError(400, "validation-error", "samples.time_s is required.",
                           errors=[{"field": "samples.time_s", "detail": "required"}])
    n = len(samples["time_s"])
    for name, values in samples.items():
        if values is not None and len(values) != n:
            raise ProblemError(400, "validation-error", f"samples.{name} has {len(values)} values, time_s has {n}.",
                               errors=[{"field": f"samples.{name}", "detail": "length differs from time_s"}])
    for name, values in samples.items():
        # JSON has no infinity, but Python's parser reads `Infinity` and `1e999`: no measurement is infinite
        bad = np.flatnonzero(np.isinf(np.array(values, dtype=float))) if values is not None else ()
        if len(bad):
            raise ProblemError(400, "validation-error", f"samples.{name}[{int(bad[0])}] is not a finite number.",
                               errors=[{"field": f"samples.{name}[{int(bad[0])}]", "detail": "not a finite number"}])
    return samples


_FILE_RESPONSES = {413: {"description": "`file-too-large`"},
                   422: {"description": "the file cannot be read (`unknown-format`, `empty-file`, `corrupt-file`, "
                                        "`xml-entities-forbidden`, `non-finite-value`, ...)"}}


@router.post("/parse", summary="Read a cart export into the normalized table",
             responses={200: {"model": ParsedExport}, **_FILE_RESPONSES})
async def parse(file: UploadFile = File(...), format: FormatHint = Form(None),
                principal: Principal = Depends(require_principal)):
    data = await read_upload(file)
    parsed = await run_in_threadpool(_parse, data, file.filename, format)
    return parsed.to_wire()


def _analyse(samples, athlete, averaging, overrides, lactate, precision, **kw):
    from .engine import analyze_cpet
    from .engine.overrides import InvalidOverride

    try:
        result = analyze_cpet(samples, athlete, averaging, overrides, lactate, **kw)
    except InvalidOverride as exc:
        raise ProblemError(422, "invalid-override", str(exc), errors=exc.errors) from exc
    return result if precision == "full" else round_result(result)


# the answers are the engine's dicts as they are (the models document them, never filter or coerce a number)
_CPET_RESPONSES = {200: {"model": CpetResult},
                   422: {"description": "`invalid-override`: an override does not fit the test (the field and the "
                                        "allowed range in `errors`); `unknown-columns`"}}


@router.post("/cpet", summary="Compute VO2max, thresholds, zones, FATmax and quality flags", responses=_CPET_RESPONSES)
async def cpet(body: CpetRequest, principal: Principal = Depends(require_principal)):
    samples = _validate_samples(body.samples.model_dump(exclude_unset=True))
    athlete = body.athlete.model_dump() if body.athlete else None
    return await run_in_threadpool(
        _analyse, samples, athlete, body.averaging, body.overrides, body.lactate, body.precision,
        declared_protocol=body.protocol.model_dump() if body.protocol else None,
        athlete_record=body.athlete_record.model_dump() if body.athlete_record else None,
        file_metadata=body.file_metadata.model_dump() if body.file_metadata else None, test_date=body.test_date,
        sport=body.sport)


@router.post("/cpet/file", summary="Read a cart export and compute its CPET result in one call",
             responses={200: {"model": CpetFileResult}, **_FILE_RESPONSES})
async def cpet_file(file: UploadFile = File(...), format: FormatHint = Form(None),
                    precision: Precision = Form("display"), principal: Principal = Depends(require_principal)):
    data = await read_upload(file)
    parsed = await run_in_threadpool(_parse, data, file.filename, format)
    wire = parsed.to_wire()
    meta = wire["metadata"]
    # the reader knows whether the rows are breaths or averages: outlier rules depend on it
    averaging = {"sampling": meta.get("sampling")} if meta.get("sampling") else None
    result = await run_in_threadpool(_analyse, wire["samples"], None, averaging, None, None, precision,
                                     file_metadata=meta, test_date=meta.get("test_date"))
    return {"format": wire["format"], "metadata": meta, "warnings": wire["warnings"],
            "warning_details": wire["warning_details"], "result": result}


class AlignTest(RequestModel):
    time_s: list[float] = Field(..., min_length=10, max_length=200_000)
    vo2_ml_min: list[float | None] | None = None
    start: str | None = Field(None, description="clock time of the test's time 0 (ISO 8601 with a zone), "
                                                "to align by time stamps")


class AlignedHeartRate(BaseModel):
    format: Literal["fit", "tcx", "csv"]
    method: Literal["timestamps", "offset", "correlation"]
    offset_s: float = Field(..., description="test time at which the track's first sample was recorded")
    correlation: float | None = Field(None, description="Pearson r of HR with VO2 at that offset (correlation only)")
    coverage: float = Field(..., description="share of the test's samples that got a heart rate")
    track_duration_s: float
    n_track_samples: int
    hr_bpm: list[float | None] = Field(..., description="one per test sample (time_s), null outside the track")
    warnings: list[str]
    warning_details: list[ReaderWarning] = Field(..., description="the warnings, each with its code")


def _test_start(text: str | None) -> float | None:
    import datetime as dt

    if not text:
        return None
    try:
        stamp = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ProblemError(400, "validation-error", "test.start is not an ISO 8601 date-time",
                           errors=[{"field": "test.start", "detail": "not an ISO 8601 date-time"}]) from exc
    # a clock without a zone cannot be compared with a track's UTC stamps: align another way
    return stamp.timestamp() if stamp.tzinfo is not None else None


def _align(data: bytes, filename: str | None, test: AlignTest, offset_s: float | None) -> dict:
    from .engine.heart_rate import AlignmentError, align
    from .formats import FormatError
    from .formats.heart_rate import read_heart_rate

    try:
        track = read_heart_rate(data, filename)
    except FormatError as exc:
        raise ProblemError(exc.status, exc.slug, exc.detail) from exc
    t = np.asarray(test.time_s, dtype=float)
    vo2 = np.array([np.nan if v is None else v for v in test.vo2_ml_min], dtype=float) \
        if test.vo2_ml_min is not None else None
    if vo2 is not None and vo2.size != t.size:
        raise ProblemError(400, "validation-error", "test.vo2_ml_min and test.time_s differ in length",
                           errors=[{"field": "test.vo2_ml_min", "detail": "length differs from time_s"}])
    if not np.isfinite(t).all() or (vo2 is not None and np.isinf(vo2).any()):
        raise ProblemError(400, "validation-error", "the test's series hold non-finite numbers",
                           errors=[{"field": "test", "detail": "not finite"}])
    start = _test_start(test.start)
    try:
        out = align(t, vo2, track.time_s, track.hr_bpm, test_start=start,
                    track_start=track.start if start is not None else None, offset_s=offset_s)
    except AlignmentError as exc:
        raise ProblemError(422, exc.slug, exc.detail) from exc
    warnings = track.warnings + out["warnings"]
    out.update(format=track.format, track_duration_s=track.duration_s, n_track_samples=int(track.time_s.size),
               warnings=[str(w) for w in warnings])
    rounded = round_result(out)
    rounded["warning_details"] = warning_details(warnings)  # the params as the text says them, not rounded again
    return rounded


@router.post("/heart-rate/align", summary="Read a heart-rate track (FIT, TCX, CSV of time and HR) and put it onto a "
                                          "test's time axis", response_model=AlignedHeartRate,
             responses={422: {"description": "unreadable track (`unknown-format`, `corrupt-file`, `no-data`, ...), "
                                             "`heart-rate-not-alignable` or `heart-rate-no-overlap`"},
                        413: {"description": "`file-too-large`"}})
async def heart_rate_align(
        file: UploadFile = File(..., description="the track: FIT, TCX, or CSV with a time and a heart-rate column"),
        test: str = Form(..., description='JSON {"time_s": [...], "vo2_ml_min": [...], "start": "ISO 8601"?}: the '
                                          "test's samples the HR goes onto"),
        offset_s: float | None = Form(None, ge=-86400, le=86400,
                                      description="test time at which the track starts (used when there are no "
                                                  "time stamps on both sides)"),
        principal: Principal = Depends(require_principal)):
    """By time stamps when the test's start and the track both have clock time, else by `offset_s`, else by the
    offset that maximises the correlation of HR with VO2 (+-15 min); the answer says which."""
    try:
        spec = AlignTest.model_validate(json.loads(test))
    except (ValueError, TypeError) as exc:
        errors = exc.errors() if hasattr(exc, "errors") else [{"loc": (), "msg": "not JSON"}]
        raise ProblemError(400, "validation-error", "test: " + (errors[0].get("msg") if errors else "invalid"),
                           errors=[{"field": ".".join(["test", *map(str, e.get("loc", ()))]),
                                    "detail": e.get("msg", "invalid"), **({"code": e["type"]} if e.get("type") else {})}
                                   for e in errors]) from exc
    data = await read_upload(file)
    return await run_in_threadpool(_align, data, file.filename, spec, offset_s)


@router.post("/lactate", summary="Lactate thresholds by every lactater method",
             responses={200: {"model": LactateResult}, 422: {"description": "the steps cannot be fitted, or an unknown method"}})
async def lactate(body: LactateRequest, principal: Principal = Depends(require_principal)):
    from .engine import analyze_lactate

    steps = [s.model_dump() for s in body.steps]
    return await run_in_threadpool(analyze_lactate, steps, body.fit, body.include_baseline, body.sport, body.methods)
