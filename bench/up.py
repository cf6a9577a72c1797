#!/usr/bin/env python3
"""Times `wharf up -d --wait` on examples/marketplace against the same services
started by hand along their critical path.

Usage: bench/up.py [--runs N]
Both sides start warm (the database initialized by a first run) and run exactly the
same commands: the hand-started side takes them from `wharf config --resolved`, starts
each service as soon as its dependencies allow, and polls each one's own readiness (its
healthcheck every 10 ms, else its ports every 5 ms) — the best a careful script can do.
Prints the medians and wharf's time as a multiple of the hand-started one.
"""

import argparse
import json
import os
import pathlib
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
WHARF = ROOT / "target" / "release" / "wharf"


def wharf(args, cwd, env, check=True):
    return subprocess.run([WHARF, *args], cwd=cwd, env=env, check=check,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.05):
            return True
    except OSError:
        return False


def probe_ok(probe, service, env):
    argv = ["/bin/sh", "-c", probe["shell"]] if "shell" in probe else probe["exec"]
    done = subprocess.run(argv, cwd=service["working_dir"], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return done.returncode == 0


def by_hand(resolved):
    """Starts every service along the critical path; returns seconds until all ready."""
    services = resolved["services"]
    started, ready, children = {}, set(), []
    begin = time.perf_counter()
    try:
        while len(ready) < len(services):
            for name, service in services.items():
                deps = service["depends_on"]
                can_start = all(
                    (d in ready) if c["condition"] != "service_started" else (d in started)
                    for d, c in deps.items()
                )
                if name not in started and can_start:
                    env = dict(os.environ, **service["environment"])
                    started[name] = (subprocess.Popen(service["command"], cwd=service["working_dir"], env=env,
                                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                      start_new_session=True), env)
                    children.append(started[name][0])
            for name in list(started):
                if name in ready:
                    continue
                service, env = services[name], started[name][1]
                if service["healthcheck"]:
                    ok = probe_ok(service["healthcheck"], service, env)
                else:
                    ports = [int(p.split("->")[0].rsplit(":", 1)[1]) for p in service["ports"]]
                    ok = all(port_open(p) for p in ports)
                if ok:
                    ready.add(name)
            time.sleep(0.005)
        return time.perf_counter() - begin
    finally:
        for child in children:
            try:
                os.killpg(child.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        time.sleep(0.3)  # let ports free up


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not WHARF.exists():
        sys.exit(f"{WHARF} missing: run `cargo build --release` first")
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as project:
        shutil.copytree(ROOT / "examples" / "marketplace", project, dirs_exist_ok=True)
        os.chmod(home, 0o755)  # PostgreSQL runs as its own user and must reach its data
        env = dict(os.environ, WHARF_HOME=home, NO_COLOR="1")
        try:
            wharf(["up", "-d", "--wait", "--wait-timeout", "120"], project, env)  # initializes the database
            wharf(["down"], project, env)
            resolved = json.loads(wharf(["config", "--resolved", "--show-secrets", "--format", "json"],
                                        project, env).stdout)
            ours, theirs = [], []
            for _ in range(args.runs):
                start = time.perf_counter()
                wharf(["up", "-d", "--wait", "--wait-timeout", "120"], project, env)
                ours.append(time.perf_counter() - start)
                wharf(["down"], project, env)
                time.sleep(0.3)
                theirs.append(by_hand(resolved))
        finally:
            wharf(["daemon", "stop"], project, env, check=False)
    a, b = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
    print(f"examples/marketplace, 6 services, median of {args.runs} runs")
    print(f"wharf up -d --wait        {a:8.0f} ms")
    print(f"by hand, critical path    {b:8.0f} ms")
    print(f"ratio                     {a / b:8.2f}x   (target <= 1.2x)")


if __name__ == "__main__":
    main()
