#!/usr/bin/env python3
"""`wharf revs` over 20 repositories against the loop it replaces: `git -C <repo>
rev-parse HEAD` and `git -C <repo> status --porcelain` for each repo in turn, in one
run, medians quoted.

Usage: bench/revs.py [--repos 20] [--runs 21] [--files 2000]
Each repo gets `--files` committed files and a couple of uncommitted changes, so status
has a tree to walk.
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
GIT_ENV = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.org",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.org")


def git(*args, cwd=None):
    subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True)


def timed(argv, cwd, env):
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - started) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=20)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--files", type=int, default=2000)
    args = parser.parse_args()
    if not WHARF.exists():
        sys.exit(f"{WHARF} missing: run `cargo build --release` first")
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as project:
        repos = []
        lines = ["name: benchrevs", "services:", "  idle: {image: debian, x-wharf: {process: {command: [sleep, '1']}}}",
                 "x-wharf:", "  repos:"]
        for i in range(args.repos):
            name = f"repo{i:02}"
            remote = pathlib.Path(project, "remotes", f"{name}.git")
            remote.mkdir(parents=True)
            git("init", "-q", "--bare", "-b", "main", cwd=remote)
            tree = pathlib.Path(project, "trees", name)
            git("clone", "-q", str(remote), str(tree))
            for f in range(args.files):
                sub = tree / f"d{f % 40}"
                sub.mkdir(exist_ok=True)
                (sub / f"f{f}.txt").write_text(f"{f}\n")
            git("add", "-A", cwd=tree)
            git("commit", "-q", "-m", "files", cwd=tree)
            git("push", "-q", "origin", "HEAD:main", cwd=tree)
            (tree / "d0" / "f0.txt").write_text("changed\n")
            (tree / "new.txt").write_text("untracked\n")
            repos.append(tree)
            lines.append(f"    {name}: {{url: '{remote}', path: trees/{name}}}")
        pathlib.Path(project, "compose.yaml").write_text("\n".join(lines) + "\n")
        env = dict(os.environ, WHARF_HOME=home, NO_COLOR="1")
        loop = ["sh", "-c", 'for r in "$@"; do git -C "$r" rev-parse HEAD; git -C "$r" status --porcelain; done',
                "loop", *map(str, repos)]
        wharf = [str(WHARF), "revs"]
        # Warm the page cache and git's index stat data once for both.
        timed(loop, project, env)
        timed(wharf, project, env)
        ours, theirs = [], []
        for _ in range(args.runs):
            ours.append(timed(wharf, project, env))
            theirs.append(timed(loop, project, env))
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"{args.repos} repos of {args.files} files, median of {args.runs} runs")
    print(f"wharf revs                      {a:8.1f} ms")
    print(f"git rev-parse + status loop     {b:8.1f} ms")
    print(f"wharf / loop: {a / b:.2f}x (target < 1)")


if __name__ == "__main__":
    main()
