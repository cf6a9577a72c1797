#!/usr/bin/env python3
"""Requests/s and p99 latency through wharf's proxy, against the backend directly and
against Debian's nginx proxying the same backend (upstream keepalive, one worker, as
wharfd serves from one thread), with wrk on loopback, in one run: several rounds, the
three paths taking turns within each, medians quoted (the machine's noise moves single
runs by more than the difference measured).

Usage: bench/proxy.py [--seconds N] [--connections N] [--rounds N] [--idle N]
The backend is an nginx answering a small fixed body, run by wharf (the nginx recipe).
"""

import argparse
import os
import pathlib
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
WHARF = ROOT / "target" / "release" / "wharf"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(url, host, seconds, connections):
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"Host: {host}", url],
        capture_output=True, text=True, check=True)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", done.stdout)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    return rps, float(p99.group(1)) * scale, int(errors.group(1)) if errors else 0


def rss_mib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def idle_connections(home, port, count):
    """Holds `count` connections that send half a request, then checks memory and that a
    normal request is still served."""
    pid = int(pathlib.Path(home, "run", "wharfd.pid").read_text())
    before = rss_mib(pid)
    sockets = []
    for _ in range(count):
        try:
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET / HTTP/1.1\r\nHost: backend.benchproxy.localhost\r\n")
            sockets.append(s)
        except OSError:
            break
    time.sleep(1)
    after = rss_mib(pid)
    served = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                             "-H", "Host: backend.benchproxy.localhost", f"http://127.0.0.1:{port}/"],
                            capture_output=True, text=True).stdout == "200"
    for s in sockets:
        s.close()
    return len(sockets), before, after, served


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--idle", type=int, default=10000, help="idle connections to hold open (0: skip)")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            sys.exit(f"{tool} missing: apt-get install {tool}")
    if not WHARF.exists():
        sys.exit(f"{WHARF} missing: run `cargo build --release` first")
    backend, proxy, nginx_port = free_port(), free_port(), free_port()
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as project:
        os.chmod(home, 0o755)
        conf = pathlib.Path(project, "conf")
        conf.mkdir()
        (conf / "default.conf").write_text(
            "server { listen 80; location / { return 200 'ok from the backend\\n'; } }\n")
        pathlib.Path(project, "compose.yaml").write_text(
            f"name: benchproxy\nservices:\n  backend:\n    image: nginx:1.25\n"
            f"    ports: [\"127.0.0.1:{backend}:80\"]\n    volumes: [\"./conf:/etc/nginx/conf.d:ro\"]\n"
            f"    x-wharf: {{backend: process}}\n")
        env = dict(os.environ, WHARF_HOME=home, WHARF_PROXY_PORT=str(proxy), NO_COLOR="1")
        nginx_dir = pathlib.Path(project, "front")
        (nginx_dir / "logs").mkdir(parents=True)
        (nginx_dir / "nginx.conf").write_text(f"""worker_processes 1;
pid {nginx_dir}/nginx.pid;
error_log stderr;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {nginx_dir}/body; proxy_temp_path {nginx_dir}/proxy;
  fastcgi_temp_path {nginx_dir}/fastcgi; uwsgi_temp_path {nginx_dir}/uwsgi; scgi_temp_path {nginx_dir}/scgi;
  upstream backend {{ server 127.0.0.1:{backend}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{nginx_port};
    location / {{ proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
}}
""")
        front = None
        try:
            subprocess.run([WHARF, "up", "-d", "--wait", "--wait-timeout", "60"], cwd=project, env=env, check=True, capture_output=True)
            front = subprocess.Popen(["nginx", "-p", str(nginx_dir), "-c", str(nginx_dir / "nginx.conf"),
                                      "-g", "daemon off;"], stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            rows = [
                ("backend directly", f"http://127.0.0.1:{backend}/", "localhost"),
                ("through nginx", f"http://127.0.0.1:{nginx_port}/", "localhost"),
                ("through wharf", f"http://127.0.0.1:{proxy}/", "backend.benchproxy.localhost"),
            ]
            runs = {name: [] for name, _, _ in rows}
            for round_ in range(args.rounds):
                # Rotate who goes first, so no path always meets a warmer or colder machine.
                for name, url, host in rows[round_ % 3:] + rows[:round_ % 3]:
                    runs[name].append(wrk(url, host, args.seconds, args.connections))
            results = {name: (statistics.median(r[0] for r in taken),
                              statistics.median(r[1] for r in taken),
                              sum(r[2] for r in taken))
                       for name, taken in runs.items()}
            idle = idle_connections(home, proxy, args.idle) if args.idle else None
        finally:
            if front:
                front.terminate()
                front.wait()
            subprocess.run([WHARF, "down"], cwd=project, env=env, capture_output=True)
            subprocess.run([WHARF, "daemon", "stop"], cwd=project, env=env, capture_output=True)
    print(f"wrk -t1 -c{args.connections} -d{args.seconds}s on loopback, median of {args.rounds} rounds")
    for name, (rps, p99, errors) in results.items():
        print(f"{name:<18} {rps:10.0f} req/s   p99 {p99:7.2f} ms   non-2xx {errors} in all")
    if idle:
        opened, before, after, served = idle
        print(f"{opened} idle connections: wharfd RSS {before:.1f} -> {after:.1f} MiB, "
              f"another client served meanwhile: {served}")
    ours, nginx = results["through wharf"], results["through nginx"]
    print(f"wharf / nginx: {ours[0] / nginx[0]:.2f}x requests/s (target >= 1), p99 {ours[1] / nginx[1]:.2f}x (target <= 1)")


if __name__ == "__main__":
    main()
