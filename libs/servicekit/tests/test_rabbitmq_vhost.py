"""A vhost per system under test (servicekit.testing.RabbitMQVhost): two runs on one shared RabbitMQ, each with a
queue of the same fixed name, never see each other's messages; the vhost and what it held are gone afterwards."""
from __future__ import annotations

import os

import kombu
import pytest
from servicekit import testing



def put(url: str, queue: str, body: str) -> None:
    with kombu.Connection(url) as conn:
        q = kombu.Queue(queue, durable=True)
        conn.Producer().publish(body, routing_key=queue, declare=[q], serializer="json")


def take_all(url: str, queue: str) -> list[str]:
    with kombu.Connection(url) as conn:
        q = kombu.Queue(queue, durable=True)(conn.channel())
        q.declare()
        got = []
        while (message := q.get(no_ack=True)) is not None:
            got.append(message.decode())
        return got


@pytest.mark.skipif("VO2_TEST_AMQP" in os.environ, reason="VO2_TEST_AMQP names a broker of the run's own (maybe "
                    "another node than rabbitmqctl reaches): the run uses it as given, see the test below")
def test_two_runs_with_the_same_queue_names_stay_apart():
    testing.need_server("rabbitmq")
    with testing.RabbitMQVhost("vo2kit") as first, testing.RabbitMQVhost("vo2kit") as second:
        assert first.url != second.url and first.url.endswith("/" + first.name)
        put(first.url, "measurements.tasks", "job of the first run")
        put(second.url, "measurements.tasks", "job of the second run")
        assert take_all(first.url, "measurements.tasks") == ["job of the first run"]
        assert take_all(second.url, "measurements.tasks") == ["job of the second run"]
    # deleted with its queues: connecting to it is refused
    with pytest.raises(Exception, match="(?i)access|vhost|refused|not_allowed"):
        with kombu.Connection(first.url, connect_timeout=5) as conn:
            conn.connect()


def test_a_failing_rabbitmqctl_is_a_clear_error_naming_the_command():
    testing.need_server("rabbitmq")
    with pytest.raises(RuntimeError, match="rabbitmqctl delete_vhost vo2kit_never_made"):
        testing.RabbitMQVhost._ctl("delete_vhost", f"vo2kit_never_made_{os.getpid()}")


def test_a_broker_of_the_runs_own_is_used_as_given_and_nothing_is_made_on_it(monkeypatch):
    monkeypatch.setenv("VO2_TEST_AMQP", testing.RABBITMQ_URL)
    monkeypatch.setenv("PATH", "")  # no rabbitmqctl to call: making or deleting a vhost here would raise
    with testing.RabbitMQVhost("vo2kit") as given:
        assert given.url == testing.RABBITMQ_URL
