"""`python -m launcher up`: start every process of VO2max Report in local mode and print how to use it."""
from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from .system import PORTS, System


def main() -> int:
    parser = argparse.ArgumentParser(prog="vo2")
    parser.add_argument("command", choices=["up"], help="start every process; Ctrl-C stops them all")
    parser.add_argument("--mode", choices=["local", "saas"], default="local")
    parser.add_argument("--data-dir", type=Path, default=None, help="where data, secrets and logs live "
                        "(default var/<mode>)")
    parser.add_argument("--port-base", type=int, default=None, help="gateway port; the services take the next "
                        "five (default 8000)")
    args = parser.parse_args()

    ports = None
    if args.port_base is not None:
        ports = {name: args.port_base + (port - PORTS["gateway"]) for name, port in PORTS.items()}
    system = System(mode=args.mode, data_dir=args.data_dir, ports=ports)
    print(f"VO2max Report ({args.mode} mode): preparing databases in {system.data_dir} …", flush=True)
    login = system.prepare(bootstrap=["--tenant-name", "My Lab", "--slug", "my-lab", "--email", "owner@lab.local"])
    system.start()
    gateway = system.url("gateway")
    scrape = "\n".join(f"  {name:<26} {url}" for name, url in system.metrics_urls().items())
    print(f"""
All services are up. The API is at {gateway}/api/v1/ (docs: {gateway}/api/docs); logs in {system.log_dir}.
Metrics (Prometheus; each process on its own port, on this computer only, never through the gateway):
{scrape}
{login}

Try it (a printed password must be changed at the first login: that login's token can do only this):
  TOKEN=$(curl -s {gateway}/api/v1/auth/login -H 'Content-Type: application/json' \\
      -d '{{"email": "owner@lab.local", "password": "<the password above>"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])')
  curl -s {gateway}/api/v1/auth/password -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
      -d '{{"current_password": "<the password above>", "new_password": "<your own, 10 characters or more>"}}'
  # then log in again the same way with your new password, and:
  curl -s {gateway}/api/v1/athletes/ -H "Authorization: Bearer $TOKEN"

Press Ctrl-C to stop every process.""", flush=True)

    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            for proc in system.processes:
                if proc.popen.poll() is not None:
                    print(f"{proc.name} stopped (exit {proc.popen.returncode}); stopping everything.", flush=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        system.stop()
        print("Stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
