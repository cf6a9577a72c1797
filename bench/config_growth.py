#!/usr/bin/env python3
"""How `wharf config` grows with the project: times it on generated projects of N, 2N,
4N and 8N services and prints each doubling's cost (2.0 is linear).

Usage: bench/config_growth.py [--services 5000] [--runs 5]
Builds nothing: run `cargo build --release` first. The anchor is the smallest project,
measured in the same invocation; the median of the runs is quoted.
"""

import argparse
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


def median_seconds(path, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([WHARF, "-f", path, "config", "-q"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
            seconds = median_seconds(path, args.runs)
            growth = f"  x{seconds / previous:.2f} for twice the services" if previous else ""
            print(f"{count:>7} services  {seconds * 1000:8.1f} ms{growth}")
            previous = seconds


if __name__ == "__main__":
    main()
