"""Two writers of one test's analysis never deadlock: every writer locks the test's row before its results.

The interleaving CI met (schemathesis, PUT /api/v1/tests/{id}/ while another version was being stored): the edit
updated the test row, then wanted the latest result; the other writer held the result and wanted the test row.
PostgreSQL aborted the edit ("deadlock detected"), which answered 503. Reproduced here step by step."""
import threading
import time
import uuid

import pytest
from django.db import connections

from measurements.athletes.models import Athlete
from measurements.exercise_tests.models import ExerciseTest
from measurements.results import actions
from measurements.results.models import AnalysisResult
from servicekit import testing
from servicekit.tenancy import tenant_transaction

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def computed(n: int) -> actions.Computed:
    return actions.Computed(result={"status": "ok", "n": n}, lactate=None, engine_version="test",
                            cache_key=f"key-{n}", overrides={})


def test_an_edit_and_a_new_version_of_the_same_test_wait_in_turn_instead_of_deadlocking():
    tenant = str(uuid.uuid4())
    with tenant_transaction(tenant):
        athlete = Athlete.objects.create(tenant_id=tenant, first_name="A", last_name="B", sex="male")
        test = ExerciseTest.objects.create(tenant_id=tenant, athlete=athlete, date="2026-01-01")
        actions.save_version(test, computed(1), user_id=None, action="import")

    outcome, writer_pid = {}, {}

    def other_writer():  # e.g. the import's analysis step or an override: stores version 3
        try:
            with tenant_transaction(tenant):
                writer_pid["pid"] = connections["default"].connection.info.backend_pid
                outcome["writer"] = actions.save_version(test, computed(3), user_id=None, action="recompute").version
        except Exception as exc:  # noqa: BLE001 - the assertion below names it
            outcome["writer"] = exc
        finally:
            connections.close_all()

    writer = threading.Thread(target=other_writer)
    with tenant_transaction(tenant):
        # the edit: its UPDATE of the test row comes first...
        ExerciseTest.objects.filter(pk=test.pk).update(temperature_c=21.5)
        writer.start()
        deadline = time.monotonic() + 20
        database = connections["default"].settings_dict["NAME"]
        while not ("pid" in writer_pid and writer_pid["pid"] in testing.backends_waiting_for_a_lock(database)):
            assert writer.is_alive() and time.monotonic() < deadline, f"the writer never waited: {outcome}"
            time.sleep(0.02)
        # ...then it stores its new version, while the other writer waits (for the test row, holding nothing)
        mine = actions.save_version(test, computed(2), user_id=None, action="protocol").version
    writer.join(30)
    assert mine == 2 and outcome["writer"] == 3, outcome  # one after the other, both stored, neither aborted
    with tenant_transaction(tenant):
        assert list(AnalysisResult.objects.filter(test=test).order_by("version").values_list("version", flat=True)) \
            == [1, 2, 3]
