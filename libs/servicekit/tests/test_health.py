"""Readiness really touches the broker and the cache: against the real servers, and failing when one is gone."""
from servicekit.health import check_broker, check_cache, run_checks
from servicekit.testing import RABBITMQ_URL, REDIS_URL, need_server


def test_ready_when_rabbitmq_and_redis_answer():
    need_server("rabbitmq")
    need_server("redis")
    ok, body = run_checks({"broker": lambda: check_broker(RABBITMQ_URL), "cache": lambda: check_cache(REDIS_URL)})
    assert ok, body
    assert body["checks"]["broker"]["status"] == "ok" and body["checks"]["cache"]["status"] == "ok"


def test_not_ready_names_the_dependency_that_failed():
    ok, body = run_checks({"cache": lambda: check_cache("redis://127.0.0.1:1/0", timeout=0.5),
                           "broker": lambda: check_broker("amqp://guest:guest@127.0.0.1:1//", timeout=0.5)})
    assert not ok and body["status"] == "not-ready"
    # Redis is degradable (nothing is kept only there): shown, named, but it alone never makes a process not ready
    assert body["checks"]["cache"]["status"] == "degraded" and "Connection" in body["checks"]["cache"]["error"]
    assert body["checks"]["broker"]["status"] == "fail"


def test_a_cache_down_alone_leaves_the_process_ready():
    ok, body = run_checks({"cache": lambda: check_cache("redis://127.0.0.1:1/0", timeout=0.5),
                           "database": lambda: None})
    assert ok and body["status"] == "ready" and body["checks"]["cache"]["status"] == "degraded"
