"""reports' own metric (servicekit.metrics declares the shared ones): how long a report takes to render."""
from servicekit import metrics

RENDER_DURATION = metrics.histogram("vo2_report_render_duration_seconds",
                                    "Time to render one report document (PDF or DOCX), by format and template",
                                    ["format", "template"], buckets=metrics.JOB_BUCKETS)
