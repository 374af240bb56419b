"""The images' commands, read from their Dockerfiles (shared by the deploy tests)."""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_cmd(service: str) -> list[str]:
    """The image's CMD as its exec-form list (e.g. ["sh", "-c", "... && exec gunicorn ..."])."""
    folder = ROOT / ("gateway" if service == "gateway" else f"services/{service}")
    text = (folder / "Dockerfile").read_text().replace("\\\n", " ")
    line = [l for l in text.splitlines() if l.startswith("CMD ")][-1]
    return json.loads(line[4:])
