"""measurements' import metric (servicekit.metrics declares the shared ones): each stage of the pipeline, timed."""
from servicekit import metrics

STAGE_DURATION = metrics.histogram("vo2_import_stage_duration_seconds",
                                   "Time one stage of an import took (parsing: the analysis service reads the file; "
                                   "storing: the test and samples written; analyzing: computed and saved)", ["stage"],
                                   buckets=metrics.JOB_BUCKETS)
