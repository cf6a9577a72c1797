#!/usr/bin/env python3
"""How `wharf config` grows with the project: times it on generated projects of N, 2N,
4N and 8N services and prints each doubling's cost (2.0 is linear) and the peak memory.

Usage: bench/config_growth.py [--services 5000] [--runs 5]
Builds nothing: run `cargo build --release` first. The anchor is the smallest project,
measured in the same invocation; the median of the runs is quoted.
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
WHARF = ROOT / "target" / "release" / "wharf"


def generate(services):
    lines = ["services:"]
    for i in range(services):
        lines += [
            f"  s{i}:",
            "    image: busybox",
            f"    command: sleep {i}",
            "    environment:",
            f"      INDEX: '{i}'",
            f"    ports: ['{10000 + i % 50000}:80']",
            "    depends_on: [s0]" if i else "",
        ]
    return "\n".join(line for line in lines if line) + "\n"


def median_seconds_and_peak_mib(path, runs):
    times, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        child = subprocess.Popen([WHARF, "-f", path, "config", "-q"])
        _, status, usage = os.wait4(child.pid, 0)
        times.append(time.perf_counter() - start)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"wharf config failed on {path}")
        peaks.append(usage.ru_maxrss / 1024)
    return statistics.median(times), max(peaks)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        previous = None
        print(f"wharf config -q, median of {args.runs} runs")
        for factor in (1, 2, 4, 8):
            count = args.services * factor
            path = pathlib.Path(work) / f"compose-{count}.yaml"
            path.write_text(generate(count))
            seconds, peak = median_seconds_and_peak_mib(path, args.runs)
            growth = f"  x{seconds / previous:.2f} for twice the services" if previous else ""
            print(f"{count:>7} services  {seconds * 1000:8.1f} ms  {peak:6.0f} MiB peak{growth}")
            previous = seconds


if __name__ == "__main__":
    main()
