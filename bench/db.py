#!/usr/bin/env python3
"""Times `wharf db` snapshots, restores and clones against dump-and-reload.

Usage: bench/db.py [--pg-mib N] [--mariadb-mib N] [--runs N] [--home-in DIR]
Starts PostgreSQL 15 and MariaDB through wharf's recipes under a private WHARF_HOME,
fills a database of each with about the given size, then times, in the same
invocation:
  PostgreSQL  `wharf db snapshot` + `wharf db restore`  vs  pg_dump -Fc + pg_restore -j2
              `wharf db clone`                            (target < 2 s at 1 GiB)
  MariaDB     `wharf db restore`                          vs  mariadb-dump + reload
Targets (issue 15): PostgreSQL >= 20x, MariaDB >= 5x. Medians of --runs runs.
--home-in puts the servers' data on another filesystem (one with reflinks, such as XFS
or btrfs, copies in milliseconds). Needs the release build (cargo build --release)
and about 6x the sizes in free disk.
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

COMPOSE = """name: dbbench
services:
  pg:
    image: postgres:15
    environment: {{POSTGRES_USER: bench, POSTGRES_PASSWORD: bench, POSTGRES_DB: big}}
    ports: ["127.0.0.1:{pg}:5432"]
  my:
    image: mariadb:10.11
    environment: {{MARIADB_ROOT_PASSWORD: bench, MARIADB_DATABASE: big}}
    ports: ["127.0.0.1:{my}:3306"]
"""


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv, env, stdin=None, stdout=subprocess.DEVNULL):
    done = subprocess.run(argv, env=env, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, argv))} failed: {done.stderr.decode()}")
    return done


def timed(steps):
    """Seconds the steps (callables) take together."""
    start = time.perf_counter()
    for step in steps:
        step()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-mib", type=int, default=1024)
    parser.add_argument("--mariadb-mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--home-in", default=None, help="where the private WHARF_HOME is made")
    args = parser.parse_args()
    if not WHARF.exists():
        sys.exit(f"{WHARF} missing: run `cargo build --release` first")
    with tempfile.TemporaryDirectory(dir=args.home_in) as home, tempfile.TemporaryDirectory() as project:
        kind = subprocess.run(["stat", "-f", "-c", "%T", home], capture_output=True, text=True).stdout.strip()
        print(f"the servers' data on {kind}")
        os.chmod(home, 0o755)  # the servers run as their own users
        (pathlib.Path(project) / "compose.yaml").write_text(COMPOSE.format(pg=free_port(), my=free_port()))
        env = dict(os.environ, WHARF_HOME=home, WHARF_PROXY_PORT="0", NO_COLOR="1")
        wharf = lambda *a, **kw: run([WHARF, *a], env, **kw)
        os.chdir(project)
        wharf("up", "-d", "--wait", "--wait-timeout", "120")
        try:
            measure(args, env, wharf, home, project)
        finally:
            subprocess.run([WHARF, "down"], env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            subprocess.run([WHARF, "daemon", "stop"], env=env, stderr=subprocess.DEVNULL)


def measure(args, env, wharf, home, project):
    sockets = pathlib.Path(home) / "data" / "projects" / "dbbench" / "sockets"
    pg_port = next(p for p in sockets.joinpath("pg").glob(".s.PGSQL.*") if p.suffix != ".lock").suffix[1:]
    pg_env = dict(env, PGHOST=str(sockets / "pg"), PGPORT=pg_port, PGUSER="bench", PGPASSWORD="bench")
    my_env = dict(env, MYSQL_PWD="bench")
    my = ["mariadb", "--no-defaults", f"--socket={sockets / 'my' / 'mysqld.sock'}", "-uroot"]
    pg_bin = pathlib.Path("/usr/lib/postgresql/15/bin")

    rows = args.pg_mib * 1024 * 1024 // 200
    print(f"filling PostgreSQL with {args.pg_mib} MiB ({rows} rows) …", flush=True)
    run([pg_bin / "psql", "-q", "-d", "big", "-c",
         f"CREATE TABLE t AS SELECT g AS id, md5(g::text) AS a, repeat(md5(g::text), 4) AS b "
         f"FROM generate_series(1, {rows}) g", "-c", "ALTER TABLE t ADD PRIMARY KEY (id)",
         "-c", "VACUUM ANALYZE t"], pg_env)
    size = run([pg_bin / "psql", "-At", "-d", "big", "-c", "SELECT pg_database_size('big')"], pg_env,
               stdout=subprocess.PIPE).stdout.decode().strip()
    print(f"PostgreSQL database: {int(size) / 2**20:.0f} MiB")

    rows = args.mariadb_mib * 1024 * 1024 // 200
    print(f"filling MariaDB with {args.mariadb_mib} MiB ({rows} rows) …", flush=True)
    run(my + ["big", "-e",
              f"CREATE TABLE t (id int PRIMARY KEY, a char(32), b text) ENGINE=InnoDB; "
              f"INSERT INTO t SELECT seq, md5(seq), repeat(md5(seq), 4) FROM seq_1_to_{rows}"], my_env)

    with tempfile.TemporaryDirectory(dir=project) as scratch:
        dump = pathlib.Path(scratch) / "big.dump"
        sql = pathlib.Path(scratch) / "big.sql"
        results = {"pg_anchor": [], "pg_wharf": [], "pg_clone": [], "my_anchor": [], "my_wharf": []}
        for n in range(args.runs):
            restored = f"restored{n}"

            def pg_restore():
                run([pg_bin / "createdb", restored], pg_env)
                run([pg_bin / "pg_restore", "-j2", "-d", restored, dump], pg_env)

            results["pg_anchor"].append(timed([
                lambda: run([pg_bin / "pg_dump", "-Fc", "-f", dump, "big"], pg_env),
                pg_restore,
            ]))
            run([pg_bin / "dropdb", restored], pg_env)
            tag = f"pg{n}"
            results["pg_wharf"].append(timed([
                lambda: wharf("db", "--service", "pg", "snapshot", "big", "--tag", tag),
                lambda: wharf("db", "--service", "pg", "restore", tag, "--yes"),
            ]))
            results["pg_clone"].append(timed([lambda: wharf("db", "--service", "pg", "clone", "big", f"c{n}")]))
            for leftover in [f"c{n}"]:
                run([pg_bin / "dropdb", leftover], pg_env)
            for snapshot in snapshots(wharf, "pg"):
                wharf("db", "--service", "pg", "snapshot", "rm", snapshot, "--yes")

            def my_reload():
                run(my + ["-e", f"CREATE DATABASE {restored}"], my_env)
                with open(sql, "rb") as source:
                    run(my + [restored], my_env, stdin=source)

            def my_dump():
                with open(sql, "wb") as target:
                    run(["mariadb-dump", "--no-defaults", f"--socket={sockets / 'my' / 'mysqld.sock'}", "-uroot",
                         "--single-transaction", "big"], my_env, stdout=target)

            results["my_anchor"].append(timed([my_dump, my_reload]))
            run(my + ["-e", f"DROP DATABASE {restored}"], my_env)
            wharf("db", "--service", "my", "snapshot", "big", "--tag", f"my{n}")
            results["my_wharf"].append(timed([lambda: wharf("db", "--service", "my", "restore", f"my{n}", "--yes")]))
            for snapshot in snapshots(wharf, "my"):
                wharf("db", "--service", "my", "snapshot", "rm", snapshot, "--yes")

    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\nmedians of {args.runs} runs")
    print(f"PostgreSQL pg_dump -Fc + pg_restore -j2   {med['pg_anchor']:7.2f} s")
    print(f"PostgreSQL wharf db snapshot + restore    {med['pg_wharf']:7.2f} s   "
          f"{med['pg_anchor'] / med['pg_wharf']:5.1f}x faster   (target >= 20x)")
    print(f"PostgreSQL wharf db clone                 {med['pg_clone']:7.2f} s   (target < 2 s at 1 GiB)")
    print(f"MariaDB    mariadb-dump + reload          {med['my_anchor']:7.2f} s")
    print(f"MariaDB    wharf db restore               {med['my_wharf']:7.2f} s   "
          f"{med['my_anchor'] / med['my_wharf']:5.1f}x faster   (target >= 5x)")


def snapshots(wharf, service):
    import json
    listed = wharf("db", "--service", service, "snapshots", "--format", "json", stdout=subprocess.PIPE)
    return [s["tag"] for s in json.loads(listed.stdout)]


if __name__ == "__main__":
    main()
