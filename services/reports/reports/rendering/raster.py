"""Vector drawings to PNG in this process: reportlab draws them into a PDF, PDFium (pypdfium2) rasterises its pages.
Used for the DOCX charts and for turning a sanitised SVG logo into the PNG the renderers keep (reportlab's own bitmap
renderer would need rlPyCairo and the cairo C library; spawning poppler cost ~600 ms a document)."""
from __future__ import annotations

import io
import threading

import pypdfium2 as pdfium

# PDFium is not thread-safe: one rasterisation at a time per process (gunicorn threads, celery threads)
_LOCK = threading.Lock()
RasterError = pdfium.PdfiumError


def pdf_pages_to_png(pdf: bytes, dpi: int, transparent: bool = False) -> list[bytes]:
    """PNG bytes of every page of `pdf` at `dpi`, on white (or transparent: a logo goes on any header)."""
    out = []
    with _LOCK:
        doc = pdfium.PdfDocument(pdf)
        try:
            for i in range(len(doc)):
                page = doc[i]
                try:
                    background = (255, 255, 255, 0 if transparent else 255)
                    image = page.render(scale=dpi / 72, fill_color=background).to_pil()
                finally:
                    page.close()
                buf = io.BytesIO()
                image.save(buf, format="PNG", compress_level=3)  # fast; the charts are flat colours anyway
                out.append(buf.getvalue())
        finally:
            doc.close()
    return out
