"""The web console's two targets (issue #19), measured, not asserted:

1. first load: the compressed JavaScript a browser fetches for `/` (gzip, as the gateway serves it) — target ≤ 300 KB;
2. a 2,000-breath test's charts (four uPlot charts, VT1/VT2 markers, phase bands) rendered in headless Chromium —
   target ≤ 500 ms: from the moment the test screen has its data to two animation frames after the charts exist
   (the console writes that figure into `document.body.dataset.chartsRenderMs`).

    .venv/bin/python bench/console.py [--rounds 7]      (needs ./vo2 setup's build in web/dist and /usr/bin/chromium)

The console is served from web/dist by the gateway's own static handler (gateway/console.py, same CSP) on a
loopback port; the API answers are synthetic (Playwright routes), so only the browser's work is measured.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "gateway"), str(ROOT / "tests" / "e2e"), str(ROOT / "libs" / "servicekit")]

from browser import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from gateway.console import Console  # noqa: E402

BREATHS = 2000
JS_TARGET_KB, RENDER_TARGET_MS = 300, 500


def first_load_js(console: Console) -> tuple[int, list[tuple[str, int]]]:
    """Every script index.html loads (entry and modulepreloads), at the size the gateway sends it gzipped."""
    files = console._load()
    index = files["/index.html"].body.decode()
    scripts = re.findall(r'<script[^>]+src="([^"]+\.js)"', index) + re.findall(
        r'<link[^>]+rel="modulepreload"[^>]+href="([^"]+\.js)"', index)
    sizes = [(path, len(files[path].gzipped or files[path].body)) for path in scripts]
    return sum(size for _, size in sizes), sizes


def serve(console: Console) -> tuple[str, callable]:
    """The gateway's static handler under uvicorn on a free loopback port."""
    import uvicorn

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            message = await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await console(scope, receive, send, "bench")

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)

    def stop():
        server.should_exit = True
        thread.join(5)
    return f"http://127.0.0.1:{port}", stop


def synthetic_test() -> dict:
    """A 2,000-breath ramp: rising VO2/VCO2 with a VT1 and VT2 bend, HR, VE, end-tidal pressures."""
    cols = {k: [] for k in ("time_s", "vo2_ml_min", "vco2_ml_min", "ve_l_min", "hr_bpm", "peto2_mmhg",
                            "petco2_mmhg", "power_w")}
    for i in range(BREATHS):
        t = i * 0.6
        work = max(0.0, t - 120) / (BREATHS * 0.6 - 120)
        vo2 = 600 + 3400 * work + 60 * math.sin(i * 1.7)
        vco2 = vo2 * (0.85 + 0.35 * max(0.0, work - 0.45))
        ve = vco2 / 1000 * (26 + 14 * max(0.0, work - 0.75))
        for name, value in (("time_s", round(t, 2)), ("vo2_ml_min", round(vo2)), ("vco2_ml_min", round(vco2)),
                            ("ve_l_min", round(ve, 1)), ("hr_bpm", round(70 + 110 * work)),
                            ("peto2_mmhg", round(100 + 12 * max(0.0, work - 0.45), 1)),
                            ("petco2_mmhg", round(38 + 4 * work - 6 * max(0.0, work - 0.75), 1)),
                            ("power_w", round(300 * work))):
            cols[name].append(value)
    end = cols["time_s"][-1]
    analysis = {
        "version": 1, "status": "analyzed", "zone_model": "five_zone",
        "vo2max": {"vo2_ml_min": 4000, "vo2_ml_kg_min": 57.1, "verdict": "vo2max", "verdict_basis": "plateau",
                   "percentile_band": ">90", "norm_source": "FRIEND cycle 2017"},
        "peak": {"rer": 1.15, "hr_bpm": 180, "ve_l_min": 150},
        "vt1": {"time_s": round(end * 0.5), "vo2_ml_min": 2300, "vo2_pct_max": 58, "method": "combined",
                "confidence": 0.7, "methods": [{"method": "V-slope", "time_s": round(end * 0.5), "vo2_ml_min": 2300}]},
        "vt2": {"time_s": round(end * 0.8), "vo2_ml_min": 3300, "vo2_pct_max": 83, "method": "combined",
                "confidence": 0.6, "methods": [{"method": "VE/VCO2", "time_s": round(end * 0.8), "vo2_ml_min": 3300}]},
        "zones": {"five_zone": [{"name": f"Z{i}", "hr_bpm": [100 + 15 * i, 115 + 15 * i], "power_w": None,
                                 "speed_kmh": None} for i in range(1, 6)]},
        "protocol": {"phases": [{"phase": "baseline", "start_s": 0, "end_s": 120},
                                {"phase": "incremental", "start_s": 120, "end_s": end}]},
        "quality": {"flags": [], "n_breaths": BREATHS, "excluded_breaths": 0, "vo2_noise_cv": 0.05},
    }
    test = {"id": "bench", "athlete": "a", "date": "2026-12-01", "modality": "cycling", "protocol": "ramp",
            "status": "analyzed", "source_format": "synthetic", "sample_count": BREATHS, "device": "bench",
            "created_at": "2026-12-01T10:00:00Z", "protocol_declared": True, "insufficient_reasons": []}
    return {"samples": {"test": "bench", "count": BREATHS, "average_s": None, "columns": cols},
            "analysis": analysis, "test": test}


def fake_jwt() -> str:
    import base64

    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': 'none'})}.{part({'sub': 'u', 'roles': ['owner']})}.x"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    console = Console()
    if "/index.html" not in console._load():
        print("web/dist is not built: run ./vo2 setup", file=sys.stderr)
        return 2
    total, sizes = first_load_js(console)
    data = synthetic_test()
    answers = {
        "/api/v1/auth/login": {"access": fake_jwt(), "refresh": "r", "token_type": "Bearer", "expires_in": 600},
        "/api/v1/auth/me": {"user": {"id": "u", "email": "bench@lab", "full_name": "Bench", "is_operator": False},
                            "tenant": {"id": "t", "slug": "lab", "name": "Lab"}, "roles": ["owner"],
                            "other_tenants": []},
        "/api/v1/tests/bench/": data["test"], "/api/v1/tests/bench/analysis/": data["analysis"],
        "/api/v1/tests/bench/samples/": data["samples"],
        "/api/v1/tests/bench/analysis/versions/": {"test": "bench", "versions": []},
        "/api/v1/tests/bench/lactate-steps/": {"test": "bench", "steps": []},
        "/api/v1/reports/": {"results": [], "next": None},
        "/api/v1/athletes/": {"results": [], "next": None},
    }
    bodies = {path: json.dumps(body) for path, body in answers.items()}
    base, stop = serve(console)
    from playwright.sync_api import sync_playwright

    renders = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")

            def answer(route):
                path = route.request.url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
                body = bodies.get("/" + path)
                route.fulfill(status=200 if body else 404, content_type="application/json",
                              body=body or '{"detail": "bench: no such route"}')
            page.route("**/api/v1/**", answer)
            page.goto(base + "/")
            page.get_by_label("E-mail").fill("bench@lab")
            page.get_by_label("Password").fill("x")
            page.get_by_role("button", name="Log in").click()
            page.get_by_role("heading", name="Athletes").wait_for()
            for _ in range(args.rounds + 1):  # the first round warms the JIT and is dropped
                page.evaluate("delete document.body.dataset.chartsRenderMs; location.hash = '#/athletes'")
                page.get_by_role("heading", name="Athletes").wait_for()
                page.evaluate("location.hash = '#/tests/bench'")
                page.locator("body[data-charts-render-ms]").wait_for(state="attached", timeout=30_000)
                assert page.locator(".chart-host canvas").count() == 4
                renders.append(float(page.evaluate("document.body.dataset.chartsRenderMs")))
            browser.close()
    finally:
        stop()
    renders = renders[1:]
    median = statistics.median(renders)
    print("| figure | measured | target | ratio to target |")
    print("|---|---|---|---|")
    print(f"| first-load JavaScript, gzip | {total / 1024:.1f} KB ({', '.join(f'{Path(p).name} {s / 1024:.1f} KB' for p, s in sizes)}) "
          f"| ≤ {JS_TARGET_KB} KB | {total / 1024 / JS_TARGET_KB:.2f} |")
    print(f"| {BREATHS}-breath test, 4 charts rendered (median of {len(renders)}; "
          f"min {min(renders):.0f}, max {max(renders):.0f}) | {median:.0f} ms | ≤ {RENDER_TARGET_MS} ms | "
          f"{median / RENDER_TARGET_MS:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
