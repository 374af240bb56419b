"""VO2max Report computation engine: pure numpy/scipy, no web layer.

    analyze_cpet(samples, athlete=None, averaging=None, overrides=None, lactate=None) -> dict
    analyze_lactate(steps, fit="poly3", include_baseline=True, sport="cycling", methods=None) -> dict

Both return JSON-safe dicts (no NaN: None) and never raise on finite input, except analyze_cpet's
overrides.InvalidOverride for overrides that do not fit the test (the field and the allowed range).
"""
from .cpet import analyze_cpet
from .lactate import analyze_lactate
from .version import ENGINE_VERSION

__all__ = ["analyze_cpet", "analyze_lactate", "ENGINE_VERSION"]
