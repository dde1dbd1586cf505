#!/usr/bin/env python3
"""Compute instances: how long `compute start` takes to give a usable JupyterLab with a warm
environment, and what the server's proxy adds to a notebook's API call.

Starts `atelier server` (ATELIER_BIN, default target/release/atelier) on a fresh home, creates
an instance (its environment built once; later starts find it built), then:

  start:  N cycles of stop, then start: the time from the start request until the proxy
          answers JupyterLab's /api/status (Running), and until a new kernel has run `1+1`
          through the proxy's WebSocket (usable);
  proxy:  the same GET (/api/kernels, a notebook's most frequent call) through the proxy and
          straight to JupyterLab's loopback port, alternated in rounds, with one keep-alive
          `requests` session each, as a notebook page's fetches are; and /healthz on Atelier,
          the same client's floor.

With --slurm PARTITION the instance runs on a Slurm compute of that partition instead: its
JupyterLab is a batch job on a node (scripts/slurm-up.sh starts a cluster on this machine), and
"start" includes Slurm's scheduling of the batch job.

Usage: python3 bench/instances.py [--cycles 5] [--requests 300] [--slurm PARTITION]
Needs `requests` and `websocket-client` (the e2e venv has both)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import requests
import websocket

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--slurm", metavar="PARTITION", help="run the instance on a Slurm compute")
    args = parser.parse_args()
    binary = os.environ.get("ATELIER_BIN", str(ROOT / "target" / "release" / "atelier"))
    home = Path(tempfile.mkdtemp(prefix="atelier-bench-instances-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(home / "server.log", "w")
    command = [binary, "server", "--home", str(home / "home"), "--addr", f"127.0.0.1:{port}"]
    if args.slurm:
        command += ["--public-url", url]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                if requests.get(f"{url}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        token = (home / "home" / "token").read_text().strip()
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"
        base = f"{url}/api/v1/workspaces/default/compute-instances"
        name = "bench-ci"

        def state() -> str:
            return api.get(f"{base}/{name}", timeout=30).json()["state"]

        def wait(states, timeout=600):
            deadline = time.monotonic() + timeout
            while (current := state()) not in states:
                if current == "Failed" or time.monotonic() > deadline:
                    raise SystemExit(f"the instance is {current}: see {home}/home/instances/default/{name}/runtime.log")
                time.sleep(0.05)

        body = f"name: {name}\ntype: computeinstance\n"
        if args.slurm:
            compute = f"name: hpc\ntype: slurm\npartition: {args.slurm}\n"
            api.post(f"{url}/api/v1/workspaces/default/computes", json={"yaml": compute}, timeout=60).raise_for_status()
            body += "compute: azureml:hpc\n"
        created = time.monotonic()
        api.post(base, json={"yaml": body}, timeout=60).raise_for_status()
        wait({"Running"})
        first = time.monotonic() - created
        proxied = f"{url}/ci/default/{name}"

        def run_kernel() -> None:
            kernel = api.post(f"{proxied}/api/kernels", json={"name": "python3"}, timeout=60).json()
            ws = websocket.create_connection(proxied.replace("http", "ws", 1) + f"/api/kernels/{kernel['id']}/channels",
                                             header=[f"Authorization: Bearer {token}"], timeout=120)
            message = uuid.uuid4().hex
            ws.send(json.dumps({
                "header": {"msg_id": message, "username": "bench", "session": uuid.uuid4().hex,
                           "msg_type": "execute_request", "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": "1+1", "silent": False, "store_history": False, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            while True:
                reply = json.loads(ws.recv())
                if reply.get("parent_header", {}).get("msg_id") == message and reply["msg_type"] == "execute_reply":
                    break
            ws.close()
            api.delete(f"{proxied}/api/kernels/{kernel['id']}", timeout=30)

        running, usable = [], []
        for _ in range(args.cycles):
            api.post(f"{base}/{name}/stop", timeout=60).raise_for_status()
            wait({"Stopped"}, 60)
            started = time.monotonic()
            api.post(f"{base}/{name}/start", timeout=60).raise_for_status()
            while True:
                answer = api.get(f"{proxied}/api/status", timeout=30)
                if answer.status_code == 200:
                    break
                time.sleep(0.05)
            running.append(time.monotonic() - started)
            run_kernel()
            usable.append(time.monotonic() - started)

        folder = home / "home" / "instances" / "default" / name
        connection = json.loads((folder / "connection.json").read_text())
        if args.slurm:  # where the node's JupyterLab said it listens
            connection.update(json.loads((folder / "address.json").read_text()))
        direct = requests.Session()
        direct.headers["Authorization"] = f"token {connection['token']}"
        direct_url = f"http://{connection['host']}:{connection['port']}/ci/default/{name}/api/kernels"
        through = requests.Session()
        through.headers["Authorization"] = f"Bearer {token}"
        floor = requests.Session()
        timings = {"proxy": [], "direct": [], "healthz": []}
        targets = {"proxy": (through, f"{proxied}/api/kernels"), "direct": (direct, direct_url),
                   "healthz": (floor, f"{url}/healthz")}
        for session, target in targets.values():
            for _ in range(20):  # warm the connections
                session.get(target, timeout=30).raise_for_status()
        rounds = 10
        for _ in range(rounds):
            for label, (session, target) in targets.items():
                for _ in range(args.requests // rounds):
                    began = time.perf_counter()
                    session.get(target, timeout=30).raise_for_status()
                    timings[label].append((time.perf_counter() - began) * 1000)

        print(f"server: {binary}" + (f" (the instance on Slurm partition {args.slurm})" if args.slurm else ""))
        print(f"first start (environment built from uv's cache, JupyterLab answering): {first:.2f} s")
        print(f"compute start -> JupyterLab answers through the proxy: median {statistics.median(running):.2f} s "
              f"(min {min(running):.2f}, max {max(running):.2f}, {len(running)} starts)")
        print(f"compute start -> a new kernel has run 1+1 through the proxy: median {statistics.median(usable):.2f} s "
              f"(min {min(usable):.2f}, max {max(usable):.2f})")
        for label, values in timings.items():
            print(f"GET {label:8s} p50 {statistics.median(values):.3f} ms  p90 {percentile(values, 0.9):.3f} ms  "
                  f"({len(values)} requests)")
        added = statistics.median(timings["proxy"]) - statistics.median(timings["direct"])
        print(f"the proxy adds {added:.3f} ms at the median to /api/kernels "
              f"({statistics.median(timings['proxy']) / statistics.median(timings['direct']):.2f}x the direct call)")
        api.delete(f"{base}/{name}", timeout=60)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        subprocess.run(["pkill", "-f", f"{home}/home/instances/"], check=False)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
