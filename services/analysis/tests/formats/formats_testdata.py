"""Where the reference exports live (relative to this file) and how to read them."""
from __future__ import annotations

import sys
from pathlib import Path

SERVICE_ROOT = Path(__file__).resolve().parents[2]
if str(SERVICE_ROOT) not in sys.path:  # `analysis` importable however pytest is started
    sys.path.insert(0, str(SERVICE_ROOT))

# tests/formats/<file> -> parents[4] is the repo root (parents[3] would be services/).
TESTDATA = Path(__file__).resolve().parents[4] / "testdata"
CPET = TESTDATA / "cpet"


def cpet_file(relative: str) -> bytes:
    return (CPET / relative).read_bytes()
