#!/usr/bin/env python3
"""How soon a change in wharfd reaches a `GET /v1/events` subscriber.

Usage: bench/events.py [--runs N] [--docker]
Runs 2N native services (`sleep`) under a private WHARF_HOME, kills N of their
processes one at a time and times, from the kill, until the subscriber reads the
event saying the instance left `running` (target: 5 ms). `--docker` runs them as
containers of a local busybox image and kills each container's process from outside
wharf, as `docker kill` would: the change reaches wharfd through the engine. The anchor, in the same
invocation, is what `up --wait` did before events: asking `ps` every 20 ms (on a
cadence of its own, so the kill lands anywhere in it) until the change shows.
"""

import argparse
import json
import os
import random
import pathlib
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import docker as docker_bench

ROOT = pathlib.Path(__file__).resolve().parent.parent
WHARF = ROOT / "target" / "release" / "wharf"
POLL = 0.020


def request(sock_path, path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sock_path)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: wharfd\r\nConnection: close\r\n\r\n".encode())
    return sock


def get_json(sock_path, path):
    sock = request(sock_path, path)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    head, body = data.split(b"\r\n\r\n", 1)
    if b"chunked" in head.lower():
        out, rest = b"", body
        while True:
            size, rest = rest.split(b"\r\n", 1)
            if int(size, 16) == 0:
                break
            out, rest = out + rest[: int(size, 16)], rest[int(size, 16) + 2:]
        body = out
    return json.loads(body)


class Subscriber:
    """Reads the event stream on a thread; each event is kept with when it arrived."""

    def __init__(self, sock_path, project):
        self.sock = request(sock_path, f"/v1/events?project={project}")
        self.events = []
        self.cond = threading.Condition()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        buffer = b""
        while chunk := self.sock.recv(65536):
            arrived = time.perf_counter()
            buffer += chunk
            # Chunk framing aside, every event is one JSON line.
            for line in buffer.split(b"\n")[:-1]:
                line = line.strip()
                if line.startswith(b"{"):
                    with self.cond:
                        self.events.append((arrived, json.loads(line)))
                        self.cond.notify_all()
            buffer = buffer.rsplit(b"\n", 1)[-1]

    def wait_for(self, predicate, after):
        with self.cond:
            while True:
                for arrived, event in self.events[after:]:
                    if predicate(event):
                        return arrived
                if not self.cond.wait(timeout=10):
                    sys.exit("no event within 10 s")


def state(sock_path, project, service):
    rows = get_json(sock_path, f"/v1/projects/{project}/ps")
    return next(row for row in rows if row["service"] == service)


def left_running(service):
    return lambda event: (event.get("type") == "instance"
                          and event["instance"]["service"] == service
                          and event["instance"]["state"] != "running")


class PollClock:
    """The instants a client asking every 20 ms asks at, fixed from the start."""

    def __init__(self):
        self.start = time.perf_counter()

    def next_tick(self):
        elapsed = time.perf_counter() - self.start
        return self.start + (int(elapsed / POLL) + 1) * POLL


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--docker", action="store_true")
    args = parser.parse_args()
    if not WHARF.exists():
        sys.exit(f"{WHARF} missing: run `cargo build --release` first")
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as project:
        lines = ["name: ev", "services:"]
        for i in range(2 * args.runs):
            if args.docker:
                lines += [f"  s{i}:", f"    image: {docker_bench.IMAGE}", "    command: [sleep, '3600']"]
            else:
                lines += [f"  s{i}:", "    image: debian", "    x-wharf: {process: {command: [sleep, '3600']}}"]
        (pathlib.Path(project) / "compose.yaml").write_text("\n".join(lines) + "\n")
        env = dict(os.environ, WHARF_HOME=home, NO_COLOR="1")
        if args.docker:
            docker_bench.ensure_image()
        subprocess.run([WHARF, "up", "-d", "--wait"], cwd=project, env=env, check=True,
                       stderr=subprocess.DEVNULL)
        sock_path = str(pathlib.Path(home) / "run" / "wharfd.sock")
        try:
            subscriber = Subscriber(sock_path, "ev")
            pushed, polled = [], []
            poll_clock = PollClock()
            for run in range(args.runs):
                pushed_service, polled_service = f"s{2 * run}", f"s{2 * run + 1}"
                pid = state(sock_path, "ev", pushed_service)["pid"]
                seen = len(subscriber.events)
                killed = time.perf_counter()
                os.kill(pid, signal.SIGKILL)
                arrived = subscriber.wait_for(left_running(pushed_service), seen)
                pushed.append((arrived - killed) * 1000)

                pid = state(sock_path, "ev", polled_service)["pid"]
                # A poller keeps its own cadence: the kill lands anywhere in its cycle.
                time.sleep(random.uniform(0, POLL))
                killed = time.perf_counter()
                os.kill(pid, signal.SIGKILL)
                while True:
                    due = poll_clock.next_tick()
                    time.sleep(max(0.0, due - time.perf_counter()))
                    if state(sock_path, "ev", polled_service)["state"] != "running":
                        break
                polled.append((time.perf_counter() - killed) * 1000)
        finally:
            if args.docker:
                subprocess.run([WHARF, "down", "-t", "0"], cwd=project, env=env,
                               stderr=subprocess.DEVNULL)
            subprocess.run([WHARF, "daemon", "stop"], cwd=project, env=env, stderr=subprocess.DEVNULL)
        ours, anchor = statistics.median(pushed), statistics.median(polled)
        print(f"a killed process's change reaching the client, median of {args.runs}")
        print(f"GET /v1/events           {ours:8.2f} ms   (target <= 5 ms)")
        print(f"ps every 20 ms (before)  {anchor:8.2f} ms")
        print(f"ratio                    {ours / anchor:8.2f}x")


if __name__ == "__main__":
    main()
