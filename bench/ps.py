#!/usr/bin/env python3
"""Times `wharf ps` with the daemon running, and the daemon's cost at rest.

Usage: bench/ps.py [--services N] [--runs N]
Starts N idle native services (sleep) under a private WHARF_HOME, then measures the
median wall time of `wharf ps` and the daemon's CPU share and RSS over a few seconds
of idling, against the targets. `docker compose ps` needs the same stack in containers,
which this script does not start yet, so there is no anchor ratio here.
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
WHARF = ROOT / "target" / "release" / "wharf"


def median_ms(argv, cwd, env, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            sys.exit(f"{' '.join(map(str, argv))} failed: {done.stderr.decode()}")
    return statistics.median(times)


def proc_cpu_ticks(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def proc_rss_mib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    args = parser.parse_args()
    if not WHARF.exists():
        sys.exit(f"{WHARF} missing: run `cargo build --release` first")
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as project:
        lines = ["name: idle", "services:"]
        for i in range(args.services):
            lines += [f"  s{i}:", "    image: debian", "    x-wharf: {process: {command: [sleep, '3600']}}"]
        (pathlib.Path(project) / "compose.yaml").write_text("\n".join(lines) + "\n")
        env = dict(os.environ, WHARF_HOME=home, NO_COLOR="1")
        subprocess.run([WHARF, "up", "-d", "--wait", "--wait-timeout", "120"], cwd=project, env=env,
                       check=True, stderr=subprocess.DEVNULL)
        try:
            ours = median_ms([WHARF, "-p", "idle", "ps"], project, env, args.runs)
            pid = int((pathlib.Path(home) / "run" / "wharfd.pid").read_text())
            ticks = os.sysconf("SC_CLK_TCK")
            before = proc_cpu_ticks(pid)
            time.sleep(args.idle_seconds)
            cpu = (proc_cpu_ticks(pid) - before) / ticks / args.idle_seconds * 100
            rss = proc_rss_mib(pid)
        finally:
            subprocess.run([WHARF, "daemon", "stop"], cwd=project, env=env, stderr=subprocess.DEVNULL)
        print(f"{args.services} idle native services, median of {args.runs} runs")
        print(f"wharf ps                 {ours:8.1f} ms   (target <= 3 ms)")
        print("docker compose ps        not measured: its stack needs the Docker backend")
        print(f"wharfd idle CPU          {cpu:8.2f} % of a core   (target < 1 %)")
        print(f"wharfd RSS               {rss:8.1f} MiB   (target < 64 MiB)")


if __name__ == "__main__":
    main()
