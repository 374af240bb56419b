"""The lab's logo as the renderers keep it: a PNG. A PNG is checked and kept as sent; an SVG is parsed safely
(defusedxml: no DTD, no entities), refused if it carries anything active or external, and rasterised
(svglib → a reportlab drawing → a one-page PDF → PDFium) so the rest of the pipeline handles PNG only."""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import defusedxml
import defusedxml.ElementTree as SafeET
from servicekit.problems import ProblemError

from .models import LOGO_MAX_BYTES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_PIXELS = 4000                 # either side of a PNG logo
SVG_MAX_ELEMENTS = 5000           # a logo is a few dozen shapes; more is a rendering-time attack
SVG_RASTER_LONG_SIDE = 600        # pixels of the stored PNG's long side: sharp in a 9-mm header at print resolution
FORBIDDEN_ELEMENTS = {"script", "foreignobject", "iframe", "embed", "object", "handler", "listener"}
HREF_ATTRIBUTES = {"href", "src"}  # href and xlink:href (namespace stripped), src of anything that has one
SVG_NS, XLINK_NS = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.IGNORECASE | re.DOTALL)


def logo_png(data: bytes) -> bytes:
    """The PNG to store for an uploaded logo (PNG or SVG, at most LOGO_MAX_BYTES), or a problem naming why not."""
    if not data:
        raise ProblemError(400, "validation-error", "Send the logo as the request body (image/png or "
                           "image/svg+xml) or as `logo`.", errors=[{"field": "logo", "detail": "empty"}])
    if len(data) > LOGO_MAX_BYTES:
        raise ProblemError(413, "payload-too-large", f"The logo may be at most {LOGO_MAX_BYTES // 1024} KiB.")
    if data.startswith(PNG_MAGIC):
        return checked_png(data)
    if _looks_like_svg(data):
        return svg_to_png(data)
    raise ProblemError(415, "unsupported-logo", "The logo must be a PNG or an SVG.")


def checked_png(data: bytes) -> bytes:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception as exc:  # PIL raises many kinds for a damaged file; all mean the same to the lab
        raise ProblemError(415, "unsupported-logo", "The PNG cannot be read.") from exc
    if not (1 <= width <= MAX_PIXELS and 1 <= height <= MAX_PIXELS):
        raise ProblemError(415, "unsupported-logo", f"The logo must be at most {MAX_PIXELS} × {MAX_PIXELS} pixels.")
    return data


def _looks_like_svg(data: bytes) -> bool:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<?xml", b"<svg", b"<!doctype", b"<!--")) and b"<svg" in data[:65536].lower()


def _unsafe(reason: str) -> ProblemError:
    return ProblemError(422, "unsafe-logo", f"The SVG logo is refused: {reason}. Remove it or export the logo as PNG.",
                        errors=[{"field": "logo", "detail": reason}])


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].lower()


def _check_css(text: str, where: str) -> None:
    if "@import" in text.lower():
        raise _unsafe(f"an @import in {where}")
    for _, target in _URL.findall(text):
        if not target.strip().startswith("#"):
            raise _unsafe(f"an external reference url({target.strip()[:60]}) in {where}")


def sanitised_svg(data: bytes) -> ET.Element:
    """The SVG's root element once nothing active or external is in it (else a 422 naming what was found)."""
    if re.search(rb"<!doctype|<!entity", data, re.IGNORECASE):
        raise _unsafe("a DOCTYPE or entity declaration")
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:  # the regex above catches these first; kept as the real guard
        raise _unsafe("a DOCTYPE or entity declaration") from exc
    except ET.ParseError as exc:
        raise ProblemError(415, "unsupported-logo", f"The SVG cannot be read: {exc}.") from exc
    if _local(root.tag) != "svg":
        raise ProblemError(415, "unsupported-logo", "The SVG's root element is not <svg>.")
    count = 0
    for element in root.iter():
        count += 1
        if count > SVG_MAX_ELEMENTS:
            raise _unsafe(f"more than {SVG_MAX_ELEMENTS} elements")
        if not isinstance(element.tag, str):
            continue
        tag = _local(element.tag)
        if tag in FORBIDDEN_ELEMENTS:
            raise _unsafe(f"a <{tag}> element")
        for name, value in element.attrib.items():
            attr = _local(name)
            if attr.startswith("on"):
                raise _unsafe(f"an event-handler attribute {attr}")
            if attr in HREF_ATTRIBUTES and not value.strip().startswith("#"):
                raise _unsafe(f"an external reference {attr}=\"{value.strip()[:60]}\"")
            _check_css(value, f"the {attr} attribute")
        if tag == "style":
            _check_css("".join(element.itertext()), "a <style> element")
    return root


def svg_to_png(data: bytes) -> bytes:
    """The sanitised SVG rasterised to a PNG with a transparent background, its long side SVG_RASTER_LONG_SIDE px."""
    from reportlab.graphics import renderPDF
    from svglib.svglib import svg2rlg

    from ..rendering import raster  # PDFium: loaded by the first SVG logo, not by every web process

    root = sanitised_svg(data)
    # the usual prefixes back on serialising (svglib resolves <use> only in the SVG namespace's default form)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    # svglib reads exactly what was checked (re-serialised: no DOCTYPE, no comments, no processing instructions)
    drawing = svg2rlg(io.BytesIO(ET.tostring(root)))
    if drawing is None or not (drawing.width > 0 and drawing.height > 0):
        raise ProblemError(415, "unsupported-logo", "The SVG has no drawable size (width, height or viewBox).")
    scale = SVG_RASTER_LONG_SIDE / max(drawing.width, drawing.height)
    drawing.scale(scale, scale)
    drawing.width, drawing.height = drawing.width * scale, drawing.height * scale
    pdf = renderPDF.drawToString(drawing)
    try:
        return raster.pdf_pages_to_png(pdf, 72, transparent=True)[0]
    except raster.RasterError as exc:
        raise ProblemError(415, "unsupported-logo", "The SVG cannot be drawn.") from exc
