#!/usr/bin/env python3
"""How `wharf up -d --wait` and `wharf down` grow with the stack: native `sleep`
services in dependency chains of ten, at N, 2N, 4N and 8N services, each doubling's
cost printed (2.0 is linear).

Usage: bench/stack_growth.py [--services 50] [--runs 3]
Builds nothing: run `cargo build --release` first. Each size runs under a private
WHARF_HOME with its own daemon; the anchor is the smallest stack, in the same
invocation; medians of the runs are quoted. WHARF_BIN runs another build (say, the
previous commit's) through the same script, to alternate the two.
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
WHARF = pathlib.Path(os.environ.get("WHARF_BIN", ROOT / "target" / "release" / "wharf"))


def generate(services):
    lines = ["name: growth", "services:"]
    for i in range(services):
        lines += [f"  s{i}:", "    image: debian", "    command: sleep 600"]
        if i % 10:
            lines.append(f"    depends_on: [s{i - 1}]")
    return "\n".join(lines) + "\n"


def timed(argv, cwd, env):
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    previous = None
    print(f"native sleep services in chains of ten, median of {args.runs} runs")
    for factor in (1, 2, 4, 8):
        count = args.services * factor
        with tempfile.TemporaryDirectory() as work:
            project = pathlib.Path(work) / "project"
            project.mkdir()
            (project / "compose.yaml").write_text(generate(count))
            env = dict(os.environ, WHARF_HOME=str(pathlib.Path(work) / "home"),
                       WHARF_PROXY_PORT="0", WHARF_PROXY_HTTPS_PORT="0")
            ups, downs = [], []
            try:
                for _ in range(args.runs):
                    ups.append(timed([WHARF, "up", "-d", "--wait"], project, env))
                    downs.append(timed([WHARF, "down"], project, env))
            finally:
                subprocess.run([WHARF, "daemon", "stop"], cwd=project, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        up, down = statistics.median(ups), statistics.median(downs)
        growth = ""
        if previous:
            growth = f"  x{up / previous[0]:.2f} / x{down / previous[1]:.2f} for twice the services"
        print(f"{count:>5} services  up {up * 1000:7.0f} ms  down {down * 1000:7.0f} ms{growth}")
        previous = (up, down)


if __name__ == "__main__":
    main()
