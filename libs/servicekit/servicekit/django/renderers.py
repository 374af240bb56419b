"""A CSV renderer for column-wise tables (`{"columns": {name: [values…]}}`), e.g. `?format=csv` or
`Accept: text/csv` on a samples export; anything else (a problem, say) stays JSON."""
from __future__ import annotations

import csv
import io
import json

from rest_framework.renderers import BaseRenderer


class ColumnsCSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        columns = data.get("columns") if isinstance(data, dict) else None
        if columns is None or (response is not None and response.status_code >= 400):
            if response is not None:
                response["Content-Type"] = "application/problem+json"
            return json.dumps(data).encode()
        names = [c for c, values in columns.items() if values is not None]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(zip(*(columns[c] for c in names)))
        return out.getvalue().encode()


def file_renderer(media_type: str, format_name: str) -> type[BaseRenderer]:
    """For a view that answers a file itself (an HttpResponse of `media_type`): lets `Accept: <media_type>` through
    DRF's content negotiation, which otherwise answers 406 before the view runs. Anything rendered through it is a
    problem the view raised: JSON, as application/problem+json."""

    class FileRenderer(BaseRenderer):
        def render(self, data, accepted_media_type=None, renderer_context=None):
            response = (renderer_context or {}).get("response")
            if response is not None:
                response["Content-Type"] = "application/problem+json"
            return json.dumps(data).encode()

    FileRenderer.media_type, FileRenderer.format = media_type, format_name
    FileRenderer.__name__ = FileRenderer.__qualname__ = f"{format_name.upper()}FileRenderer"
    return FileRenderer
