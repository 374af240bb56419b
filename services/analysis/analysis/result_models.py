"""The documented shapes of the analysis answers: the CPET result (POST /cpet, /cpet/file), lactate, reader warnings.

The engine builds the result as plain dicts (analyze_cpet); the routes return them as they are and name these models
as their 200 answer, so documenting never changes or drops a number. tests/api/test_result_schema.py checks the
document against the answers on every reference file: every key sent is documented with its type, every required one
is sent. Numbers are `number` (the display precision sends integers where the decimals mean nothing). A model
allows keys it does not name, so a later engine may add one without breaking a generated client.
"""
from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .formats.notices import CODES as WARNING_CODES

ReaderWarningCode = Enum("ReaderWarningCode", {code: code for code in WARNING_CODES}, type=str)
ReaderWarningCode.__doc__ = ("A reader warning's stable code (analysis/formats/notices.py); `reader_note`: a text without "
                             "a code of its own. Clients should show `message` for a code they do not know.")


class ReaderWarning(BaseModel):
    """One of the reader's warnings: `message` is the English text (the same as in `warnings`), `params` the figures
    filled into it, so that a client can say it in another language."""
    code: ReaderWarningCode
    params: dict[str, str | int | float | None] = Field(default_factory=dict)
    message: str


Range = list[float] | None  # a zone's [low, high]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class OutlierRule(_Answer):
    method: str = Field(..., description="off (default) | lamarra | prediction_band ...")
    applied: bool = Field(..., description="false where the rule does not apply (interpolated or averaged data)")
    reason: str | None = None
    sd: float | None = None


class AveragingStrategy(_Answer):
    """The full strategy the numbers were computed with, echoed whatever the request left out."""
    method: str = Field(..., description="time | breath | ...")
    seconds: float | None = None
    breaths: int | None = None
    outliers: OutlierRule
    sampling: str = Field(..., description="breath-by-breath | averaged | interpolated")
    sampling_source: str
    outlier_sd: float | None = None


class Criterion(_Answer):
    value: float | None
    threshold: float | None = None
    pass_: bool | None = Field(..., alias="pass", description="null where it could not be judged")
    rule: str | None = None


class Vo2maxCriteria(_Answer):
    """Secondary criteria of a maximal effort."""
    rer_max: Criterion
    hr_max: Criterion
    hr_pred_max: float | None
    lactate_max: Criterion
    met: int
    evaluated: int


class Taylor150(_Answer):
    applicable: bool
    plateau: bool | None = None
    reason: str | None = None
    threshold_ml_min: float | None = None


class Plateau(_Answer):
    """The plateau judgement: Niemeyer et al. 2021 on ramps, the last two full stages on step tests."""
    method: str | None
    evaluable: bool
    plateau: bool | None
    interval_s: float | None = None
    cutoff_fraction: float | None = None
    observed_increase_ml_min: float | None = None
    expected_increase_ml_min: float | None = None
    noise_ml_min: float | None = None
    expected_slope_ml_min_s: float | None = None
    expected_slope_ml_min_per_unit: float | None = None
    ramp_start_s: float | None = None
    onset_source: str | None = None
    end_s: float | None = None
    dismount_excluded_s: float | None = None
    submaximal_s: list[float] | None = None
    stages_compared: list[int] | None = None
    delta_ml_min: float | None = None
    taylor_150: Taylor150 | None = None
    reason: str | None = None


class Vo2max(_Answer):
    vo2_ml_min: float
    vo2_ml_kg_min: float | None
    strategy: AveragingStrategy
    verdict: str = Field(..., description="vo2max (a plateau) | vo2peak")
    verdict_basis: str
    plateau: Plateau
    criteria: Vo2maxCriteria
    percentile: float | None
    percentile_band: str | None
    norm_source: str
    manual: bool | None = Field(None, description="true where the lab's value replaced the measured one")
    detected_vo2_ml_min: float | None = Field(None, description="the measured value a manual one replaced")
    reason: str | None = Field(None, description="the lab's reason for a manual value")


class Peak(_Answer):
    """The highest averaged VO2 and the other channels at that moment."""
    vo2_ml_min: float
    time_s: float
    rer: float | None
    hr_bpm: float | None
    power_w: float | None
    speed_kmh: float | None
    ve_l_min: float | None
    vco2_ml_min: float | None
    load_kuipers: float | None = Field(None, description="step tests: peak load interpolated in the last stage")


class LoadAtMrt(_Answer):
    """The load that caused the threshold: its time minus the VO2 mean response time (Keir et al. 2022)."""
    power_w: float | None
    speed_kmh: float | None
    mrt_s: float
    basis: str


class ThresholdMethod(_Answer):
    """One method's break (V-slope, VE/VO2, PetO2, VE/VCO2, PetCO2, ...): null time where it found none."""
    method: str
    time_s: float | None
    vo2_ml_min: float | None
    hr_bpm: float | None
    power_w: float | None
    speed_kmh: float | None
    fit: dict | None = Field(..., description="what the method fitted: its kind and slopes")


class Threshold(_Answer):
    """VT1 or VT2: the consensus (or the lab's value, `manual`), where it sits, how sure, and every method's own."""
    time_s: float
    vo2_ml_min: float
    hr_bpm: float | None
    power_w: float | None
    speed_kmh: float | None
    method: str = Field(..., description="combined | rules | manual ...")
    confidence: float | None
    manual: bool
    methods: list[ThresholdMethod]
    vo2_pct_max: float | None = None
    vo2_ml_kg_min: float | None = None
    basis: str | None = None
    in_physiological_bounds: bool | None = None
    load_at_mrt: LoadAtMrt | None = None
    set_by: str | None = Field(None, description="manual: what the lab gave (time_s, hr_bpm, vo2_ml_min, ...)")
    reason: str | None = None


class Zone(_Answer):
    name: str
    hr_bpm: Range
    power_w: Range
    speed_kmh: Range


class Zones(_Answer):
    three_zone: list[Zone]
    five_zone: list[Zone]
    note: str | None = Field(..., description="why zones are missing, if they are")


class FatmaxPoint(_Answer):
    stage: int
    load: float
    vo2_ml_min: float
    vo2_pct_max: float | None
    hr_bpm: float | None


class FatmaxStage(FatmaxPoint):
    rer: float
    fat_g_min: float
    cho_g_min: float
    steady_state: bool
    valid: bool
    note: str | None


class Fatmax(_Answer):
    available: bool
    reason: str | None
    method: str
    stages: list[FatmaxStage]
    mfo_g_min: float | None = Field(..., description="maximal fat oxidation")
    fatmax: FatmaxPoint | None


class Stage(_Answer):
    """A step test's stage, its channels averaged over the stage's end."""
    stage: int
    start_s: float
    end_s: float
    duration_s: float
    averaged_s: float
    n_breaths: int
    load: float
    vo2_ml_min: float | None
    vco2_ml_min: float | None
    ve_l_min: float | None
    rer: float | None
    hr_bpm: float | None
    power_w: float | None
    speed_kmh: float | None
    petco2_mmhg: float | None
    peto2_mmhg: float | None


class Phase(_Answer):
    phase: Literal["baseline", "rest", "warm_up", "constant", "incremental", "recovery"]
    start_s: float
    end_s: float
    load: float | None


class IncrementalPhase(_Answer):
    """Where the thresholds were searched: from the onset to the end of exercise (a dismount excluded)."""
    start_s: float
    end_s: float
    source: str = Field(..., description="load | gas | declared")
    onset: str = Field(..., description="detected | declared | recording_start | unknown")
    kind: Literal["ramp", "steps"] | None
    end_logged_s: float | None = None
    dismount: bool | None = None
    vo2_at_start_ml_min: float | None = None


class Protocol(_Answer):
    kind: Literal["ramp", "steps", "constant", "unknown"]
    load_channel: str | None
    unit: str | None
    start: float | None
    increment: float | None
    increment_unit: str | None
    stage_length_s: float | None
    stages: list[Stage]
    phases: list[Phase]
    incremental: IncrementalPhase | None
    load_source: str | None = Field(None, description="declared: the load was rebuilt from the declared protocol")


class QualityFlag(_Answer):
    code: str
    severity: Literal["info", "warning", "error"]
    message: str


class Quality(_Answer):
    flags: list[QualityFlag]
    outliers_removed: int
    n_breaths: int
    excluded_breaths: int
    outlier_rule: str | None = None
    vo2_noise_cv: float | None = None


class InsufficientReason(_Answer):
    code: str
    detail: str


class AthleteUsed(_Answer):
    """The athlete values the analysis used, where each came from (request, record, file), and what disagreed."""
    body_mass_kg: float | None
    body_mass_source: str | None
    sex: Literal["male", "female"] | None
    sex_source: str | None
    age_years: float | None
    age_source: str | None
    mismatches: list[Literal["sex", "body_mass", "age"]]


class LactateThreshold(BaseModel):
    method: str
    fitting: str | None = None
    intensity: float | None
    lactate: float | None
    heart_rate: float | None


class LactateBaseline(BaseModel):
    present: bool
    lactate: float | None = None
    intensity_used: float | None = None


class Flag(BaseModel):
    code: str
    message: str


class LactateResult(BaseModel):
    """Every method's threshold (null intensity where a method finds none), the fitted curve, the flags."""
    thresholds: list[LactateThreshold]
    fit: dict | None = Field(..., description="the fitted model: its kind, label, coefficients and fit quality")
    sport: Literal["cycling", "running", "swimming"]
    include_baseline: bool
    baseline: LactateBaseline | None
    flags: list[Flag]
    conventions: str



class CpetResult(_Answer):
    """VO2max, peak, VT1/VT2, zones, FATmax, the protocol and its phases, data quality. `status` insufficient: stored,
    never reported as a VO2max (`insufficient_reasons` says why). A null part could not be computed (see the flags)."""
    engine_version: str
    averaging: AveragingStrategy
    vo2max: Vo2max | None
    peak: Peak | None
    vt1: Threshold | None
    vt2: Threshold | None
    zones: Zones
    fatmax: Fatmax | None
    protocol: Protocol | None
    quality: Quality
    lactate: LactateResult | None = Field(..., description="the lactate thresholds of the steps sent with the test")
    status: Literal["analyzed", "insufficient"]
    insufficient_reasons: list[InsufficientReason]
    athlete: AthleteUsed | None




class CpetFileResult(_Answer):
    """/cpet/file: what the reader found (format, header, warnings) and the CPET result."""
    format: str
    metadata: dict = Field(..., description="the export's header, as /parse answers it")
    warnings: list[str]
    warning_details: list[ReaderWarning] = Field(..., description="the same warnings, each with its code")
    result: CpetResult
