"""The whole test suite: every part's own tests in its own pytest process (each Django service has its own settings),
the Django services both on PostgreSQL (SaaS) and SQLite (local), then the end-to-end tests through the gateway.

    ./vo2 test                 everything
    ./vo2 test gateway e2e     only suites whose name contains one of the words
Ends with one line 'N passed, N failed' over all suites; exits non-zero if any suite failed.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

SUITES = [
    ("servicekit", ROOT / "libs" / "servicekit", {}),
    ("gateway", ROOT / "gateway", {}),
    ("gateway[aiohttp]", ROOT / "gateway", {"GATEWAY_TEST_TRANSPORT": "aiohttp"}),  # the fallback client too
    ("analysis", ROOT / "services" / "analysis", {}),
    *[(f"{svc}[{db}]", ROOT / "services" / svc, {"VO2_TEST_DB": db})
      for svc in ("identity", "measurements", "reports", "notifications") for db in ("postgres", "sqlite")],
    ("web", ROOT / "web", {"VO2_RUNNER": "vitest"}),  # the console's unit tests (vitest; its browser tests are e2e)
    ("e2e+deploy", ROOT / "tests", {}),
]
VITEST_COUNT = re.compile(r"^\s*Tests\s+(.*)$", re.M)

COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)")


def main(argv: list[str]) -> int:
    words = [a for a in argv if not a.startswith("-")]
    extra = [a for a in argv if a.startswith("-")]
    totals = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    failed_suites = []
    for name, path, env in SUITES:
        if words and not any(w in name for w in words):
            continue
        if not path.exists():
            continue
        started = time.monotonic()
        print(f"\n=== {name} ({path.relative_to(ROOT)}) ===", flush=True)
        if env.get("VO2_RUNNER") == "vitest":
            argv = ["npx", "--no-install", "vitest", "run", "--reporter=default"]
        else:
            argv = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra]
        proc = subprocess.run(argv, cwd=path, env={**os.environ, "NO_COLOR": "1", **env}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        sys.stdout.write(proc.stdout)
        tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
        if env.get("VO2_RUNNER") == "vitest":  # "Tests  16 passed (16)" or "Tests  1 failed | 15 passed (16)"
            found = VITEST_COUNT.findall(proc.stdout)
            tail = found[-1] if found else ""
        for number, kind in COUNT.findall(tail):
            key = "error" if kind.startswith("error") else kind
            if key in totals:
                totals[key] += int(number)
        if proc.returncode != 0:
            failed_suites.append(f"{name} (exit {proc.returncode})")
        print(f"--- {name}: exit {proc.returncode} in {time.monotonic() - started:.0f} s", flush=True)
    print()
    if failed_suites:
        print("FAILED suites: " + ", ".join(failed_suites))
    print(f"{totals['passed']} passed, {totals['failed'] + totals['error']} failed, {totals['skipped']} skipped")
    return 1 if failed_suites else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
