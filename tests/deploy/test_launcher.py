"""The launcher's process table: SaaS mode runs compose's processes one per role; local mode runs every one of those
roles too, grouped into few processes for one lab's computer (issue 17 item 6). The end-to-end tests run both modes
for real; bench/local_footprint.py measures memory, process count and cold start."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from launcher.system import (CONSUMER_NICE, DJANGO_SERVICES, ONLY_PERIODIC_JOBS, WORKER_NICE, Process, System,
                            healthy)

from .images import dockerfile_cmd

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
SERVERS = {"postgres", "rabbitmq", "redis"}


def roles_in(plan) -> set[tuple[str, str]]:
    """(service, role) for every loop a plan runs: web, relay, consumer, worker."""
    roles = set()
    for proc in plan:
        if proc.name in ("gateway", "analysis"):
            roles.add((proc.name, "web"))
        elif proc.argv[1].endswith("local_process.py"):
            service, args = proc.name.split("-")[0], proc.argv[2:]
            if args[0] == "--listen":
                args = args[2:]
            # `jobs`: the thread that runs the periodic jobs itself stands for the beat and the worker
            roles.update((service, r) for role in args for r in (("beat", "worker") if role == "jobs" else (role,)))
        else:
            service, _, role = proc.name.partition("-")
            roles.add((service, role or "web"))
    return roles


def test_saas_mode_runs_the_processes_compose_runs(tmp_path):
    plan = System(mode="saas", data_dir=tmp_path).plan()
    assert sorted(p.name for p in plan) == sorted(set(COMPOSE) - SERVERS)


def test_local_mode_runs_every_role_in_at_most_twelve_processes(tmp_path):
    local = System(mode="local", data_dir=tmp_path / "local").plan()
    saas = System(mode="saas", data_dir=tmp_path / "saas").plan()
    assert roles_in(local) == roles_in(saas)
    assert len(local) + 1 <= 12, "with the launcher itself"
    # one web process per service (no forked workers) and at most one background process beside it
    for service in DJANGO_SERVICES:
        mine = [p for p in local if p.name.split("-")[0] == service]
        assert [p.name for p in mine] in ([service], [service, f"{service}-background"])
        assert "gunicorn" not in mine[0].argv


def test_local_mode_keeps_the_computing_workers_out_of_the_web_process(tmp_path):
    """Imports and PDFs run beside the API, never in its interpreter: a long job does not slow the API down."""
    plan = {p.name: p for p in System(mode="local", data_dir=tmp_path).plan()}
    for service in ("measurements", "reports"):
        assert "worker" not in plan[service].argv and plan[f"{service}-background"].argv[2:] == ["worker"]
    # the relay publishes its deletion confirmations; e-mail waits on the network; the beat sends periodic jobs
    assert plan["notifications"].argv[4:] == ["web", "relay", "consumer", "worker", "beat"]


def test_a_service_whose_periodic_jobs_run_in_a_thread_has_no_other_job(tmp_path):
    """Local mode runs identity's periodic jobs in a thread of its web process and starts no Celery worker for it:
    right only while its worker would run nothing else (a background job or a task sent to it would wait forever)."""
    plan = {p.name: p for p in System(mode="local", data_dir=tmp_path).plan()}
    for service in ONLY_PERIODIC_JOBS:
        assert "jobs" in plan[service].argv and not {"worker", "beat"} & set(plan[service].argv)
        assert f"{service}-background" not in plan
        package = ROOT / "services" / service / service
        for path in package.rglob("*.py"):
            if "tests" in path.parts:
                continue
            text = path.read_text()
            for other in ("shared_task", "background_job", ".delay(", "apply_async", "send_task"):
                assert other not in text, f"{path.relative_to(ROOT)} has {other}: {service} needs its worker"


def test_local_mode_prepares_in_each_web_process_which_then_waits_for_start(tmp_path):
    """One Django start per service: the web process migrates, declares its queue and (identity) bootstraps, hands
    the bootstrap's output to the launcher (not to its log: it holds the first password), and serves nothing until
    start() says go; stopping a prepared system ends them."""
    import sqlite3

    from launcher.system import PORTS
    from servicekit.testing import free_port

    system = System(mode="local", data_dir=tmp_path, ports={name: free_port() for name in PORTS},
                    metrics_ports="free")
    try:
        printed = system.prepare(bootstrap=["--tenant-name", "Prep Lab", "--slug", "prep-lab", "--email",
                                            "owner@prep.local"])
        assert "Password (shown once" in printed
        assert sorted(p.name for p in system.processes) == sorted(DJANGO_SERVICES)  # no preparing process apart
        for proc in system.processes:
            assert proc.popen.poll() is None, proc.name
            assert not healthy(proc.health_url), f"{proc.name} serves before start()"
            with sqlite3.connect(tmp_path / f"{proc.name}.sqlite3") as db:
                assert db.execute("SELECT count(*) FROM django_migrations").fetchone()[0] > 0
        assert "Password" not in (system.log_dir / "identity.log").read_text()
        popens = [proc.popen for proc in system.processes]
    finally:
        system.stop()
    assert all(popen.poll() is not None for popen in popens)


LOOP_ENDS = """
import signal, sys, threading
sys.path.insert(0, "launcher")
import django
from django.conf import settings
settings.configure()
django.setup()
from local_process import Loop

terminated = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: terminated.set())


def broken():
    raise RuntimeError("a bug in the loop")


def stopped_on_purpose():
    stopping.set()


stopping = threading.Event()
for runner, event in ((stopped_on_purpose, stopping), (broken, threading.Event())):
    loop = Loop("relay", runner, event)
    loop.thread.start()
    loop.thread.join(10)
    print(runner.__name__, "failed" if loop.failed else "ok", "terminated" if terminated.wait(2) else "running")
"""


def test_a_loop_that_ends_unexpectedly_stops_its_process_and_a_stopped_one_does_not():
    run = subprocess.run([sys.executable, "-c", LOOP_ENDS], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:2] == ["stopped_on_purpose ok running", "broken failed terminated"], run.stdout


def server_options(argv: list[str]) -> dict[str, str]:
    """gunicorn's options that shape how a web process serves: worker class, threads, keep-alive."""
    wanted = ("--worker-class", "--threads", "--keep-alive")
    return {flag: argv[i + 1] for i, flag in enumerate(argv[:-1]) if flag in wanted}


def test_saas_mode_serves_each_django_service_as_its_image_does(tmp_path):
    """The end-to-end tests run the launcher's SaaS plan; the images must serve the same way (identity's image ran
    gunicorn's sync worker, two requests at a time, while the tested plan ran threads)."""
    plan = {p.name: p for p in System(mode="saas", data_dir=tmp_path).plan()}
    for service in DJANGO_SERVICES:
        image = server_options(dockerfile_cmd(service)[-1].split("exec gunicorn ", 1)[1].split())
        assert server_options(plan[service].argv) == image, service


def test_what_computes_yields_the_cpu_and_the_consumers_come_between(tmp_path):
    """On a busy machine the requests a person waits for go first: imports, PDFs and the analysis server run at
    WORKER_NICE in both modes, SaaS's event consumers at CONSUMER_NICE, every other process (web servers, the
    gateway, relays, the e-mail and webhook worker, beats) at the normal priority."""
    assert 0 < CONSUMER_NICE < WORKER_NICE
    saas = {p.name: p.nice for p in System(mode="saas", data_dir=tmp_path / "saas").plan()}
    local = {p.name: p.nice for p in System(mode="local", data_dir=tmp_path / "local").plan()}
    computing = {"measurements-worker", "reports-worker", "analysis"}
    consumers = {name for name in saas if name.endswith("-consumer")}
    assert consumers == {f"{service}-consumer" for service in DJANGO_SERVICES}
    assert {name for name, nice in saas.items() if nice == WORKER_NICE} == computing
    assert {name for name, nice in saas.items() if nice == CONSUMER_NICE} == consumers
    assert {"gateway", "measurements", "measurements-relay", "notifications-worker"} <= \
        {name for name, nice in saas.items() if nice == 0}
    assert set(saas.values()) == {0, CONSUMER_NICE, WORKER_NICE}
    # local mode: the consumers are threads of their web process, so only the processes that compute are niced
    assert {name for name, nice in local.items() if nice} == \
        {"measurements-background", "reports-background", "analysis"}
    assert set(local.values()) == {0, WORKER_NICE}
    # compose says the same to Docker: the lowest CPU shares for what computes, lower ones for the consumers
    shares = {name: spec.get("cpu_shares", 1024) for name, spec in COMPOSE.items()
              if name not in ("postgres", "rabbitmq", "redis")}
    assert {name for name, v in shares.items() if v < 1024} == computing | consumers
    assert max(shares[name] for name in computing) < min(shares[name] for name in consumers) < 1024


def autogroup(pid) -> str:
    """The process's autogroup, or "" where the kernel does not use one: a process in a cgroup of its own (CI's runner)
    shares the CPU by cgroup, and its /proc autogroup file is empty."""
    words = Path(f"/proc/{pid}/autogroup").read_text().split()
    return words[0] if words else ""


def test_a_launched_process_has_a_group_of_its_own_in_the_launchers_session(tmp_path):
    """Its own process group (stopped with killpg), but not a session of its own: Linux's autogroup scheduler shares a
    busy CPU per session, which gave every process an equal share whatever its nice value (and all of PostgreSQL's
    backends together as much as one idle relay)."""
    system = System(mode="saas", data_dir=tmp_path)
    system.log_dir.mkdir(parents=True)
    calm, niced = (Process(name, [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path, {}, nice=nice)
                   for name, nice in (("calm", 0), ("niced", WORKER_NICE)))
    try:
        for proc in (calm, niced):
            system._launch(proc)
        for proc in (calm, niced):
            pid = proc.popen.pid
            assert os.getpgid(pid) == pid != os.getpgrp()
            assert os.getsid(pid) == os.getsid(0)
            if Path(f"/proc/{pid}/autogroup").exists():  # Linux with autogroup built in
                assert autogroup(pid) == autogroup("self")
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, calm.popen.pid) == mine
        assert os.getpriority(os.PRIO_PROCESS, niced.popen.pid) == min(19, mine + WORKER_NICE)
    finally:
        for proc in (calm, niced):
            if proc.popen is not None:
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(10)
