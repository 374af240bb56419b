"""The export flow: the one home of its transactions (each step's writes go through exports/actions).

    1 claim      lock; finished or gone → nothing to do; one more attempt; stage gathering
    2 gather     lock; what measurements holds written into a temporary ZIP (one read transaction); stage reports
      ⋯ reports  (no transaction) every report file from the reports service, with a service token
    3 writing    lock; stage writing
      ⋯ store    (no transaction) the ZIP into the file store
    4 done       lock; ready, with its expiry (gone meanwhile: the stored file is removed again)

A redelivered task finds the export finished and does nothing; a run cut short starts the ZIP again (it is
rebuilt whole, never appended to). reports unreachable → `jobs.RetryLater`; on the final attempt `give_up` fails
the export with 503 `unavailable`."""
from __future__ import annotations

import tempfile
import zipfile

from servicekit import http, jobs
from servicekit.problems import problem
from servicekit.tenancy import tenant_transaction

from . import actions, bundle
from .models import AthleteExport

Stage = AthleteExport.Stage


def _current(export_id, generation: int | None = None) -> AthleteExport | None:
    row = jobs.lock(AthleteExport, export_id, related=("athlete",))
    if row is None or row.finished or (generation is not None and row.generation != generation):
        return None
    return row


def run_export(export_id: str, tenant_id: str) -> str:
    with tenant_transaction(tenant_id):
        row = _current(export_id)
        if row is None:
            return "finished or gone"
        actions.claim(row)
        generation = row.generation
    with tempfile.TemporaryFile() as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            with tenant_transaction(tenant_id):
                row = _current(export_id, generation)
                if row is None:
                    return "gone"
                counts = bundle.write_measurements(z, row.athlete)
                actions.set_stage(row, Stage.REPORTS, 60)
                athlete_id = str(row.athlete_id)
            try:
                counts["reports"] = bundle.write_reports(z, tenant_id, athlete_id)
            except http.Unavailable as exc:
                raise jobs.RetryLater(f"reports: {exc.detail}") from exc
            bundle.write_readme(z, athlete_id=athlete_id, counts=counts)
        with tenant_transaction(tenant_id):
            row = _current(export_id, generation)
            if row is None:
                return "gone"
            actions.set_stage(row, Stage.WRITING, 90)
            key = actions.export_key(row)
        tmp.seek(0)
        size, digest = actions.export_files().put(key, tmp)
    with tenant_transaction(tenant_id):
        row = _current(export_id, generation)
        if row is None:  # the athlete (and so the export) was deleted meanwhile: no file left behind
            actions.export_files().delete(key)
            return "gone"
        actions.done(row, file_key=key, size=size, sha256=digest, contents=counts)
    return jobs.Status.DONE


def give_up(export_id: str, tenant_id: str, *, reason: str) -> str:
    with tenant_transaction(tenant_id):
        row = _current(export_id)
        if row is not None:
            actions.fail(row, problem(503, "unavailable", f"the export could not finish: {reason}"))
    return jobs.Status.FAILED


def crashed(export_id: str, tenant_id: str) -> None:
    with tenant_transaction(tenant_id):
        row = _current(export_id)
        if row is not None:
            actions.fail(row, problem(500, "internal-error", "the export failed unexpectedly; request it again"))


def remove_expired() -> int:
    """The files of ready exports past their time (the periodic job, across tenants)."""
    from django.db import transaction

    with transaction.atomic():
        due = actions.expired()
    for export_id, tenant_id in due:
        with tenant_transaction(tenant_id):
            actions.expire(export_id)
    return len(due)
