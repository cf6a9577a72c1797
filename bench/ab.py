#!/usr/bin/env python3
"""Times two builds of wharf on the same command, run by run in turn.

Usage: bench/ab.py OLD NEW [--runs N] [--dir DIR] -- ARGS…
Runs `OLD ARGS…` and `NEW ARGS…` alternately in DIR (default: here), so a VM whose
speed drifts over minutes slows both alike, and prints each one's median and min and
NEW's median as a ratio of OLD's. Keep a copy of the old binary before rebuilding:
`cp target/release/wharf /tmp/wharf-old`.
"""

import argparse
import statistics
import subprocess
import sys
import time


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit(__doc__)
    split = argv.index("--")
    parser = argparse.ArgumentParser()
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--runs", type=int, default=61)
    parser.add_argument("--dir", default=".")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    times = {args.old: [], args.new: []}
    for _ in range(args.runs):
        for binary in times:
            start = time.perf_counter()
            done = subprocess.run(
                [binary, *command], cwd=args.dir, stdout=subprocess.DEVNULL
            )
            times[binary].append(time.perf_counter() - start)
            if done.returncode != 0:
                sys.exit(f"{binary} {' '.join(command)} exited {done.returncode}")
    print(f"{' '.join(command)}, median of {args.runs} runs each, alternated")
    for binary, runs in times.items():
        print(
            f"{binary:40} {statistics.median(runs) * 1000:8.2f} ms"
            f"  (min {min(runs) * 1000:.2f})"
        )
    ratio = statistics.median(times[args.new]) / statistics.median(times[args.old])
    print(f"new / old: {ratio:.3f}")


if __name__ == "__main__":
    main()
