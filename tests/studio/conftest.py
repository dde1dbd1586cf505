"""Fixtures for the studio's browser tests: a real `atelier server`, runs logged by the real
mlflow client (from the mlflow 3 environment, in a subprocess), and headless Debian Chromium
driven by Playwright."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".test-artifacts" / "studio"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, home: Path, extra_args: tuple[str, ...] = (), port: int | None = None):
        self.home = home
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        binary = os.environ.get("ATELIER_BIN", str(ROOT / "target" / "debug" / "atelier"))
        self.log = open(home / "server.log", "a")
        self.proc = subprocess.Popen(
            [binary, "server", "--addr", f"127.0.0.1:{self.port}", "--home", str(home), *extra_args],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start: " + (home / "server.log").read_text()[-3000:])
        self.token = (home / "token").read_text().strip()
        self.password = (home / "admin-password").read_text().strip()

    def api(self, method: str, path: str, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}"}
        kwargs.setdefault("timeout", 30)
        return requests.request(method, self.url + path, headers=headers, **kwargs)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        self.log.close()
        return code


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("studio-home"))
    yield srv
    assert srv.stop() == 0


LOGGING_SCRIPT = r"""
import math, os, mlflow
mlflow.set_experiment("studio-e2e")
for lr, name in ((0.1, "fast"), (0.01, "slow"), (0.001, "slowest")):
    with mlflow.start_run(run_name=name):
        mlflow.log_param("lr", lr)
        mlflow.log_param("optimizer", "adam")
        for step in range(50):
            mlflow.log_metric("loss", math.exp(-lr * step * 10) + 0.01 * (step % 3), step=step)
        mlflow.log_metric("accuracy", 1 - math.exp(-lr * 100))
        mlflow.log_text("hello from " + name, "notes/readme.txt")
        if name == "fast":
            mlflow.log_text('step,loss,note\n0,1.0,"start, slowly"\n1,0.5,done\n', "tables/metrics.csv")
            mlflow.log_dict({"lr": lr, "layers": [64, 32]}, "config.json")
            import base64
            png = base64.b64decode(
                "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
            )
            with open("/tmp/atelier-studio-pixel.png", "wb") as handle:
                handle.write(png)
            mlflow.log_artifact("/tmp/atelier-studio-pixel.png", "plots")
print(mlflow.get_experiment_by_name("studio-e2e").experiment_id)
"""


@pytest.fixture(scope="session")
def logged(server):
    """Logs three runs with the real mlflow client; returns the experiment id."""
    python = os.environ.get("ATELIER_MLFLOW_PYTHON", str(ROOT / ".venv-mlflow3" / "bin" / "python"))
    env = dict(os.environ, MLFLOW_TRACKING_URI=server.url, MLFLOW_TRACKING_TOKEN=server.token)
    result = subprocess.run([python, "-c", LOGGING_SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
