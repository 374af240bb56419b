"""The COPY path of sample storage, proven at the database as the application role (PostgreSQL only)."""
import math
import uuid

import pytest
from django.db import connection

from measurements.athletes.models import Athlete
from measurements.samples import actions
from measurements.exercise_tests.models import ExerciseTest, Sample
from servicekit.tenancy import tenant_transaction

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def make_test(tenant):
    with tenant_transaction(tenant):
        athlete = Athlete.objects.create(tenant_id=tenant, first_name="A", last_name="B", sex="male")
        return ExerciseTest.objects.create(tenant_id=tenant, athlete=athlete, date="2026-01-01")


def test_copy_stores_rows_under_rls_and_cleans_non_finite_values():
    tenant = str(uuid.uuid4())
    test = make_test(tenant)
    columns = {"time_s": [0, 2.5, 5.0, 7.5], "vo2_ml_min": [1000, math.nan, 1200.5, math.inf], "hr_bpm": None}
    with tenant_transaction(tenant):
        assert actions.store_samples(test, columns) == 4
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_class WHERE relname = 'sample_stage' AND relpersistence = 't'")
            assert cur.fetchone() == (1,)  # the staging table is temporary (the COPY target)
    with tenant_transaction(tenant):
        rows = list(Sample.objects.filter(test=test).order_by("idx").values_list("idx", "time_s", "vo2_ml_min",
                                                                                   "hr_bpm"))
    assert rows == [(0, 0.0, 1000.0, None), (1, 2.5, None, None), (2, 5.0, 1200.5, None), (3, 7.5, None, None)]
    with tenant_transaction(str(uuid.uuid4())):  # another tenant sees none of them
        assert Sample.all_tenants.count() == 0
    # storing again replaces (a re-run), it never appends
    with tenant_transaction(tenant):
        actions.store_samples(test, {"time_s": [0, 1], "vo2_ml_min": [1, 2]})
        assert Sample.objects.filter(test=test).count() == 2


def test_copy_for_a_test_of_another_tenant_is_refused_by_the_policy():
    from psycopg.errors import InsufficientPrivilege

    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    test = make_test(a)
    with pytest.raises(InsufficientPrivilege, match="row-level security"):
        with tenant_transaction(b):
            actions.copy_columns(a, str(test.pk), {"time_s": [0.0, 1.0]})


def test_every_measurements_table_is_under_forced_rls():
    tables = ("athlete", "exercise_test", "sample", "lactate_step", "import_job", "analysis_result", "analysis_audit")
    with connection.cursor() as cur:
        cur.execute("SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY(%s)",
                    [list(tables)])
        found = {name: (rls, force) for name, rls, force in cur.fetchall()}
    assert found == {t: (True, True) for t in tables}
