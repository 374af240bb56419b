"""The local install's footprint: what `./vo2 up` costs one lab's computer.

    .venv/bin/python bench/local_footprint.py [--runs 2] [--settle 5] [--mode local]

Starts `python -m launcher up` exactly as `./vo2 up` does, from a fresh temporary data directory on free ports, and
prints, per run:
  - cold start: from launching the command until the gateway answers /readyz and the printed owner logs in
    through it (migrations, bootstrap and every process's start included);
  - processes: the launcher and every process below it, after start (and after --settle seconds);
  - memory: RSS summed over that process tree (shared pages count once per process, as `ps` shows them), and PSS
    (shared pages split between the processes that map them) beside it.
Targets (issue 17): RSS ≤ 800 MB, ≤ 12 processes, cold start ≤ 10 s. The figures depend on the machine's load:
this machine is shared, so compare runs made at the same moment: `--reference <checkout>` alternates runs of
another checkout's launcher with this one's, and the CPU seconds the cold start used are printed beside its time
(what an idle machine with as many cores would need, roughly, is that divided by the cores).
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = re.compile(r"Password \(shown once[^)]*\): (\S+)")


def free_port_block(size: int = 6, metrics_offset: int = 1000, metrics_size: int = 8) -> int:
    """A base port with `size` consecutive free ports after it, and the launcher's metrics ports free too (each
    web process's API port + 1000, then the background processes' after those)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + metrics_offset + metrics_size >= 65000:
            continue
        try:
            for port in [*range(base, base + size),
                         *range(base + metrics_offset, base + metrics_offset + metrics_size)]:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free block of ports")


def children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def process_tree(root: int) -> list[int]:
    tree, out, todo = children(), [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(tree.get(pid, []))
    return out


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB; (0, 0) when it is gone."""
    try:
        rss = int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))
    except (OSError, AttributeError):
        return 0, 0
    try:
        pss = int(re.search(r"^Pss:\s+(\d+)", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M).group(1))
    except (OSError, AttributeError):
        pss = 0
    return rss, pss


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) the processes used, with their waited-for children's (the preparing steps)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / ticks


def command_of(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [a.decode(errors="replace") for a in argv if a]
    shown = [w for w in words[1:] if not w.startswith("-")][:4] if words else []
    return " ".join(Path(words[0]).name.split() + shown) if words else "?"


def one_run(mode: str, settle: float, show: bool, root: Path = ROOT) -> dict:
    load = os.getloadavg()[0]  # the machine's 1-minute load when the run starts (the cold start depends on it)
    data_dir = Path(tempfile.mkdtemp(prefix="vo2-footprint-"))
    base = free_port_block()
    gateway = f"http://127.0.0.1:{base}"
    log = open(data_dir.parent / f"{data_dir.name}.out", "w+")
    started = time.monotonic()
    launcher = subprocess.Popen([sys.executable, "-m", "launcher", "up", "--mode", mode, "--data-dir", str(data_dir),
                                 "--port-base", str(base)], cwd=root, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        password, deadline = None, started + 120
        with httpx.Client(base_url=gateway, timeout=5.0) as http:
            while time.monotonic() < deadline:
                if launcher.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"the launcher exited with {launcher.returncode}:\n{log.read()[-3000:]}")
                if password is None:
                    log.seek(0)
                    found = PASSWORD.search(log.read())
                    password = found.group(1) if found else None
                if password is not None:
                    try:
                        if http.get("/readyz").status_code == 200:
                            login = http.post("/api/v1/auth/login",
                                              json={"email": "owner@lab.local", "password": password})
                            if login.status_code == 200 and login.json().get("access"):
                                break
                    except httpx.HTTPError:
                        pass
                time.sleep(0.05)
            else:
                raise TimeoutError("the gateway did not answer and log the owner in within 120 s")
        cold = time.monotonic() - started
        cpu = cpu_seconds(process_tree(launcher.pid))
        time.sleep(settle)
        pids = process_tree(launcher.pid)
        sizes = {pid: memory_kb(pid) for pid in pids}
        if show:
            for pid in sorted(pids, key=lambda p: -sizes[p][0]):
                print(f"    {sizes[pid][0] / 1024:7.1f} MB RSS {sizes[pid][1] / 1024:7.1f} MB PSS "
                      f"{cpu_seconds([pid]):5.1f} CPU-s  {command_of(pid)}")
        return {"load": load, "cold_s": cold, "cpu_s": cpu, "processes": len([p for p in pids if sizes[p][0]]),
                "rss_mb": sum(r for r, _ in sizes.values()) / 1024, "pss_mb": sum(p for _, p in sizes.values()) / 1024}
    finally:
        started_pids = process_tree(launcher.pid)[1:]
        try:
            os.killpg(launcher.pid, signal.SIGINT)
        except ProcessLookupError:  # it exited already (a failed start)
            pass
        try:
            launcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
        # the launcher started its children in sessions of their own: make sure none outlives it
        for pid in started_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after start before memory is read")
    parser.add_argument("--mode", choices=["local", "saas"], default="local")
    parser.add_argument("--reference", type=Path, default=None,
                        help="another checkout (e.g. a clone at an older commit whose launcher takes --data-dir and "
                             "--port-base): measured in alternation with this one, same moments of the machine")
    args = parser.parse_args()
    roots = {"this": ROOT, **({"reference": args.reference.resolve()} if args.reference else {})}
    runs = {name: [] for name in roots}
    for i in range(args.runs):
        for name, root in roots.items():
            result = one_run(args.mode, args.settle, show=i == 0, root=root)
            runs[name].append(result)
            print(f"{name} run {i + 1} (load {result['load']:.1f}): cold start {result['cold_s']:.1f} s using "
                  f"{result['cpu_s']:.1f} CPU-s, "
                  f"{result['processes']} processes, RSS {result['rss_mb']:.0f} MB (PSS {result['pss_mb']:.0f} MB)",
                  flush=True)
    print()
    for name, results in runs.items():
        cold = statistics.median(r["cold_s"] for r in results)
        rss = statistics.median(r["rss_mb"] for r in results)
        procs = max(r["processes"] for r in results)

        def spread(key, digits=1):
            values = [r[key] for r in results]
            return f"{min(values):.{digits}f}–{max(values):.{digits}f}"
        print(f"{name} ({roots[name]}), {args.mode} install, median of {len(results)} (spread min–max; load "
              f"{spread('load')}): cold start {cold:.1f} s ({spread('cold_s')}; target ≤ 10 s, {cold / 10:.2f}× "
              f"target) using {statistics.median(r['cpu_s'] for r in results):.1f} CPU-s ({spread('cpu_s')}), "
              f"{procs} processes (≤ 12), RSS {rss:.0f} MB ({spread('rss_mb', 0)}; ≤ 800 MB, {rss / 800:.2f}× "
              f"target), PSS {statistics.median(r['pss_mb'] for r in results):.0f} MB ({spread('pss_mb', 0)})")
    if args.reference:
        this, ref = runs["this"], runs["reference"]
        med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
        print(f"this / reference: cold start {med(this, 'cold_s') / med(ref, 'cold_s'):.2f}×, CPU "
              f"{med(this, 'cpu_s') / med(ref, 'cpu_s'):.2f}×, RSS {med(this, 'rss_mb') / med(ref, 'rss_mb'):.2f}×, "
              f"processes {max(r['processes'] for r in this)} vs {max(r['processes'] for r in ref)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
