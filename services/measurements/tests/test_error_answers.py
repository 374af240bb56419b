"""An error answer stores nothing of its request, and a request PostgreSQL aborted because another transaction changed
the same rows at the same moment says so (503 `concurrent-change`, send it again), not "the database cannot be
reached". The kit's exception handler (servicekit.django.drf) does both for every Django service; these probe views
write the outbox table, which every service has, and then fail the ways a real view does."""
import threading
import time
import uuid

import psycopg
import pytest
from django.db import connection
from django.test import override_settings
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from servicekit import testing
from servicekit.events.models import OutboxEvent
from servicekit.problems import ProblemError

pytestmark = pytest.mark.django_db(transaction=True)


class WritesThenRefuses(APIView):
    """Stores a row, then finds the request cannot be done (a limit, a state check) and raises its problem."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        OutboxEvent.objects.create(event_id=uuid.uuid4(), type="probe.half-done", body="{}")
        raise ProblemError(409, "conflict", "found out after the first write")


class UpdatesTwoRows(APIView):
    """Updates the first row, then the second: the order a concurrent transaction may take the other way round."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        first, second = request.data["rows"]
        OutboxEvent.objects.filter(id=first).update(type="probe.by-the-request")
        OutboxEvent.objects.filter(id=second).update(type="probe.by-the-request")
        return Response({"done": True})


urlpatterns = [path("half-done", WritesThenRefuses.as_view()), path("two-rows", UpdatesTwoRows.as_view())]


@override_settings(ROOT_URLCONF=__name__)
def test_a_refusal_after_a_write_stores_nothing(client):
    answer = client.post("/half-done")
    assert answer.status_code == 409 and answer["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "found out after the first write"
    assert not OutboxEvent.objects.filter(type="probe.half-done").exists()  # the request was one transaction


@pytest.mark.postgres_only
@override_settings(ROOT_URLCONF=__name__)
def test_a_request_that_lost_a_deadlock_is_a_concurrent_change_to_send_again(client):
    rows = [OutboxEvent.objects.create(event_id=uuid.uuid4(), type="probe.row", body="{}").id for _ in range(2)]
    database = connection.settings_dict["NAME"]
    answers = []
    with psycopg.connect(testing.POSTGRES_ADMIN_DSN.rsplit("/", 1)[0] + "/" + database) as other:
        # the other transaction takes the second row first, and waits long before it checks for a deadlock itself,
        # so PostgreSQL aborts the request's transaction, not this one
        other.execute("SET deadlock_timeout = '20s'")
        other.execute("UPDATE events_outbox SET type = 'probe.by-the-other' WHERE id = %s", [rows[1]])
        request = threading.Thread(target=lambda: answers.append(
            client.post("/two-rows", {"rows": rows}, content_type="application/json")))
        request.start()
        deadline = time.monotonic() + 10
        while not testing.backends_waiting_for_a_lock(database) - {other.info.backend_pid}:  # holds 1, wants 2
            assert time.monotonic() < deadline, "the request never waited for the second row"
            time.sleep(0.05)
        other.execute("UPDATE events_outbox SET type = 'probe.by-the-other' WHERE id = %s", [rows[0]])
        request.join(30)
        other.commit()
    (answer,) = answers
    assert answer.status_code == 503 and answer["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "urn:vo2:problem:concurrent-change"
    assert "Send it again" in answer.json()["detail"] and answer["Retry-After"] == "1"
    assert set(OutboxEvent.objects.filter(id__in=rows).values_list("type", flat=True)) == {"probe.by-the-other"}
    # the same request sent again, with nothing in its way, is done
    again = client.post("/two-rows", {"rows": rows}, content_type="application/json")
    assert again.status_code == 200
    assert set(OutboxEvent.objects.filter(id__in=rows).values_list("type", flat=True)) == {"probe.by-the-request"}
