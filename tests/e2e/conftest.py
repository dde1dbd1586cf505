"""End-to-end suite: the real ``mlflow`` client (2.22.4 or 3.17.2) against ``atelier server``.

Environment:
  ATELIER_BIN           the binary (default: target/debug/atelier, relative to the repo root)
  ATELIER_E2E_STORE     ``sqlite`` (default: the server's embedded store under --home) or
                        ``postgres`` (a fresh database per server, dropped at the end)
  ATELIER_TEST_PG_URL   the PostgreSQL server for ``postgres``
                        (default: postgres://postgres@127.0.0.1:5432/atelier_test, as printed
                        by scripts/postgres-up.sh; only its host, port and user are used)
  ATELIER_E2E_ARTIFACTS where server logs of failed runs go (default: <repo>/.test-artifacts/e2e)
  ATELIER_E2E_REFERENCE ``mlflow``: run the MLflow-compatible tests against a real
                        ``mlflow server`` instead, to check that the tests encode MLflow's
                        own behaviour. Tests marked ``atelier_only`` (auth, CLI, workspaces,
                        restarts) are skipped in that mode, visibly. The server is
                        ATELIER_E2E_REFERENCE_SERVER (an ``mlflow`` executable), else
                        .venv-mlflow3/bin/mlflow (3.17.2), else this venv's ``mlflow``.

Every server gets a fresh ``--home``. The session server is shared by all tests; each test
uses its own uniquely named experiments, so tests are independent of each other and of order.
"""

from __future__ import annotations

import os

# Before mlflow is imported anywhere: no telemetry (there is no network here anyway), no
# retries (a failing server must fail the test now, not after minutes of backoff), no async
# logging, and nothing from the caller's shell that would point the client elsewhere.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "60"
os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"
for _leaky in (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_AUTH",
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_REGISTRY_URI",
    "ATELIER_URL",
    "ATELIER_TOKEN",
):
    os.environ.pop(_leaky, None)

import dataclasses  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urlparse, urlunparse  # noqa: E402

import warnings  # noqa: E402

import pytest  # noqa: E402
import requests  # noqa: E402

with warnings.catch_warnings():
    # mlflow 2.22's import-time pydantic/protobuf deprecation noise is not ours to fix.
    warnings.simplefilter("ignore", DeprecationWarning)
    import mlflow  # noqa: E402
    from mlflow import MlflowClient  # noqa: E402

from e2e_util import REPO_ROOT, ServerProcess, reference_mlflow_server, unique  # noqa: E402

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/atelier_test"


# --------------------------------------------------------------------------------------------
# Configuration


@dataclasses.dataclass(frozen=True)
class E2EConfig:
    binary: Path
    store: str  # "sqlite" | "postgres"
    pg_url: str
    reference_mlflow: bool
    artifacts_dir: Path

    @property
    def label(self) -> str:
        target = "reference-mlflow" if self.reference_mlflow else self.store
        return f"mlflow{mlflow.__version__}-{target}"


def _load_config() -> E2EConfig:
    binary = Path(os.environ.get("ATELIER_BIN", "target/debug/atelier"))
    if not binary.is_absolute():
        binary = REPO_ROOT / binary
    store = os.environ.get("ATELIER_E2E_STORE", "sqlite").strip().lower()
    if store not in ("sqlite", "postgres"):
        raise pytest.UsageError(f"ATELIER_E2E_STORE must be sqlite or postgres, got {store!r}")
    reference = os.environ.get("ATELIER_E2E_REFERENCE", "").strip().lower()
    if reference not in ("", "mlflow"):
        raise pytest.UsageError(f"ATELIER_E2E_REFERENCE must be empty or mlflow, got {reference!r}")
    if reference and store != "sqlite":
        raise pytest.UsageError("ATELIER_E2E_REFERENCE=mlflow runs with the sqlite store only")
    artifacts = Path(os.environ.get("ATELIER_E2E_ARTIFACTS", REPO_ROOT / ".test-artifacts" / "e2e"))
    return E2EConfig(
        binary=binary,
        store=store,
        pg_url=os.environ.get("ATELIER_TEST_PG_URL", DEFAULT_PG_URL),
        reference_mlflow=bool(reference),
        artifacts_dir=artifacts,
    )


CONFIG = _load_config()


def pytest_configure(config):
    # The mlflow clients' own deprecation noise (protobuf label(), pydantic) is not ours.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:mlflow")
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:mlflow.*")
    config.addinivalue_line("filterwarnings", "ignore::FutureWarning:mlflow.*")
    config.addinivalue_line(
        "markers",
        "atelier_only: needs an Atelier feature that plain MLflow lacks (auth, CLI, workspaces, "
        "restarts); skipped with ATELIER_E2E_REFERENCE=mlflow",
    )
    config.addinivalue_line(
        "markers",
        "one_client: the mlflow client plays no part and the test is slow (it waits for the "
        "clock); run with the newest client only, once per store",
    )


def pytest_report_header(config):
    target = (f"reference {reference_mlflow_server()}" if CONFIG.reference_mlflow
              else str(CONFIG.binary))
    return [
        f"atelier e2e: mlflow {mlflow.__version__}, store {CONFIG.store}, server {target}",
    ]


def pytest_collection_modifyitems(config, items):
    if int(mlflow.__version__.split(".")[0]) < 3:
        older = pytest.mark.skip(reason="the client plays no part; runs with the newest mlflow client")
        for item in items:
            if "one_client" in item.keywords:
                item.add_marker(older)
    if not CONFIG.reference_mlflow:
        return
    skip = pytest.mark.skip(reason="Atelier-only feature; ATELIER_E2E_REFERENCE=mlflow")
    for item in items:
        if "atelier_only" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item so function-scoped fixtures can tell whether
    # their test failed (to save the server log).
    report = yield
    setattr(item, f"_e2e_report_{report.when}", report)
    return report


def _item_failed(item) -> bool:
    return any(
        getattr(getattr(item, f"_e2e_report_{phase}", None), "failed", False)
        for phase in ("setup", "call")
    )


def save_server_log(server: ServerProcess, name: str) -> Path:
    destination_dir = CONFIG.artifacts_dir / CONFIG.label
    destination_dir.mkdir(parents=True, exist_ok=True)
    destination = destination_dir / f"{name}.log"
    if server.log_path.exists():
        shutil.copyfile(server.log_path, destination)
    else:
        destination.write_text("(the server wrote no log)\n")
    return destination


# --------------------------------------------------------------------------------------------
# PostgreSQL: a fresh database per server


class Databases:
    """Creates databases on ATELIER_TEST_PG_URL's server and drops them at session end."""

    def __init__(self, pg_url: str):
        parsed = urlparse(pg_url)
        if parsed.scheme not in ("postgres", "postgresql"):
            raise pytest.UsageError(f"ATELIER_TEST_PG_URL is not a postgres:// URL: {pg_url}")
        self.parsed = parsed
        self.host = parsed.hostname or "127.0.0.1"
        self.port = str(parsed.port or 5432)
        self.user = parsed.username or "postgres"
        self.created: list[str] = []

    def _psql(self, sql: str) -> None:
        if shutil.which("psql") is None:
            pytest.fail("psql not found; run scripts/postgres-up.sh (it installs PostgreSQL)")
        env = dict(os.environ)
        if self.parsed.password:
            env["PGPASSWORD"] = self.parsed.password
        command = ["psql", "-h", self.host, "-p", self.port, "-U", self.user, "-d", "postgres",
                   "-v", "ON_ERROR_STOP=1", "-q", "-c", sql]
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        if result.returncode != 0:
            pytest.fail(
                f"psql failed ({sql}): {result.stderr.strip()}\n"
                "is PostgreSQL up? run scripts/postgres-up.sh"
            )

    def create(self) -> str:
        name = f"atelier_e2e_{uuid.uuid4().hex[:16]}"
        self._psql(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return urlunparse(self.parsed._replace(path=f"/{name}", query="", fragment=""))

    def drop_all(self) -> None:
        while self.created:
            name = self.created.pop()
            # WITH (FORCE): a server killed with -9 may leave sessions behind (PostgreSQL 13+).
            self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def e2e_config() -> E2EConfig:
    return CONFIG


@pytest.fixture(scope="session")
def databases():
    if CONFIG.store != "postgres":
        yield None
        return
    dbs = Databases(CONFIG.pg_url)
    yield dbs
    dbs.drop_all()


def _new_server(tmp_root: Path, databases: Databases | None) -> ServerProcess:
    if not CONFIG.reference_mlflow and not CONFIG.binary.exists():
        pytest.fail(
            f"ATELIER_BIN={CONFIG.binary} does not exist; build it (cargo build) or set ATELIER_BIN"
        )
    store_url = databases.create() if databases is not None else None
    home = tmp_root / "home"
    home.mkdir(parents=True)
    return ServerProcess(
        binary=CONFIG.binary,
        home=home,
        store_url=store_url,
        log_path=tmp_root / "server.log",
        reference_mlflow=CONFIG.reference_mlflow,
    )


# --------------------------------------------------------------------------------------------
# Servers


@pytest.fixture(scope="session")
def server(tmp_path_factory, databases, request):
    """The session's server: started once, SIGTERMed at the end (and it must exit 0)."""
    srv = _new_server(tmp_path_factory.mktemp("session-server"), databases)
    try:
        srv.start()
    except BaseException:
        print(f"\natelier e2e: server log saved to {save_server_log(srv, 'session-server')}")
        raise
    # Session-wide defaults, so module-scoped fixtures can use the client too; the autouse
    # fixture below re-applies them around every test.
    os.environ["MLFLOW_TRACKING_URI"] = srv.url
    os.environ["MLFLOW_TRACKING_TOKEN"] = srv.token
    yield srv
    code = srv.stop()
    if request.session.testsfailed or code != 0:
        saved = save_server_log(srv, "session-server")
        print(f"\natelier e2e: server log saved to {saved}")
    assert code == 0, f"the server exited with {code} after SIGTERM\n{srv.log_tail()}"


@pytest.fixture
def make_server(tmp_path_factory, databases, request):
    """Factory for extra servers with their own home (and database), for restart tests."""
    made: list[ServerProcess] = []

    def make() -> ServerProcess:
        srv = _new_server(tmp_path_factory.mktemp("extra-server"), databases)
        made.append(srv)
        return srv

    yield make
    for index, srv in enumerate(made):
        if srv.proc is not None and srv.proc.poll() is None:
            srv.kill()
        if _item_failed(request.node):
            saved = save_server_log(srv, f"{request.node.name}-{index}")
            print(f"\natelier e2e: server log saved to {saved}")


@pytest.fixture(autouse=True)
def _mlflow_env(server, monkeypatch):
    """Point the mlflow client at the session server, as the admin, for every test."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", server.token)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    mlflow.set_tracking_uri(server.url)
    yield
    # A failed test may leave fluent runs open; close them so the next test starts clean.
    while mlflow.active_run() is not None:
        try:
            mlflow.end_run()
        except Exception:
            break
    mlflow.set_tracking_uri(server.url)


@pytest.fixture
def client(server) -> MlflowClient:
    return MlflowClient(tracking_uri=server.url)


@pytest.fixture
def new_experiment(client):
    """``new_experiment(prefix, client=None, tags=None) -> (experiment_id, name)``."""

    def make(prefix: str = "exp", on: MlflowClient | None = None, tags: dict | None = None):
        name = unique(prefix)
        experiment_id = (on or client).create_experiment(name, tags=tags)
        return experiment_id, name

    return make


# --------------------------------------------------------------------------------------------
# Raw HTTP and the CLI

_DEFAULT = object()


class Api:
    """Raw HTTP against a server, authenticated as the admin unless told otherwise."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url.rstrip("/")
        self.token = token

    def request(self, method: str, path: str, *, token=_DEFAULT, headers=None, **kwargs):
        headers = dict(headers or {})
        token = self.token if token is _DEFAULT else token
        if token is not None and "Authorization" not in headers and "auth" not in kwargs:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", 60)
        return requests.request(method, self.base_url + path, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)


@pytest.fixture(scope="session")
def api(server) -> Api:
    return Api(server.url, server.token)


class Cli:
    """Runs ``atelier <args>`` with ATELIER_URL / ATELIER_TOKEN, as the admin by default.

    ATELIER_HOME points at an empty folder so the CLI cannot fall back on a token file.
    """

    def __init__(self, binary: Path, url: str, token: str, home: Path):
        self.binary = binary
        self.url = url
        self.token = token
        self.home = home

    def __call__(self, *args: str, token=_DEFAULT, url: str | None = None, check: bool = True,
                 timeout: float = 60) -> subprocess.CompletedProcess:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("MLFLOW_", "ATELIER_"))
        }
        env["ATELIER_URL"] = url or self.url
        token = self.token if token is _DEFAULT else token
        if token is not None:
            env["ATELIER_TOKEN"] = token
        env["ATELIER_HOME"] = str(self.home)
        env["NO_COLOR"] = "1"
        command = [str(self.binary), *args]
        started = time.monotonic()
        result = subprocess.run(command, capture_output=True, text=True, env=env,
                                timeout=timeout, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            pytest.fail(
                f"`atelier {' '.join(args)}` exited {result.returncode} "
                f"after {time.monotonic() - started:.1f}s\n"
                f"stdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}"
            )
        return result

    def json(self, *args: str, **kwargs):
        """Run (args should include ``-o json``) and parse stdout as JSON."""
        result = self(*args, **kwargs)
        try:
            return json.loads(result.stdout)
        except ValueError:
            pytest.fail(f"`atelier {' '.join(args)}` did not print JSON: {result.stdout[:2000]!r}")


@pytest.fixture(scope="session")
def cli(server, tmp_path_factory) -> Cli:
    return Cli(CONFIG.binary, server.url, server.token, tmp_path_factory.mktemp("cli-home"))
