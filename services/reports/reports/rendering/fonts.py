"""The report font: DejaVu Sans (Latin + Cyrillic), embedded (subset) in every PDF.

Looked up in this order, regular and bold separately:
1. the folder named by REPORT_FONT_DIR (a lab can swap in its own DejaVu-compatible files);
2. the two TTFs shipped with this package (``fonts/``, DejaVu licence in ``fonts/LICENSE.dejavu``);
3. the system's fonts-dejavu-core folders.
A missing bold falls back to regular. No Cyrillic font at all is an error (reportlab's built-in Vera/Helvetica
would print black boxes for Russian), raised before any PDF is written.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

REGULAR, BOLD = "VO2Sans", "VO2Sans-Bold"
FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}
PACKAGED = Path(__file__).resolve().parent / "fonts"
SYSTEM_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF",
               "/usr/local/share/fonts", "/Library/Fonts", "C:/Windows/Fonts")

_lock = threading.Lock()
_registered: dict[str, str] | None = None


class FontMissing(RuntimeError):
    pass


def candidate_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("REPORT_FONT_DIR"):
        dirs.append(Path(os.environ["REPORT_FONT_DIR"]))
    dirs.append(PACKAGED)
    dirs.extend(Path(d) for d in SYSTEM_DIRS)
    return dirs


def find_font(filename: str) -> Path | None:
    for folder in candidate_dirs():
        path = folder / filename
        if path.is_file():
            return path
    return None


def register() -> dict[str, str]:
    """Register the two faces with reportlab once per process; returns {face name: file path}."""
    global _registered
    if _registered is not None:
        return _registered
    with _lock:
        if _registered is not None:
            return _registered
        from reportlab.lib.fonts import addMapping
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        regular = find_font(FILES[REGULAR])
        if regular is None:
            raise FontMissing("DejaVuSans.ttf not found: set REPORT_FONT_DIR or install fonts-dejavu-core "
                              f"(looked in {', '.join(str(d) for d in candidate_dirs())})")
        bold = find_font(FILES[BOLD]) or regular
        pdfmetrics.registerFont(TTFont(REGULAR, str(regular)))
        pdfmetrics.registerFont(TTFont(BOLD, str(bold)))
        for italic in (0, 1):
            addMapping(REGULAR, 0, italic, REGULAR)
            addMapping(REGULAR, 1, italic, BOLD)
        _registered = {REGULAR: str(regular), BOLD: str(bold)}
        return _registered
