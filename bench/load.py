"""Load benchmark (issue 18 item 4): simulated labs drive a whole SaaS system through the gateway over HTTP.

    .venv/bin/python bench/load.py [--labs 20] [--seconds 120] [--concurrency 16] [--think 1.0] [--live]
    .venv/bin/python bench/load.py --gateway http://127.0.0.1:8000 --operator EMAIL:PASSWORD   # a running system

Without --gateway it starts its own SaaS system (launcher.System, as `./vo2 up --saas` runs it) on servers of its
own where sharing would mix runs: fresh databases `vo2load_<run>_<service>` on the shared PostgreSQL (dropped at the
end), a private RabbitMQ node (servicekit.testing.PrivateRabbitMQ: the services' task and event queues have fixed
names, so another system on the shared broker would take this run's jobs), a private redis-server; file storage in
local folders. The per-IP rate limits are raised out of reach (every simulated lab comes from 127.0.0.1 here); the
per-user and per-tenant limits keep their defaults.

Each lab is made the way an operator makes one (POST /api/v1/tenants/ by a platform operator, `create_operator`),
its owner logs in and creates two athletes; then until the time is up, each lab repeats: list athletes, upload a real
export (testdata/cpet, the cart formats in turn), poll the import, read the test's analysis, request a report, read
the report's state, list tests — then thinks (--think s). At most --concurrency requests are in flight at once (a
bounded asyncio client, httpx). After the time is up it waits (--drain s) until every accepted upload is analysed and
every requested report is ready; what is not by then is counted as lost.

With --live each lab also keeps its live notification stream open (GET /api/v1/notifications/stream, as the console
does): one more long request per lab and its frames, a heavier load than the issue's.

Prints: requests and throughput, p50/p99 and errors per endpoint, the reads' p99 against the issue's target
(≤ 200 ms on this 2-core machine), lost jobs, upload → analysed as the lab's polls (and with --live its live stream)
saw it. Figures depend on what else runs on the machine and on how fast it is that hour, so two references are
measured in the same run: the same reads sent one at a time before the load (the ratio of the loaded p99 to theirs)
and a fixed pure-Python loop timed before and after the run (to compare runs).
With a system of its own it also prints where the machine's CPU went during the load: each process of the system
with its children (its process group), PostgreSQL's backends by database, the private broker and Redis, and this
client — the share of the machine's cores each used, which says whether the reads waited for a saturated machine.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "libs" / "servicekit")]
CPET = ROOT / "testdata" / "cpet"
EXPORTS = [CPET / "spiro/zan_ramp", CPET / "spiro/vyntus.txt", CPET / "spiro/cortex.xml",
           CPET / "gasexchanger/metflex101_constant_unavg55.csv"]
READ_TARGET_MS = 200.0
IDLE_READS_PER_LAB = 5   # the reference: each lab's two list reads, 5 times, one request at a time, before the load


class Stats:
    def __init__(self):
        self.times = defaultdict(list)    # endpoint → seconds of each answered request
        self.errors = defaultdict(list)   # endpoint → "status: text" / exception of each failed one
        self.idle: Stats | None = None    # the reference reads, one at a time before the load
        self.machine: tuple[float, float] | None = None  # machine_reference_ms() before and after the run
        self.cpu: tuple[dict, dict, float] | None = None  # cpu_seconds() at the load's start and end, its seconds
        self.analysed_after: list[float] = []  # seconds from an upload's 202 to its import seen done (0.5-s polls)

    def add(self, endpoint: str, seconds: float, error: str | None = None):
        self.times[endpoint].append(seconds)
        if error:
            self.errors[endpoint].append(error)


class Client:
    """One lab's logged-in HTTP client: every request timed under its endpoint's name, bounded by the semaphore."""

    def __init__(self, base: str, stats: Stats, limit: asyncio.Semaphore):
        self.http = httpx.AsyncClient(base_url=base, timeout=60.0)
        self.stats, self.limit, self.token, self.credentials = stats, limit, None, None

    async def call(self, endpoint: str, method: str, path: str, expect=(200,), **kw) -> httpx.Response | None:
        async with self.limit:
            started = time.perf_counter()
            try:
                headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
                response = await self.http.request(method, path, headers=headers, **kw)
                if response.status_code == 401 and self.credentials and "expired" in response.text:
                    await self.login(*self.credentials, timed=False)
                    response = await self.http.request(method, path,
                                                       headers={"Authorization": f"Bearer {self.token}"}, **kw)
            except httpx.HTTPError as exc:
                self.stats.add(endpoint, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
                return None
            elapsed = time.perf_counter() - started
        if response.status_code not in expect:
            self.stats.add(endpoint, elapsed, f"{response.status_code}: {response.text[:200]}")
            return None
        self.stats.add(endpoint, elapsed)
        return response

    async def login(self, email: str, password: str, timed: bool = True) -> bool:
        body = {"email": email, "password": password}
        if timed:
            response = await self.call("POST /auth/login", "POST", "/api/v1/auth/login", json=body)
        else:
            response = await self.http.post("/api/v1/auth/login", json=body)
            response = response if response.status_code == 200 else None
        if response is None:
            return False
        self.token, self.credentials = response.json()["access"], (email, password)
        return True


class Lab:
    def __init__(self, index: int, run: str, base: str, stats: Stats, limit: asyncio.Semaphore):
        self.index, self.slug = index, f"load-{run}-{index}"
        self.email, self.password = f"owner@{self.slug}.lab", f"{self.slug}-owner-pw-1"
        self.client = Client(base, stats, limit)
        self.athletes, self.imports, self.reports = [], {}, {}   # import id → state; report id → state
        self.not_reportable = 0
        self.uploaded_at: dict[str, float] = {}  # import id → its 202 (perf_counter)
        self.live_done: dict[str, float] = {}    # import id → when the lab's live stream said it was done

    async def create(self, operator: Client) -> bool:
        made = await operator.call("POST /tenants", "POST", "/api/v1/tenants/", expect=(201,),
                                   json={"name": f"Load Lab {self.index}", "slug": self.slug,
                                         "owner": {"email": self.email, "password": self.password}})
        if made is None or not await self.client.login(self.email, self.password):
            return False
        for n in range(2):
            athlete = await self.client.call("POST /athletes", "POST", "/api/v1/athletes/", expect=(201,), json={
                "first_name": f"Runner{n}", "last_name": f"Lab{self.index}", "sex": "female" if n else "male",
                "birth_date": "1990-01-01", "body_mass_kg": 68.0 + n, "height_cm": 175})
            if athlete is not None:
                self.athletes.append(athlete.json()["id"])
        return bool(self.athletes)

    async def work(self, until: float, think: float, round_robin: list[int]) -> None:
        c, n = self.client, 0
        while time.monotonic() < until:
            await c.call("GET /athletes", "GET", "/api/v1/athletes/", params={"limit": 20})
            export = EXPORTS[(round_robin[0] + self.index) % len(EXPORTS)]
            round_robin[0] += 1
            athlete = self.athletes[n % len(self.athletes)]
            n += 1
            accepted = await c.call("POST /imports", "POST", "/api/v1/imports/", expect=(202,),
                                    files={"file": (export.name, export.read_bytes())}, data={"athlete": athlete})
            if accepted is not None:
                import_id = accepted.json()["id"]
                self.imports[import_id] = "queued"
                uploaded = self.uploaded_at[import_id] = time.perf_counter()
                test = await self.wait_import(import_id, until + 5)
                if test:
                    c.stats.analysed_after.append(time.perf_counter() - uploaded)
                    await c.call("GET /tests/{id}/analysis", "GET", f"/api/v1/tests/{test}/analysis")
                    asked = await c.call("POST /reports", "POST", "/api/v1/reports/", expect=(202, 422),
                                         json={"test": test, "language": "en", "template": "athlete"})
                    if asked is not None and asked.status_code == 422:
                        # some real exports (e.g. the Vyntus one) are analysed but too short for a report: the
                        # service's documented answer, counted apart; any other 422 is an error
                        if "test-not-analysable" in asked.json().get("type", ""):
                            self.not_reportable += 1
                        else:
                            c.stats.errors["POST /reports"].append(f"422: {asked.text[:200]}")
                    elif asked is not None:
                        report_id = asked.json()["id"]
                        self.reports[report_id] = asked.json().get("status", "queued")
                        await c.call("GET /reports/{id}", "GET", f"/api/v1/reports/{report_id}")
            await c.call("GET /tests", "GET", "/api/v1/tests/", params={"limit": 20})
            await asyncio.sleep(think)

    async def listen(self) -> None:
        """The lab's live notification stream, open for the whole run as the console keeps it (outside the
        concurrency bound: it is one long request): when each import's progress first says done. Cancelled at the
        end."""
        while True:
            try:
                async with self.client.http.stream(
                        "GET", "/api/v1/notifications/stream", headers={"Authorization": f"Bearer {self.client.token}"},
                        timeout=httpx.Timeout(60.0, read=None)) as response:
                    if response.status_code != 200:
                        await asyncio.sleep(1.0)
                        continue
                    kind = None
                    async for line in response.aiter_lines():
                        if line.startswith("event: "):
                            kind = line[len("event: "):]
                        elif line.startswith("data: ") and kind == "progress":
                            data = json.loads(line[len("data: "):])
                            if data.get("kind") == "import" and data.get("status") == "done":
                                self.live_done.setdefault(data["id"], time.perf_counter())
            except httpx.HTTPError:
                await asyncio.sleep(0.5)

    async def wait_import(self, import_id: str, until: float) -> str | None:
        while time.monotonic() < until:
            state = await self.client.call("GET /imports/{id}", "GET", f"/api/v1/imports/{import_id}")
            if state is not None:
                body = state.json()
                self.imports[import_id] = body["status"]
                if body["status"] == "done":
                    return body["test"]
                if body["status"] == "failed":
                    return None
            await asyncio.sleep(0.5)
        return None  # still running: the drain looks at it again

    async def drain(self, until: float) -> None:
        """Every job's final state (untimed reads: the load is over)."""
        http, headers = self.client.http, {"Authorization": f"Bearer {self.client.token}"}
        while time.monotonic() < until:
            pending = [(f"/api/v1/imports/{i}", self.imports, i) for i, s in self.imports.items()
                       if s not in ("done", "failed")]
            pending += [(f"/api/v1/reports/{r}", self.reports, r) for r, s in self.reports.items()
                        if s not in ("done", "failed")]
            if not pending:
                return
            for path, states, key in pending:
                try:
                    response = await http.get(path, headers=headers)
                except httpx.HTTPError:
                    continue
                if response.status_code == 401:
                    await self.client.login(*self.client.credentials, timed=False)
                    headers = {"Authorization": f"Bearer {self.client.token}"}
                elif response.status_code == 200:
                    states[key] = response.json()["status"]
            await asyncio.sleep(1.0)


def machine_reference_ms() -> float:
    """A fixed pure-Python loop, best of 5: how fast this machine is right now (compared before and after a run)."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for i in range(300_000):
            total += i * i % 7
        best = min(best, time.perf_counter() - started)
    return best * 1000


def cpu_seconds(groups: dict[int, str], database_prefix: str) -> dict[str, float]:
    """CPU seconds used so far (user + system) by each process group in `groups` (pgid → name: the launcher starts
    every process in a group of its own, so a gunicorn's workers count with it), by PostgreSQL's backends per
    database of this run, and by anything else of this client's own group. Linux (/proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = defaultdict(float)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmd:
                argv = cmd.read().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        pgrp, cpu = int(fields[2]), (int(fields[11]) + int(fields[12])) / tick
        if pgrp in groups:
            used[groups[pgrp]] += cpu
        elif argv[0].startswith(b"postgres: ") and database_prefix.encode() in argv[0]:
            # "postgres: [<cluster>: ]<role> <database> <client> <state>": the database names the service
            names = [w for w in argv[0].decode(errors="replace").split() if w.startswith(database_prefix + "_")]
            service = names[-1].removeprefix(database_prefix + "_") if names else "?"
            used[f"postgresql, {service}'s backends"] += cpu
    return used


def cpu_groups(system, rabbit, redis) -> dict[int, str]:
    groups = {proc.popen.pid: proc.name for proc in system.processes if proc.popen is not None}
    groups[os.getpgrp()] = "this load client"
    for name, popen in (("rabbitmq (private node)", getattr(rabbit, "proc", None)), ("redis (private)", redis)):
        if popen is not None:
            groups[os.getpgid(popen.pid)] = name
    return groups


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000


async def drive(base: str, operator: tuple[str, str], args, cpu=None) -> tuple[Stats, list[Lab], float]:
    stats, limit, run = Stats(), asyncio.Semaphore(args.concurrency), uuid.uuid4().hex[:6]
    operator_client = Client(base, stats, limit)
    if not await operator_client.login(*operator):
        raise SystemExit(f"the operator could not log in: {stats.errors}")
    labs = [Lab(i, run, base, stats, limit) for i in range(args.labs)]
    made = await asyncio.gather(*(lab.create(operator_client) for lab in labs))
    labs = [lab for lab, ok in zip(labs, made) if ok]
    # the reference, measured in this run on this machine: the same reads one at a time before the load starts
    idle, idle_limit = Stats(), asyncio.Semaphore(1)
    for lab in labs:
        reader = Client(base, idle, idle_limit)
        reader.token = lab.client.token
        for _ in range(IDLE_READS_PER_LAB):
            await reader.call("GET /athletes", "GET", "/api/v1/athletes/", params={"limit": 20})
            await reader.call("GET /tests", "GET", "/api/v1/tests/", params={"limit": 20})
        await reader.http.aclose()
    stats.idle = idle
    print(f"{len(labs)} of {args.labs} labs made; load for {args.seconds} s", flush=True)
    started = time.monotonic()
    cpu_before = cpu() if cpu else None
    round_robin = [0]
    streams = [asyncio.create_task(lab.listen()) for lab in labs] if args.live else []
    await asyncio.gather(*(lab.work(started + args.seconds, args.think, round_robin) for lab in labs))
    elapsed = time.monotonic() - started
    if cpu:
        stats.cpu = (cpu_before, cpu(), elapsed)
    await asyncio.gather(*(lab.drain(time.monotonic() + args.drain) for lab in labs))
    if streams:
        await asyncio.sleep(1.0)  # the last imports' done frames
    for stream in streams:
        stream.cancel()
    await asyncio.gather(*streams, return_exceptions=True)
    return stats, labs, elapsed


def report(stats: Stats, labs: list[Lab], elapsed: float, args) -> None:
    total = sum(len(v) for v in stats.times.values())
    errors = sum(len(v) for v in stats.errors.values())
    print(f"\n{args.labs} labs, {args.seconds} s load (+ setup), concurrency {args.concurrency}, think {args.think} s; "
          f"machine load (1/5/15 min) at the end: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"requests: {total} in {elapsed:.1f} s = {total / elapsed:.1f} req/s; errors: {errors}")
    print(f"{'endpoint':28} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6}")
    for endpoint in sorted(stats.times):
        values = stats.times[endpoint]
        print(f"{endpoint:28} {len(values):6d} {percentile(values, .5):8.1f} {percentile(values, .99):8.1f} "
              f"{max(values) * 1000:8.1f} {len(stats.errors[endpoint]):6d}")
    reads = [t for e, v in stats.times.items() if e.startswith("GET") for t in v]
    if reads:
        p99 = percentile(reads, .99)
        print(f"reads p99: {p99:.1f} ms (target ≤ {READ_TARGET_MS:.0f} ms: {p99 / READ_TARGET_MS:.2f}×)")
        idle = [t for v in stats.idle.times.values() for t in v] if stats.idle else []
        if idle:
            print(f"reference, same run: the same system's reads one at a time before the load: {len(idle)} reads, "
                  f"p50 {percentile(idle, .5):.1f} ms, p99 {percentile(idle, .99):.1f} ms; under load the reads' "
                  f"p99 is {p99 / percentile(idle, .99):.1f}× that")
    if stats.machine:
        before, after = stats.machine
        print(f"machine reference: a fixed pure-Python loop took {before:.1f} ms before the run and {after:.1f} ms "
              f"after it (best of 5; compare runs by it: this machine's speed varies from hour to hour)")
    imports = [s for lab in labs for s in lab.imports.values()]
    reports_ = [s for lab in labs for s in lab.reports.values()]
    lost_imports = sum(s != "done" for s in imports)
    lost_reports = sum(s != "done" for s in reports_)
    print(f"uploads accepted: {len(imports)}, analysed: {imports.count('done')}, failed: {imports.count('failed')}, "
          f"not finished: {lost_imports - imports.count('failed')}")
    if stats.analysed_after:
        print(f"upload → analysed, as a lab sees it (its import polled every 0.5 s), during the load: "
              f"p50 {percentile(stats.analysed_after, .5) / 1000:.1f} s, "
              f"p99 {percentile(stats.analysed_after, .99) / 1000:.1f} s")
    live = [lab.live_done[i] - lab.uploaded_at[i] for lab in labs for i in lab.uploaded_at if i in lab.live_done]
    done = imports.count("done")
    if live:
        print(f"upload → analysed, as the lab's live stream shows it (notifications' progress over SSE): "
              f"{len(live)} of {done} seen done there, p50 {percentile(live, .5) / 1000:.1f} s, "
              f"p99 {percentile(live, .99) / 1000:.1f} s")
    print(f"reports requested: {len(reports_)}, ready: {reports_.count('done')}, failed: {reports_.count('failed')}, "
          f"not finished: {lost_reports - reports_.count('failed')}")
    print(f"reports refused as not analysable (422 test-not-analysable): {sum(lab.not_reportable for lab in labs)}")
    print(f"lost jobs (not done by the end of the drain): {lost_imports + lost_reports}")
    for endpoint, errs in sorted(stats.errors.items()):
        if errs:
            print(f"  {endpoint}: first error: {errs[0]}")


def histogram_p99(metrics_urls: dict[str, str], name: str, keep) -> dict[tuple, tuple[int, float, float]]:
    """From the processes' own Prometheus histograms (`name`), per label set `keep(labels)` (None: skipped):
    (count, mean ms, p99 ms as the upper bound of the bucket that holds the 99th percentile)."""
    from prometheus_client.parser import text_string_to_metric_families

    buckets, sums, counts = defaultdict(lambda: defaultdict(float)), defaultdict(float), defaultdict(float)
    for url in metrics_urls.values():
        try:
            text = httpx.get(url, timeout=5).text
        except httpx.HTTPError:
            continue
        for family in text_string_to_metric_families(text):
            if family.name != name:
                continue
            for sample in family.samples:
                labels = dict(sample.labels)
                le = labels.pop("le", None)
                key = keep(labels)
                if key is None:
                    continue
                if sample.name.endswith("_bucket"):
                    buckets[key][float(le)] += sample.value
                elif sample.name.endswith("_sum"):
                    sums[key] += sample.value
                elif sample.name.endswith("_count"):
                    counts[key] += sample.value
    found = {}
    for key, total in counts.items():
        if not total:
            continue
        bound = next((le for le, n in sorted(buckets[key].items()) if n >= 0.99 * total), float("inf"))
        found[key] = (int(total), sums[key] / total * 1000, bound * 1000)
    return found


def where_the_cpu_goes(stats: Stats) -> None:
    if not stats.cpu:
        return
    before, after, seconds = stats.cpu
    used = {name: after[name] - before.get(name, 0.0) for name in after}
    cores, total = os.cpu_count() or 1, sum(used.values())
    print(f"\nwhere the CPU went during the load ({seconds:.0f} s on {cores} cores): "
          f"{total / seconds:.2f} cores busy of {cores} ({total / seconds / cores:.0%})")
    print(f"  {'process (with its children)':54} {'CPU s':>8} {'cores':>6} {'share':>6}")
    for name, value in sorted(used.items(), key=lambda kv: -kv[1]):
        if value >= 0.005 * total:
            print(f"  {name[:54]:54} {value:8.1f} {value / seconds:6.2f} {value / total:6.1%}")


def where_reads_wait(system) -> None:
    """The reads' time as each hop measured it: the gateway's whole answer, its wait for the service (upstream),
    and the service's own answer (its middleware: view, database, serialisation). A service time far below the
    upstream time means the request waited for a free worker thread of the service; an upstream time far below the
    gateway's means it waited in the gateway (its event loop, token check, rate limit)."""
    urls = system.metrics_urls()
    gateway = histogram_p99({"gateway": urls["gateway"]}, "vo2_http_request_duration_seconds",
                            lambda l: (l["route"],) if l.get("method") == "GET" else None)
    upstream = histogram_p99({"gateway": urls["gateway"]}, "vo2_gateway_upstream_request_duration_seconds",
                             lambda l: (l["upstream"],))
    services = histogram_p99({n: u for n, u in urls.items() if n in ("measurements", "reports")},
                             "vo2_http_request_duration_seconds",
                             lambda l: (l["service"], l["route"]) if l.get("method") == "GET" else None)
    print("\nwhere the reads' time goes (each process's own histogram; p99 = the upper bound of its bucket)")
    print(f"{'hop':58} {'n':>6} {'mean ms':>8} {'p99 ≤ ms':>9}")
    for title, rows in (("gateway, GET by route prefix", gateway), ("gateway → upstream (every method)", upstream),
                        ("in the service, GET by route", services)):
        print(f"  {title}")
        for key, (n, mean, p99) in sorted(rows.items(), key=lambda kv: -kv[1][0])[:8]:
            print(f"    {' '.join(key)[:54]:54} {n:6d} {mean:8.1f} {p99:9.0f}")


def own_system(tmp: Path):
    """A SaaS system on servers of its own where sharing would mix runs (see the module's docstring)."""
    from launcher.system import PORTS, SaasServers, System
    from servicekit import testing

    rabbit = testing.PrivateRabbitMQ(tmp / "rabbitmq").start()
    redis_port = testing.free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)  # a process group of its own: its CPU is counted apart
    saas = SaasServers(database_prefix=f"vo2load_{uuid.uuid4().hex[:6]}", broker_url=rabbit.url,
                       redis_url=f"redis://127.0.0.1:{redis_port}/0")
    ports = {name: testing.free_port() for name in PORTS}
    system = System(mode="saas", data_dir=tmp / "system", ports=ports, saas=saas, metrics_ports="free", quiet=True,
                    extra_env={"RATE_LIMIT_IP": "1000000", "RATE_LIMIT_LOGIN_IP": "1000000",
                               "PUBLIC_APP_URL": f"http://127.0.0.1:{ports['gateway']}"})
    return system, rabbit, redis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight at most")
    parser.add_argument("--think", type=float, default=1.0, help="seconds each lab waits between rounds")
    parser.add_argument("--drain", type=float, default=120.0, help="seconds to wait for the last jobs")
    parser.add_argument("--live", action="store_true",
                        help="each lab also keeps its live notification stream open, as the console does")
    parser.add_argument("--gateway", help="a running system's gateway URL (else a system of its own is started)")
    parser.add_argument("--operator", help="EMAIL:PASSWORD of a platform operator of that system")
    args = parser.parse_args()

    if args.gateway:
        if not args.operator:
            raise SystemExit("--gateway needs --operator EMAIL:PASSWORD")
        email, password = args.operator.split(":", 1)
        before = machine_reference_ms()
        stats, labs, elapsed = asyncio.run(drive(args.gateway, (email, password), args))
        stats.machine = (before, machine_reference_ms())
        report(stats, labs, elapsed, args)
        return

    from servicekit.pgroles import drop
    from servicekit.testing import POSTGRES_ADMIN_DSN

    tmp = Path(tempfile.mkdtemp(prefix="vo2-load-"))
    system, rabbit, redis = own_system(tmp)
    try:
        print(f"starting a SaaS system (databases {system.saas.database_prefix}_*) ...", flush=True)
        system.prepare()
        operator = ("operator@load.platform", "load-operator-pw-1")
        system.manage("identity", "create_operator", "--email", operator[0], "--password", operator[1], capture=True)
        system.start()
        before = machine_reference_ms()
        groups = cpu_groups(system, rabbit, redis)
        stats, labs, elapsed = asyncio.run(drive(system.url("gateway"), operator, args,
                                                 cpu=lambda: cpu_seconds(groups, system.saas.database_prefix)))
        stats.machine = (before, machine_reference_ms())
        report(stats, labs, elapsed, args)
        where_reads_wait(system)
        where_the_cpu_goes(stats)
    finally:
        system.stop()
        rabbit.stop()
        redis.terminate()
        redis.wait(timeout=10)
        for service in ("identity", "measurements", "reports", "notifications"):
            drop(POSTGRES_ADMIN_DSN, f"{system.saas.database_prefix}_{service}")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
