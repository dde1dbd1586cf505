"""The scoring host (crates/atelier-serving/python/atelier_scoring_host.py) on its own: the program
each deployment instance runs, spoken to over its framed Unix-socket protocol as the endpoint
router speaks to it."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from e2e_util import REPO_ROOT

pytestmark = pytest.mark.atelier_only

HOST = REPO_ROOT / "crates" / "atelier-serving" / "python" / "atelier_scoring_host.py"


class Connection:
    def __init__(self, path: Path):
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket.connect(str(path))
        self.next_id = 0

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.socket.recv(size - len(data))
            assert chunk, "the host closed the connection"
            data += chunk
        return data

    def call(self, body: bytes, kind: str = "score") -> tuple[dict, bytes]:
        self.next_id += 1
        header = json.dumps({"id": self.next_id, "kind": kind}).encode()
        self.socket.sendall(struct.pack(">I", len(header)) + header + struct.pack(">I", len(body)) + body)
        answer = json.loads(self._read(struct.unpack(">I", self._read(4))[0]))
        payload = self._read(struct.unpack(">I", self._read(4))[0])
        assert answer["id"] == self.next_id
        return answer, payload


def start(tmp_path: Path, *arguments: str, env: dict | None = None) -> tuple[subprocess.Popen, Path]:
    path = tmp_path / "host.sock"
    process = subprocess.Popen([sys.executable, str(HOST), "--socket", str(path), *arguments],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while not path.exists():
        if process.poll() is not None:
            return process, path
        assert time.monotonic() < deadline, "the host never became ready"
        time.sleep(0.05)
    return process, path


SCRIPT = """\
import json, os, time
def init():
    global model
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "factor.txt")) as handle:
        model = float(handle.read())
def run(raw_data):
    data = json.loads(raw_data)["data"]
    if data == "slow":
        time.sleep(1)
        return "slept"
    if data == "boom":
        raise RuntimeError("the data is wrong")
    return [value * model for value in data]
"""


def test_a_scoring_script_is_initialised_once_and_run_per_request(tmp_path):
    (tmp_path / "models" / "model").mkdir(parents=True)
    (tmp_path / "models" / "model" / "factor.txt").write_text("3")
    (tmp_path / "score.py").write_text(SCRIPT)
    env = {"AZUREML_MODEL_DIR": str(tmp_path / "models"), "PATH": "/usr/bin:/bin"}
    process, path = start(tmp_path, "--script", str(tmp_path / "score.py"), env=env)
    try:
        first = Connection(path)
        assert first.call(b'{"data": [1, 2]}') == ({"id": 1, "status": 200, "content_type": "application/json"}, b"[3.0, 6.0]")
        answer, body = first.call(b'{"data": "boom"}')
        assert answer["status"] == 500 and json.loads(body) == {"error": "RuntimeError: the data is wrong"}
        assert first.call(b"not json")[0]["status"] == 500, "the script's own json.loads fails: a 500, as on Azure"
        assert first.call(b"", kind="health")[0]["status"] == 200
        # Two connections run at once: a slow request does not hold the other back.
        second = Connection(path)
        started = time.monotonic()
        slow = threading.Thread(target=lambda: second.call(b'{"data": "slow"}'))
        slow.start()
        time.sleep(0.1)
        assert first.call(b'{"data": [1]}')[1] == b"[3.0]"
        assert time.monotonic() - started < 0.9
        slow.join()
    finally:
        process.kill()
        process.wait()


def test_a_failing_init_exits_with_its_traceback(tmp_path):
    (tmp_path / "score.py").write_text("def init():\n    raise FileNotFoundError('model.pkl is missing')\ndef run(raw):\n    return 1\n")
    process, path = start(tmp_path, "--script", str(tmp_path / "score.py"))
    assert process.wait(timeout=30) == 3
    assert not path.exists(), "a host whose init() failed never listens"
    assert "model.pkl is missing" in process.stderr.read()


def test_an_mlflow_model_needs_no_script(tmp_path):
    import mlflow.pyfunc

    class Doubler(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return (model_input["x"] * 2).tolist()

    model_dir = tmp_path / "doubler"
    mlflow.pyfunc.save_model(str(model_dir), python_model=Doubler())
    process, path = start(tmp_path, "--mlflow-model", str(model_dir))
    try:
        connection = Connection(path)
        split = {"dataframe_split": {"columns": ["x"], "data": [[1], [2]]}}
        assert json.loads(connection.call(json.dumps(split).encode())[1]) == [2, 4]
        records = {"dataframe_records": [{"x": 5}]}
        assert json.loads(connection.call(json.dumps(records).encode())[1]) == [10]
        azure = {"input_data": {"columns": ["x"], "index": [0], "data": [[7]]}}
        assert json.loads(connection.call(json.dumps(azure).encode())[1]) == [14]
        answer, body = connection.call(b"{not json")
        assert answer["status"] == 400 and "not JSON" in json.loads(body)["error"]
        answer, body = connection.call(b'{"rows": []}')
        assert answer["status"] == 400 and "dataframe_split" in json.loads(body)["error"]
    finally:
        process.kill()
        process.wait()
