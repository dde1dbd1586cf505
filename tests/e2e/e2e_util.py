"""Helpers shared by the end-to-end tests (imported by conftest.py and the test modules).

Nothing here talks to the server by itself; the fixtures in conftest.py do the plumbing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]

# What the mlflow SQL store turns +inf and -inf into (the largest finite double).
FLOAT_MAX = 1.7976931348623157e308

# MLflow's REST prefixes.
API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"

HEALTH_PATH_ATELIER = "/healthz"
HEALTH_PATH_MLFLOW = "/health"


def mlflow_major() -> int:
    import mlflow

    return int(mlflow.__version__.split(".")[0])


def unique(prefix: str) -> str:
    """A name no other test (or earlier session on the same store) uses."""
    return f"e2e-{prefix}-{uuid.uuid4().hex[:12]}"


def unique_ident(prefix: str) -> str:
    """A lowercase alphanumeric name (users, workspaces) with a random suffix."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def now_ms() -> int:
    return int(time.time() * 1000)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def raises_mlflow(error_code: str) -> Iterator[pytest.ExceptionInfo]:
    """Expect an MlflowException whose ``error_code`` is ``error_code``."""
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException) as excinfo:
        yield excinfo
    assert excinfo.value.error_code == error_code, (
        f"expected error_code {error_code}, got {excinfo.value.error_code}: {excinfo.value}"
    )


def assert_error_response(response: requests.Response, status: int, error_code: str) -> dict:
    """Check an MLflow-style JSON error: the HTTP status and the body's ``error_code``."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: expected HTTP {status}, "
        f"got {response.status_code}: {response.text[:500]}"
    )
    try:
        body = response.json()
    except ValueError:
        pytest.fail(f"error body is not JSON: {response.text[:500]!r}")
    assert body.get("error_code") == error_code, body
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


def collect_pages(fetch, page_size: int) -> list[list]:
    """Follow ``page_token`` until the server stops sending one.

    ``fetch(max_results, page_token)`` returns an mlflow PagedList (a list with ``.token``).
    Returns every page, including a possibly empty last page: MLflow sends a token whenever
    a page is exactly full, so the page after it may be empty.
    """
    pages = []
    token = None
    for _ in range(1000):
        page = fetch(page_size, token)
        assert len(page) <= page_size
        pages.append(list(page))
        token = page.token
        if not token:
            return pages
        # Only a full page may carry a token.
        assert len(page) == page_size, f"a page of {len(page)} < {page_size} carried a token"
    pytest.fail("paging did not terminate after 1000 pages")


def reference_mlflow_server() -> Path:
    """The ``mlflow`` executable that serves as the reference server.

    ATELIER_E2E_REFERENCE_SERVER if set; else the repo's .venv-mlflow3 (mlflow 3.17.2, the
    version mlflow-api.md describes), so mlflow 2 clients are checked against it too; else
    the mlflow beside this interpreter.
    """
    configured = os.environ.get("ATELIER_E2E_REFERENCE_SERVER")
    if configured:
        return Path(configured)
    repo_venv = REPO_ROOT / ".venv-mlflow3" / "bin" / "mlflow"
    if repo_venv.exists():
        return repo_venv
    return Path(sys.executable).with_name("mlflow")


class ServerProcess:
    """One server process (``atelier server``, or ``mlflow server`` in reference mode).

    ``start()`` may be called again after ``stop()`` or ``kill()``: the new process uses the
    same home and store (and a new port).
    """

    def __init__(
        self,
        binary: Path,
        home: Path,
        store_url: str | None,
        log_path: Path,
        reference_mlflow: bool = False,
    ):
        self.binary = binary
        self.home = home
        self.store_url = store_url
        self.log_path = log_path
        self.reference_mlflow = reference_mlflow
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_path(self) -> str:
        return HEALTH_PATH_MLFLOW if self.reference_mlflow else HEALTH_PATH_ATELIER

    def _command(self, port: int) -> list[str]:
        if self.reference_mlflow:
            return [
                str(reference_mlflow_server()), "server",
                "--host", "127.0.0.1", "--port", str(port),
                "--backend-store-uri", f"sqlite:///{self.home}/mlflow.db",
                "--artifacts-destination", str(self.home / "artifacts"),
                "--workers", "1",
            ]
        command = [
            str(self.binary), "server",
            "--addr", f"127.0.0.1:{port}",
            "--home", str(self.home),
        ]
        if self.store_url:
            command += ["--store", self.store_url]
        # Extra flags a test sets before start(), e.g. ["--refuse-images"].
        command += list(getattr(self, "extra_args", []))
        # What runs the server, e.g. setpriv as another user.
        return list(getattr(self, "command_prefix", [])) + command

    def _env(self) -> dict:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("MLFLOW_", "ATELIER_", "PYTEST_"))
        }
        env.setdefault("RUST_BACKTRACE", "1")
        env.setdefault("RUST_LOG", "info")
        env["ATELIER_HOME"] = str(self.home)
        # Extra variables a test sets before start(), e.g. {"PATH": ...}.
        env.update(getattr(self, "extra_env", {}))
        return env

    def start(self, timeout: float = 60.0) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.home.mkdir(parents=True, exist_ok=True)
        last_error = ""
        # A free port can be taken between free_port() and the bind; try a few.
        for _attempt in range(3):
            # A restart test that needs the same address (job runtimes know the server by it)
            # sets keep_port before the second start().
            port = self.port if getattr(self, "keep_port", False) and self.port else free_port()
            command = self._command(port)
            with open(self.log_path, "ab") as log:
                log.write(f"\n===== start #{self.starts + 1}: {' '.join(command)}\n".encode())
            log = open(self.log_path, "ab")
            try:
                self.proc = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self._env(),
                    cwd=self.home,
                    start_new_session=True,
                )
            finally:
                log.close()
            self.port = port
            self.starts += 1
            last_error = self._wait_healthy(timeout)
            if not last_error:
                return
            if self.proc.poll() is None:
                self.kill()
            if "in use" not in self.log_tail().lower():
                break
        pytest.fail(f"server did not become healthy: {last_error}\n--- log tail ---\n{self.log_tail()}")

    def _wait_healthy(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                return f"process exited with {code} during start-up"
            try:
                response = requests.get(self.url + self.health_path, timeout=2)
                if response.status_code == 200:
                    return ""
                last = f"{self.health_path} answered {response.status_code}"
            except requests.RequestException as error:
                last = f"{type(error).__name__}"
            time.sleep(0.1)
        return f"{self.health_path} not 200 after {timeout:.0f}s ({last})"

    def read_secret(self, name: str, timeout: float = 10.0) -> str:
        """Contents of ``<home>/<name>`` (``token``, ``admin-password``), waiting briefly."""
        path = self.home / name
        deadline = time.monotonic() + timeout
        while True:
            if path.exists():
                text = path.read_text().strip()
                if text:
                    return text
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not write {path}")
            time.sleep(0.05)

    @property
    def token(self) -> str:
        if self.reference_mlflow:
            # Plain MLflow ignores bearer tokens; any value works.
            return "reference-mode-token"
        return self.read_secret("token")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; returns the exit code (SIGKILLs and fails on timeout)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail(f"server did not exit within {timeout}s of SIGTERM")
        return self.proc.returncode

    def kill(self) -> int:
        """SIGKILL the server (its whole process group) and reap it."""
        assert self.proc is not None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)
        return self.proc.returncode

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])



def remove_instances(server: ServerProcess) -> None:
    """Deletes a test server's compute instances and ends any of their processes left behind:
    an instance's JupyterLab outlives its server by design."""
    with contextlib.suppress(Exception):
        headers = {"Authorization": f"Bearer {server.token}"}
        workspaces = requests.get(f"{server.url}/api/v1/workspaces", headers=headers, timeout=10).json()
        for workspace in workspaces:
            base = f"{server.url}/api/v1/workspaces/{workspace['name']}/compute-instances"
            for instance in requests.get(base, headers=headers, timeout=10).json():
                requests.delete(f"{base}/{instance['name']}", headers=headers, timeout=60)
    subprocess.run(["pkill", "-f", f"{server.home}/instances/"], check=False)
