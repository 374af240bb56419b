"""HTTP layer of the analysis service: validate, hand the work to the engine in a worker thread, answer."""
from __future__ import annotations

from typing import Literal

import numpy as np

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from servicekit.config import env_int
from servicekit.fastapi import require_principal
from servicekit.principal import Principal
from servicekit.problems import ProblemError

router = APIRouter(prefix="/api/v1/analysis", tags=["analysis"])

MAX_UPLOAD_BYTES = env_int("ANALYSIS_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
COLUMNS = ("time_s", "vo2_ml_min", "vco2_ml_min", "ve_l_min", "hr_bpm", "rf_bpm", "vt_l", "peto2_mmhg",
           "petco2_mmhg", "power_w", "speed_kmh", "grade_pct")


class Athlete(BaseModel):
    body_mass_kg: float | None = Field(None, gt=10, lt=400)
    age: float | None = Field(None, ge=5, le=110)
    sex: Literal["male", "female"] | None = None


class CpetRequest(BaseModel):
    samples: dict[str, list[float | None] | None] = Field(..., description="column-wise normalized table")
    athlete: Athlete | None = None
    averaging: dict | None = Field(None, examples=[{"method": "time", "seconds": 30}])
    overrides: dict | None = None
    lactate: list[dict] | None = None


class LactateStep(BaseModel):
    intensity: float
    lactate: float
    heart_rate: float | None = None
    length: float | None = None


class LactateRequest(BaseModel):
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


@router.post("/parse", summary="Read a cart export into the normalized table")
async def parse(file: UploadFile = File(...), format: str | None = Form(None),
                principal: Principal = Depends(require_principal)):
    data = await read_upload(file)
    parsed = await run_in_threadpool(_parse, data, file.filename, format)
    return parsed.to_wire()


@router.post("/cpet", summary="Compute VO2max, thresholds, zones, FATmax and quality flags")
async def cpet(body: CpetRequest, principal: Principal = Depends(require_principal)):
    from .engine import analyze_cpet

    samples = _validate_samples(body.samples)
    athlete = body.athlete.model_dump() if body.athlete else None
    return await run_in_threadpool(analyze_cpet, samples, athlete, body.averaging, body.overrides, body.lactate)


@router.post("/cpet/file", summary="Read a cart export and compute its CPET result in one call")
async def cpet_file(file: UploadFile = File(...), format: str | None = Form(None),
                    principal: Principal = Depends(require_principal)):
    from .engine import analyze_cpet

    data = await read_upload(file)
    parsed = await run_in_threadpool(_parse, data, file.filename, format)
    wire = parsed.to_wire()
    meta = wire["metadata"]
    athlete = {"body_mass_kg": meta.get("body_mass_kg"), "age": meta.get("age_years"), "sex": meta.get("sex")}
    # the reader knows whether the rows are breaths or averages: outlier rules depend on it
    averaging = {"sampling": meta.get("sampling")} if meta.get("sampling") else None
    result = await run_in_threadpool(analyze_cpet, wire["samples"], athlete, averaging, None, None)
    return {"format": wire["format"], "metadata": meta, "warnings": wire["warnings"], "result": result}


@router.post("/lactate", summary="Lactate thresholds by every lactater method")
async def lactate(body: LactateRequest, principal: Principal = Depends(require_principal)):
    from .engine import analyze_lactate

    steps = [s.model_dump() for s in body.steps]
    return await run_in_threadpool(analyze_lactate, steps, body.fit, body.include_baseline, body.sport, body.methods)
